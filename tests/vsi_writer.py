"""Write Olympus cellSens-style ``.vsi`` slides for tests: a small TIFF ``.vsi`` and, per
stack, ``_<name>_/stack<N>/frame_t_0.ets`` in the ETS layout that ``imgio/readers/_ets.py``
documents (SIS header, ETS header, tiles, tile table).

``write_vsi(folder, "slide", [stack, ...], compression="jpeg2000", tile=64, levels=3)``
takes one array per stack, ``(T, Z, C, Y, X)`` or ``(T, Z, C, Y, X, 3)`` for RGB, and
writes every level (level ``L`` is level 0 subsampled by ``2**L``, edge tiles padded with
the background value). ``tree={stack number: StackTree(...)}`` writes the ``.vsi``'s own
metadata tag tree at byte 8 (the layout ``imgio/readers/_vsi_tree.py`` documents): the
dimension slots (their kinds in ETS coordinate order), pixel size, channel names, Z start
and step, per-frame times and the objective; the TIFF IFD follows the tree.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile

__all__ = ["StackTree", "level_of", "tree_bytes", "write_ets", "write_vsi"]

PIXEL_TYPES = {"int8": 1, "uint8": 2, "int16": 3, "uint16": 4, "int32": 5, "uint32": 6}
PIXEL_TYPES |= {"float32": 9, "float64": 10}
COMPRESSIONS = {"raw": 0, "jpeg": 2, "jpeg2000": 3, "png": 8}


def level_of(data: np.ndarray, level: int) -> np.ndarray:
    """Level ``level`` of a stack as the writer stores it (Y/X subsampled by 2**level)."""
    step = 2**level
    return data[:, :, :, ::step, ::step]


def _encode(tile: np.ndarray, compression: str) -> bytes:
    if compression == "raw":
        return tile.tobytes()
    if compression == "jpeg":
        return bytes(imagecodecs.jpeg8_encode(tile, level=95))
    if compression == "jpeg2000":
        return bytes(imagecodecs.jpeg2k_encode(tile, level=0))  # lossless
    return bytes(imagecodecs.png_encode(tile))


def write_ets(
    path: Path,
    data: np.ndarray,
    *,
    compression: str = "jpeg2000",
    tile: int = 64,
    levels: int = 1,
    background: int = 0,
) -> Path:
    """One ETS file of ``data`` (T, Z, C, Y, X[, S]) with ``levels`` pyramid levels."""
    rgb = data.ndim == 6
    samples = data.shape[5] if rgb else 1
    n_t, n_z, n_c, height, width = data.shape[:5]
    n_dims = 6  # x, y, T, Z, C, level
    body = bytearray()
    records = []
    start = 64 + 228
    for level in range(levels):
        lv = level_of(data, level)
        h, w = lv.shape[3:5]
        for t, z, c in np.ndindex(n_t, n_z, n_c):
            for row in range(math.ceil(h / tile)):
                for col in range(math.ceil(w / tile)):
                    block = np.full((tile, tile, samples), background, dtype=data.dtype)
                    part = lv[t, z, c, row * tile : (row + 1) * tile, col * tile : (col + 1) * tile]
                    block[: part.shape[0], : part.shape[1]] = part.reshape(*part.shape[:2], samples)
                    encoded = _encode(block if rgb else block[..., 0], compression)
                    records.append(((col, row, t, z, c, level), start + len(body), len(encoded)))
                    body += encoded
    table_offset = start + len(body)
    sis = struct.pack(
        "<4sIIIQIIQII", b"SIS\0", 64, 2, n_dims, 64, 228, 0, table_offset, len(records), 0
    )
    sis += b"\0" * (64 - len(sis))
    ets = bytearray(228)
    struct.pack_into(
        "<4sI7I",
        ets,
        0,
        b"ETS\0",
        0x30006,
        PIXEL_TYPES[str(data.dtype)],
        samples,
        1 if samples == 1 else 4,
        COMPRESSIONS[compression],
        95,
        tile,
        tile,
    )
    struct.pack_into("<I", ets, 36, 1)
    bg = np.full(samples, background, dtype=data.dtype).tobytes()
    ets[108 : 108 + len(bg)] = bg
    struct.pack_into("<iI", ets, 148, -1, 1 if levels > 1 else 0)
    struct.pack_into("<I5I", ets, 180, 5, width, height, n_t, n_z, n_c)
    table = bytearray()
    for coords, offset, nbytes in records:
        table += struct.pack("<I6iQII", n_dims, *coords, offset, nbytes, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(sis) + bytes(ets) + bytes(body) + bytes(table))
    return path


@dataclass
class StackTree:
    """One stack's values in the tree; ``slots`` are (kind, size) in ETS coordinate order."""

    slots: Sequence[tuple[str, int]]
    pixel_size_xy: tuple[float, float] | None = None
    unit: str = "10^-6m^1"
    channels: Sequence[str] = ()
    z_start_step: tuple[float, float] | None = None
    frame_ms: Sequence[float] = ()
    objective: tuple[float, str] | None = None
    name: str = "001 test"
    extra: list[bytes] = field(default_factory=list)  # raw fields appended to the volume


_EXT, _INLINE, _SECOND = 0x10000000, 0x40000000, 0x08000000
_KIND_CODES = {"Z": 1, "T": 2, "C": 4}


