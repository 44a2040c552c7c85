"""Byte-level helpers shared by the binary-format mutators: fields, numbers, flips, cuts."""

from __future__ import annotations

import random
import struct

__all__ = ["NUMBERS", "cut", "flip", "get", "number", "put", "text_value"]

#: values a length, size, count or position field is set to (sign, width and size edges)
NUMBERS = (0, 1, 2, 3, 7, 8, 255, 256, 0xFFFF, 0x10000, 2**24, 2**31 - 1, 2**31, 2**32 - 1)
NUMBERS += (2**32, 2**40, 2**62, 2**63 - 1, 2**63, 2**64 - 1)


def put(buf: bytearray, fmt: str, pos: int, value: int | float) -> bool:
    """Write ``value`` (wrapped to the field's width) at ``pos``; False when out of range."""
    size = struct.calcsize(fmt)
    if pos < 0 or pos + size > len(buf):
        return False
    if isinstance(value, float) or fmt[-1] in "fd":
        struct.pack_into(fmt, buf, pos, float(value))
        return True
    value = int(value) & ((1 << (8 * size)) - 1)
    if fmt[-1].islower():  # a signed field: store the same bits
        value -= (1 << (8 * size)) if value >= 1 << (8 * size - 1) else 0
    struct.pack_into(fmt, buf, pos, value)
    return True


def number(rng: random.Random, current: int = 0, limit: int = 0) -> int:
    """An edge value, the current one plus or minus a little or doubled, or the file size."""
    near = (current + 1, max(0, current - 1), current * 2, current * 1000, -1, -current)
    pool = NUMBERS + near + ((limit, limit + 1, limit // 2) if limit else ())
    return rng.choice(pool) if rng.random() < 0.9 else rng.randrange(0, 1 << 32)


def text_value(rng: random.Random, current: str) -> str:
    """A bad replacement for a number in a text document (XML attribute)."""
    try:
        n = int(float(current))
    except (ValueError, OverflowError):
        n = 1
    pool = ("", "abc", "-1", "0", "1.5", "NaN", "inf", "1e400", "0x10", " 7 ", "2147483648")
    pool += ("18446744073709551616", "99999999999", str(n + 1), str(max(0, n - 1)), str(n * 2))
    pool += (str(n * 1000), str(-n))
    return rng.choice(pool)


def flip(buf: bytearray, rng: random.Random, start: int = 0, stop: int | None = None) -> str:
    """Up to 8 random bytes (or single bits) changed in ``buf[start:stop]``."""
    stop = len(buf) if stop is None else min(stop, len(buf))
    if stop <= start:
        return "noop"
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(start, stop)
        buf[pos] = rng.randrange(256) if rng.random() < 0.5 else buf[pos] ^ (1 << rng.randrange(8))
    return f"flip in {start}..{stop}"


def cut(buf: bytearray, rng: random.Random) -> str:
    at = rng.randrange(len(buf) + 1)
    del buf[at:]
    return f"truncate {at}"


def get(buf: bytes | bytearray, fmt: str, pos: int) -> int:
    """The integer field at ``pos`` (0 when it lies outside ``buf``)."""
    size = struct.calcsize(fmt)
    if pos < 0 or pos + size > len(buf):
        return 0
    return int(struct.unpack_from(fmt, buf, pos)[0])
