"""Decoding one CZI subblock payload: raw, zstd (ZEN's zstd0/zstd1, hi/lo packed), LZW,
JPEG and JPEG XR, into a new array or straight into the caller's output window."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ...errors import CorruptFileError
from ._format import PIXEL_TYPES

__all__ = ["bgr_to_rgb", "decode_subblock", "put", "swap_bgr", "zstd_decode"]


def put(window: np.ndarray[Any, Any], src: np.ndarray[Any, Any]) -> None:
    """``window[...] = src``; samples one at a time (4x faster than a BGR-reversed copy)."""
    if src.ndim == 2:
        window[...] = src
        return
    for i in range(src.shape[-1]):
        window[..., i] = src[..., i]


def swap_bgr(arr: np.ndarray[Any, Any]) -> None:
    """BGR(A) to RGB(A) in place."""
    blue = arr[..., 0].copy()
    arr[..., 0] = arr[..., 2]
    arr[..., 2] = blue


def decode_subblock(
    payload: Any,
    compression: int,
    pixel_type: int,
    shape: tuple[int, int],
    out: np.ndarray[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    """One subblock's pixels as ``(Y, X)`` or ``(Y, X, S)`` in RGB(A) order.

    With ``out`` (that shape, the pixel type's dtype) the pixels are written there.
    """
    import imagecodecs

    dtype, samples = PIXEL_TYPES[pixel_type]
    dt = np.dtype(dtype)
    h, w = shape
    expected = h * w * samples * dt.itemsize
    if compression != 0 and expected > max(len(payload), 1) * 4096 and expected > 64 << 20:
        raise CorruptFileError(f"{len(payload)} bytes cannot hold {h} x {w} pixels")
    into = out is not None and samples == 1 and out.flags.c_contiguous
    if compression == 0:
        raw: Any = payload
    elif compression == 5 or (compression == 6 and _zstd1_plain(payload, dt.itemsize)):
        stream = payload if compression == 5 else payload[payload[0] :]
        if into and expected > SMALL_ZSTD:
            assert out is not None
            into_bytes: Any = out.reshape(-1).view(np.uint8)
            got = imagecodecs.zstd_decode(stream, out=into_bytes)
            if len(got) < expected:
                raise CorruptFileError(f"{len(got)} bytes of pixels, expected {expected}")
            return out
        raw = zstd_decode(stream, expected)
    elif compression == 6:
        return _zstd1_hilo(payload, (h, w, samples), dt, out)
    elif compression == 2:
        raw = imagecodecs.lzw_decode(payload)
    elif compression in (1, 4):
        decode = imagecodecs.jpegxr_decode if compression == 4 else imagecodecs.jpeg8_decode
        arr = np.asarray(decode(payload))
        if arr.shape[:2] != (h, w) or (arr.ndim == 3 and arr.shape[2] != samples):
            raise CorruptFileError(f"decoded to shape {arr.shape}, expected {(h, w, samples)}")
        # the codecs return RGB(A) by the stream's own label (JPEG XR 24bppBGR/32bppBGRA
        # are converted, 48bppRGB is RGB already), as libCZI reads them: no BGR swap here
        arr = arr.reshape((h, w, samples) if samples > 1 else (h, w))
        return _into(out, arr)
    else:
        raise CorruptFileError(f"compression {compression} is not supported")
    if len(raw) < expected:
        raise CorruptFileError(f"{len(raw)} bytes of pixels, expected {expected} for {h} x {w}")
    arr = np.frombuffer(raw, dtype=dt, count=h * w * samples)
    arr = arr.reshape((h, w, samples) if samples > 1 else (h, w))
    return _into(out, bgr_to_rgb(arr) if samples > 1 else arr)


def _into(out: np.ndarray[Any, Any] | None, arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if out is None:
        return arr
    put(out, arr)
    return out


def bgr_to_rgb(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if arr.ndim == 3 and arr.shape[2] == 3:
        return arr[..., ::-1]
    if arr.ndim == 3 and arr.shape[2] == 4:
        return arr[..., [2, 1, 0, 3]]
    return arr


SMALL_ZSTD = 1 << 18  # decoded bytes below which a reused zstd context pays (2x faster)
_contexts = threading.local()


def zstd_decode(stream: Any, expected: int) -> Any:
    """A zstd frame decoded (``expected``: the size the subblock needs).

    Small frames go through a per-thread ``zstandard`` decompression context when that
    package is installed (imagecodecs makes a new context per call, which costs more
    than decoding a 64 x 64 tile); frames that declare more than twice ``expected``
    bytes, or no size, and large frames go to imagecodecs.
    """
    import imagecodecs

    if expected <= SMALL_ZSTD:
        ctx: Any = getattr(_contexts, "zstd", None)
        if ctx is None:
            try:
                import zstandard
            except ImportError:
                ctx = False
            else:
                ctx = zstandard.ZstdDecompressor()
            _contexts.zstd = ctx
        if ctx:
            import zstandard

            try:
                declared = zstandard.frame_content_size(bytes(stream[:18]))
            except zstandard.ZstdError:
                declared = -1  # not a plain frame: imagecodecs says what is wrong
            if 0 <= declared <= 2 * expected:
                return ctx.decompress(stream)
    return imagecodecs.zstd_decode(stream)


def _zstd1_header(payload: Any) -> tuple[int, bool]:
    """ZEN's zstd1 header: its size, and whether the 16-bit values are hi/lo packed."""
    if len(payload) < 1:
        raise CorruptFileError("empty zstd1 payload")
    size = payload[0]
    if size == 3 and len(payload) >= 3 and payload[1] == 1:
        return size, bool(payload[2] & 1)
    if size != 1:
        raise CorruptFileError(f"zstd1 header of {size} bytes is not understood")
    return size, False


def _zstd1_plain(payload: Any, itemsize: int) -> bool:
    """A zstd1 payload that is a plain zstd stream after its header (no hi/lo packing)."""
    return not (_zstd1_header(payload)[1] and itemsize == 2)


def _zstd1_hilo(
    payload: Any, shape: tuple[int, int, int], dt: np.dtype[Any], out: np.ndarray[Any, Any] | None
) -> np.ndarray[Any, Any]:
    """A hi/lo packed zstd1 subblock: all low bytes of the 16-bit values, then all high."""

    h, w, samples = shape
    size, _ = _zstd1_header(payload)
    buf = np.frombuffer(zstd_decode(payload[size:], 2 * h * w * samples), np.uint8)
    n, half = h * w * samples, len(buf) // 2
    if half < n:
        raise CorruptFileError(f"{2 * half} bytes of pixels, expected {2 * n} for {h} x {w}")
    tile_shape = (h, w, samples) if samples > 1 else (h, w)
    lo, hi = buf[:n].reshape(tile_shape), buf[half : half + n].reshape(tile_shape)
    if samples > 1:
        lo, hi = bgr_to_rgb(lo), bgr_to_rgb(hi)
    dst = out if out is not None else np.empty(tile_shape, dt)
    np.left_shift(hi, 8, out=dst, dtype=dst.dtype, casting="unsafe")
    np.bitwise_or(dst, lo, out=dst, casting="unsafe")
    return dst
