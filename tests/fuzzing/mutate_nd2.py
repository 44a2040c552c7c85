"""Structure-aware ND2 mutations: chunk headers (name and data lengths), the chunk map at
the end (entries' offsets and sizes, its own location) and CLX-lite attribute values
(image attributes such as ``uiWidth``, ``uiComp``, ``uiSequenceCount``; loop counts;
length prefixes of byte arrays and levels).

Every chunk starts with ``DA CE BE 0A``, a u32 name length and a u64 data length; the
last 40 bytes name the chunk map's signature and position. A CLX-lite entry is a type
byte, a name length byte, the UTF-16 name with its NUL, then the value.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

from ._bytes import cut, flip, get, number, put

__all__ = ["Nd2Map", "mutate_nd2", "parse_nd2"]

CHUNK_MAGIC = bytes.fromhex("dacebe0a")
MAP_SIGNATURE = b"ND2 CHUNK MAP SIGNATURE 0000001!"
#: CLX-lite value type -> struct format of its value (8: string, 9: byte array, 11: level)
VALUE_FORMATS = {1: "<B", 2: "<i", 3: "<I", 4: "<q", 5: "<Q", 6: "<d", 7: "<Q", 9: "<Q", 11: "<I"}
ATTRIBUTES = ("uiWidth", "uiHeight", "uiComp", "uiBpcInMemory", "uiBpcSignificant")
ATTRIBUTES += ("uiSequenceCount", "uiWidthBytes", "uiTileWidth", "uiTileHeight", "ePixelType")
ATTRIBUTES += ("eCompression", "uiVirtualComponents", "uiCount", "uiLoopSize", "uiNextLevelCount")
ATTRIBUTES += ("dCompressionParam", "dObjectiveMag", "dCalibration", "uiChannelCount")


@dataclass
class Nd2Map:
    chunks: list[int] = field(default_factory=list)  # offsets of chunk headers
    entries: list[int] = field(default_factory=list)  # offsets of chunk map (offset, size) pairs
    values: list[tuple[str, int, int]] = field(default_factory=list)  # name, type, value offset


def parse_nd2(data: bytes) -> Nd2Map:
    nmap = Nd2Map()
    pos = data.find(CHUNK_MAGIC)
    while pos >= 0 and len(nmap.chunks) < 20000:
        nmap.chunks.append(pos)
        pos = data.find(CHUNK_MAGIC, pos + 4)
    if len(data) >= 40 and data[-40:-8] == MAP_SIGNATURE:
        (where,) = struct.unpack_from("<Q", data, len(data) - 8)
        if where + 16 <= len(data):
            name_len = get(data, "<I", where + 4)
            start = where + 16 + name_len
            at = start
            while 0 <= at < len(data) and len(nmap.entries) < 20000:
                bang = data.find(b"!", at)
                if bang < 0 or data[at : bang + 1] == MAP_SIGNATURE or bang + 17 > len(data):
                    break
                nmap.entries.append(bang + 1)
                at = bang + 17
    for name in ATTRIBUTES:
        key = name.encode("utf-16-le") + b"\0\0"
        pos = data.find(key)
        while pos >= 2 and len(nmap.values) < 2000:
            typ, n = data[pos - 2], data[pos - 1]
            if n == len(name) + 1 and typ in VALUE_FORMATS:
                nmap.values.append((name, typ, pos + len(key)))
            pos = data.find(key, pos + 1)
    return nmap


def m_chunk(buf: bytearray, nmap: Nd2Map, rng: random.Random) -> str:
    """A chunk header's name length (u32) or data length (u64)."""
    if not nmap.chunks:
        return "noop"
    at = rng.choice(nmap.chunks)
    if rng.random() < 0.7:
        current = get(buf, "<Q", at + 8)
        value = number(rng, current, len(buf))
        put(buf, "<Q", at + 8, value)
        return f"chunk@{at} data length = {value}"
    value = rng.choice((0, 1, 15, 4095, 4097, 2**16, 2**31, 2**32 - 1))
    put(buf, "<I", at + 4, value)
    return f"chunk@{at} name length = {value}"


def m_map(buf: bytearray, nmap: Nd2Map, rng: random.Random) -> str:
    """A chunk map entry's offset or size, or the map's own position in the trailer."""
    if not nmap.entries or rng.random() < 0.15:
        value = rng.choice(nmap.chunks or [0]) if rng.random() < 0.4 else number(rng, 0, len(buf))
        put(buf, "<Q", len(buf) - 8, value)
        return f"chunk map position = {value}"
    at = rng.choice(nmap.entries)
    which = rng.choice((0, 8))
    if which == 0 and nmap.chunks and rng.random() < 0.4:
        value = rng.choice(nmap.chunks)  # another chunk's offset: a name mismatch
    else:
        current = get(buf, "<Q", at + which)
        value = number(rng, current, len(buf))
    put(buf, "<Q", at + which, value)
    return f"chunk map entry@{at} {'offset' if which == 0 else 'size'} = {value}"


def m_value(buf: bytearray, nmap: Nd2Map, rng: random.Random) -> str:
    """A CLX-lite value: an image attribute, a loop count, a byte array or level length."""
    if not nmap.values:
        return "noop"
    name, typ, at = rng.choice(nmap.values)
    fmt = VALUE_FORMATS[typ]
    if fmt == "<d":
        value: float = rng.choice((0.0, -1.0, 1e308, float("nan"), float("inf"), 2.0**63))
    else:
        current = get(buf, fmt, at) if fmt != "<d" else 0
        value = number(rng, int(current), len(buf))
    put(buf, fmt, at, value)
    return f"{name} = {value}"


def m_type(buf: bytearray, nmap: Nd2Map, rng: random.Random) -> str:
    """A CLX-lite entry's type byte (its value is then read as something else)."""
    if not nmap.values:
        return "noop"
    name, typ, at = rng.choice(nmap.values)
    new = rng.choice((0, 1, 2, 5, 6, 8, 9, 10, 11, 12, 255))
    put(buf, "<B", at - 2 * (len(name) + 1) - 2, new)
    return f"{name} type {typ} -> {new}"


MUTATORS = {
    "chunk": m_chunk,
    "chunk ": m_chunk,
    "map": m_map,
    "map ": m_map,
    "value": m_value,
    "value ": m_value,
    "value  ": m_value,
    "type": m_type,
}


def mutate_nd2(data: bytes, rng: random.Random, n: int = 1) -> tuple[bytes, list[str]]:
    """``n`` mutations (re-parsing before each); the new bytes and what was done."""
    buf = bytearray(data)
    done = []
    for _ in range(n):
        nmap = parse_nd2(bytes(buf))
        if not nmap.chunks or rng.random() < 0.1:
            done.append(cut(buf, rng) if rng.random() < 0.5 else flip(buf, rng))
            continue
        done.append(MUTATORS[rng.choice(list(MUTATORS))](buf, nmap, rng))
    return bytes(buf), done
