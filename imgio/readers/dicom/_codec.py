"""Decode one DICOM frame with imagecodecs, by transfer syntax (or by its bytes).

YBR colour is handled as OpenSlide does: JPEG frames coded YBR_FULL(_422) are
converted to RGB by libjpeg; JPEG frames whose photometric interpretation is RGB
are decoded without a colour transform; JPEG 2000's ICT/RCT are undone by
OpenJPEG; uncompressed YBR_FULL is converted here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import CorruptFileError, UnsupportedFormatError
from ._header import Instance

__all__ = ["JPEG_BASELINE", "NATIVE", "TRANSFER_SYNTAXES", "decode_frame", "frame_kind"]

IMPLICIT, EXPLICIT, DEFLATED, BIG = (
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
)
NATIVE = (IMPLICIT, EXPLICIT, DEFLATED, BIG)
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
_JPEG = (JPEG_BASELINE, "1.2.840.10008.1.2.4.51")
_LJPEG = ("1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70")
_JPEGLS = ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81")
_J2K = (
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",  # HTJ2K lossless
    "1.2.840.10008.1.2.4.202",  # HTJ2K lossless RPCL
    "1.2.840.10008.1.2.4.203",  # HTJ2K
)
_JPEGXL = ("1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111", "1.2.840.10008.1.2.4.112")
_RLE = "1.2.840.10008.1.2.5"
#: every transfer syntax imgio decodes
TRANSFER_SYNTAXES = (*NATIVE, *_JPEG, *_LJPEG, *_JPEGLS, *_J2K, *_JPEGXL, _RLE)


def frame_kind(ts: str, data: bytes) -> str:
    """``native``, ``jpeg``, ``jpegls``, ``ljpeg``, ``j2k``, ``jxl`` or ``rle``.

    The transfer syntax decides; where it is unknown (a DICOMweb part without one),
    the frame's first bytes do.
    """
    if ts in NATIVE:
        return "native"
    if ts in _JPEG:
        return "jpeg"
    if ts in _LJPEG:
        return "ljpeg"
    if ts in _JPEGLS:
        return "jpegls"
    if ts in _J2K:
        return "j2k"
    if ts in _JPEGXL:
        return "jxl"
    if ts == _RLE:
        return "rle"
    if ts:
        raise UnsupportedFormatError(ts, {"dicom": f"transfer syntax {ts} is not supported"})
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8"):
        return "jpegls" if b"\xff\xf7" in bytes(data[:2048]) else "jpeg"
    if head.startswith((b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  ")):
        return "j2k"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")):
        return "jxl"
    return "native"


def _native(data: bytes, inst: Instance, ts: str) -> np.ndarray[Any, Any]:
    need = inst.frame_bytes
    if len(data) < need:
        raise ValueError(f"expected {need} bytes of pixels, found {len(data)}")
    if inst.subsampled:
        return _ybr_422_to_rgb(data, inst)
    dtype = inst.dtype.newbyteorder(">") if ts == BIG else inst.dtype
    arr = np.frombuffer(data, dtype=dtype, count=need // dtype.itemsize).astype(inst.dtype)
    r, c, s = inst.tile_rows, inst.tile_cols, inst.samples
    if s == 1:
        return arr.reshape(r, c)
    if inst.planar == 1:
        arr = arr.reshape(s, r, c).transpose(1, 2, 0)
    else:
        arr = arr.reshape(r, c, s)
    if inst.photometric == "YBR_FULL":
        arr = _ybr_full_to_rgb(arr)
    return arr


def _ybr_422_to_rgb(data: bytes, inst: Instance) -> np.ndarray[Any, Any]:
    """Native YBR_FULL_422 (Y0 Y1 Cb Cr per pixel pair): each pair's chroma repeated over
    both pixels (as pydicom and OpenSlide expand it), then converted to RGB."""
    r, c = inst.tile_rows, inst.tile_cols
    if inst.samples != 3 or inst.bits_allocated != 8 or c % 2:
        raise ValueError(
            f"YBR_FULL_422 needs 3 samples of 8 bits and an even width; found {inst.samples} "
            f"samples of {inst.bits_allocated} bits, {c} columns"
        )
    pairs = np.frombuffer(data, np.uint8, count=r * c * 2).reshape(r, c // 2, 4)
    ycc = np.empty((r, c, 3), np.uint8)
    ycc[..., 0] = pairs[..., :2].reshape(r, c)
    ycc[..., 1] = np.repeat(pairs[..., 2], 2, axis=1)
    ycc[..., 2] = np.repeat(pairs[..., 3], 2, axis=1)
    return _ybr_full_to_rgb(ycc)


def _ybr_full_to_rgb(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """ITU-R BT.601 full range YCbCr (8 bit) to RGB, as libjpeg does."""
    ycc = arr[..., :3].astype(np.float32)
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128.0, ycc[..., 2] - 128.0
    rgb = np.stack((y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb), -1)
    out: np.ndarray[Any, Any] = np.clip(np.rint(rgb), 0, 255).astype(arr.dtype)
    return out


def _decode(kind: str, data: bytes, inst: Instance) -> np.ndarray[Any, Any]:
    import imagecodecs

    if kind == "jpeg":
        # RGB-coded JPEG frames (photometric RGB) carry no colour transform
        cs = imagecodecs.JPEG8.CS.RGB if inst.photometric == "RGB" and inst.samples == 3 else None
        try:
            return np.asarray(imagecodecs.jpeg8_decode(data, colorspace=cs))
        except imagecodecs.Jpeg8Error:
            return np.asarray(imagecodecs.jpeg_decode(data))
    if kind == "ljpeg":
        return np.asarray(imagecodecs.jpeg_decode(data))
    if kind == "jpegls":
        return np.asarray(imagecodecs.jpegls_decode(data))
    if kind == "j2k":
        return np.asarray(imagecodecs.jpeg2k_decode(data))
    if kind == "jxl":
        return np.asarray(imagecodecs.jpegxl_decode(data))
    if kind == "rle":
        _check_rle(data, inst.samples * inst.dtype.itemsize)
        raw = imagecodecs.dicomrle_decode(data, inst.dtype.str)  # planes, native byte order
        out = np.frombuffer(raw, dtype=inst.dtype)
        r, c, s = inst.tile_rows, inst.tile_cols, inst.samples
        if out.size != r * c * s:
            raise ValueError(f"RLE frame holds {out.size} values, expected {r * c * s}")
        return out.reshape(s, r, c).transpose(1, 2, 0) if s > 1 else out.reshape(r, c)
    raise ValueError(f"no decoder for {kind}")


def _check_rle(data: bytes, planes: int) -> None:
    """Raise ``ValueError`` unless the RLE header (segment count, 15 offsets) fits ``data``:
    imagecodecs' decoder trusts the offsets and read past the frame (SIGSEGV)."""
    if len(data) < 64:
        raise ValueError(f"RLE frame of {len(data)} bytes is shorter than its 64-byte header")
    header = np.frombuffer(data[:64], dtype="<u4")
    n = int(header[0])
    if n != planes:
        raise ValueError(f"RLE header declares {n} segments; the pixel format needs {planes}")
    offsets = [int(o) for o in header[1 : n + 1]] + [len(data)]
    if offsets[0] != 64 or any(b < a for a, b in zip(offsets, offsets[1:], strict=False)):
        raise ValueError(f"RLE segment offsets {offsets[:-1]} do not fit a frame of {len(data)}")


