"""Structure-aware CZI (ZISRAW) mutations: segment headers, the file header's positions,
the subblock directory (entry count, pixel type, compression, file position, dimension
entries), subblock headers (metadata/attachment/data sizes) and the metadata XML."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

from ._bytes import cut, flip, get, number, put
from .mutate_text import mutate_xml

__all__ = ["CziMap", "mutate_czi", "parse_czi"]

SEGMENT_IDS = (b"ZISRAWFILE", b"ZISRAWDIRECTORY", b"ZISRAWSUBBLOCK", b"ZISRAWMETADATA")
SEGMENT_IDS += (b"ZISRAWATTDIR", b"ZISRAWATTACH", b"DELETED", b"", b"ZISRAW")
DIM_NAMES = (b"X", b"Y", b"C", b"Z", b"T", b"S", b"M", b"B", b"H", b"I", b"R", b"V", b"Q", b"")


@dataclass
class CziMap:
    segments: list[tuple[int, bytes, int, int]] = field(
        default_factory=list
    )  # pos, id, alloc, used
    entries: list[int] = field(default_factory=list)  # offsets of DirectoryEntryDV ("DV")
    subblocks: list[int] = field(default_factory=list)  # data offsets of subblock segments
    metadata: int | None = None  # data offset of the metadata segment


def parse_czi(data: bytes, limit: int = 4096) -> CziMap:
    """Segments in file order (stopping at the first bad header), directory entries found in
    the directory segment and in every subblock header."""
    cmap = CziMap()
    pos = 0
    while pos + 32 <= len(data) and len(cmap.segments) < limit:
        sid = data[pos : pos + 16].rstrip(b"\0")
        alloc, used = struct.unpack_from("<qq", data, pos + 16)
        if not sid.isalnum() or alloc < 0:
            break
        cmap.segments.append((pos, sid, alloc, used))
        body = pos + 32
        if sid == b"ZISRAWDIRECTORY" and body + 4 <= len(data):
            (n,) = struct.unpack_from("<i", data, body)
            at = body + 128
            for _ in range(max(0, min(n, 10000))):
                if data[at : at + 2] != b"DV" or at + 32 > len(data):
                    break
                cmap.entries.append(at)
                ndims = get(data, "<i", at + 28)
                at += 32 + 20 * max(0, min(ndims, 64))
        elif sid == b"ZISRAWSUBBLOCK":
            cmap.subblocks.append(body)
            if data[body + 16 : body + 18] == b"DV" and body + 48 <= len(data):
                cmap.entries.append(body + 16)
        elif sid == b"ZISRAWMETADATA":
            cmap.metadata = body
        pos = body + max(alloc, 0)
    return cmap


def _dims(data: bytes, entry: int) -> list[int]:
    if entry + 32 > len(data):
        return []
    (ndims,) = struct.unpack_from("<i", data, entry + 28)
    return [
        entry + 32 + 20 * k
        for k in range(max(0, min(ndims, 64)))
        if entry + 52 + 20 * k <= len(data)
    ]


def m_segment(buf: bytearray, cmap: CziMap, rng: random.Random) -> str:
    pos, sid, alloc, used = rng.choice(cmap.segments)
    what = rng.choice(("alloc", "used", "id"))
    if what == "id":
        new = rng.choice(SEGMENT_IDS)
        buf[pos : pos + 16] = new.ljust(16, b"\0")
        return f"segment {sid.decode()}@{pos} id -> {new.decode()}"
    value = number(rng, alloc if what == "alloc" else used, len(buf))
    put(buf, "<q", pos + (16 if what == "alloc" else 24), value)
    return f"segment {sid.decode()}@{pos} {what} = {value}"


def m_header(buf: bytearray, cmap: CziMap, rng: random.Random) -> str:
    """The file header's directory/metadata/attachment positions, file part, version."""
    name, off, fmt = rng.choice(
        (("directory", 84, "<q"), ("metadata", 92, "<q"), ("attachments", 104, "<q"))
        + (("major", 32, "<i"), ("file part", 80, "<i"), ("update pending", 100, "<i"))
    )
    others = [p for p, *_ in cmap.segments]
    value = rng.choice(others) if others and rng.random() < 0.3 else number(rng, 0, len(buf))
    put(buf, fmt, off, value)
    return f"header {name} = {value}"


