"""Structure-aware mutations of common images: PNG chunks (lengths; IHDR size, depth and
colour type with the CRC recomputed; APNG frame controls), JPEG segments (lengths, SOF
size/precision/components, EXIF orientation through the TIFF mutator), GIF (logical
screen, frame descriptors, colour table flags, LZW code size) and WebP (RIFF and chunk
sizes, VP8X canvas, VP8/VP8L frame sizes, ANMF frames)."""

from __future__ import annotations

import random
import struct
import zlib

from ._bytes import cut, flip, number, put
from .mutate_tiff import mutate_tiff

__all__ = ["mutate_image"]

PNG = b"\x89PNG\r\n\x1a\n"
SIZES = (0, 1, 2, 255, 256, 0x3FFF, 0x4000, 0xFFFF, 0x10000, 2**24, 2**31 - 1, 2**31, 2**32 - 1)


def _png_chunks(buf: bytearray) -> list[tuple[int, bytes, int]]:
    """(offset, type, length) of every chunk, stopping at a length past the end."""
    out, pos = [], 8
    while pos + 12 <= len(buf) and len(out) < 10000:
        (n,) = struct.unpack_from(">I", buf, pos)
        out.append((pos, bytes(buf[pos + 4 : pos + 8]), n))
        if pos + 12 + n > len(buf):
            break
        pos += 12 + n
    return out


def _png_crc(buf: bytearray, pos: int, n: int) -> None:
    if pos + 12 + n <= len(buf):
        put(buf, ">I", pos + 8 + n, zlib.crc32(bytes(buf[pos + 4 : pos + 8 + n])))


def mutate_png(buf: bytearray, rng: random.Random) -> str:
    chunks = _png_chunks(buf)
    if not chunks:
        return flip(buf, rng)
    fields = {  # chunk -> (name, offset in data, format, values)
        b"IHDR": [("width", 0, ">I", SIZES), ("height", 4, ">I", SIZES)]
        + [("depth", 8, ">B", (0, 1, 2, 3, 4, 8, 16, 32, 255))]
        + [("colour", 9, ">B", (0, 1, 2, 3, 4, 5, 6, 7, 255))]
        + [("interlace", 12, ">B", (1, 2, 255)), ("filter", 11, ">B", (1, 255))],
        b"acTL": [("frames", 0, ">I", SIZES), ("plays", 4, ">I", SIZES)],
        b"fcTL": [("width", 4, ">I", SIZES), ("height", 8, ">I", SIZES)]
        + [("x", 12, ">I", SIZES), ("y", 16, ">I", SIZES), ("dispose", 24, ">B", (3, 255))]
        + [("blend", 25, ">B", (2, 255)), ("sequence", 0, ">I", SIZES)],
    }
    action = rng.choice(("field", "field", "field", "length", "data", "drop", "order"))
    known = [c for c in chunks if c[1] in fields]
    if action == "field" and known:
        pos, kind, n = rng.choice(known)
        name, off, fmt, values = rng.choice(fields[kind])
        value = rng.choice(values)
        put(buf, fmt, pos + 8 + off, value)
        if rng.random() < 0.9:
            _png_crc(buf, pos, n)
        return f"PNG {kind.decode()} {name} = {value}"
    pos, kind, n = rng.choice(chunks)
    if action == "length":
        value = number(rng, n, len(buf))
        put(buf, ">I", pos, value)
        return f"PNG {kind!r} length = {value}"
    if action == "data" and n:  # corrupt the (compressed) data, CRC kept valid
        flip(buf, rng, pos + 8, pos + 8 + n)
        _png_crc(buf, pos, n)
        return f"PNG {kind!r} data (CRC fixed)"
    if action == "drop":
        del buf[pos : pos + 12 + n]
        return f"PNG {kind!r} dropped"
    other = rng.choice(chunks)  # a chunk repeated somewhere else (IHDR twice, IDAT first...)
    buf[other[0] : other[0]] = buf[pos : pos + 12 + n]
    return f"PNG {kind!r} copied before {other[1]!r}"


