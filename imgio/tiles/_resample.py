"""Area-averaging resampling (each output pixel is the mean of the input area it covers)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["area_resize", "resample_axis"]

_EPS = 1e-6


def resample_axis(
    arr: np.ndarray[Any, Any], axis: int, start: float, stop: float, n_out: int
) -> np.ndarray[Any, Any]:
    """Resample ``arr`` along ``axis``: the window ``[start, stop)`` becomes ``n_out`` pixels.

    Returns float32 unless nothing needs resampling (then ``arr`` itself, maybe sliced).
    """
    n_in = arr.shape[axis]
    f = (stop - start) / n_out
    if abs(f - round(f)) < _EPS and abs(start - round(start)) < _EPS and round(f) >= 1:
        k, s0 = round(f), round(start)
        if s0 + k * n_out <= n_in:
            sl = [slice(None)] * arr.ndim
            sl[axis] = slice(s0, s0 + k * n_out)
            part = arr[tuple(sl)]
            if k == 1:
                return part
            return _block_mean(arr, axis, s0, k, n_out)
    if f >= 3:  # big factors: average whole blocks first, then at most 3 taps remain
        return _block_then_resample(arr, axis, start, stop, n_out, int(f))
    edges = start + f * np.arange(n_out + 1, dtype=np.float64)
    first = np.floor(edges[:-1] + _EPS).astype(np.int64)
    taps = max(1, int(math.ceil(f)) + 1)
    weights = np.empty((taps, n_out), dtype=np.float32)
    index = np.empty((taps, n_out), dtype=np.int64)
    for k in range(taps):
        i = first + k
        lo = np.maximum(i, edges[:-1])
        hi = np.minimum(np.minimum(i + 1, edges[1:]), n_in)
        weights[k] = np.clip(hi - lo, 0, None)
        index[k] = np.clip(i, 0, n_in - 1)
    weights /= np.maximum(weights.sum(axis=0), 1e-12)
    bshape = [1] * arr.ndim
    bshape[axis] = n_out
    out = np.zeros(arr.shape[:axis] + (n_out,) + arr.shape[axis + 1 :], dtype=np.float32)
    for k in range(taps):
        if not weights[k].any():
            continue
        out += np.take(arr, index[k], axis=axis) * weights[k].reshape(bshape)
    return out


def _block_mean(
    arr: np.ndarray[Any, Any], axis: int, s0: int, k: int, n: int
) -> np.ndarray[Any, Any]:
    """Means of ``n`` blocks of ``k`` pixels from ``s0`` along ``axis`` (float32).

    Sums ``k`` strided views: much faster than a reduction over a short reshaped axis.
    """
    index: list[slice] = [slice(None)] * arr.ndim
    index[axis] = slice(s0, s0 + n * k, k)
    acc: np.ndarray[Any, Any] = arr[tuple(index)].astype(np.float32)
    for j in range(1, k):
        index[axis] = slice(s0 + j, s0 + n * k, k)
        acc += arr[tuple(index)]
    acc *= np.float32(1.0 / k)
    return acc


def _block_then_resample(
    arr: np.ndarray[Any, Any], axis: int, start: float, stop: float, n_out: int, k: int
) -> np.ndarray[Any, Any]:
    """Mean of ``k``-pixel blocks from ``floor(start)``, then the remaining factor (< 2).

    Exact where output edges fall on block edges; elsewhere a block straddling an
    output edge is shared by its overlap, as Pillow's ``reduce`` + resize does.
    """
    n_in = arr.shape[axis]
    s0 = max(0, math.floor(start))
    full = (n_in - s0) // k
    blocks = [_block_mean(arr, axis, s0, k, full)] if full else []
    if s0 + full * k < n_in:
        tail = [slice(None)] * arr.ndim
        tail[axis] = slice(s0 + full * k, n_in)
        blocks.append(arr[tuple(tail)].mean(axis=axis, dtype=np.float32, keepdims=True))
    reduced = np.concatenate(blocks, axis=axis) if len(blocks) > 1 else blocks[0]
    # the last block may be partial: give it its real width in the block coordinates
    stop_blocks = (min(stop, n_in) - s0) / k
    return resample_axis(reduced, axis, (start - s0) / k, stop_blocks, n_out)


def area_resize(
    arr: np.ndarray[Any, Any],
    window: tuple[float, float, float, float],
    out_hw: tuple[int, int],
    y_axis: int = 0,
) -> np.ndarray[Any, Any]:
    """Resample the ``(y0, y1, x0, x1)`` window of ``arr`` to ``out_hw``, in ``arr``'s dtype.

    ``y_axis`` is the Y axis (X follows it); integer dtypes are rounded and clipped.
    """
    y0, y1, x0, x1 = window
    out = resample_axis(arr, y_axis, y0, y1, out_hw[0])
    out = resample_axis(out, y_axis + 1, x0, x1, out_hw[1])
    if out.dtype == arr.dtype:
        return out
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        ints: np.ndarray[Any, Any] = np.clip(np.rint(out), info.min, info.max).astype(arr.dtype)
        return ints
    if arr.dtype == np.bool_:
        return out >= 0.5
    return out.astype(arr.dtype)
