"""Headers of PNG, JPEG, GIF and WebP files, read without decoding any pixels.

Each parser returns :class:`Info` (frames, height, width, samples, dtype, EXIF
orientation, frame duration in ms) and raises ``ValueError``/``IndexError``/
``struct.error`` on malformed bytes (the reader wraps them into CorruptFileError).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

__all__ = [
    "Info",
    "apng_frames",
    "gif_info",
    "jpeg_info",
    "png_header_complete",
    "png_info",
    "webp_info",
]


class Info(NamedTuple):
    frames: int
    height: int
    width: int
    samples: int
    dtype: str
    orientation: int = 1
    duration: float | None = None


def png_info(data: bytes) -> Info:
    """``IHDR`` (size, depth, colour type) and whether a ``tRNS`` chunk precedes ``IDAT``
    (then the image has an alpha sample, whatever its colour type)."""
    width, height, depth, color = struct.unpack_from(">IIBB", data, 16)
    pos, transparent = 8, False
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"tRNS":
            transparent = True
        if kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    # a tRNS chunk makes any colour type transparent: grey + alpha, RGB(A) (as Pillow reads it)
    alpha = 1 if transparent else 0
    samples = {0: 1 + alpha, 2: 3 + alpha, 4: 2, 6: 4, 3: 3 + alpha}.get(color)
    if samples is None or depth not in (1, 2, 4, 8, 16):
        raise ValueError(f"PNG colour type {color} with {depth} bits is not valid")
    return Info(1, height, width, samples, "<u2" if depth == 16 else "u1")


def png_header_complete(data: bytes) -> bool:
    """Whether ``data`` holds every chunk before ``IDAT`` (what :func:`png_info` reads)."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind in (b"IDAT", b"IEND"):
            return True
        pos += 12 + length
    return False


def apng_frames(data: bytes) -> tuple[int, float | None] | None:
    """An animated PNG's frame count and first delay (ms); None for a still PNG.

    Frames are the ``fcTL`` chunks, plus the default image when no ``fcTL`` precedes
    its ``IDAT`` (it is then shown apart from the animation, as Pillow and imagecodecs
    count it). An ``acTL`` declaring more frames than there are ``fcTL`` chunks raises
    ``ValueError``: the decoder allocates what ``acTL`` declares (16,777,216 frames: 36 GiB).
    """
    pos, animated, controls, default_in, delay, seen_idat = 8, False, 0, False, None, False
    declared = 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"acTL" and not seen_idat:
            animated = True
            if pos + 12 <= len(data):
                (declared,) = struct.unpack_from(">I", data, pos + 8)
        elif kind == b"fcTL":
            controls += 1
            default_in |= not seen_idat
            if delay is None and pos + 8 + 24 <= len(data):
                num, den = struct.unpack_from(">HH", data, pos + 8 + 20)
                delay = 1000 * num / (den or 100)
        elif kind == b"IDAT":
            seen_idat = True
        elif kind == b"IEND":
            break
        pos += 12 + length
    if not animated or controls == 0:
        return None
    if declared > controls:
        raise ValueError(f"acTL declares {declared} frames; the file has {controls} fcTL chunks")
    return controls + (0 if default_in else 1), delay


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_info(data: bytes) -> Info:
    """Markers up to the first ``SOFn``: its size and components, the EXIF orientation."""
    pos, orientation = 2, 1
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"expected a JPEG marker at offset {pos}, found {data[pos]:#04x}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = struct.unpack_from(">H", data, pos + 2)[0]
        body = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and body.startswith(b"Exif\0\0"):
            orientation = _exif_orientation(body[6:])
        if marker in _SOF:
            _precision, height, width, comps = struct.unpack_from(">BHHB", body, 0)
            return Info(1, height, width, comps, "u1", orientation)
        pos += 2 + length
    raise ValueError("no frame header (SOF) in the JPEG data")


def _exif_orientation(tiff: bytes) -> int:
    """Tag 274 of IFD0 of the EXIF TIFF block (1 when absent or malformed)."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    e = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack_from(e + "I", tiff, 4)[0]
    if ifd + 2 > len(tiff):
        return 1
    count = struct.unpack_from(e + "H", tiff, ifd)[0]
    for i in range(min(count, (len(tiff) - ifd - 2) // 12)):
        tag, _type, _n = struct.unpack_from(e + "HHI", tiff, ifd + 2 + 12 * i)
        if tag == 274:
            value = struct.unpack_from(e + "H", tiff, ifd + 2 + 12 * i + 8)[0]
            return value if 1 <= value <= 8 else 1
    return 1


def gif_info(data: bytes) -> Info:
    """Logical screen size; frames, transparency and the first delay from the block chain."""
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames, transparent, delay = 0, False, None
    right, bottom = width, height  # the decoder's canvas also holds frames that stick out
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            if data[pos + 1] == 0xF9 and data[pos + 2] >= 4:
                gce_flags, cs = struct.unpack_from("<BH", data, pos + 3)
                # any frame's transparent colour keeps the alpha (RGBA, as Pillow and
                # AICSImageIO read it); where a later frame's reveals an opaque one, opaque
                transparent |= bool(gce_flags & 1)
                delay = cs * 10 if delay is None else delay
            pos = _skip_subblocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor, local colour table, LZW size, sub-blocks
            left, top, w, h = struct.unpack_from("<HHHH", data, pos + 1)
            right, bottom = max(right, left + w), max(bottom, top + h)
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = _skip_subblocks(data, pos + 1)
            frames += 1
        else:
            raise ValueError(f"unknown GIF block {block:#04x} at offset {pos}")
    if frames == 0:
        raise ValueError("the GIF holds no image")
    return Info(frames, bottom, right, 4 if transparent else 3, "u1", 1, delay)


def _skip_subblocks(data: bytes, pos: int) -> int:
    while True:
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def webp_info(data: bytes) -> Info:
    """``VP8X`` canvas (alpha, animation: ``ANMF`` frames) or a plain ``VP8``/``VP8L`` frame."""
    pos, frames, alpha, duration = 12, 0, False, None
    width = height = 0
    while pos + 8 <= len(data):
        kind, size = struct.unpack_from("<4sI", data, pos)
        body = data[pos + 8 : pos + 8 + size]
        if kind == b"VP8X":
            alpha = bool(body[0] & 0x10)
            width = int.from_bytes(body[4:7], "little") + 1
            height = int.from_bytes(body[7:10], "little") + 1
        elif kind == b"ANMF":
            frames += 1
            if duration is None:
                duration = int.from_bytes(body[12:15], "little")
        elif kind == b"VP8L" and not width:
            bits = int.from_bytes(body[1:5], "little")
            width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            alpha = bool((bits >> 28) & 1)
        elif kind == b"ALPH":  # an alpha plane: transparency even without the VP8X flag
            alpha = True
        elif kind == b"VP8 " and not width:
            width = struct.unpack_from("<H", body, 6)[0] & 0x3FFF
            height = struct.unpack_from("<H", body, 8)[0] & 0x3FFF
        pos += 8 + size + (size & 1)
    if not width or not height:
        raise ValueError("no VP8X, VP8L or VP8 header in the WebP data")
    return Info(max(frames, 1), height, width, 4 if alpha else 3, "u1", 1, duration)