def _jpeg_segments(buf: bytearray) -> list[tuple[int, int, int]]:
    """(offset of the marker, marker, length) until the scan data starts."""
    out, pos = [], 2
    while pos + 4 <= len(buf) and buf[pos] == 0xFF and len(out) < 1000:
        marker = buf[pos + 1]
        (n,) = struct.unpack_from(">H", buf, pos + 2)
        out.append((pos, marker, n))
        if marker == 0xDA:
            break
        pos += 2 + n
    return out


def mutate_jpeg(buf: bytearray, rng: random.Random) -> str:
    segs = _jpeg_segments(buf)
    if not segs:
        return flip(buf, rng)
    sofs = [s for s in segs if s[1] in (0xC0, 0xC1, 0xC2, 0xC3)]
    exif = [s for s in segs if s[1] == 0xE1 and buf[s[0] + 4 : s[0] + 10] == b"Exif\0\0"]
    action = rng.choice(("sof", "sof", "sof", "length", "exif", "scan", "drop"))
    if action == "sof" and sofs:
        pos = sofs[0][0]
        name, off, fmt, values = rng.choice(
            (
                ("precision", 4, ">B", (0, 1, 7, 12, 16, 255)),
                ("height", 5, ">H", (0, 1, 2, 0x7FFF, 0xFFFF)),
                ("width", 7, ">H", (0, 1, 2, 0x7FFF, 0xFFFF)),
                ("components", 9, ">B", (0, 1, 2, 4, 5, 255)),
                ("sampling", 11, ">B", (0, 0x11, 0x44, 0x48, 0xFF)),
                ("table", 12, ">B", (4, 255)),
            )
        )
        value = rng.choice(values)
        put(buf, fmt, pos + off, value)
        return f"JPEG SOF {name} = {value}"
    if action == "exif" and exif and exif[0][2] > 16:
        pos, _, n = exif[0]
        tiff = bytes(buf[pos + 10 : pos + 2 + n])
        new, done = mutate_tiff(tiff, rng)
        if len(new) != len(tiff):
            new = new[: len(tiff)].ljust(len(tiff), b"\0")
        buf[pos + 10 : pos + 2 + n] = new
        return f"JPEG EXIF {'; '.join(done)}"
    if action == "scan":
        return flip(buf, rng, segs[-1][0] + 2 + segs[-1][2])
    pos, marker, n = rng.choice(segs)
    if action == "drop":
        del buf[pos : pos + 2 + n]
        return f"JPEG segment {marker:02X} dropped"
    value = rng.choice((0, 1, 2, 3, max(0, n - 1), n + 1, 0xFFFF))
    put(buf, ">H", pos + 2, value)
    return f"JPEG segment {marker:02X} length = {value}"


def _gif_blocks(buf: bytearray) -> tuple[list[int], list[int]]:
    """Offsets of image descriptors and of the sub-block length bytes after them."""
    images: list[int] = []
    lengths: list[int] = []
    if len(buf) < 13:
        return images, lengths
    pos = 13 + (3 * 2 ** ((buf[10] & 7) + 1) if buf[10] & 0x80 else 0)
    while pos < len(buf) and len(images) < 1000:
        kind = buf[pos]
        if kind == 0x2C and pos + 10 <= len(buf):
            images.append(pos)
            flags = buf[pos + 9]
            pos += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0) + 1
        elif kind == 0x21:
            pos += 2
        else:
            break
        while pos < len(buf) and buf[pos]:
            lengths.append(pos)
            pos += buf[pos] + 1
        pos += 1
    return images, lengths