def m_entry(buf: bytearray, cmap: CziMap, rng: random.Random) -> str:
    """One field of one directory entry (in the directory or a subblock's own copy)."""
    if not cmap.entries:
        return "noop"
    at = rng.choice(cmap.entries)
    field_ = rng.choice(("pixel type", "position", "part", "compression", "pyramid", "ndims"))
    if field_ == "pixel type":
        value = rng.choice((*range(-1, 15), 100, 2**31 - 1))
        put(buf, "<i", at + 2, value)
    elif field_ == "position":
        others = cmap.subblocks + [p for p, *_ in cmap.segments]
        value = rng.choice(others) - 32 if rng.random() < 0.3 else number(rng, 0, len(buf))
        put(buf, "<q", at + 6, value)
    elif field_ == "part":
        value = rng.choice((1, -1, 2**31 - 1))
        put(buf, "<i", at + 14, value)
    elif field_ == "compression":
        value = rng.choice((*range(-1, 8), 100, 104, 2**31 - 1))
        put(buf, "<i", at + 18, value)
    elif field_ == "pyramid":
        value = rng.choice((0, 1, 2, 3, 255))
        put(buf, "<B", at + 22, value)
    else:
        value = rng.choice((0, 1, 2, 25, 65, 2**31 - 1, -1))
        put(buf, "<i", at + 28, value)
    return f"entry@{at} {field_} = {value}"


def m_dimension(buf: bytearray, cmap: CziMap, rng: random.Random) -> str:
    """Start, size, stored size, start coordinate or name of one dimension entry."""
    found = [(at, d) for at in cmap.entries for d in _dims(bytes(buf), at)]
    if not found:
        return "noop"
    _, d = rng.choice(found)
    name = bytes(buf[d : d + 4]).rstrip(b"\0").decode("latin-1")
    start, size, _coord, stored = struct.unpack_from("<iifi", buf, d + 4)
    what = rng.choice(("start", "size", "size", "stored", "stored", "coord", "name"))
    if what == "name":
        new = rng.choice(DIM_NAMES)
        buf[d : d + 4] = new.ljust(4, b"\0")
        return f"dimension {name}@{d} name -> {new.decode()}"
    if what == "coord":
        value: float = rng.choice((float("nan"), float("inf"), -1e30, 1e30, 0.0))
        put(buf, "<f", d + 12, value)
    else:
        current = {"start": start, "size": size, "stored": stored}[what]
        value = number(rng, current, len(buf))
        put(buf, "<i", d + {"start": 4, "size": 8, "stored": 16}[what], value)
    return f"dimension {name}@{d} {what} = {value}"


def m_subblock(buf: bytearray, cmap: CziMap, rng: random.Random) -> str:
    """A subblock's metadata, attachment or data size."""
    if not cmap.subblocks:
        return "noop"
    body = rng.choice(cmap.subblocks)
    what, off, fmt = rng.choice((("metadata", 0, "<i"), ("attachment", 4, "<i"), ("data", 8, "<q")))
    current = get(buf, fmt, body + off)
    value = number(rng, current, len(buf))
    put(buf, fmt, body + off, value)
    return f"subblock@{body} {what} size = {value}"


def m_xml(buf: bytearray, cmap: CziMap, rng: random.Random) -> str:
    """The metadata XML edited (written back in place, or its size field changed)."""
    if cmap.metadata is None:
        return "noop"
    body = cmap.metadata
    size = get(buf, "<i", body)
    if rng.random() < 0.3:
        value = number(rng, size, len(buf))
        put(buf, "<i", body, value)
        return f"metadata xml size = {value}"
    start = body + 256
    text = bytes(buf[start : start + max(0, size)]).decode("utf-8", "replace")
    new = mutate_xml(text, rng).encode()
    room = next((alloc for p, _s, alloc, _u in cmap.segments if p + 32 == body), 0) - 256
    if len(new) > room:  # does not fit: move the segment to the end of the file
        seg = struct.pack("<ii", len(new), 0) + b"\0" * 248 + new
        put(buf, "<q", 92, len(buf))
        buf.extend(
            b"ZISRAWMETADATA".ljust(16, b"\0") + struct.pack("<qq", len(seg), len(seg)) + seg
        )
    else:
        buf[start : start + len(new)] = new
        put(buf, "<i", body, len(new))
    return "metadata xml"


MUTATORS = {
    "segment": m_segment,
    "header": m_header,
    "entry": m_entry,
    "entry ": m_entry,
    "dimension": m_dimension,
    "dimension ": m_dimension,
    "subblock": m_subblock,
    "xml": m_xml,
}


def mutate_czi(data: bytes, rng: random.Random, n: int = 1) -> tuple[bytes, list[str]]:
    """``n`` mutations (re-parsing before each); the new bytes and what was done."""
    buf = bytearray(data)
    done = []
    for _ in range(n):
        cmap = parse_czi(bytes(buf))
        if not cmap.segments or rng.random() < 0.1:
            done.append(cut(buf, rng) if rng.random() < 0.5 else flip(buf, rng))
            continue
        done.append(MUTATORS[rng.choice(list(MUTATORS))](buf, cmap, rng))
    return bytes(buf), done
