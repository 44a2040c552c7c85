"""The README's Python examples run as written (blocks after `<!-- norun -->` are skipped)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    out = []
    for match in re.finditer(r"(<!-- norun -->\s*)?```python\n(.*?)```", text, flags=re.S):
        if match.group(1):
            continue
        out.append((text[: match.start()].count("\n") + 1, match.group(2)))
    return out


def test_readme_has_examples() -> None:
    assert len(_blocks()) >= 1


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    for line, code in _blocks():
        exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102


def test_readme_lists_every_extra_and_the_license_is_there() -> None:
    import tomllib

    root = README.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    text = README.read_text(encoding="utf-8")
    for extra in project["optional-dependencies"]:
        assert f"`{extra}`" in text, extra
    assert "progress=" in text  # write(progress=...) is documented
    assert project["license"] == "BSD-3-Clause"
    licence = (root / "LICENSE").read_text()
    assert licence.startswith("BSD 3-Clause License")
    assert "Neither the name of the copyright holder" in licence
    assert (root / "CHANGELOG.md").read_text().startswith("# Changelog")