def decode_frame(data: bytes, inst: Instance, ts: str, where: str) -> np.ndarray[Any, Any]:
    """One frame as a ``(rows, columns[, samples])`` array of the instance's dtype.

    Raises
    ------
    CorruptFileError
        The codec fails, or the frame decodes to another shape than the header's tile.
    """
    kind = frame_kind(ts, data)
    try:
        arr = _native(data, inst, ts) if kind == "native" else _decode(kind, data, inst)
    except Exception as exc:  # noqa: BLE001 - codec errors vary by codec
        raise CorruptFileError(
            f"{where}: cannot decode ({kind}, transfer syntax {ts or 'unknown'}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    want = (inst.tile_rows, inst.tile_cols) + ((inst.samples,) if inst.samples > 1 else ())
    if arr.ndim == 3 and inst.samples == 1 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.shape != want:
        raise CorruptFileError(
            f"{where}: frame decoded to shape {arr.shape}, the header declares tiles of {want}"
        )
    if arr.dtype != inst.dtype:
        if (
            arr.dtype.itemsize > inst.dtype.itemsize
            and arr.max(initial=0) > np.iinfo(inst.dtype).max
        ):
            raise CorruptFileError(
                f"{where}: frame decoded to {arr.dtype} values beyond the header's "
                f"{inst.bits_allocated} bits"
            )
        arr = arr.astype(inst.dtype)
    return arr
