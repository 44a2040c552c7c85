"""Zipped OME-Zarr (``.ome.zarr.zip``): an OME-Zarr folder packed into one ZIP file.

The store's keys are the ZIP's member names, at the root of the archive (what zarr's
``ZipStore`` reads and large_image writes). Members are *stored*, not deflated: zarr
chunks are already compressed, and stored members can be read by byte range. The
metadata documents come first, so a reader that lists the archive finds the root
group at once. The folder is written by the OME-Zarr writer, then packed file by file
(bounded memory); ZIP64 is used where sizes need it.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

__all__ = ["ZIP_SUFFIXES", "pack_folder"]

ZIP_SUFFIXES = (".ome.zarr.zip", ".zarr.zip")
_DOCS = ("zarr.json", ".zgroup", ".zattrs", ".zarray", ".zmetadata")


def _members(folder: Path) -> list[str]:
    names = []
    for parent, dirs, files in os.walk(folder):
        dirs.sort()
        rel = os.path.relpath(parent, folder)
        for name in sorted(files):
            names.append(name if rel == "." else f"{rel.replace(os.sep, '/')}/{name}")
    # metadata documents first (shallowest first), then the chunks in walk order
    docs = sorted((n for n in names if n.rsplit("/", 1)[-1] in _DOCS), key=lambda n: n.count("/"))
    return docs + [n for n in names if n.rsplit("/", 1)[-1] not in _DOCS]


def pack_folder(folder: Path, target: Path) -> None:
    """Write every file under ``folder`` into the ZIP ``target`` (members stored)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name in _members(folder):
            zf.write(folder / name, arcname=name)
