"""Olympus cellSens ETS tile files (``_<name>_/stack<N>/frame_t*.ets`` beside a ``.vsi``).

The layout read here (all little-endian; offsets in bytes):

SIS header (64 bytes at 0)::

    0  "SIS\\0"         4  header size (64)   8  version        12 n_dims (coords per tile)
    16 ETS header offset (u64)                24 ETS header size (u32)
    32 tile table offset (u64)                40 tile count (u32)

ETS header (at its offset)::

    0  "ETS\\0"         4  version            8  pixel type     12 samples per pixel
    16 colour space    20 compression       24 quality        28 tile width
    32 tile height     36 tile depth        40 17 ints of pixel hints
    108 background: 10 ints (its first ``samples x itemsize`` bytes are one pixel)
    148 component order                      152 uses pyramid (0/1)
    172 origin x, 176 origin y (int32)
    180 n_sizes, then n_sizes ints: image width, height (level 0 pixels), then the size of
        each plane coordinate (cellSens' slot order, e.g. T, Z, C)

Tile table (``tile count`` records of ``4 + 4 * n_dims + 16`` bytes)::

    0 (unused)   4 n_dims int32 coordinates: x, y (tile column and row), the plane
    coordinates, and last the pyramid level   then offset (u64), byte count (u32), unused

Pixel types: 1 int8, 2 uint8, 3 int16, 4 uint16, 5 int32, 6 uint32, 7 int64, 8 uint64,
9 float32, 10 float64. Compression: 0 raw, 2 JPEG, 3 JPEG 2000, 5 lossless JPEG, 8 PNG,
9 BMP. Level ``L`` halves level 0's width and height ``L`` times (rounded up).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._limits import MAX_EXTENT, MAX_GRID, check_geometry
from .._location import Location
from ..errors import CorruptFileError, UnsupportedFormatError

__all__ = ["COMPRESSIONS", "EtsLayout", "PIXEL_TYPES", "parse_ets"]

SIS = struct.Struct("<4sIIIQIIQII")
PIXEL_TYPES = {1: "i1", 2: "u1", 3: "<i2", 4: "<u2", 5: "<i4", 6: "<u4", 7: "<i8", 8: "<u8"}
PIXEL_TYPES |= {9: "<f4", 10: "<f8"}
COMPRESSIONS = {0: "raw", 2: "jpeg", 3: "jpeg2000", 5: "jpeg", 8: "png", 9: "bmp"}
MAX_HEADER = 1 << 16
MAX_LEVELS = 32  # halving 2**26 pixels reaches 1 in 27 levels


@dataclass
class EtsLayout:
    """What a source needs of one ETS file (plain values: it pickles)."""

    dtype: str
    samples: int
    compression: str
    tile: tuple[int, int]  # (height, width)
    plane_sizes: tuple[int, ...]  # one per plane coordinate
    level_shapes: list[tuple[int, int]]  # (height, width) per level
    background: float
    origin: tuple[int, int]
    # (level, plane coords..., row, col) -> (offset, nbytes)
    tiles: dict[tuple[int, ...], tuple[int, int]] = field(default_factory=dict)


def parse_ets(location: Location, where: str) -> EtsLayout:
    """Read an ETS file's headers and tile table (no pixels).

    Raises
    ------
    UnsupportedFormatError
        Not an ETS file (no ``SIS``/``ETS`` signatures).
    CorruptFileError
        Sizes, offsets or counts that no real file has, or a table past the file's end.
    """
    size = location.size
    head = location.read_range(0, min(size, SIS.size), exact=False)
    if len(head) < SIS.size or head[:4] != b"SIS\0":
        raise UnsupportedFormatError(where, {"vsi": "no SIS signature: not an ETS file"})
    _, _, _, n_dims, ets_off, ets_size, _, table_off, n_tiles, _ = SIS.unpack(head)
    if not 3 <= n_dims <= 16 or not 0 < ets_size <= MAX_HEADER or ets_off + 204 > size:
        raise CorruptFileError(
            f"{where}: SIS header declares {n_dims} dims and an ETS header of {ets_size} "
            f"bytes at {ets_off}; the file has {size} bytes"
        )
    ets = location.read_range(ets_off, max(ets_size, 204 + 4 * n_dims), exact=False)
    if ets[:4] != b"ETS\0" or len(ets) < 204:
        raise CorruptFileError(f"{where}: no ETS header at offset {ets_off}")
    layout = _header(ets, n_dims, where)
    record = 4 + 4 * n_dims + 16
    if n_tiles > MAX_GRID or table_off + n_tiles * record > size:
        raise CorruptFileError(
            f"{where}: {n_tiles} tile records at {table_off} run past the file's {size} bytes"
        )
    table = location.read_range(table_off, n_tiles * record)
    _tiles(layout, table, n_tiles, n_dims, size, where)
    return layout


def _header(ets: bytes, n_dims: int, where: str) -> EtsLayout:
    (pixel_type, samples, _colour, compression, _quality, tile_w, tile_h) = struct.unpack_from(
        "<7I", ets, 8
    )
    if pixel_type not in PIXEL_TYPES or compression not in COMPRESSIONS:
        raise CorruptFileError(
            f"{where}: pixel type {pixel_type}, compression {compression}; expected one of "
            f"{sorted(PIXEL_TYPES)} and {sorted(COMPRESSIONS)}"
        )
    if not (1 <= samples <= 4 and 1 <= tile_w <= 1 << 16 and 1 <= tile_h <= 1 << 16):
        raise CorruptFileError(f"{where}: {samples} samples, {tile_w} x {tile_h} tiles")
    dtype = np.dtype(PIXEL_TYPES[pixel_type])
    background = float(np.frombuffer(ets[108 : 108 + dtype.itemsize], dtype)[0])
    origin = struct.unpack_from("<2i", ets, 172)
    n_sizes = struct.unpack_from("<I", ets, 180)[0]
    n_plane = n_dims - 3  # x, y, ..., level
    sizes: tuple[int, ...] = ()
    if n_sizes == n_plane + 2 and len(ets) >= 184 + 4 * n_sizes:
        sizes = struct.unpack_from(f"<{n_sizes}I", ets, 184)
    return EtsLayout(
        dtype=dtype.str,
        samples=samples,
        compression=COMPRESSIONS[compression],
        tile=(tile_h, tile_w),
        plane_sizes=tuple(sizes[2:]) if sizes else (0,) * n_plane,
        level_shapes=[(sizes[1], sizes[0])] if sizes else [],
        background=background,
        origin=(int(origin[0]), int(origin[1])),
    )


def _tiles(
    layout: EtsLayout, table: bytes, n_tiles: int, n_dims: int, size: int, where: str
) -> None:
    """The tile table: each tile's place, byte range; level and plane sizes from it."""
    if n_tiles == 0:
        raise CorruptFileError(f"{where}: no tiles")
    records = np.frombuffer(table, dtype=np.uint8).reshape(n_tiles, -1)
    coords = records[:, 4 : 4 + 4 * n_dims].copy().view("<i4").reshape(n_tiles, n_dims)
    offsets = records[:, 4 + 4 * n_dims : 12 + 4 * n_dims].copy().view("<u8").ravel()
    counts = records[:, 12 + 4 * n_dims : 16 + 4 * n_dims].copy().view("<u4").ravel()
    if coords.min() < 0 or coords.max() >= MAX_EXTENT:
        raise CorruptFileError(f"{where}: tile coordinates {coords.min()}..{coords.max()}")
    if np.any(offsets + counts.astype(np.uint64) > size):
        raise CorruptFileError(f"{where}: a tile's bytes run past the file's {size} bytes")
    n_levels = int(coords[:, -1].max()) + 1
    if n_levels > MAX_LEVELS:
        raise CorruptFileError(f"{where}: tiles of level {n_levels - 1}; at most {MAX_LEVELS}")
    plane = coords[:, 2:-1]
    found = tuple(int(v) + 1 for v in plane.max(axis=0)) if plane.shape[1] else ()
    layout.plane_sizes = tuple(max(a, b) for a, b in zip(layout.plane_sizes, found, strict=True))
    th, tw = layout.tile
    extents = [(0, 0)] * n_levels
    for level in range(n_levels):
        at = coords[:, -1] == level
        if at.any():
            extents[level] = (
                (int(coords[at, 1].max()) + 1) * th,
                (int(coords[at, 0].max()) + 1) * tw,
            )
    base = layout.level_shapes[0] if layout.level_shapes else extents[0]
    if not 0 < base[0] <= extents[0][0] + th or not 0 < base[1] <= extents[0][1] + tw:
        base = extents[0]
    layout.level_shapes = [
        (math.ceil(base[0] / 2**lv), math.ceil(base[1] / 2**lv)) for lv in range(n_levels)
    ]
    itemsize = np.dtype(layout.dtype).itemsize
    for lv, shape in enumerate(layout.level_shapes):
        if min(shape) < 1:
            raise CorruptFileError(f"{where}: level {lv} has no tiles")
        check_geometry(
            f"{where} level {lv}",
            (*layout.plane_sizes, *shape, layout.samples),
            (*(1,) * len(layout.plane_sizes), th, tw, layout.samples),
            itemsize,
        )
    keys = np.concatenate([coords[:, -1:], plane, coords[:, 1:2], coords[:, 0:1]], axis=1)
    layout.tiles = {
        tuple(int(v) for v in k): (int(o), int(c))
        for k, o, c in zip(keys.tolist(), offsets.tolist(), counts.tolist(), strict=True)
    }


