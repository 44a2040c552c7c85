"""The per-plane segment index of one TIFF level, converted and checked plane by plane.

A level of a long stack has thousands of pages. tifffile has already parsed their IFDs
(its series parsers need them), but turning every page's offsets into arrays and
checking them against the file took 20-30 ms for 3,000 pages at the first pixel
access, to read one plane. :class:`PlaneIndex` keeps what tifffile parsed as plain
tuples and converts and checks a plane only when a read first needs it: a plane whose
segments lie outside the file raises :class:`~imgio.errors.CorruptFileError` when it is
read, and the other planes stay readable. Contiguous series (ImageJ, STK, shaped raw
stacks) need no per-page data at all: a plane's bytes are ``dataoffset + i * size``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._location import Location
from ...errors import CorruptFileError

__all__ = ["Plane", "PlaneIndex"]

# (file index, segment offsets, byte counts, whole page readable in one go)
Plane = tuple[int, np.ndarray[Any, Any], np.ndarray[Any, Any], bool]
# what the reader hands over per page: None (missing) or (file index, offsets, counts)
Entry = tuple[int, Sequence[int], Sequence[int]] | None


class PlaneIndex(Sequence[Plane | None]):
    """``index[i]``: plane ``i``'s ``(file, offsets, counts, contiguous)``, or None (missing).

    Either from ``entries`` (one per plane, as tifffile parsed them) or, for a contiguous
    series, from ``dataoffset`` and ``page_bytes``. ``contiguous_bytes`` > 0 marks pages
    that are read in one go when their segments are back to back (raw row-major pages).
    """

    def __init__(
        self,
        *,
        where: str,
        locations: list[Location],
        n_planes: int,
        n_segments: int,
        entries: list[Entry] | None = None,
        dataoffset: int | None = None,
        page_bytes: int = 0,
        contiguous_bytes: int = 0,
    ) -> None:
        if entries is None and dataoffset is None:
            raise ValueError("a plane index needs per-page entries or a data offset")
        self.where = where
        self.locations = locations
        self.n_planes = n_planes
        self.n_segments = n_segments
        self.entries = entries
        self.dataoffset = dataoffset
        self.page_bytes = page_bytes
        self.contiguous_bytes = contiguous_bytes
        self._done: dict[int, Plane | None] = {}
        self._sizes: dict[int, int] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.n_planes

    @property
    def indexed(self) -> int:
        """How many planes have been converted and checked so far."""
        return len(self._done)

    def __getitem__(self, pid: Any) -> Any:
        if not isinstance(pid, (int, np.integer)):
            return [self[i] for i in range(self.n_planes)[pid]]
        pid = int(pid)
        try:
            return self._done[pid]
        except KeyError:
            pass
        if not 0 <= pid < self.n_planes:
            raise IndexError(f"plane {pid} of {self.n_planes}")
        plane = self._plane(pid)
        with self._lock:
            self._done[pid] = plane
        return plane

    def _plane(self, pid: int) -> Plane | None:
        if self.entries is None:
            assert self.dataoffset is not None
            start = self.dataoffset + pid * self.page_bytes
            offsets = np.array([start], dtype=np.int64)
            counts = np.array([self.page_bytes], dtype=np.int64)
            self._check(pid, 0, offsets, counts)
            return (0, offsets, counts, True)
        entry = self.entries[pid]
        if entry is None:
            return None
        fidx, raw_offsets, raw_counts = entry
        try:  # a damaged tag holds text, bytes or numbers past int64 (found by fuzzing)
            # one value (a retyped tag: UNDEFINED of count 1) comes as a scalar
            offsets = np.atleast_1d(np.asarray(raw_offsets, dtype=np.int64))
            counts = np.atleast_1d(np.asarray(raw_counts, dtype=np.int64))
        except (ValueError, TypeError, OverflowError) as exc:
            raise CorruptFileError(
                f"{self.where}: plane {pid} has unreadable segment offsets or byte counts "
                f"({type(exc).__name__}: {exc}); expected integers"[:300]
            ) from exc
        if len(offsets) != self.n_segments or len(counts) != self.n_segments:
            raise CorruptFileError(
                f"{self.where}: plane {pid} has {len(offsets)} segment offsets and "
                f"{len(counts)} byte counts, expected {self.n_segments}"
            )
        self._check(pid, fidx, offsets, counts)
        whole = self.contiguous_bytes > 0 and _back_to_back(offsets, counts, self.contiguous_bytes)
        return (fidx, offsets, counts, whole)

    def _check(
        self, pid: int, fidx: int, offsets: np.ndarray[Any, Any], counts: np.ndarray[Any, Any]
    ) -> None:
        """Every segment must lie inside its file."""
        size = self._sizes.get(fidx)
        if size is None:
            size = self._sizes[fidx] = self.locations[fidx].size
        ends = offsets + counts
        bad = np.flatnonzero((counts > 0) & ((offsets <= 0) | (ends > size)))
        if bad.size:
            j = int(bad[0])
            raise CorruptFileError(
                f"{self.where}: segment {j} of plane {pid} needs bytes {int(offsets[j])}.."
                f"{int(ends[j])}, but {self.locations[fidx].name} has {size} bytes"
            )


def _back_to_back(offsets: np.ndarray[Any, Any], counts: np.ndarray[Any, Any], nbytes: int) -> bool:
    if len(offsets) == 1:
        return bool(counts[0] >= nbytes)
    return bool(np.all(offsets[1:] == offsets[:-1] + counts[:-1]) and int(counts.sum()) >= nbytes)
