"""A bounded cache of decoded native tiles, shared by the sources that read through it.

:class:`TileCache` holds decoded chunks (least recently used dropped first) up to a
byte capacity; :class:`CachedSource` is an array source that answers a read from
the cache when every covering chunk is there, else reads the covering chunks in one
read of its source (decoded in parallel as usual) and keeps them.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from ..readers.base import ArraySource, SourceBase

__all__ = ["CachedSource", "TileCache"]

Key = tuple[str, tuple[int, ...]]


class TileCache:
    """Decoded tiles up to ``capacity`` bytes; thread safe.

    Parameters
    ----------
    capacity
        Byte budget; 0 caches nothing.
    """

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"cache capacity must be an int >= 0, not {capacity!r}")
        self.capacity = capacity
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Key, np.ndarray[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Key) -> np.ndarray[Any, Any] | None:
        """The tile kept under ``key`` (now the most recently used), or None."""
        with self._lock:
            arr = self._items.get(key)
            if arr is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return arr

    def put(self, key: Key, arr: np.ndarray[Any, Any]) -> None:
        """Keep ``arr`` (a private copy), dropping the oldest tiles beyond the capacity."""
        if arr.nbytes > self.capacity:
            return
        arr = np.array(arr, copy=True)
        arr.flags.writeable = False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._items[key] = arr
            self.nbytes += arr.nbytes
            while self.nbytes > self.capacity:
                _, dropped = self._items.popitem(last=False)
                self.nbytes -= dropped.nbytes


class CachedSource(SourceBase):
    """``src`` read through ``cache`` by whole native chunks (same dims, shape, chunks)."""

    def __init__(self, src: ArraySource, cache: TileCache) -> None:
        self.src = src
        self.cache = cache
        self.dims = src.dims
        self.shape = tuple(src.shape)
        self.dtype = src.dtype
        self.chunks = tuple(max(1, int(c)) for c in src.chunks)
        self.token = src.token

    def raw_tile(self, index: tuple[int, ...], format: str = "jpeg") -> bytes | None:
        """The stored bytes of one chunk, when the source has them (never cached)."""
        return self.src.raw_tile(index, format)

    def _grid(self, key: tuple[slice, ...]) -> list[range]:
        return [
            range(k.start // c, math.ceil(k.stop / c))
            for k, c in zip(key, self.chunks, strict=True)
        ]

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        key = tuple(slice(*k.indices(n)[:2]) for k, n in zip(key, self.shape, strict=True))
        if any(k.stop <= k.start for k in key):
            return np.asarray(self.src[key])
        grid = self._grid(key)
        cells = list(itertools.product(*grid))  # covering chunk indices
        lo = [r.start * c for r, c in zip(grid, self.chunks, strict=True)]
        hi = [min(r.stop * c, n) for r, c, n in zip(grid, self.chunks, self.shape, strict=True)]
        found = {cell: self.cache.get((self.token, cell)) for cell in cells}
        if any(arr is None for arr in found.values()):
            whole = np.asarray(self.src[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))])
            for cell in (cell for cell, arr in found.items() if arr is None):
                part = tuple(
                    slice(i * c - a, min((i + 1) * c, n) - a)
                    for i, c, a, n in zip(cell, self.chunks, lo, self.shape, strict=True)
                )
                self.cache.put((self.token, cell), whole[part])
        else:
            whole = np.empty(tuple(b - a for a, b in zip(lo, hi, strict=True)), self.dtype)
            for cell, arr in found.items():
                assert arr is not None
                at = tuple(
                    slice(i * c - a, i * c - a + s)
                    for i, c, a, s in zip(cell, self.chunks, lo, arr.shape, strict=True)
                )
                whole[at] = arr
        inner = tuple(slice(k.start - a, k.stop - a) for k, a in zip(key, lo, strict=True))
        return whole[inner]