def mutate_gif(buf: bytearray, rng: random.Random) -> str:
    images, lengths = _gif_blocks(buf)
    action = rng.choice(("screen", "frame", "frame", "frame", "flags", "lzw", "length"))
    if action == "screen" or not images:
        which, off = rng.choice((("width", 6), ("height", 8)))
        value = rng.choice((0, 1, 2, 0x7FFF, 0xFFFF))
        put(buf, "<H", off, value)
        return f"GIF screen {which} = {value}"
    pos = rng.choice(images)
    if action == "frame":
        which, off = rng.choice((("left", 1), ("top", 3), ("width", 5), ("height", 7)))
        value = rng.choice((0, 1, 2, 0x7FFF, 0xFFFF))
        put(buf, "<H", pos + off, value)
        return f"GIF frame@{pos} {which} = {value}"
    if action == "flags":
        at = rng.choice((10, pos + 9))
        value = rng.randrange(256)
        put(buf, "<B", at, value)
        return f"GIF flags@{at} = {value:#x}"
    if action == "lzw":
        flags = buf[pos + 9]
        at = pos + 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
        value = rng.choice((0, 1, 2, 11, 12, 13, 255))
        put(buf, "<B", at, value)
        return f"GIF LZW code size = {value}"
    if not lengths:
        return "noop"
    at = rng.choice(lengths)
    value = rng.choice((0, 1, 254, 255))
    put(buf, "<B", at, value)
    return f"GIF sub-block@{at} length = {value}"


def _webp_chunks(buf: bytearray) -> list[tuple[int, bytes, int]]:
    out, pos = [], 12
    while pos + 8 <= len(buf) and len(out) < 10000:
        (n,) = struct.unpack_from("<I", buf, pos + 4)
        out.append((pos, bytes(buf[pos : pos + 4]), n))
        if bytes(buf[pos : pos + 4]) == b"ANMF":
            pos += 8 + 16  # frame header, then its own chunks
            continue
        pos += 8 + n + (n & 1)
    return out


def _u24(buf: bytearray, pos: int, value: int) -> None:
    if pos + 3 <= len(buf):
        buf[pos : pos + 3] = (value & 0xFFFFFF).to_bytes(3, "little")


def mutate_webp(buf: bytearray, rng: random.Random) -> str:
    chunks = _webp_chunks(buf)
    action = rng.choice(("riff", "length", "length", "dims", "dims", "dims"))
    if action == "riff" or not chunks:
        value = number(rng, len(buf) - 8, len(buf))
        put(buf, "<I", 4, value)
        return f"WebP RIFF size = {value}"
    pos, kind, n = rng.choice(chunks)
    if action == "length":
        value = number(rng, n, len(buf))
        put(buf, "<I", pos + 4, value)
        return f"WebP {kind!r} size = {value}"
    value = rng.choice((0, 1, 0x3FFF, 0x4000, 0xFFFF, 0xFFFFFF))
    if kind == b"VP8X":
        _u24(buf, pos + 8 + 4 + rng.choice((0, 3)), value)
    elif kind == b"ANMF":
        _u24(buf, pos + 8 + 3 * rng.randrange(4), value)
    elif kind == b"VP8L" and pos + 14 <= len(buf):
        bits = rng.getrandbits(28) if rng.random() < 0.5 else value & 0xFFFFFFF
        (old,) = struct.unpack_from("<I", buf, pos + 9)
        put(buf, "<I", pos + 9, (old & 0xF0000000) | bits)
    elif kind == b"VP8 ":
        put(buf, "<H", pos + 8 + 6 + 2 * rng.randrange(2), value)
    else:
        return flip(buf, rng, pos + 8, pos + 8 + n)
    return f"WebP {kind!r} size field = {value}"


def mutate_image(data: bytes, rng: random.Random, n: int = 1) -> tuple[bytes, list[str]]:
    """``n`` mutations by the file's signature; the new bytes and what was done."""
    buf = bytearray(data)
    done = []
    for _ in range(n):
        if not buf or rng.random() < 0.1:
            done.append(cut(buf, rng) if rng.random() < 0.5 else flip(buf, rng))
        elif buf.startswith(PNG):
            done.append(mutate_png(buf, rng))
        elif buf.startswith(b"\xff\xd8"):
            done.append(mutate_jpeg(buf, rng))
        elif buf[:3] == b"GIF":
            done.append(mutate_gif(buf, rng))
        elif buf[:4] == b"RIFF" and buf[8:12] == b"WEBP":
            done.append(mutate_webp(buf, rng))
        else:
            done.append(flip(buf, rng))
    return bytes(buf), done
