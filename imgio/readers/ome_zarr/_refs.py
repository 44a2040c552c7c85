"""A zipped OME-Zarr's chunks as byte ranges of the ZIP file (for :func:`imgio.references`).

A directory or URL store is a Zarr store already (references would repeat its keys); a
zipped one (``.ome.zarr.zip``) is one file whose stored (uncompressed) members are byte
ranges: each Zarr v2 chunk member becomes a reference to its data in the archive, with
the array's own compressor and filters. Zarr v3 arrays (``.ozx``) are described too when
their codecs are ``bytes`` and one of zstd, gzip or blosc (numcodecs' own ids): unsharded,
each chunk member; sharded (``sharding_indexed``), each inner chunk of each shard, found
through the shard's index (read in one batch), the inner chunks being the zarr chunks.
Refused with the reason: deflated members, Fortran order, transpose and other codecs.
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
                v3 = infos.get(f"{path}/zarr.json")
                if v3 is None:
                    raise CorruptFileError(f"{location.url}: no metadata for array {path!r}")
                return _v3_refs(location, path, json.loads(zf.read(v3)), infos)
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
    starts = _data_starts(location, [i for _, i in members])
    refs: dict[tuple[int, ...], tuple[int, int, int] | bytes] = {
        index: (0, start, info.compress_size)
        for (index, info), start in zip(members, starts, strict=True)
    }
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


def _data_starts(location: Location, members: list[Any]) -> list[int]:
    """Where each stored member's data begins in the archive (after its local header)."""
    heads = location.read_ranges([(i.header_offset, _LOCAL_HEADER) for i in members])
    starts = []
    for info, head in zip(members, heads, strict=True):
        if len(head) < _LOCAL_HEADER or head[:4] != b"PK\x03\x04":
            raise CorruptFileError(f"{location.url}: no local header for {info.filename!r}")
        name_len, extra_len = struct.unpack_from("<HH", head, 26)
        starts.append(info.header_offset + _LOCAL_HEADER + name_len + extra_len)
    return starts


_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}


def _v3_codecs(location: Location, codecs: list[Any], dtype: np.dtype[Any]) -> tuple[Any, Any]:
    """(dtype with the bytes codec's byte order, numcodecs compressor or None)."""
    names = [c.get("name") if isinstance(c, dict) else c for c in codecs]
    if not names or names[0] != "bytes" or len(names) > 2:
        raise _refuse(location, f"codecs {names} (only bytes and one compressor are described)")
    config = codecs[0].get("configuration") or {} if isinstance(codecs[0], dict) else {}
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder("<" if config.get("endian", "little") == "little" else ">")
    if len(names) == 1:
        return dtype, None
    conf = dict(codecs[1].get("configuration") or {}) if isinstance(codecs[1], dict) else {}
    if names[1] == "zstd":
        return dtype, {"id": "zstd", "level": int(conf.get("level", 0))}
    if names[1] == "gzip":
        return dtype, {"id": "gzip", "level": int(conf.get("level", 5))}
    if names[1] == "blosc" and conf.get("shuffle", "noshuffle") in _SHUFFLE:
        return dtype, {
            "id": "blosc",
            "cname": str(conf.get("cname", "zstd")),
            "clevel": int(conf.get("clevel", 5)),
            "shuffle": _SHUFFLE[conf.get("shuffle", "noshuffle")],
            "blocksize": int(conf.get("blocksize", 0)),
        }
    raise _refuse(location, f"the {names[1]!r} codec has no numcodecs description here")


