"""Zarr arrays of an OME-Zarr pyramid: codecs, chunk shapes, levels, guarded stores.

The building blocks that ``ome_zarr`` (images), ``_labels`` (NGFF labels) and ``sink``
share; they know nothing of NGFF attributes (``_ngff_attrs``) or scenes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImgioError
from ._pyramid import downsample_dask, level_shapes

if TYPE_CHECKING:
    import dask.array as da
    import zarr
    from zarr.abc.store import Store

__all__ = [
    "ZARR_COMPRESSIONS",
    "build_levels",
    "chunk_shape",
    "create_level",
    "grow_chunks",
    "open_root",
    "zarr_format",
]

ZARR_COMPRESSIONS = ("none", "zstd", "lz4", "zlib", "gzip")
VERSIONS = {"0.4": 2, "0.5": 3}
ChunksArg = int | Sequence[int] | Mapping[str, int] | None
MIN_CHUNK_BYTES = 256 << 10  # default chunks of thin images grow to at least this


def zarr_format(version: str) -> int:
    if version not in VERSIONS:
        raise ImgioError(f"ngff_version={version!r}: expected one of {sorted(VERSIONS)}")
    return VERSIONS[version]


def _compressors(compression: str | None, quality: int | None, fmt: int, itemsize: int) -> Any:
    name = (compression or "none").lower()
    if name not in ZARR_COMPRESSIONS:
        raise ImgioError(
            f"compression={compression!r} for OME-Zarr: expected one of {ZARR_COMPRESSIONS}"
        )
    if name == "none":
        return None
    level = 3 if quality is None else int(quality)
    if fmt == 2:
        import numcodecs

        if name in ("zlib", "gzip"):
            return numcodecs.Zlib(level=min(level, 9))
        return numcodecs.Blosc(cname=name, clevel=min(level, 9), shuffle=numcodecs.Blosc.SHUFFLE)
    from zarr.codecs import BloscCodec, GzipCodec

    if name in ("zlib", "gzip"):
        return GzipCodec(level=min(level, 9))
    return BloscCodec(cname=name, clevel=min(level, 9), shuffle="shuffle", typesize=itemsize)  # type: ignore[arg-type]


def chunk_shape(
    chunks: ChunksArg, dims: str, shape: Sequence[int], default: int = 1024
) -> tuple[int, ...]:
    """Zarr chunk shape: an int is the Y/X edge (planes 1), a tuple per dim, or a mapping."""
    out = [1] * len(dims)
    for d in "YX":
        if d in dims:
            out[dims.index(d)] = default
    if isinstance(chunks, int):
        for d in "YX":
            out[dims.index(d)] = chunks
    elif isinstance(chunks, Mapping):
        for d, n in chunks.items():
            if d.upper() not in dims:
                raise ImgioError(f"chunks for dim {d!r}, but dims are {dims!r}")
            out[dims.index(d.upper())] = int(n)
    elif chunks is not None:
        out = [int(c) for c in chunks]
        if len(out) != len(dims):
            raise ImgioError(
                f"chunks={tuple(chunks)}: expected {len(dims)} values for dims {dims!r}"
            )
    if any(c <= 0 for c in out):
        raise ImgioError(f"chunks {tuple(out)}: expected positive sizes")
    return tuple(max(1, min(c, s)) for c, s in zip(out, shape, strict=True))


def grow_chunks(
    chunks: Sequence[int],
    shape: Sequence[int],
    dims: str,
    itemsize: int,
    min_bytes: int = MIN_CHUNK_BYTES,
) -> tuple[int, ...]:
    """Default chunks grown (doubled, within the shape) until one holds ``min_bytes``.

    A plane of at least 512 x 512 pixels already does, so only thin images change: an
    x-z scan (``Y`` of 1) or a line scan gets chunks of many rows or planes instead of
    thousands of chunks of a few hundred bytes. ``X`` and ``Y`` grow first (beyond the
    default edge only when the other is thin), then ``Z``, ``T`` and ``C``.
    """
    out = [int(c) for c in chunks]
    order = [[dims.index(d) for d in "YX" if d in dims]] + [
        [dims.index(d)] for d in "ZTC" if d in dims
    ]
    for axes in order:
        while math.prod(out) * itemsize < min_bytes:
            grown = [a for a in axes if out[a] < shape[a]]
            if not grown:
                break
            for a in grown:
                out[a] = min(int(shape[a]), out[a] * 2)
    return tuple(out)


def open_root(path: Path | Store, version: str) -> zarr.Group:
    """A new, empty group at a local ``path`` or in a zarr store, in the format of ``version``."""
    import zarr

    store = str(path) if isinstance(path, Path) else path
    return zarr.open_group(store=store, mode="w-", zarr_format=zarr_format(version))  # type: ignore[arg-type]


def create_level(
    group: zarr.Group,
    name: str,
    shape: Sequence[int],
    dtype: np.dtype[Any],
    dims: str,
    chunks: tuple[int, ...],
    *,
    version: str,
    compression: str | None,
    quality: int | None,
    shards: tuple[int, ...] | None = None,
) -> zarr.Array[Any]:
    """An empty array for one level (fill value 0, ``/`` chunk keys)."""
    fmt = zarr_format(version)
    kwargs: dict[str, Any] = {
        "compressors": _compressors(compression, quality, fmt, np.dtype(dtype).itemsize),
        "fill_value": 0,
    }
    if fmt == 2:
        if shards is not None:
            raise ImgioError("shards= needs ngff_version='0.5' (Zarr v3); found '0.4'")
        kwargs["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
    else:
        kwargs["dimension_names"] = [d.lower() for d in dims]
        if shards is not None:
            kwargs["shards"] = tuple(
                max(c, min(-(-s // c) * c, -(-n // c) * c))  # whole chunks
                for s, c, n in zip(shards, chunks, shape, strict=True)
            )
    return group.create_array(name, shape=tuple(shape), dtype=dtype, chunks=chunks, **kwargs)


class _Stopped(Exception):
    """A chunk write refused because another block of the same store already failed."""


class GuardedTarget:
    """The target of ``da.store``: after a failure, no new chunk write starts and the
    caller waits for those in flight, so the cleanup that follows never races a late
    write (dask's threaded scheduler raises the first error while other blocks still
    run). The guard is per process: copies pickled to ``dask.distributed`` workers write
    unguarded.
    """

    def __init__(self, array: zarr.Array[Any]) -> None:
        self.array = array
        self._cond = threading.Condition()
        self._busy = 0
        self._stopped = False

    def __setitem__(self, key: Any, value: Any) -> None:
        with self._cond:
            if self._stopped:
                raise _Stopped("an earlier block failed")
            self._busy += 1
        try:
            self.array[key] = value
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def stop(self, timeout: float = 300.0) -> None:
        """Refuse new writes and wait (up to ``timeout`` s) for those in flight."""
        with self._cond:
            self._stopped = True
            self._cond.wait_for(lambda: self._busy == 0, timeout)

    def __getstate__(self) -> dict[str, Any]:
        return {"array": self.array}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["array"])  # type: ignore[misc]


def _store(arr: da.Array, target: zarr.Array[Any], progress: Callable[[], None] | None) -> None:
    import dask.array as da

    grid = target.shards or target.chunks
    aligned = tuple(
        tuple(min(g, n - i) for i in range(0, n, g))
        for g, n in zip(grid, target.shape, strict=True)
    )
    if arr.chunks != aligned:
        arr = arr.rechunk(aligned)  # type: ignore[no-untyped-call]
    guarded = GuardedTarget(target)
    try:
        da.store(arr, guarded, lock=False, compute=True)  # type: ignore[arg-type]
    except BaseException:
        guarded.stop()
        raise
    if progress is not None:
        progress()


def _array(group: zarr.Group, name: str) -> zarr.Array[Any]:
    import zarr

    arr = group[name]
    if not isinstance(arr, zarr.Array):
        raise ImgioError(f"{name!r} in {group.store}: expected a zarr array, found a group")
    return arr


def build_levels(
    group: zarr.Group,
    dims: str,
    n_levels: int,
    method: str,
    progress: Callable[[], None] | None = None,
) -> list[tuple[int, ...]]:
    """Write levels 1.. of an image group, each halved from the level before, read back lazily."""
    import dask.array as da

    y, x = dims.index("Y"), dims.index("X")
    first = _array(group, "0")
    shapes = level_shapes(first.shape, y, x, n_levels)
    for level in range(1, n_levels):
        prev = _array(group, str(level - 1))
        read = list(prev.shards or prev.chunks)
        read[y], read[x] = read[y] * 2, read[x] * 2
        src = da.from_zarr(  # type: ignore[no-untyped-call]
            prev, chunks=tuple(min(r, n) for r, n in zip(read, prev.shape, strict=True))
        )
        half = downsample_dask(src, y, x, method)
        fmt = "0.4" if group.metadata.zarr_format == 2 else "0.5"
        target = _like(group, first, str(level), shapes[level], dims, fmt)
        _store(half, target, progress)
    return shapes


def _like(
    group: zarr.Group,
    first: zarr.Array[Any],
    name: str,
    shape: tuple[int, ...],
    dims: str,
    version: str,
) -> zarr.Array[Any]:
    """A level array with the codecs, chunks and shards of level 0."""
    kwargs: dict[str, Any] = {"fill_value": 0, "compressors": first.compressors or None}
    chunks = tuple(min(c, n) for c, n in zip(first.chunks, shape, strict=True))
    if version == "0.4":
        kwargs["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
    else:
        kwargs["dimension_names"] = [d.lower() for d in dims]
        if first.shards is not None:
            kwargs["shards"] = tuple(
                max(c, min(-(-s // c) * c, -(-n // c) * c))  # whole chunks
                for s, c, n in zip(first.shards, chunks, shape, strict=True)
            )
    return group.create_array(name, shape=shape, dtype=first.dtype, chunks=chunks, **kwargs)
