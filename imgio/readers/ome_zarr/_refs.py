"""A zipped OME-Zarr's chunks as byte ranges of the ZIP file (for :func:`imgio.references`).

A directory or URL store is a Zarr store already (references would repeat its keys); a
zipped one (``.ome.zarr.zip``) is one file whose stored (uncompressed) members are byte
ranges: each Zarr v2 chunk member becomes a reference to its data in the archive, with
the array's own compressor and filters. Refused with the reason: Zarr v3 arrays (``.ozx``;
their codec chain and sharding have no kerchunk v2 description), deflated members, and
Fortran-ordered arrays.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np

from ..._location import Location
from ...errors import CorruptFileError, NotByteRangesError
from ..base import ChunkRefs
from ._source import _open_zip

__all__ = ["zip_refs"]

_LOCAL_HEADER = 30  # bytes of a ZIP local file header before its name and extra field


def _refuse(location: Location, why: str) -> NotByteRangesError:
    return NotByteRangesError(f"{location.url}: {why}; its chunks cannot be zarr chunks")


def _fill(value: Any, dtype: np.dtype[Any]) -> int | float:
    if value is None:
        return 0
    if isinstance(value, str):  # "NaN", "Infinity", "-Infinity"
        return float(value.replace("Infinity", "inf"))
    return float(value) if dtype.kind == "f" else int(value)


def zip_refs(location: Location, path: str) -> ChunkRefs:
    """Every chunk member of the v2 array ``path`` as ``(0, data offset, length)``."""
    import zipfile

    try:
        with _open_zip(location) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            meta = infos.get(f"{path}/.zarray")
            if meta is None:
                raise _refuse(
                    location,
                    f"array {path!r} is Zarr v3 (its codec chain and sharding have no "
                    "kerchunk v2 description)",
                )
            zarray = json.loads(zf.read(meta))
    except (OSError, zipfile.BadZipFile, ValueError, KeyError) as exc:
        if isinstance(exc, NotByteRangesError):
            raise
        raise CorruptFileError(f"{location.url}: cannot read {path}/.zarray: {exc}") from exc
    try:
        order = zarray.get("order", "C")
        shape = tuple(int(n) for n in zarray["shape"])
        chunks = tuple(int(n) for n in zarray["chunks"])
        grid = [math.ceil(n / c) for n, c in zip(shape, chunks, strict=True)]
        dtype = np.dtype(zarray["dtype"])
        sep = str(zarray.get("dimension_separator") or ".")
    except (AttributeError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise CorruptFileError(f"{location.url}: {path}/.zarray is malformed: {exc}") from exc
    if order != "C":
        raise _refuse(location, f"array {path!r} is stored in Fortran order")
    members: list[tuple[tuple[int, ...], zipfile.ZipInfo]] = []
    for name, info in infos.items():
        if not name.startswith(f"{path}/") or name.rsplit("/", 1)[-1].startswith("."):
            continue
        parts = name[len(path) + 1 :].split(sep)
        if len(parts) != len(shape) or not all(p.isdigit() for p in parts):
            continue
        index = tuple(int(p) for p in parts)
        if any(i >= g for i, g in zip(index, grid, strict=True)):
            continue
        if info.compress_type != zipfile.ZIP_STORED:
            raise _refuse(location, f"member {name!r} is deflated in the archive")
        members.append((index, info))
    heads = location.read_ranges([(i.header_offset, _LOCAL_HEADER) for _, i in members])
    refs: dict[tuple[int, ...], tuple[int, int, int] | bytes] = {}
    for (index, info), head in zip(members, heads, strict=True):
        if len(head) < _LOCAL_HEADER or head[:4] != b"PK\x03\x04":
            raise CorruptFileError(f"{location.url}: no local header for {info.filename!r}")
        name_len, extra_len = struct.unpack_from("<HH", head, 26)
        start = info.header_offset + _LOCAL_HEADER + name_len + extra_len
        refs[index] = (0, start, info.compress_size)
    return ChunkRefs(
        shape=shape,
        chunks=chunks,
        dtype=dtype,
        compressor=zarray.get("compressor"),
        filters=tuple(zarray.get("filters") or ()),
        fill_value=_fill(zarray.get("fill_value"), dtype),
        files=(location,),
        refs=refs,
    )
