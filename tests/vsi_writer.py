"""Write Olympus cellSens-style ``.vsi`` slides for tests: a small TIFF ``.vsi`` and, per
stack, ``_<name>_/stack<N>/frame_t_0.ets`` in the ETS layout that ``imgio/readers/_ets.py``
documents (SIS header, ETS header, tiles, tile table).

``write_vsi(folder, "slide", [stack, ...], compression="jpeg2000", tile=64, levels=3)``
takes one array per stack, ``(T, Z, C, Y, X)`` or ``(T, Z, C, Y, X, 3)`` for RGB, and
writes every level (level ``L`` is level 0 subsampled by ``2**L``, edge tiles padded with
the background value). The ``.vsi``'s own metadata tree is not written.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile

__all__ = ["level_of", "write_ets", "write_vsi"]

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


def write_vsi(
    folder: Path,
    name: str,
    stacks: list[np.ndarray],
    *,
    stack_numbers: list[int] | None = None,
    **options: object,
) -> Path:
    """``<name>.vsi`` (a small TIFF) and one ETS per stack in ``_<name>_/stack<N>/``."""
    folder.mkdir(parents=True, exist_ok=True)
    vsi = folder / f"{name}.vsi"
    tifffile.imwrite(vsi, np.zeros((8, 8), np.uint8))
    numbers = stack_numbers or [1 + i for i in range(len(stacks))]
    for number, data in zip(numbers, stacks, strict=True):
        write_ets(folder / f"_{name}_" / f"stack{number}" / "frame_t_0.ets", data, **options)
    return vsi
