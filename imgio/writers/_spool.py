"""The next pyramid level, built on the fly: halved bands, LZ4-compressed in a temporary file.

Bands that arrive whole are halved (an odd last row waits for the next band) and stored
whole. Bands one tile row high arrive as column segments: each segment is halved (an odd
last column waits for the next segment), and the halves of two consecutive bands are
stacked into one tile row of the next level, stored segment by segment, so the next
level streams in segments too and memory stays flat in the image width. Stacked
segments are used only where the next level's rows are aligned to its tile rows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ._pyramid import downsample_block
from ._stream import Pieces, Source, as_array

__all__ = ["Spool"]

Halves = list[np.ndarray[Any, Any]]


def _listed(band: Pieces) -> list[np.ndarray[Any, Any]]:
    return [band] if isinstance(band, np.ndarray) else list(band)


class Spool:
    """Receives the bands of one level in file order; replays the next level's bands."""

    def __init__(self, folder: Path | None, method: str, tile_rows: int) -> None:
        self._file = tempfile.TemporaryFile(dir=folder, prefix=".imgio-level-")
        self._index: list[tuple[int, int, int, tuple[int, ...], bool]] = []
        self._method = method
        self._tile_rows = tile_rows
        self._plane: int | None = None
        self._rows = 0  # rows of the next level stored for the current plane
        self._odd: np.ndarray[Any, Any] | None = None  # a row waiting for the next band
        self._xodd: np.ndarray[Any, Any] | None = None  # a column waiting for the next segment
        self._halves: Halves = []  # halved segments of the band arriving now
        self._top: Halves | None = None  # halved segments of the band before, to stack on
        self._offset = 0

    def _half(self, block: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return downsample_block(block, 0, 1, self._method)

    def add(self, plane: int, band: Pieces, more: bool = False) -> None:
        """Halve one band (or segment, when ``more`` or one came before) of ``plane``."""
        if plane != self._plane:
            self._flush()
            self._plane, self._rows = plane, 0
        if more or self._halves:
            seg = as_array(([self._xodd] if self._xodd is not None else []) + _listed(band))
            self._xodd = None
            if more and seg.shape[1] % 2:
                self._xodd, seg = seg[:, -1:].copy(), seg[:, :-1]
            self._halves.append(self._half(seg))
            if not more:
                self._band_done(self._halves)
                self._halves = []
            return
        self._flush_top()
        pieces = _listed(band)
        if (
            self._odd is None
            and pieces[0].shape[0] % 2 == 0
            and all(q.shape[1] % 2 == 0 for q in pieces[:-1])
        ):
            self._store(as_array([self._half(q) for q in pieces]))
            return
        whole = as_array(pieces)
        if self._odd is not None:
            whole = np.concatenate([self._odd, whole])
            self._odd = None
        if whole.shape[0] % 2:
            self._odd, whole = whole[-1:].copy(), whole[:-1]
        if whole.shape[0]:
            self._store(self._half(whole))

    def _band_done(self, halves: Halves) -> None:
        if self._top is not None and [t.shape[1] for t in self._top] != [
            h.shape[1] for h in halves
        ]:
            self._flush_top()  # segments of another width: store both bands whole
            self._store(as_array(halves))
        elif self._top is not None:
            pairs = [np.concatenate([t, h]) for t, h in zip(self._top, halves, strict=True)]
            self._top = None
            for j, pair in enumerate(pairs):
                self._store(pair, more=j + 1 < len(pairs), rows=j == 0)
        elif self._rows % self._tile_rows == 0 and 2 * halves[0].shape[0] == self._tile_rows:
            self._top = halves
        else:
            self._store(as_array(halves))

    def _flush_top(self) -> None:
        if self._top is not None:
            top, self._top = self._top, None
            self._store(as_array(top))

    def _flush(self) -> None:
        self._flush_top()
        if self._odd is not None:
            self._store(self._half(self._odd))
        self._odd = None

    def _store(self, half: np.ndarray[Any, Any], more: bool = False, rows: bool = True) -> None:
        import imagecodecs

        assert self._plane is not None
        data = imagecodecs.lz4_encode(np.ascontiguousarray(half))  # type: ignore[arg-type]
        self._file.write(data)
        self._index.append((self._plane, self._offset, len(data), half.shape, more))
        self._offset += len(data)
        if rows:
            self._rows += half.shape[0]

    def finish(self) -> None:
        """Store what waits; call when every band has been added (idempotent)."""
        if self._plane is not None:
            self._flush()
        self._plane = None
        self._file.flush()

    def readers(self, dtype: np.dtype[Any]) -> Iterator[Source]:
        """``(plane, read, more)`` for every stored band or segment, in order."""
        import imagecodecs

        fd = self._file.fileno()

        def read(offset: int, n: int, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
            out = np.empty(shape, dtype)
            raw = os.pread(fd, n, offset)
            imagecodecs.lz4_decode(raw, out=out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
            return out

        for plane, offset, n, shape, more in self._index:
            yield plane, partial(read, offset, n, shape), more

    def close(self) -> None:
        self._file.close()
