"""Structure-aware TIFF mutations: IFD entries (values, counts, types, offsets), IFD loops,
descriptions (OME-XML, ImageJ, Aperio), truncation and byte flips."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass

from .mutate_text import mutate_description

__all__ = ["TIFF_MUTATORS", "Entry", "TiffMap", "mutate_tiff", "parse_tiff"]

INTERESTING = (0, 1, 2, 3, 7, 8, 16, 255, 256, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF)
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
TYPE_SIZES |= {13: 4, 16: 8, 17: 8, 18: 8}
KNOWN_TAGS = (254, 256, 257, 258, 259, 262, 270, 273, 277, 278, 279, 284, 317, 322, 323)
KNOWN_TAGS += (324, 325, 330, 338, 339, 347, 530, 32997, 50838, 50839)
# whole-slide markers: Software (Philips, BIF, QPI), XMP (BIF), NDPI's format flag, source
# lens, McuStarts and reference
KNOWN_TAGS += (305, 700, 65420, 65421, 65426, 65427)


@dataclass
class Entry:
    pos: int  # file offset of the 12- or 20-byte entry
    tag: int
    type: int
    count: int
    value_pos: int  # file offset of the value field (inline value or pointer)


@dataclass
class Ifd:
    offset: int
    entries: list[Entry]
    next_pos: int  # file offset of the next-IFD pointer


@dataclass
class TiffMap:
    order: str  # "<" or ">"
    big: bool
    ifds: list[Ifd]

    @property
    def offset_format(self) -> str:
        return self.order + ("Q" if self.big else "I")

    @property
    def count_format(self) -> str:
        return self.order + ("Q" if self.big else "I")

    @property
    def value_size(self) -> int:
        return 8 if self.big else 4


def parse_tiff(data: bytes, limit: int = 64) -> TiffMap | None:
    """The IFD chain (at most ``limit`` IFDs, stopping at loops or bad offsets), or None."""
    if len(data) < 16 or data[:2] not in (b"II", b"MM"):
        return None
    order = "<" if data[:2] == b"II" else ">"
    (magic,) = struct.unpack(order + "H", data[2:4])
    big = magic == 43
    if magic not in (42, 43):
        return None
    tmap = TiffMap(order, big, [])
    if big:
        (offset,) = struct.unpack(order + "Q", data[8:16])
    else:
        (offset,) = struct.unpack(order + "I", data[4:8])
    seen: set[int] = set()
    while offset and offset not in seen and len(tmap.ifds) < limit:
        seen.add(offset)
        ifd = _parse_ifd(data, tmap, offset)
        if ifd is None:
            break
        tmap.ifds.append(ifd)
        fmt = tmap.offset_format
        (offset,) = struct.unpack_from(fmt, data, ifd.next_pos)
    return tmap


def _parse_ifd(data: bytes, tmap: TiffMap, offset: int) -> Ifd | None:
    order, big = tmap.order, tmap.big
    head, size = (8, 20) if big else (2, 12)
    if offset + head > len(data):
        return None
    (n,) = struct.unpack_from(order + ("Q" if big else "H"), data, offset)
    end = offset + head + n * size
    if n > 4096 or end + tmap.value_size > len(data):
        return None
    entries = []
    for k in range(n):
        pos = offset + head + k * size
        tag, typ = struct.unpack_from(order + "HH", data, pos)
        (count,) = struct.unpack_from(tmap.count_format, data, pos + 4)
        entries.append(Entry(pos, tag, typ, count, pos + 4 + tmap.value_size))
    return Ifd(offset, entries, end)


def _put(buf: bytearray, fmt: str, pos: int, value: int) -> None:
    size = struct.calcsize(fmt)
    value &= (1 << (8 * size)) - 1
    struct.pack_into(fmt, buf, pos, value)


def _entry(tmap: TiffMap, rng: random.Random) -> Entry | None:
    entries = [e for ifd in tmap.ifds for e in ifd.entries]
    return rng.choice(entries) if entries else None


def _interesting(rng: random.Random) -> int:
    value = rng.choice(INTERESTING)
    return value if rng.random() < 0.8 else rng.randrange(0, 1 << 32)


def m_value(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    """An inline SHORT/LONG value set to an interesting number (sizes, samples, bits...)."""
    e = _entry(tmap, rng)
    if e is None:
        return "noop"
    fmt = tmap.order + ("H" if e.type == 3 else tmap.offset_format[1])
    value = _interesting(rng)
    _put(buf, fmt, e.value_pos, value)
    return f"value tag {e.tag} = {value}"


def m_count(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    e = _entry(tmap, rng)
    if e is None:
        return "noop"
    count = rng.choice((0, 1, 2, e.count + 1, max(0, e.count - 1), 0xFFFF, 0xFFFFFFFF))
    _put(buf, tmap.count_format, e.pos + 4, count)
    return f"count tag {e.tag} = {count}"


def m_type(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    e = _entry(tmap, rng)
    if e is None:
        return "noop"
    typ = rng.randrange(0, 20)
    _put(buf, tmap.order + "H", e.pos + 2, typ)
    return f"type tag {e.tag} = {typ}"


def m_tag(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    e = _entry(tmap, rng)
    if e is None:
        return "noop"
    tag = rng.choice(KNOWN_TAGS)
    _put(buf, tmap.order + "H", e.pos, tag)
    return f"tag {e.tag} -> {tag}"


def m_offset(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    """A value pointer (or a strip/tile offset in it) moved to 0, the end, past the end."""
    e = _entry(tmap, rng)
    if e is None:
        return "noop"
    choices = (0, 1, len(buf) - 1, len(buf), len(buf) + 1000, rng.randrange(len(buf)))
    value = rng.choice(choices)
    _put(buf, tmap.offset_format, e.value_pos, value)
    return f"offset tag {e.tag} = {value}"


def m_loop(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    """A next-IFD pointer aimed back at an earlier (or the same) IFD."""
    if not tmap.ifds:
        return "noop"
    k = rng.randrange(len(tmap.ifds))
    target = tmap.ifds[rng.randrange(k + 1)].offset
    _put(buf, tmap.offset_format, tmap.ifds[k].next_pos, target)
    return f"loop IFD {k} -> {target}"


def m_next(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    """A next-IFD pointer to garbage: mid-entry, past the end, odd."""
    if not tmap.ifds:
        return "noop"
    ifd = rng.choice(tmap.ifds)
    value = rng.choice((1, 3, len(buf) - 2, len(buf) + 8, rng.randrange(len(buf))))
    _put(buf, tmap.offset_format, ifd.next_pos, value)
    return f"next IFD -> {value}"


def m_entries(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    """The entry count of an IFD changed (drops entries or reads past them)."""
    if not tmap.ifds:
        return "noop"
    ifd = rng.choice(tmap.ifds)
    n = rng.choice((0, 1, len(ifd.entries) - 1, len(ifd.entries) + 1, 0xFFFF))
    _put(buf, tmap.order + ("Q" if tmap.big else "H"), ifd.offset, max(n, 0))
    return f"entries IFD {ifd.offset} = {n}"


def m_description(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    """An ImageDescription (any page's: BIF and QPI levels have their own) replaced by a
    mutated copy appended at the end of the file."""
    found = [e for ifd in tmap.ifds for e in ifd.entries if e.tag == 270 and e.type == 2]
    if not found:
        return "noop"
    e = found[0] if rng.random() < 0.5 else rng.choice(found)
    fmt = tmap.offset_format
    if e.count <= tmap.value_size:
        text = bytes(buf[e.value_pos : e.value_pos + e.count])
    else:
        (ptr,) = struct.unpack_from(fmt, buf, e.value_pos)
        text = bytes(buf[ptr : ptr + e.count])
    new = mutate_description(text.rstrip(b"\0").decode("utf-8", "replace"), rng).encode()
    new += b"\0"
    pos = len(buf)
    buf.extend(new)
    _put(buf, tmap.count_format, e.pos + 4, len(new))
    _put(buf, fmt, e.value_pos, pos)
    return "description"


def m_truncate(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    cut = rng.randrange(8, len(buf)) if len(buf) > 8 else len(buf)
    del buf[cut:]
    return f"truncate {cut}"


def m_flip(buf: bytearray, tmap: TiffMap, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(len(buf))
        buf[pos] = rng.randrange(256) if rng.random() < 0.5 else buf[pos] ^ (1 << rng.randrange(8))
    return "flip"


TIFF_MUTATORS: dict[str, Callable[[bytearray, TiffMap, random.Random], str]] = {
    "value": m_value,
    "count": m_count,
    "type": m_type,
    "tag": m_tag,
    "offset": m_offset,
    "loop": m_loop,
    "next": m_next,
    "entries": m_entries,
    "description": m_description,
    "truncate": m_truncate,
    "flip": m_flip,
}


def mutate_tiff(data: bytes, rng: random.Random, n: int = 1) -> tuple[bytes, list[str]]:
    """``n`` mutations (re-parsing the IFDs before each); the mutated bytes and what was done."""
    buf = bytearray(data)
    done = []
    for _ in range(n):
        tmap = parse_tiff(bytes(buf)) or TiffMap("<", False, [])
        name = rng.choice(list(TIFF_MUTATORS)) if tmap.ifds else rng.choice(["flip", "truncate"])
        done.append(TIFF_MUTATORS[name](buf, tmap, rng))
    return bytes(buf), done
