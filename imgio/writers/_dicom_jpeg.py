"""What a stored JPEG tile holds, read from its markers: size, components, colour coding.

Used to decide whether a source's JPEG tiles can become DICOM frames as they are, and
with which Photometric Interpretation (RGB-coded tiles, as Aperio writes, are ``RGB``;
YCbCr tiles are ``YBR_FULL_422`` when their chroma is subsampled, else ``YBR_FULL``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["JpegInfo", "jpeg_info"]


@dataclass(frozen=True)
class JpegInfo:
    rows: int
    columns: int
    components: int
    rgb: bool  # components coded as R, G, B (no colour transform)
    subsampling: str  # "444", "422", "420" (of the first component against the others)

    @property
    def photometric(self) -> str:
        if self.components == 1:
            return "MONOCHROME2"
        if self.rgb:
            return "RGB"
        return "YBR_FULL" if self.subsampling == "444" else "YBR_FULL_422"


def jpeg_info(data: bytes) -> JpegInfo | None:
    """The frame header of a baseline 8-bit JPEG, or None for anything else."""
    if data[:2] != b"\xff\xd8":
        return None
    pos, adobe = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        body = data[pos + 4 : pos + 2 + length]
        if marker == 0xEE and body[:5] == b"Adobe" and len(body) >= 12:
            adobe = body[11]
        elif marker in (0xC1, 0xC2, 0xC3) or 0xC5 <= marker <= 0xCF and marker != 0xCC:
            return None  # not baseline sequential Huffman
        elif marker == 0xC0:
            return _frame(body, adobe)
        elif marker == 0xDA:
            return None
        pos += 2 + length
    return None


def _frame(body: bytes, adobe: int | None) -> JpegInfo | None:
    if len(body) < 6 or body[0] != 8:
        return None
    rows, columns = struct.unpack(">HH", body[1:5])
    n = body[5]
    if n not in (1, 3) or len(body) < 6 + 3 * n:
        return None
    ids = bytes(body[6 + 3 * i] for i in range(n))
    factors = [(body[7 + 3 * i] >> 4, body[7 + 3 * i] & 15) for i in range(n)]
    rgb = n == 3 and (adobe == 0 or (adobe is None and ids == b"RGB"))
    sub = "444"
    if n == 3 and any(f != (1, 1) for f in factors[1:]):
        return None  # chroma sampled finer than luma: not a DICOM YBR layout
    if n == 3 and factors[0] == (2, 1):
        sub = "422"
    elif n == 3 and factors[0] == (2, 2):
        sub = "420"
    elif n == 3 and factors[0] != (1, 1):
        return None
    return JpegInfo(rows, columns, n, rgb, sub)


@dataclass(frozen=True)
class J2kInfo:
    """What a stored JPEG 2000 codestream tile holds (its SIZ and COD markers)."""

    rows: int
    columns: int
    components: int
    bits: int
    mct: bool  # the codestream's own colour transform (ICT or RCT) is on
    reversible: bool  # 5-3 wavelet (lossless capable); False: 9-7

    @property
    def photometric(self) -> str:
        """DICOM's Photometric Interpretation of these frames (PS3.5 8.2.4): YBR_ICT or
        YBR_RCT with the codestream's colour transform, else the samples as they are."""
        if self.components == 1:
            return "MONOCHROME2"
        if self.mct:
            return "YBR_RCT" if self.reversible else "YBR_ICT"
        return "RGB"

    @property
    def rgb(self) -> bool:  # the JPEG encoder's question: code missing tiles without a transform
        return not self.mct

    subsampling = "444"


def j2k_info(data: bytes) -> J2kInfo | None:
    """The SIZ and COD of a JPEG 2000 codestream (``FF4F FF51``), or None for anything else
    (components of unequal depth or subsampled, more than 3 components)."""
    if data[:4] != b"\xff\x4f\xff\x51" or len(data) < 42:
        return None
    (lsiz,) = struct.unpack(">H", data[4:6])
    siz = data[6 : 4 + lsiz]
    if len(siz) < 36:
        return None
    xs, ys, x0, y0 = struct.unpack(">IIII", siz[2:18])
    (n,) = struct.unpack(">H", siz[34:36])
    comps = siz[36 : 36 + 3 * n]
    if n not in (1, 3) or len(comps) != 3 * n:
        return None
    if len({comps[3 * i] for i in range(n)}) != 1 or any(
        comps[3 * i + 1 : 3 * i + 3] != b"\x01\x01" for i in range(n)
    ):
        return None
    pos = 4 + lsiz
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker == 0x52 and length >= 12:  # COD: Scod, SGcod (order, layers, MCT), SPcod
            body = data[pos + 4 : pos + 2 + length]
            bits = (comps[0] & 0x7F) + 1
            return J2kInfo(ys - y0, xs - x0, n, bits, body[4] == 1, body[9] == 1)
        if marker == 0x90:  # a tile-part before any COD: not a valid main header
            return None
        pos += 2 + length
    return None
