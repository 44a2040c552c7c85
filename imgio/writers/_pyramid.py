"""Pyramid levels: how many, their shapes, and 2 x 2 downsampling of numpy and dask arrays.

Each level halves Y and X of the previous one (odd sizes round up: the last row or
column is averaged with itself, i.e. edge-replicated). ``"mean"`` averages the 2 x 2
block (integers round half up: ``(a + b + c + d + 2) // 4``), ``"nearest"`` keeps its
top-left pixel (for label images).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImgioError

if TYPE_CHECKING:
    import dask.array as da

__all__ = [
    "AUTO_EDGE",
    "METHODS",
    "check_method",
    "downsample_block",
    "downsample_dask",
    "level_count",
    "level_shapes",
]

METHODS = ("mean", "nearest")


def check_method(method: str) -> str:
    """Validate ``downsample=``."""
    if method not in METHODS:
        raise ImgioError(f"downsample={method!r}: expected one of {METHODS}")
    return method


AUTO_EDGE = 512  # "auto" pyramids end at a level that fits in one tile of this edge


def level_count(pyramid_levels: int | str | None, yx: Sequence[int], tile: int) -> int:
    """Number of levels in total (level 0 included).

    ``"auto"`` is one rule for OME-TIFF and OME-Zarr: halve until the level fits in one
    tile of :data:`AUTO_EDGE` (512) pixels, or of ``tile`` (the Y/X tile or chunk edge)
    when that is smaller. So the default 512-px OME-TIFF tiles and 1024-px OME-Zarr
    chunks give the same pyramid.
    """
    if pyramid_levels is None or pyramid_levels == "auto":
        n, y, x = 1, int(yx[0]), int(yx[1])
        while max(y, x) > min(tile, AUTO_EDGE):
            y, x, n = -(-y // 2), -(-x // 2), n + 1
        return n
    if isinstance(pyramid_levels, bool) or not isinstance(pyramid_levels, (int, np.integer)):
        raise ImgioError(f"pyramid_levels={pyramid_levels!r}: expected an int >= 1 or 'auto'")
    if pyramid_levels < 1:
        raise ImgioError(
            f"pyramid_levels={pyramid_levels}: expected >= 1 "
            "(levels in total, full resolution included)"
        )
    limit = max(int(yx[0]), int(yx[1])).bit_length()
    return int(min(pyramid_levels, limit))


def level_shapes(shape: Sequence[int], y_axis: int, x_axis: int, n: int) -> list[tuple[int, ...]]:
    """Shapes of ``n`` levels: Y and X halved (rounding up) per level."""
    out = [tuple(int(s) for s in shape)]
    for _ in range(1, n):
        s = list(out[-1])
        s[y_axis], s[x_axis] = -(-s[y_axis] // 2), -(-s[x_axis] // 2)
        out.append(tuple(s))
    return out


_WIDER = {
    "u": {1: np.uint16, 2: np.uint32, 4: np.uint64, 8: np.uint64},
    "i": {1: np.int16, 2: np.int32, 4: np.int64, 8: np.int64},
}


def _pad_odd(block: np.ndarray[Any, Any], axes: Sequence[int]) -> np.ndarray[Any, Any]:
    pad = [(0, 0)] * block.ndim
    for a in axes:
        if block.shape[a] % 2:
            pad[a] = (0, 1)
    return np.pad(block, pad, mode="edge") if any(p != (0, 0) for p in pad) else block


def downsample_block(
    block: np.ndarray[Any, Any], y_axis: int, x_axis: int, method: str
) -> np.ndarray[Any, Any]:
    """Halve Y and X of a numpy block (odd edges replicated)."""

    def sel(axis_offsets: tuple[int, int]) -> tuple[slice, ...]:
        key = [slice(None)] * block.ndim
        key[y_axis] = slice(axis_offsets[0], None, 2)
        key[x_axis] = slice(axis_offsets[1], None, 2)
        return tuple(key)

    if method == "nearest":
        return np.ascontiguousarray(block[sel((0, 0))])
    block = _pad_odd(block, (y_axis, x_axis))
    kind = block.dtype.kind
    if kind in "ui" and y_axis < x_axis:
        return _mean_ints(block, y_axis, x_axis)
    if kind in "ui":
        wide = _WIDER[kind][block.dtype.itemsize]
        acc = block[sel((0, 0))].astype(wide)
        acc += block[sel((1, 0))]
        acc += block[sel((0, 1))]
        acc += block[sel((1, 1))]
        acc += 2
        acc //= 4
        return acc.astype(block.dtype)
    if kind == "b":
        return np.ascontiguousarray(block[sel((0, 0))])
    acc = block[sel((0, 0))].astype(np.float64)
    acc += block[sel((1, 0))]
    acc += block[sel((0, 1))]
    acc += block[sel((1, 1))]
    acc *= 0.25
    return acc.astype(block.dtype)


def _mean_ints(block: np.ndarray[Any, Any], y_axis: int, x_axis: int) -> np.ndarray[Any, Any]:
    """``(a + b + c + d + 2) // 4`` of each 2 x 2 block of an even-sized integer array.

    Y and X are split into (half, 2) by a reshape, so the row pairs are added as whole
    rows and only the column pairs are strided (faster than four strided views).
    """
    shape: list[int] = []
    for a, n in enumerate(block.shape):
        shape += [n // 2, 2] if a in (y_axis, x_axis) else [n]
    pairs = block.reshape(shape)
    yi, xi = y_axis + 1, x_axis + 1  # the "2" axes (X's moves once Y's is taken)
    rows: list[Any] = [slice(None)] * yi
    acc = pairs[tuple(rows + [0])].astype(_WIDER[block.dtype.kind][block.dtype.itemsize])
    acc += pairs[tuple(rows + [1])]
    cols: list[Any] = [slice(None)] * xi
    trailing = acc.shape[xi + 1 :]  # samples after X (Y X S): add them one at a time, as a
    if 1 < math.prod(trailing) <= 4:  # 3-long strided inner loop is ~3x slower (RGB tiles)
        out = np.empty(acc.shape[:xi] + trailing, acc.dtype)
        for k in np.ndindex(*trailing):
            np.add(acc[tuple(cols + [0, *k])], acc[tuple(cols + [1, *k])], out=out[(..., *k)])
    else:
        out = acc[tuple(cols + [0])] + acc[tuple(cols + [1])]
    out += 2
    out >>= 2  # floor division by 4, also for negative values (arithmetic shift)
    return np.asarray(out, dtype=block.dtype)


def _even_chunks(chunks: tuple[int, ...]) -> tuple[int, ...]:
    """Chunk sizes made even (all but the last), so 2 x 2 blocks never straddle chunks."""
    if all(c % 2 == 0 for c in chunks[:-1]):
        return chunks
    total, out = sum(chunks), list[int]()
    step = max(2, chunks[0] + chunks[0] % 2)
    while sum(out) < total:
        out.append(min(step, total - sum(out)))
    return tuple(out)


def downsample_dask(arr: da.Array, y_axis: int, x_axis: int, method: str) -> da.Array:
    """A lazy array with Y and X halved; each block is downsampled on its own."""
    fixed = list(arr.chunks)
    for a in (y_axis, x_axis):
        fixed[a] = _even_chunks(arr.chunks[a])
    if tuple(fixed) != arr.chunks:
        arr = arr.rechunk(tuple(fixed))  # type: ignore[no-untyped-call]
    out_chunks = list(arr.chunks)
    for a in (y_axis, x_axis):
        out_chunks[a] = tuple(-(-c // 2) for c in arr.chunks[a])
    return arr.map_blocks(  # type: ignore[no-any-return]
        downsample_block,  # type: ignore[arg-type]
        y_axis,
        x_axis,
        method,
        chunks=tuple(out_chunks),
        dtype=arr.dtype,
        meta=np.empty((0,) * arr.ndim, dtype=arr.dtype),
    )
