"""Errors and warnings raised by imgio.

Every error derives from :class:`ImgioError` and also from the builtin exception
that callers already catch (``FileNotFoundError``, ``ValueError``, ...). Messages
say what was expected, what was found and where.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "CorruptFileError",
    "ExternalFileError",
    "ImgioError",
    "ImgioWarning",
    "MissingDependencyError",
    "MissingFileError",
    "NotByteRangesError",
    "RemoteError",
    "SelectionError",
    "TargetExistsError",
    "UnsupportedFormatError",
    "WriteError",
]


class ImgioError(Exception):
    """Base class of every error raised by imgio."""


class ImgioWarning(UserWarning):
    """Metadata that was ignored or repaired while reading leniently."""


class UnsupportedFormatError(ImgioError, ValueError):
    """No reader accepts the file; ``declined`` maps each reader to its reason."""

    def __init__(self, location: str, declined: Mapping[str, str]) -> None:
        why = "; ".join(f"{name}: {reason}" for name, reason in declined.items())
        super().__init__(f"no reader accepts {location!r} ({why or 'no readers installed'})")
        self.location = location
        self.declined = dict(declined)


class MissingFileError(ImgioError, FileNotFoundError):
    """The file or URL does not exist."""


class CorruptFileError(ImgioError, ValueError):
    """The file is truncated or malformed; the message names scene, page/tile and offset."""


class MissingDependencyError(ImgioError, ImportError):
    """An optional dependency is needed; the message ends with the pip line."""


class SelectionError(ImgioError, IndexError):
    """A selection (scene, level, dim index or name) is out of range."""


class TargetExistsError(ImgioError, FileExistsError):
    """A write target exists and ``overwrite=True`` was not given."""


def require(module: str, *, extra: str, package: str | None = None) -> object:
    """Import an optional module or raise :class:`MissingDependencyError`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module!r} is needed for this ({package or module} is not installed): "
            f'pip install "imgio[{extra}]"'
        ) from exc


class ExternalFileError(ImgioError, PermissionError):
    """A file names another file outside its own folder (or base URL); refused unless the
    caller passes ``allow_external_files=True``."""


class RemoteError(ImgioError, ConnectionError):
    """A server answered with an error status, garbage or not in time (after the retries
    for transient failures); the message names the request."""


class WriteError(ImgioError, OSError):
    """The disk refused a write (read-only, full, no permission); the message names the
    target, ``errno`` is the system's."""


class NotByteRangesError(ImgioError, ValueError):
    """A file's chunks cannot be described as byte ranges that zarr decodes alone (a codec
    zarr has no counterpart for, pixels not stored in chunks); the message says why."""
