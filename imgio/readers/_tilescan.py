"""A reconstructed tile-scan mosaic over a tile source with an ``M`` axis.

Tiles sit at level-0 (Y, X) pixel positions; a region read asks the tile source for
the part of each tile that overlaps the region (tiles that do not overlap are never
read), later tiles drawn over earlier ones, uncovered pixels zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import ArraySource, SourceBase

__all__ = ["MosaicSource", "mosaic_shape"]


def mosaic_shape(
    tile_shape: tuple[int, int], positions: Sequence[tuple[int, int]]
) -> tuple[int, int]:
    """(rows, columns) of the smallest mosaic holding every tile."""
    th, tw = tile_shape
    return (
        max((y + th for y, _ in positions), default=0),
        max((x + tw for _, x in positions), default=0),
    )


class MosaicSource(SourceBase):
    """``tiles`` (dims with ``M``, ``Y`` and ``X``) placed at ``positions``; dims lose ``M``."""

    def __init__(
        self, tiles: ArraySource, positions: Sequence[tuple[int, int]], token: str
    ) -> None:
        self.tiles = tiles
        self.positions = [(int(y), int(x)) for y, x in positions]
        self._m = tiles.dims.index("M")
        self.dims = tiles.dims.replace("M", "")
        self._y, self._x = self.dims.index("Y"), self.dims.index("X")
        th, tw = tiles.shape[tiles.dims.index("Y")], tiles.shape[tiles.dims.index("X")]
        self.tile_shape = (th, tw)
        height, width = mosaic_shape(self.tile_shape, self.positions)
        shape = [n for i, n in enumerate(tiles.shape) if i != self._m]
        shape[self._y], shape[self._x] = height, width
        self.shape = tuple(shape)
        chunks = [c for i, c in enumerate(tiles.chunks) if i != self._m]
        chunks[self._y], chunks[self._x] = min(th, height), min(tw, width)
        self.chunks = tuple(chunks)
        self.dtype = tiles.dtype
        self.token = token

    def __repr__(self) -> str:
        return f"<MosaicSource {len(self.positions)} tiles dims={self.dims} shape={self.shape}>"

    def covering(self, key: tuple[slice, ...]) -> list[int]:
        """Indices of the tiles that overlap the Y/X window of ``key``."""
        ky, kx = key[self._y], key[self._x]
        th, tw = self.tile_shape
        return [
            m
            for m, (y, x) in enumerate(self.positions)
            if y < ky.stop and y + th > ky.start and x < kx.stop and x + tw > kx.start
        ]

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        out = np.zeros(tuple(k.stop - k.start for k in key), dtype=self.dtype)
        ky, kx = key[self._y], key[self._x]
        th, tw = self.tile_shape
        for m in self.covering(key):
            y, x = self.positions[m]
            y0, y1 = max(y, ky.start), min(y + th, ky.stop)
            x0, x1 = max(x, kx.start), min(x + tw, kx.stop)
            tile_key = list(key)
            tile_key[self._y] = slice(y0 - y, y1 - y)
            tile_key[self._x] = slice(x0 - x, x1 - x)
            tile_key.insert(self._m, slice(m, m + 1))
            part = self.tiles[tuple(tile_key)]
            part = part.reshape(tuple(n for i, n in enumerate(part.shape) if i != self._m))
            dst = [slice(None)] * len(key)
            dst[self._y] = slice(y0 - ky.start, y1 - ky.start)
            dst[self._x] = slice(x0 - kx.start, x1 - kx.start)
            out[tuple(dst)] = part
        return out
