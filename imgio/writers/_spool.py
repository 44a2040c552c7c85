"""The next pyramid level, built on the fly: halved bands, LZ4-compressed in a temporary file.

Bands that arrive whole are halved (an odd last row waits for the next band) and stored
whole. Bands one tile row high arrive as column segments: each segment is halved (an odd
last column waits for the next segment) and stored at once. On replay, the halves of two
consecutive such bands are read segment by segment and stacked into one tile row of the
next level, so the next level streams in segments too and memory stays flat in the image
width. Stacking is used only where the next level's rows are aligned to its tile rows.
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


Record = tuple[int, int, tuple[int, ...]]  # offset, bytes, shape
Entry = tuple[int, list[Record], list[Record] | None]  # plane, records (top), bottom to stack


class Spool:
    """Receives the bands of one level in file order; replays the next level's bands."""

    def __init__(self, folder: Path | None, method: str, tile_rows: int) -> None:
        self._file = tempfile.TemporaryFile(dir=folder, prefix=".imgio-level-")
        self._entries: list[Entry] = []
        self._method = method
        self._tile_rows = tile_rows
        self._plane: int | None = None
        self._rows = 0  # rows of the next level stored for the current plane
        self._odd: np.ndarray[Any, Any] | None = None  # a row waiting for the next band
        self._xodd: np.ndarray[Any, Any] | None = None  # a column waiting for the next segment
        self._segments: list[Record] = []  # halved segments of the band arriving now
        self._top: list[Record] | None = None  # halved segments of the band before, to stack on
        self._offset = 0

    def _half(self, block: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return downsample_block(block, 0, 1, self._method)

    def add(self, plane: int, band: Pieces, more: bool = False) -> None:
        """Halve one band (or segment, when ``more`` or one came before) of ``plane``."""
        if plane != self._plane:
            self._flush()
            self._plane, self._rows = plane, 0
        if more or self._segments:
            seg = as_array(([self._xodd] if self._xodd is not None else []) + _listed(band))
            self._xodd = None
            if more and seg.shape[1] % 2:
                self._xodd, seg = seg[:, -1:].copy(), seg[:, :-1]
            self._segments.append(self._write(self._half(seg)))
            if not more:
                self._band_done(self._segments)
                self._segments = []
            return
        self._flush_top()
        pieces = _listed(band)
        if (
            self._odd is None
            and pieces[0].shape[0] % 2 == 0
            and all(q.shape[1] % 2 == 0 for q in pieces[:-1])
        ):
            self._entry([self._write(as_array([self._half(q) for q in pieces]))])
            return
        whole = as_array(pieces)
        if self._odd is not None:
            whole = np.concatenate([self._odd, whole])
            self._odd = None
        if whole.shape[0] % 2:
            self._odd, whole = whole[-1:].copy(), whole[:-1]
        if whole.shape[0]:
            self._entry([self._write(self._half(whole))])

    def _band_done(self, records: list[Record]) -> None:
        widths = [r[2][1] for r in records]
        if self._top is not None and [r[2][1] for r in self._top] == widths:
            top, self._top = self._top, None
            self._entry(top, records)
            return
        self._flush_top()
        if self._rows % self._tile_rows == 0 and 2 * records[0][2][0] == self._tile_rows:
            self._top = records
        else:
            self._entry(records)

    def _entry(self, records: list[Record], bottom: list[Record] | None = None) -> None:
        assert self._plane is not None
        self._entries.append((self._plane, records, bottom))
        self._rows += records[0][2][0] + (bottom[0][2][0] if bottom else 0)

    def _flush_top(self) -> None:
        if self._top is not None:
            top, self._top = self._top, None
            self._entry(top)

    def _flush(self) -> None:
        self._flush_top()
        if self._odd is not None:
            self._entry([self._write(self._half(self._odd))])
        self._odd = None

    def _write(self, half: np.ndarray[Any, Any]) -> Record:
        import imagecodecs

        data = imagecodecs.lz4_encode(np.ascontiguousarray(half))  # type: ignore[arg-type]
        self._file.write(data)
        record = (self._offset, len(data), half.shape)
        self._offset += len(data)
        return record

    def finish(self) -> None:
        """Store what waits; call when every band has been added (idempotent)."""
        if self._plane is not None:
            self._flush()
        self._plane = None
        self._file.flush()

    def readers(self, dtype: np.dtype[Any]) -> Iterator[Source]:
        """``(plane, read, more)`` for every band or segment of the next level, in order."""
        import imagecodecs

        fd = self._file.fileno()

        def read(record: Record) -> np.ndarray[Any, Any]:
            offset, n, shape = record
            out = np.empty(shape, dtype)
            imagecodecs.lz4_decode(os.pread(fd, n, offset), out=out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
            return out

        def whole(records: list[Record]) -> np.ndarray[Any, Any]:
            return as_array([read(r) for r in records])

        def stacked(top: Record, bottom: Record) -> np.ndarray[Any, Any]:
            return np.concatenate([read(top), read(bottom)])

        for plane, records, bottom in self._entries:
            if bottom is None:
                yield plane, partial(whole, records), False
                continue
            for j, (top, low) in enumerate(zip(records, bottom, strict=True)):
                yield plane, partial(stacked, top, low), j + 1 < len(records)

    def close(self) -> None:
        self._file.close()
