"""Path confinement: a file may pull pixels only from files inside its own folder.

Multi-file OME-TIFF (``UUID FileName``) and OME companion files (``TiffData``) name other
files. A name that leaves the naming file's folder (``../``, an absolute path,
``/proc/self/mem``, a symlink pointing elsewhere, another URL) would let an uploaded
file read another user's data, so it is refused with :class:`ExternalFileError`
unless the caller opts in with ``allow_external_files=True``.
"""

from __future__ import annotations

import os
import posixpath
from urllib.parse import urlsplit

from ._location import Location
from .errors import ExternalFileError

__all__ = ["referenced"]

_HINT = "pass allow_external_files=True to read files outside it"


def referenced(base: Location, name: str, *, allow_external: bool, where: str) -> Location:
    """The location of ``name`` as referenced by ``base``, refused when it leaves
    ``base``'s folder (symlinks resolved) and ``allow_external`` is false."""
    if base.is_local:
        folder = os.path.dirname(os.path.realpath(base.url))
        target = os.path.join(folder, name)
        if allow_external:
            return Location(target)
        real = os.path.realpath(target)
        if os.path.commonpath([folder, real]) != folder or real == folder:
            raise ExternalFileError(
                f"{where}: names {name!r}, which resolves to {real!r} outside the folder "
                f"{folder!r} of the file naming it; {_HINT}"
            )
        return Location(real)
    if allow_external:
        return base.sibling(name)
    parts = urlsplit(name)
    base_path = posixpath.dirname(urlsplit(base.url).path)
    joined = posixpath.normpath(posixpath.join(base_path, name))
    if (
        parts.scheme
        or parts.netloc
        or name.startswith("/")
        or "\\" in name
        or not joined.startswith(base_path.rstrip("/") + "/")
    ):
        raise ExternalFileError(
            f"{where}: names {name!r}, which is not under the base URL of the file naming it; "
            f"{_HINT}"
        )
    return base.sibling(name)
