"""A byte-bounded, thread-safe LRU cache of encoded responses (tiles, thumbnails)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["ByteLRU"]


class ByteLRU:
    """Keep at most ``max_bytes`` of values; the least recently used go first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._items: OrderedDict[Hashable, tuple[bytes, str]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> tuple[bytes, str] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: Hashable, body: bytes, media_type: str) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old[0])
            self._items[key] = (body, media_type)
            self._size += len(body)
            while self._size > self.max_bytes:
                _, (gone, _) = self._items.popitem(last=False)
                self._size -= len(gone)

    @property
    def nbytes(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._items)
