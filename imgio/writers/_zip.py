"""Zipped OME-Zarr (``.ome.zarr.zip``, and ``.ozx`` as RFC-9 describes it): an OME-Zarr
folder packed into one ZIP file.

The store's keys are the ZIP's member names, at the root of the archive (what zarr's
``ZipStore`` reads and large_image writes). Members are *stored*, not deflated: zarr
chunks are already compressed, and stored members can be read by byte range. The
metadata documents come first, shallowest first (breadth-first, the root ``zarr.json``
the very first entry of the archive and of its central directory), so a reader that
lists the archive finds the root group at once. The folder is written by the OME-Zarr
writer, then packed file by file in bounded memory; ZIP64 is used where sizes need it.

An ``.ozx`` is Zarr v3 (NGFF 0.5), sharded by default; when it meets every RFC-9
recommendation (stored members, sharded arrays, ``zarr.json`` first) its archive comment
is ``{"ome":{"version":"0.5"}}`` followed by a NUL byte, and otherwise it has none.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

__all__ = ["OZX_SUFFIX", "ZIP_SUFFIXES", "pack_folder", "sharded_v3"]

OZX_SUFFIX = ".ozx"
ZIP_SUFFIXES = (".ome.zarr.zip", ".zarr.zip", OZX_SUFFIX)
_DOCS = ("zarr.json", ".zgroup", ".zattrs", ".zarray", ".zmetadata")
_COPY_BUFFER = 8 << 20


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


def sharded_v3(folder: Path) -> bool:
    """Whether the folder is a Zarr v3 hierarchy whose every array is sharded."""
    if not (folder / "zarr.json").is_file():
        return False
    for doc in folder.rglob("zarr.json"):
        meta = json.loads(doc.read_text(encoding="utf-8"))
        if meta.get("node_type") == "array":
            codecs = meta.get("codecs") or []
            if not any(c.get("name") == "sharding_indexed" for c in codecs):
                return False
    return True


def pack_folder(folder: Path, target: Path, *, ome_version: str | None = None) -> None:
    """Write every file under ``folder`` into the ZIP ``target`` (members stored).

    With ``ome_version`` (an RFC-9 ``.ozx`` of the recommended variant) the archive
    comment names that OME-Zarr version.
    """
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name in _members(folder):
            path = folder / name
            info = zipfile.ZipInfo.from_file(path, arcname=name)
            info.compress_type = zipfile.ZIP_STORED
            size = path.stat().st_size
            with open(path, "rb") as src, zf.open(info, "w", force_zip64=size > 2**31) as dst:
                shutil.copyfileobj(src, dst, _COPY_BUFFER)
        if ome_version is not None:
            zf.comment = json.dumps({"ome": {"version": ome_version}}).encode("utf-8") + b"\0"
