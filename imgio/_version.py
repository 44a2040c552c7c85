"""imgio's version, the one source: the package root re-exports it, pyproject.toml reads it
(``attr``), the writers stamp it into the files they make, CHANGELOG.md has its entry."""

__version__ = "0.3.0"