def decode_tile(layout: EtsLayout, data: bytes, where: str) -> np.ndarray[Any, Any]:
    """One tile as ``(height, width, samples)``."""
    import imagecodecs

    th, tw = layout.tile
    dtype = np.dtype(layout.dtype)
    try:
        if layout.compression == "raw":
            arr = np.frombuffer(data, dtype)
        elif layout.compression == "jpeg":
            arr = imagecodecs.jpeg_decode(data)
        elif layout.compression == "jpeg2000":
            arr = imagecodecs.jpeg2k_decode(data)
        elif layout.compression == "png":
            arr = imagecodecs.png_decode(data)
        else:
            arr = imagecodecs.bmp_decode(data)
    except Exception as exc:  # noqa: BLE001 - every codec failure is the file's
        raise CorruptFileError(
            f"{where}: cannot decode the {layout.compression} tile ({exc})"
        ) from exc
    arr = np.asarray(arr)
    if arr.size != th * tw * layout.samples:
        raise CorruptFileError(
            f"{where}: a {layout.compression} tile decodes to {arr.shape}; expected "
            f"{th} x {tw} x {layout.samples}"
        )
    if arr.dtype != dtype:
        if arr.dtype.kind != dtype.kind or arr.dtype.itemsize > dtype.itemsize:
            raise CorruptFileError(f"{where}: a tile decodes to {arr.dtype}, expected {dtype}")
        arr = arr.astype(dtype)
    if layout.compression == "raw" and layout.samples > 1:
        return arr.reshape(th, tw, layout.samples)
    return arr.reshape(th, tw, layout.samples)
