"""Structure-aware DICOM mutations: element lengths and VRs, values of the tags a slide
reader trusts (frame counts, tile and matrix sizes, bits, samples, per-frame positions),
the transfer syntax UID, the Basic Offset Table and fragment item lengths, and sequence
nesting (item and delimiter tags, duplicated or dropped items).

The walker follows a Part 10 file: the 128-byte preamble and ``DICM``, the explicit VR
little endian meta group, then the dataset (explicit or implicit VR, told apart by the
VR letters), descending into sequences and items, and into encapsulated pixel data.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

from ._bytes import cut, flip, number, put

__all__ = ["DicomMap", "mutate_dicom", "parse_dicom"]

_LONG = {b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV", b"SV", b"UV"}
_VRS = (b"OB", b"OW", b"SQ", b"UN", b"US", b"UL", b"SL", b"IS", b"DS", b"CS", b"UI", b"LO", b"FD")
#: tags whose values a slide reader sizes things by (group, element) -> kind
_SIZED = {
    (0x0028, 0x0008): "IS",  # NumberOfFrames
    (0x0028, 0x0010): "US",  # Rows
    (0x0028, 0x0011): "US",  # Columns
    (0x0028, 0x0002): "US",  # SamplesPerPixel
    (0x0028, 0x0100): "US",  # BitsAllocated
    (0x0028, 0x0006): "US",  # PlanarConfiguration
    (0x0048, 0x0006): "UL",  # TotalPixelMatrixColumns
    (0x0048, 0x0007): "UL",  # TotalPixelMatrixRows
    (0x0048, 0x0303): "UL",  # TotalPixelMatrixFocalPlanes
    (0x0048, 0x021E): "SL",  # ColumnPositionInTotalImagePixelMatrix
    (0x0048, 0x021F): "SL",  # RowPositionInTotalImagePixelMatrix
    (0x0020, 0x9228): "UL",  # ConcatenationFrameOffsetNumber
    (0x0040, 0x074A): "DS",  # ZOffsetInSlideCoordinateSystem
}
_SYNTAXES = (
    b"1.2.840.10008.1.2",
    b"1.2.840.10008.1.2.1",
    b"1.2.840.10008.1.2.1.99",
    b"1.2.840.10008.1.2.2",
    b"1.2.840.10008.1.2.4.50",
    b"1.2.840.10008.1.2.4.80",
    b"1.2.840.10008.1.2.4.90",
    b"1.2.840.10008.1.2.5",
    b"1.2.840.10008.1.2.4.110",
    b"9.9.9",
    b"",
)


@dataclass
class Element:
    tag: tuple[int, int]
    vr_pos: int  # -1 for implicit VR
    len_pos: int
    len_fmt: str
    value_pos: int
    length: int


@dataclass
class DicomMap:
    elements: list[Element] = field(default_factory=list)
    items: list[int] = field(default_factory=list)  # item / delimiter tag positions
    fragments: list[int] = field(default_factory=list)  # encapsulated item header positions
    ts_value: tuple[int, int] | None = None  # (position, length) of the TS UID value


def _walk(data: bytes, pos: int, end: int, out: DicomMap, depth: int) -> int:
    while pos + 8 <= end and len(out.elements) < 20000:
        group, elem = struct.unpack_from("<HH", data, pos)
        if group == 0xFFFE:  # item, item delimiter, sequence delimiter
            out.items.append(pos)
            (n,) = struct.unpack_from("<I", data, pos + 4)
            if elem == 0xE000 and n != 0xFFFFFFFF:
                pos += 8 + n
            else:
                pos += 8
            if elem == 0xE0DD and depth:
                return pos
            continue
        vr = data[pos + 4 : pos + 6]
        explicit = vr.isalpha() and vr.isupper()
        if explicit and vr in _LONG:
            len_pos, fmt, start = pos + 8, "<I", pos + 12
        elif explicit:
            len_pos, fmt, start = pos + 6, "<H", pos + 8
        else:
            len_pos, fmt, start = pos + 4, "<I", pos + 8
        if len_pos + struct.calcsize(fmt) > end:
            break
        (n,) = struct.unpack_from(fmt, data, len_pos)
        out.elements.append(
            Element((group, elem), pos + 4 if explicit else -1, len_pos, fmt, start, n)
        )
        if (group, elem) == (0x0002, 0x0010):
            out.ts_value = (start, n)
        if n == 0xFFFFFFFF:
            if (group, elem) == (0x7FE0, 0x0010):
                _fragments(data, start, out)
                return end
            if depth < 8:
                pos = _walk(data, start, end, out, depth + 1)
                continue
            return end
        pos = start + n
    return pos


def _fragments(data: bytes, pos: int, out: DicomMap) -> None:
    while pos + 8 <= len(data) and len(out.fragments) < 20000:
        if data[pos : pos + 4] != b"\xfe\xff\x00\xe0":
            return
        out.fragments.append(pos)
        (n,) = struct.unpack_from("<I", data, pos + 4)
        pos += 8 + n


def parse_dicom(data: bytes) -> DicomMap:
    """Where the elements, items and fragments of a Part 10 file are."""
    out = DicomMap()
    if len(data) < 132 or data[128:132] != b"DICM":
        return out
    _walk(data, 132, len(data), out, 0)
    return out


def _value(buf: bytearray, el: Element, rng: random.Random) -> str:
    kind = _SIZED.get(el.tag)
    if kind in ("US", "UL", "SL") and el.length >= 2:
        fmt = {"US": "<H", "UL": "<I", "SL": "<i"}[kind]
        if el.length >= struct.calcsize(fmt):
            put(buf, fmt, el.value_pos, number(rng))
            return f"value of {el.tag[0]:04X},{el.tag[1]:04X}"
    text = rng.choice((b"0", b"-1", b"1e9", b"99999999", b"abc", b"", b"1.5", b"4294967296"))
    text = text[: el.length].ljust(el.length, b" ")
    buf[el.value_pos : el.value_pos + el.length] = text
    return f"text value of {el.tag[0]:04X},{el.tag[1]:04X}"


def _one(buf: bytearray, dmap: DicomMap, rng: random.Random) -> str:
    sized = [e for e in dmap.elements if e.tag in _SIZED]
    choices = ["length", "vr", "flip", "cut"]
    choices += ["value"] * 3 * bool(sized) + ["ts"] * bool(dmap.ts_value)
    choices += ["items"] * bool(dmap.items) + ["fragments", "bot"] * bool(dmap.fragments)
    choices += ["duplicate"] * bool(dmap.items)
    kind = rng.choice(choices)
    if kind == "value":
        return _value(buf, rng.choice(sized), rng)
    if kind == "length" and dmap.elements:
        el = rng.choice(dmap.elements)
        put(buf, el.len_fmt, el.len_pos, number(rng, el.length, len(buf)))
        return f"length of {el.tag[0]:04X},{el.tag[1]:04X}"
    if kind == "vr":
        explicit = [e for e in dmap.elements if e.vr_pos >= 0]
        if explicit:
            el = rng.choice(explicit)
            buf[el.vr_pos : el.vr_pos + 2] = rng.choice(_VRS)
            return f"VR of {el.tag[0]:04X},{el.tag[1]:04X}"
    if kind == "ts" and dmap.ts_value:
        at, n = dmap.ts_value
        uid = rng.choice(_SYNTAXES)[:n].ljust(n, b"\0")
        buf[at : at + n] = uid
        return f"transfer syntax {uid!r}"
    if kind == "items":
        at = rng.choice(dmap.items)
        buf[at + 2 : at + 4] = rng.choice((b"\x00\xe0", b"\x0d\xe0", b"\xdd\xe0", b"\x00\x00"))
        if rng.random() < 0.5:
            put(buf, "<I", at + 4, number(rng))
        return f"item tag at {at}"
    if kind == "duplicate":
        at = rng.choice(dmap.items)
        buf[at:at] = bytes(buf[at : at + rng.choice((8, 16, 64, 256))])
        return f"duplicated item bytes at {at}"
    if kind in ("fragments", "bot"):
        at = dmap.fragments[0] if kind == "bot" else rng.choice(dmap.fragments)
        (n,) = struct.unpack_from("<I", buf, at + 4)
        if kind == "bot" and n >= 4 and rng.random() < 0.6:
            entry = at + 8 + 4 * rng.randrange(n // 4)
            put(buf, "<I", entry, number(rng, 0, len(buf)))
            return f"offset table entry at {entry}"
        put(buf, "<I", at + 4, number(rng, n, len(buf)))
        return f"fragment length at {at}"
    if kind == "cut":
        return cut(buf, rng)
    return flip(buf, rng, 132)


def mutate_dicom(data: bytes, rng: random.Random, n: int) -> tuple[bytes, list[str]]:
    """``n`` structure-aware edits of a DICOM file (re-parsed after each)."""
    buf = bytearray(data)
    done = []
    for _ in range(n):
        done.append(_one(buf, parse_dicom(bytes(buf)), rng))
    return bytes(buf), done
