"""Structure-aware MRC / DeltaVision mutations: the 1024-byte header's fields (sizes, mode,
sampling, cell, space group, extended header length, DeltaVision counts, section order,
wavelengths, byte order marks) and the DeltaVision extended header's per-section floats
(time stamps, wavelengths), plus cuts.
"""

from __future__ import annotations

import random
import struct

from ._bytes import cut, flip, get, number, put

__all__ = ["mutate_mrc"]

#: (offset, struct format, name) of the header fields both formats share
COMMON = (
    (0, "<i", "nx"),
    (4, "<i", "ny"),
    (8, "<i", "nz"),
    (12, "<i", "mode"),
    (28, "<i", "mx"),
    (32, "<i", "my"),
    (36, "<i", "mz"),
    (40, "<f", "cell x / dx"),
    (44, "<f", "cell y / dy"),
    (48, "<f", "cell z / dz"),
    (88, "<i", "space group"),
    (92, "<i", "extended header bytes"),
    (220, "<i", "labels"),
)
#: DeltaVision-only fields
DV = (
    (128, "<h", "ints per section"),
    (130, "<h", "floats per section"),
    (180, "<h", "time points"),
    (182, "<h", "image sequence"),
    (196, "<h", "wavelengths"),
    (198, "<h", "wave 1"),
)
MODES = (0, 1, 2, 3, 4, 5, 6, 7, 12, 101, -1, 255)
FLOATS = (0.0, -1.0, 1e-30, 1e30, float("nan"), float("inf"), -float("inf"))


def _field(buf: bytearray, rng: random.Random) -> str:
    dv = buf[96:98] in (b"\xa0\xc0", b"\xc0\xa0")
    at, fmt, name = rng.choice(COMMON + (DV if dv else ()))
    if buf[96:98] == b"\xc0\xa0" or buf[212:214] == b"\x11\x11":
        fmt = ">" + fmt[1:]
    if name == "mode":
        value: int | float = rng.choice(MODES)
    elif name == "image sequence":
        value = rng.choice((0, 1, 2, 3, -1, 32767))
    elif fmt.endswith("f"):
        value = rng.choice(FLOATS)
    else:
        value = number(rng, get(buf, fmt, at), len(buf))
    put(buf, fmt, at, value)
    return f"{name} = {value}"


def _mark(buf: bytearray, rng: random.Random) -> str:
    """Swap the byte-order marks: the DeltaVision id, the MRC machine stamp, 'MAP '."""
    choice = rng.randrange(4)
    if choice == 0:
        buf[96:98] = rng.choice((b"\xa0\xc0", b"\xc0\xa0", b"\0\0"))
    elif choice == 1:
        buf[212:214] = rng.choice((b"\x44\x44", b"\x11\x11", b"\0\0"))
    elif choice == 2:
        buf[208:212] = rng.choice((b"MAP ", b"XXXX"))
    else:
        buf[104:108] = rng.choice((b"FEI1", b"CCP4", b"SERI", b"\xff\xff\xff\xff"))
    return f"marks ({choice})"


def _extended(buf: bytearray, rng: random.Random) -> str:
    """A float of a DeltaVision section record (time stamp, wavelengths) or its ints."""
    (n_ints, n_floats) = struct.unpack_from("<2h", buf, 128) if len(buf) >= 132 else (0, 0)
    size = 4 * (max(0, n_ints) + max(0, n_floats))
    ext = get(buf, "<i", 92)
    if size <= 0 or ext <= 0 or 1024 + ext > len(buf):
        return flip(buf, rng, 1024, min(len(buf), 1024 + 4096))
    section = rng.randrange(max(1, ext // size))
    at = 1024 + section * size + 4 * rng.randrange(max(1, n_ints + n_floats))
    value = rng.choice(FLOATS + (1.0, 2.0, 525.0))
    put(buf, "<f", at, value)
    return f"extended@{at} = {value}"


def mutate_mrc(data: bytes, rng: random.Random, n: int) -> tuple[bytes, list[str]]:
    """``n`` header, extended header, mark or cut edits of an MRC or DeltaVision file."""
    buf = bytearray(data)
    done = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.55:
            done.append(_field(buf, rng))
        elif kind < 0.7:
            done.append(_extended(buf, rng))
        elif kind < 0.8:
            done.append(_mark(buf, rng))
        elif kind < 0.9:
            done.append(flip(buf, rng, 0, 1024))
        else:
            done.append(cut(buf, rng))
    return bytes(buf), done
