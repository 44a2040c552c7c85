"""Mutations of file sets: MetaMorph ``.nd`` acquisitions and file sequences (folders).

``.nd`` text: values replaced (huge, negative, zero, text, decimal commas), lines dropped,
duplicated, garbled or cut, flags flipped, file names pointed outside the folder. Both
kinds of set: an image file mutated (TIFF-aware), deleted, truncated, replaced by one of
another shape or dtype, duplicated under a name that maps to the same cell, or replaced
by a symlink to a file outside the folder.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np

from .mutate_text import BAD_VALUES, ESCAPES, SECRET

__all__ = ["mutate_ets_bytes", "mutate_metamorph", "mutate_sequence", "mutate_vsi"]

ND_KEYS = (
    "NTimePoints",
    "NStagePositions",
    "NWavelengths",
    "NZSteps",
    "ZStepSize",
    "DoTimelapse",
    "DoStage",
    "DoWave",
    "DoZSeries",
    "WaveDoZ1",
    "WaveInFileName",
)
ND_VALUES = (*BAD_VALUES, "TRUE", "FALSE", "1", "2", "3", "100000000", "2,50", '"x"', '"')


def _images(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.is_symlink() and p.suffix.lower() in (".tif", ".stk")
    )


def mutate_nd_text(text: str, rng: random.Random) -> tuple[str, str]:
    lines = text.splitlines()
    if not lines:  # cut to nothing by an earlier edit
        return '"NDInfoFile", Version 1.0\n', "restart"
    kind = rng.choice(("value", "value", "drop", "dup", "garble", "cut", "escape", "key"))
    i = rng.randrange(len(lines))
    if kind == "value":
        key = rng.choice(ND_KEYS)
        value = rng.choice(ND_VALUES)
        hits = [j for j, line in enumerate(lines) if line.startswith(f'"{key}"')]
        if hits:
            lines[hits[0]] = f'"{key}", {value}'
        else:
            lines.insert(i, f'"{key}", {value}')
        return "\n".join(lines), f"{key}={value}"
    if kind == "drop":
        del lines[i]
    elif kind == "dup":
        lines.insert(i, lines[rng.randrange(len(lines))])
    elif kind == "garble":
        line = bytearray(lines[i].encode("latin-1", "replace"))
        for _ in range(rng.randint(1, 4)):
            if line:
                line[rng.randrange(len(line))] = rng.randrange(32, 256)
        lines[i] = line.decode("latin-1")
    elif kind == "cut":
        return text[: rng.randrange(len(text) + 1)], "cut"
    elif kind == "escape":
        name = rng.choice(ESCAPES).replace("{secret}", SECRET[0])
        key = rng.choice(("WaveName1", "WaveName2", "Stage1"))
        lines.insert(i, f'"{key}", "{name}"')
    else:
        lines[i] = f'"{rng.choice(ND_KEYS)}{rng.randrange(10**6)}", {rng.choice(ND_VALUES)}'
    return "\n".join(lines) + "\n", kind


def _mutate_image(folder: Path, rng: random.Random) -> str:
    from .families import mutate_bytes

    files = _images(folder)
    if not files:
        return "no image"
    victim = rng.choice(files)
    kind = rng.choice(("bytes", "bytes", "delete", "truncate", "shape", "dtype", "twin", "link"))
    if kind == "bytes":
        return mutate_bytes(victim, rng)
    if kind == "delete":
        victim.unlink()
    elif kind == "truncate":
        data = victim.read_bytes()
        victim.write_bytes(data[: rng.randrange(len(data) + 1)])
    elif kind in ("shape", "dtype"):
        import tifffile

        shape = (rng.randint(1, 40), rng.randint(1, 40)) if kind == "shape" else (24, 30)
        dtype = np.float32 if kind == "dtype" else np.uint16
        tifffile.imwrite(victim, np.ones(shape, dtype))
    elif kind == "twin":  # a name mapping to the same cell (t1 vs t01)
        stem = victim.name
        digits = [k for k, ch in enumerate(stem) if ch.isdigit()]
        if digits:
            k = rng.choice(digits)
            shutil.copyfile(victim, folder / (stem[:k] + "0" + stem[k:]))
    else:
        victim.unlink()
        os.symlink(SECRET[0], victim)
    return f"{victim.name}: {kind}"


def mutate_metamorph(path: Path, rng: random.Random) -> str:
    """One to three edits of an ``.nd`` set (a folder, or its ``.nd``): text or images."""
    path = path.parent if path.is_file() else path
    done = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        nds = sorted(path.glob("*.nd"))
        if nds and rng.random() < 0.6:
            text, what = mutate_nd_text(nds[0].read_text("latin-1"), rng)
            nds[0].write_text(text, "latin-1")
            done.append(f"nd: {what}")
        else:
            done.append(_mutate_image(path, rng))
    return "; ".join(done)


def mutate_sequence(path: Path, rng: random.Random) -> str:
    """One to three edits of a sequence folder's images (``pattern.txt`` is kept)."""
    path = path.parent if path.is_file() else path
    return "; ".join(_mutate_image(path, rng) for _ in range(rng.choice((1, 1, 2, 3))))