def _v3_refs(
    location: Location, path: str, meta: dict[str, Any], infos: dict[str, Any]
) -> ChunkRefs:
    """A Zarr v3 array's chunks (inner chunks of its shards when sharded)."""
    try:
        shape = tuple(int(n) for n in meta["shape"])
        outer = tuple(int(n) for n in meta["chunk_grid"]["configuration"]["chunk_shape"])
        dtype = np.dtype(meta["data_type"])
        encoding = meta.get("chunk_key_encoding") or {"name": "default"}
        sep = (encoding.get("configuration") or {}).get(
            "separator", "/" if encoding.get("name") == "default" else "."
        )
        codecs = list(meta["codecs"])
        sharded = isinstance(codecs[0], dict) and codecs[0].get("name") == "sharding_indexed"
        shard = codecs[0]["configuration"] if sharded else {}
        inner = tuple(int(n) for n in shard["chunk_shape"]) if sharded else outer
        per = tuple(o // i for o, i in zip(outer, inner, strict=True))
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"{location.url}: {path}/zarr.json is malformed: {exc}") from exc
    if len(codecs) > 1 and sharded:
        raise _refuse(location, "codecs around the sharding codec")
    if sharded and any(o % i for o, i in zip(outer, inner, strict=True)):
        raise _refuse(location, f"shards of {outer} are no whole number of {inner} chunks")
    dtype, compressor = _v3_codecs(location, shard.get("codecs", []) if sharded else codecs, dtype)
    prefix = f"{path}/c{sep}" if encoding.get("name") == "default" else f"{path}/"
    members = []
    for name, info in infos.items():
        parts = name[len(prefix) :].split(sep) if name.startswith(prefix) else []
        if len(parts) == len(shape) and all(p.isdigit() for p in parts):
            if info.compress_type != 0:
                raise _refuse(location, f"member {name!r} is deflated in the archive")
            members.append((tuple(int(p) for p in parts), info))
    starts = _data_starts(location, [i for _, i in members])
    grid = [math.ceil(n / c) for n, c in zip(shape, inner, strict=True)]
    refs: dict[tuple[int, ...], tuple[int, int, int] | bytes] = {}
    if not sharded:
        for (index, info), start in zip(members, starts, strict=True):
            if all(i < g for i, g in zip(index, grid, strict=True)):
                refs[index] = (0, start, info.compress_size)
    else:
        _shard_refs(location, shard, members, starts, per, grid, refs)
    return ChunkRefs(
        shape=shape,
        chunks=inner,
        dtype=dtype,
        compressor=compressor,
        filters=(),
        fill_value=_fill(meta.get("fill_value"), dtype),
        files=(location,),
        refs=refs,
    )


def _shard_refs(
    location: Location,
    shard: dict[str, Any],
    members: list[tuple[tuple[int, ...], Any]],
    starts: list[int],
    per: tuple[int, ...],
    grid: list[int],
    refs: dict[tuple[int, ...], tuple[int, int, int] | bytes],
) -> None:
    """Each shard's index (one batch of reads) -> its inner chunks' byte ranges."""
    names = [c.get("name") if isinstance(c, dict) else c for c in shard.get("index_codecs", [])]
    if [n for n in names if n != "crc32c"] != ["bytes"]:
        raise _refuse(location, f"a shard index coded with {names}")
    n_inner = math.prod(per)
    size = 16 * n_inner + (4 if "crc32c" in names else 0)
    at_end = shard.get("index_location", "end") == "end"
    ranges = [
        (start + (info.compress_size - size if at_end else 0), size)
        for (_, info), start in zip(members, starts, strict=True)
    ]
    for ((index, info), start), raw in zip(
        zip(members, starts, strict=True), location.read_ranges(ranges), strict=True
    ):
        if len(raw) < 16 * n_inner or info.compress_size < size:
            raise CorruptFileError(f"{location.url}: shard {info.filename!r} has no index")
        table = np.frombuffer(raw, "<u8", 2 * n_inner).reshape(n_inner, 2)
        for k, (offset, nbytes) in enumerate(table.tolist()):
            if offset == 2**64 - 1 and nbytes == 2**64 - 1:
                continue  # an empty inner chunk: the fill value
            sub = np.unravel_index(k, per)
            cell = tuple(int(i * p + j) for i, p, j in zip(index, per, sub, strict=True))
            if any(c >= g for c, g in zip(cell, grid, strict=True)):
                continue
            if offset + nbytes > info.compress_size:
                raise CorruptFileError(f"{location.url}: shard {info.filename!r} index overruns")
            refs[cell] = (0, start + int(offset), int(nbytes))
