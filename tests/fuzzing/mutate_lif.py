"""Structure-aware Leica LIF/LOF mutations: the XML description (dimensions, bytes-inc,
channels, memory sizes and block ids) and the block headers (lengths, memory sizes, ids).

A LIF is a chain of blocks, each ``0x70`` (u32), a length (u32) and ``0x2A``: first the
UTF-16 XML header (u32 character count, text), then memory blocks (u64 size, ``0x2A``,
u32 character count, UTF-16 id, the bytes). A LOF has one block of pixels after its
``LMS_Object_File`` header and the XML in a last block.
"""

from __future__ import annotations

import random
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ._bytes import cut, flip, get, number, put, text_value
from .mutate_text import mutate_xml

__all__ = ["LifMap", "mutate_lif", "parse_lif"]

#: element -> attributes worth breaking (the ones the layout is computed from)
TARGETS = {
    "DimensionDescription": ("DimID", "NumberOfElements", "BytesInc", "Length", "Origin", "Unit"),
    "ChannelDescription": ("DataType", "Resolution", "BytesInc", "Min", "Max", "LUTName"),
    "Memory": ("Size", "MemoryBlockID"),
    "Tile": ("FieldX", "FieldY", "PosX", "PosY"),
    "TimeStampList": ("NumberOfTimeStamps",),
}
XML_BLOCK = re.compile(rb"\x70\x00\x00\x00(....)\x2a(....)<\x00", re.S)


@dataclass
class LifMap:
    xml: tuple[int, int] | None = None  # (block start, character count)
    blocks: list[tuple[int, int]] = field(default_factory=list)  # (block start, size offset)
    lof_size: int | None = None  # offset of a LOF's u64 pixel size


def parse_lif(data: bytes) -> LifMap:
    lmap = LifMap()
    found = XML_BLOCK.search(data)
    if found:
        lmap.xml = (found.start(), struct.unpack("<I", found.group(2))[0])
    pos = 0
    while pos + 9 <= len(data) and len(lmap.blocks) < 10000:
        pos = data.find(b"\x70\x00\x00\x00", pos)
        if pos < 0 or pos + 9 > len(data):
            break
        if data[pos + 8] == 0x2A and data[pos + 17 : pos + 18] == b"\x2a":
            lmap.blocks.append((pos, pos + 9))
        pos += 4
    magic = "LMS_Object_File".encode("utf-16-le")
    at = data.find(magic)
    if at >= 0 and data[at + len(magic) + 10 : at + len(magic) + 11] == b"\x2a":
        lmap.lof_size = at + len(magic) + 11
    return lmap


def _xml_text(buf: bytearray, lmap: LifMap) -> str:
    assert lmap.xml is not None
    start, nchars = lmap.xml
    return bytes(buf[start + 13 : start + 13 + 2 * nchars]).decode("utf-16-le", "replace")


def _write_xml(buf: bytearray, lmap: LifMap, text: str) -> None:
    """Replace the XML block's text, with consistent length fields (later blocks shift)."""
    assert lmap.xml is not None
    start, nchars = lmap.xml
    raw = text.encode("utf-16-le")
    head = struct.pack("<IIBI", 0x70, len(raw) + 5, 0x2A, len(text))
    buf[start : start + 13 + 2 * nchars] = head + raw


def m_attribute(buf: bytearray, lmap: LifMap, rng: random.Random) -> str:
    """A layout attribute (dims, bytes-inc, channel, memory) set to a bad value."""
    if lmap.xml is None:
        return "noop"
    try:
        root = ET.fromstring(_xml_text(buf, lmap))
    except ET.ParseError:
        return "noop"
    found = [(el, a) for el in root.iter() for a in TARGETS.get(el.tag, ()) if a in el.attrib]
    if not found:
        return "noop"
    action = rng.choice(("value", "value", "value", "drop", "dup"))
    el, attr = rng.choice(found)
    if action == "value":
        el.set(attr, text_value(rng, el.get(attr, "")))
        what = f"{el.tag} {attr} = {el.get(attr)!r}"
    elif action == "drop":
        del el.attrib[attr]
        what = f"{el.tag} {attr} dropped"
    else:  # a dimension or channel repeated: more elements than the memory holds
        parent = next((p for p in root.iter() if el in list(p)), None)
        if parent is None:
            return "noop"
        for _ in range(rng.choice((1, 3, 40))):
            parent.append(el)
        what = f"{el.tag} repeated"
    _write_xml(buf, lmap, ET.tostring(root, encoding="unicode"))
    return what


def m_xml(buf: bytearray, lmap: LifMap, rng: random.Random) -> str:
    if lmap.xml is None:
        return "noop"
    _write_xml(buf, lmap, mutate_xml(_xml_text(buf, lmap), rng))
    return "xml"


def m_xml_count(buf: bytearray, lmap: LifMap, rng: random.Random) -> str:
    """The XML block's length or character count."""
    if lmap.xml is None:
        return "noop"
    start, nchars = lmap.xml
    which = rng.choice((4, 9))
    value = number(rng, nchars, len(buf))
    put(buf, "<I", start + which, value)
    return f"xml {'length' if which == 4 else 'characters'} = {value}"


def m_block(buf: bytearray, lmap: LifMap, rng: random.Random) -> str:
    """A memory block's size (u64), block length, id length, id, or a LOF's pixel size."""
    choices = [("size", p[1]) for p in lmap.blocks] + [("lof", lmap.lof_size)] * bool(lmap.lof_size)
    if not choices:
        return "noop"
    what, at = rng.choice(choices)
    assert at is not None
    if what == "lof":
        current = get(buf, "<Q", at)
        value = number(rng, current, len(buf))
        put(buf, "<Q", at, value)
        return f"LOF pixel size = {value}"
    start = at - 9
    size = get(buf, "<Q", at)
    field_ = rng.choice(("size", "size", "length", "id length", "id", "magic"))
    if field_ == "size":
        value = number(rng, size, len(buf))
        put(buf, "<Q", at, value)
    elif field_ == "length":
        value = number(rng, 0, len(buf))
        put(buf, "<I", start + 4, value)
    elif field_ == "id length":
        value = rng.choice((0, 1, 2**31, 2**32 - 1, 1000))
        put(buf, "<I", at + 9, value)
    elif field_ == "id":
        return flip(buf, rng, at + 13, at + 13 + 24)
    else:
        value = rng.choice((0, 0x71, 0x2A))
        put(buf, "<B", rng.choice((start, start + 8, at + 8)), value)
    return f"block@{start} {field_} = {value}"


MUTATORS = {
    "attribute": m_attribute,
    "attribute ": m_attribute,
    "attribute  ": m_attribute,
    "xml": m_xml,
    "xml count": m_xml_count,
    "block": m_block,
    "block ": m_block,
}


def mutate_lif(data: bytes, rng: random.Random, n: int = 1) -> tuple[bytes, list[str]]:
    """``n`` mutations (re-parsing before each); the new bytes and what was done."""
    buf = bytearray(data)
    done = []
    for _ in range(n):
        lmap = parse_lif(bytes(buf))
        if (lmap.xml is None and not lmap.blocks) or rng.random() < 0.1:
            done.append(cut(buf, rng) if rng.random() < 0.5 else flip(buf, rng))
            continue
        done.append(MUTATORS[rng.choice(list(MUTATORS))](buf, lmap, rng))
    return bytes(buf), done