# ETS (cellSens .vsi tiles): (offset, format) of the header and table fields the reader uses
ETS_FIELDS = (
    (8, "<I"),
    (12, "<I"),
    (16, "<Q"),
    (24, "<I"),
    (32, "<Q"),
    (40, "<I"),  # SIS
    (64 + 8, "<I"),
    (64 + 12, "<I"),
    (64 + 20, "<I"),
    (64 + 28, "<I"),
    (64 + 32, "<I"),
    (64 + 152, "<I"),
    (64 + 180, "<I"),
    (64 + 184, "<I"),
    (64 + 188, "<I"),
    (64 + 192, "<I"),
)
ETS_VALUES = (0, 1, 2, 3, 5, 7, 255, 65535, 2**31 - 1, 2**31, 2**32 - 1, 10**9)


def mutate_ets_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One ETS edit: a header field, a tile record (coordinates, offset, byte count), or a
    tile's bytes."""
    import struct

    buf = bytearray(data)
    kind = rng.choice(("header", "header", "record", "tile"))
    if kind == "header" or len(buf) < 300:
        offset, fmt = rng.choice(ETS_FIELDS)
        if offset + struct.calcsize(fmt) <= len(buf):
            value = rng.choice(ETS_VALUES) % (1 << (8 * struct.calcsize(fmt)))
            struct.pack_into(fmt, buf, offset, value)
        return bytes(buf), f"header@{offset}"
    table, count = struct.unpack_from("<QI", buf, 32)
    n_dims = struct.unpack_from("<I", buf, 12)[0]
    record = 4 + 4 * n_dims + 16
    if kind == "record" and count and n_dims <= 64 and table + record <= len(buf):
        at = table + record * rng.randrange(count)
        field = rng.randrange(n_dims + 2)
        if field < n_dims and at + 8 + 4 * field <= len(buf):
            struct.pack_into("<i", buf, at + 4 + 4 * field, rng.choice((-1, 0, 1, 7, 10**6)))
        elif field == n_dims and at + 12 + 4 * n_dims <= len(buf):
            struct.pack_into("<Q", buf, at + 4 + 4 * n_dims, rng.choice((0, 64, len(buf), 2**40)))
        elif at + 16 + 4 * n_dims <= len(buf):
            struct.pack_into("<I", buf, at + 12 + 4 * n_dims, rng.choice((0, 1, 10**6)))
        return bytes(buf), f"record@{at}"
    start = 292 + rng.randrange(max(1, len(buf) - 292))
    for k in range(rng.randint(1, 32)):
        if start + k < len(buf):
            buf[start + k] = rng.randrange(256)
    return bytes(buf), f"tile bytes@{start}"


def mutate_vsi(path: Path, rng: random.Random) -> str:
    """One to three edits of a .vsi slide (a folder): its ETS files (structure-aware), the
    .vsi TIFF, a stack folder removed or linked outside."""
    from .families import mutate_bytes

    path = path.parent if path.is_file() else path

    done = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        ets = sorted(p for p in path.rglob("*.ets") if p.is_file() and not p.is_symlink())
        roll = rng.random()
        if ets and roll < 0.75:
            victim = rng.choice(ets)
            new, what = mutate_ets_bytes(victim.read_bytes(), rng)
            victim.write_bytes(new)
            done.append(f"{victim.parent.name}: {what}")
        elif ets and roll < 0.85:
            victim = rng.choice(ets)
            victim.unlink()
            os.symlink(SECRET[0], victim)
            done.append(f"{victim.parent.name}: link outside")
        else:
            done.append(mutate_bytes(sorted(path.glob("*.vsi"))[0], rng))
    return "; ".join(done)
