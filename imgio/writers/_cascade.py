"""One plane's pyramid built tile by tile, from pixels that arrive in any order.

Level 0 receives blocks of any shape at any place. A tile is handed on as soon as all
its pixels are there: a block covering whole tiles hands them on at once, a tile that
blocks cover only partly waits in a buffer of one tile. A finished tile is stored
(encoded) and its half (2 x 2 mean, or nearest) is pasted into the next level, where it
is one quarter of a tile. Tiles start on even rows and columns (their edges are
multiples of 16), so these halves are exactly what halving the whole level gives; the
odd last row or column of a level is replicated there, as :func:`downsample_block` does
for a whole image. What waits is a few source blocks plus, per level, the tiles whose
quarters have not all arrived: no full-width band is ever held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from ._pyramid import downsample_block

__all__ = ["Finished", "Pyramid", "Samples"]

Array = np.ndarray[Any, Any]
Finished = tuple[int, int, int, Array]  # level, tile row, tile column, pixels (clipped)


class _Level:
    def __init__(self, shape: tuple[int, int], tile: tuple[int, int]) -> None:
        self.shape, self.tile = shape, tile
        self.columns = -(-shape[1] // tile[1])
        self.pending: dict[tuple[int, int], list[Any]] = {}  # (ty, tx) -> [buffer, missing]
        self.lock = threading.Lock()

    def paste(self, y0: int, x0: int, block: Array) -> list[tuple[int, int, Array]]:
        """Copy ``block`` in at ``(y0, x0)``; return the tiles it completes."""
        (h, w), (th, tw) = self.shape, self.tile
        bh, bw = block.shape[:2]
        # a block of at most 4 tiles hands on views (the encoders copy them, in parallel):
        # what stays alive is then at most 4 tiles per tile being encoded
        views = bh * bw <= 4 * th * tw
        done = []
        for ty in range(y0 // th, -(-(y0 + bh) // th)):
            t0, t1 = ty * th, min(ty * th + th, h)
            r0, r1 = max(y0, t0), min(y0 + bh, t1)
            for tx in range(x0 // tw, -(-(x0 + bw) // tw)):
                s0, s1 = tx * tw, min(tx * tw + tw, w)
                c0, c1 = max(x0, s0), min(x0 + bw, s1)
                part = block[r0 - y0 : r1 - y0, c0 - x0 : c1 - x0]
                if (r0, r1, c0, c1) == (t0, t1, s0, s1):
                    done.append((ty, tx, part if views else np.ascontiguousarray(part)))
                    continue
                with self.lock:
                    entry = self.pending.get((ty, tx))
                    if entry is None:
                        buffer = np.empty((t1 - t0, s1 - s0, *block.shape[2:]), block.dtype)
                        entry = self.pending[ty, tx] = [buffer, (t1 - t0) * (s1 - s0)]
                    entry[0][r0 - t0 : r1 - t0, c0 - s0 : c1 - s0] = part
                    entry[1] -= (r1 - r0) * (c1 - c0)
                    if entry[1] == 0:
                        del self.pending[ty, tx]
                        done.append((ty, tx, entry[0]))
        return done


class Pyramid:
    """The levels of one plane; ``store(level, tile_index, pixels)`` receives finished tiles.

    :meth:`add` takes a level-0 block and returns the tiles it finishes; :meth:`finish`
    stores one of them and, through the levels below, every tile that its half completes
    (call it on any thread: the levels lock their waiting tiles).
    """

    def __init__(
        self,
        shapes: Sequence[tuple[int, int]],
        tile: tuple[int, int],
        method: str,
        store: Callable[[int, int, Array], None],
    ) -> None:
        self.levels = [_Level(s, tile) for s in shapes]
        self.method, self.store = method, store

    def add(self, y0: int, x0: int, block: Array) -> list[Callable[[], None]]:
        """Paste a level-0 block; one job (:meth:`finish`) per tile it completes."""
        done = self.levels[0].paste(y0, x0, block)
        return [partial(self.finish, (0, ty, tx, t)) for ty, tx, t in done]

    def finish(self, item: Finished) -> None:
        """Store a complete tile, then pass its half down the levels."""
        stack = [item]
        while stack:
            level, ty, tx, pixels = stack.pop()
            here = self.levels[level]
            self.store(level, ty * here.columns + tx, pixels)
            if level + 1 == len(self.levels):
                continue
            half = downsample_block(pixels, 0, 1, self.method)
            del pixels
            th, tw = here.tile
            below = self.levels[level + 1].paste(ty * th // 2, tx * tw // 2, half)
            stack.extend((level + 1, y, x, t) for y, x, t in below)

    def waiting(self) -> int:
        """Tiles still waiting for pixels (0 once every block has been added and finished)."""
        return sum(len(level.pending) for level in self.levels)


class Samples:
    """One pyramid per sample of ``Y X S`` blocks (OME-Zarr stores samples as channels)."""

    def __init__(self, pyramids: Sequence[Pyramid]) -> None:
        self.pyramids = list(pyramids)

    def add(self, y0: int, x0: int, block: Array) -> list[Callable[[], None]]:
        """Each sample's plane pasted into its pyramid; the jobs of all of them."""
        return [job for k, p in enumerate(self.pyramids) for job in p.add(y0, x0, block[..., k])]

    def waiting(self) -> int:
        return sum(p.waiting() for p in self.pyramids)