def _volume(fields: Sequence[bytes]) -> bytes:
    """A volume: the 24-byte header and the fields chained by their next-field offsets."""
    out = bytearray(struct.pack("<HHIqII", 24, 21321, 0, 24, len(fields), 0))
    for i, f in enumerate(fields):
        nxt = 0 if i == len(fields) - 1 else len(out) + len(f)
        out += f[:8] + struct.pack("<i", nxt) + f[12:]
    return bytes(out)


def _field(tag: int, vtype: int, payload: bytes = b"", *, second: int | None = None,
           inline: int | None = None, nested: bool = False) -> bytes:  # fmt: skip
    kind = vtype | (_EXT if nested else 0) | (_INLINE if inline is not None else 0)
    kind |= _SECOND if second is not None else 0
    size = inline if inline is not None else len(payload)
    head = struct.pack("<iiiI", kind, tag, 0, size & 0xFFFFFFFF)
    return head + (struct.pack("<i", second) if second is not None else b"") + payload


def _text(tag: int, text: str, vtype: int = 8192) -> bytes:
    return _field(tag, vtype, (text + "\0").encode("utf-16-le"))


def _group(
    tag: int, fields: Sequence[bytes], *, second: int | None = None, vtype: int = 1
) -> bytes:
    return _field(tag, vtype, _volume(fields), second=second, nested=True)


def _prop(tag: int, value: float, unit: str) -> bytes:
    parts = [_text(268435456, unit, 13), _field(268435458, 10, struct.pack("<d", value))]
    return _group(tag, parts, vtype=2)


def tree_bytes(stacks: dict[int, StackTree]) -> bytes:
    """The root volume: an image collection (2000) with one image volume (2001) a stack."""
    volumes = []
    for number, st in stacks.items():
        props = [_text(2030, st.name), _text(2020, st.unit, 13)]
        if st.pixel_size_xy is not None:
            props.append(_field(2019, 260, struct.pack("<2d", *st.pixel_size_xy)))
        if st.objective is not None:
            row = [_field(120060, 10, struct.pack("<d", st.objective[0])),
                   _text(120065, st.objective[1])]  # fmt: skip
            devices = [_group(1, [_group(120114, row)])]
            props.append(_group(2043, devices, vtype=2))
        sizes = [n for _, n in st.slots]
        fields = [_field(2003, 8195, struct.pack(f"<{len(sizes)}i", *sizes)), _group(2005, props)]
        for f, ms in enumerate(st.frame_ms):
            fields.append(
                _group(2002, [_group(2006, [_prop(2017, ms, "10^-3s^1")])], second=f, vtype=0)
            )
        for i, (kind, n) in enumerate(st.slots):
            entries = []
            for j in range(n if kind == "C" else 1):
                entry = [_field(2023, 5, inline=_KIND_CODES[kind])]
                if kind == "C" and st.channels:
                    entry.append(_text(2021, st.channels[j]))
                if kind == "Z" and st.z_start_step is not None:
                    entry += [_prop(2012, st.z_start_step[0], "10^-6m^1"),
                              _prop(2013, st.z_start_step[1], "10^-6m^1")]  # fmt: skip
                entries.append(_group(2008, entry, second=j))
            fields.append(_group(2007, entries, second=i, vtype=0))
        fields.append(_group(2007, [], second=len(st.slots), vtype=0))  # cellSens' unused slot
        volumes.append(_group(2001, fields + st.extra, second=number, vtype=0))
    document = _group(2, [_text(34, "OLYMPUS cellSens Dimension"), _field(21, 5, inline=21199)])
    return _volume([document, _group(2000, volumes, second=0, vtype=0)])


def _tiff_after(tree: bytes) -> bytes:
    """A little-endian TIFF whose header points past ``tree`` to one 8 x 8 strip image."""
    ifd_at = 8 + len(tree) + len(tree) % 2
    strip_at = ifd_at + 2 + 8 * 12 + 4
    tags = [(256, 3, 8), (257, 3, 8), (258, 3, 8), (259, 3, 1), (262, 3, 1),
            (273, 4, strip_at), (278, 3, 8), (279, 4, 64)]  # fmt: skip
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        ifd += struct.pack("<HHI", tag, kind, 1) + struct.pack("<I" if kind == 4 else "<H2x", value)
    return (
        b"II*\0" + struct.pack("<I", ifd_at) + tree + b"\0" * (len(tree) % 2) + ifd
        + struct.pack("<I", 0) + bytes(64)
    )  # fmt: skip


def write_vsi(
    folder: Path,
    name: str,
    stacks: list[np.ndarray],
    *,
    stack_numbers: list[int] | None = None,
    tree: dict[int, StackTree] | None = None,
    **options: object,
) -> Path:
    """``<name>.vsi`` (a small TIFF) and one ETS per stack in ``_<name>_/stack<N>/``."""
    folder.mkdir(parents=True, exist_ok=True)
    vsi = folder / f"{name}.vsi"
    if tree is None:
        tifffile.imwrite(vsi, np.zeros((8, 8), np.uint8))
    else:
        vsi.write_bytes(_tiff_after(tree_bytes(tree)))
    numbers = stack_numbers or [1 + i for i in range(len(stacks))]
    for number, data in zip(numbers, stacks, strict=True):
        write_ets(folder / f"_{name}_" / f"stack{number}" / "frame_t_0.ets", data, **options)
    return vsi
