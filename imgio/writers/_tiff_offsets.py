"""Tiles stored in any order: IFDs first, tiles appended as they come, offsets patched last.

tifffile writes every IFD of the file (tags, OME-XML, SubIFDs) with empty tiles (byte
count 0); each tile is then appended to the end of the file when it has been encoded, in
whatever order that happens, and each IFD's ``TileOffsets`` and ``TileByteCounts`` are
written in place at the end (with the value type and length tifffile chose). Where
tifffile has reserved a tile's space already (an uncompressed level that is exactly one
tile is written contiguously), the tile goes there instead.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import ImgioError

__all__ = ["Table", "TileFile", "read_tables"]

TILE_OFFSETS, TILE_BYTECOUNTS, SUBIFDS = 324, 325, 330
#: TIFF field type -> (struct code, bytes): SHORT, LONG, LONG8, IFD, IFD8
FIELD = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8), 13: ("I", 4), 18: ("Q", 8)}


@dataclass
class Table:
    """Where one IFD keeps its tile offsets and byte counts, and what they hold now."""

    offsets_at: int
    offsets_code: str
    counts_at: int
    counts_code: str
    offsets: np.ndarray[Any, Any]
    counts: np.ndarray[Any, Any]


class _Reader:
    """Just enough of a TIFF parser to walk the IFDs this module's caller wrote."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        head = self._at(0, 16)
        self.order = "<" if head[:2] == b"II" else ">"
        self.big = struct.unpack(self.order + "H", head[2:4])[0] == 43
        self.first = self._unpack("Q" if self.big else "I", head[8:16] if self.big else head[4:8])

    def _at(self, offset: int, n: int) -> bytes:
        self.fh.seek(offset)
        return self.fh.read(n)

    def _unpack(self, code: str, data: bytes) -> int:
        return int(struct.unpack(self.order + code, data)[0])

    def entries(self, offset: int) -> tuple[dict[int, tuple[int, int, int]], int]:
        """``{tag: (type, count, position of the values)}`` of the IFD at ``offset``, next IFD."""
        count_code, entry, slot = ("Q", 20, 8) if self.big else ("H", 12, 4)
        n = self._unpack(count_code, self._at(offset, 8 if self.big else 2))
        start = offset + (8 if self.big else 2)
        raw = self._at(start, n * entry + slot)
        out = {}
        for i in range(n):
            e = raw[i * entry : (i + 1) * entry]
            tag, kind = struct.unpack(self.order + "HH", e[:4])
            count = self._unpack("Q" if self.big else "I", e[4 : 4 + slot])
            where = start + i * entry + 4 + slot
            size = FIELD.get(kind, ("", 0))[1] * count
            if size > slot:
                where = self._unpack("Q" if self.big else "I", e[4 + slot :])
            out[tag] = (kind, count, where)
        return out, self._unpack("Q" if self.big else "I", raw[n * entry :])

    def values(self, kind: int, count: int, where: int) -> np.ndarray[Any, Any]:
        code, size = FIELD[kind]
        return np.frombuffer(self._at(where, size * count), self.order + code).astype(np.uint64)

    def table(self, offset: int) -> tuple[Table, list[int]]:
        tags, _ = self.entries(offset)
        (ok, on, oat), (ck, cn, cat) = tags[TILE_OFFSETS], tags[TILE_BYTECOUNTS]
        subifds = [int(v) for v in self.values(*tags[SUBIFDS])] if SUBIFDS in tags else []
        table = Table(
            oat, FIELD[ok][0], cat, FIELD[ck][0], self.values(ok, on, oat), self.values(ck, cn, cat)
        )
        return table, subifds


def read_tables(fh: BinaryIO, pages: int) -> tuple[list[list[Table]], str, bool]:
    """Tile tables of the first ``pages`` IFDs, each followed by its SubIFDs' (levels)."""
    reader = _Reader(fh)
    out: list[list[Table]] = []
    offset = reader.first
    for _ in range(pages):
        if not offset:
            raise ImgioError(f"TIFF skeleton: expected {pages} pages, found {len(out)}")
        table, subifds = reader.table(offset)
        out.append([table] + [reader.table(s)[0] for s in subifds])
        offset = reader.entries(offset)[1]
    return out, reader.order, reader.big


class TileFile:
    """Stores encoded tiles of the skeleton at ``path`` (thread-safe); :meth:`close` patches."""

    def __init__(
        self, path: Path, pages: int, progress: Callable[[int], None] | None = None
    ) -> None:
        self._fh = open(path, "r+b")  # noqa: SIM115 - closed in close()
        try:
            self.tables, self._order, big = read_tables(self._fh, pages)
        except BaseException:
            self._fh.close()
            raise
        self._limit = None if big else 2**32 - 1
        self._end = self._fh.seek(0, os.SEEK_END)
        self._lock = threading.Lock()
        self._progress = progress

    def put(self, page: int, level: int, index: int, data: bytes) -> None:
        """Store tile ``index`` of ``level`` (0: the page itself, k: its SubIFD k)."""
        table = self.tables[page][level]
        with self._lock:
            if table.counts[index] and table.offsets[index]:  # space reserved by tifffile
                if len(data) != table.counts[index]:
                    raise ImgioError(
                        f"tile {index} of page {page} level {level}: expected "
                        f"{table.counts[index]} bytes, got {len(data)}"
                    )
                os.pwrite(self._fh.fileno(), data, int(table.offsets[index]))
            else:
                if self._limit is not None and self._end + len(data) > self._limit:
                    raise ImgioError(
                        f"the file outgrows 4 GiB at page {page}, level {level}: expected a "
                        "classic TIFF to fit; write it with bigtiff=True"
                    )
                os.pwrite(self._fh.fileno(), data, self._end)
                table.offsets[index], table.counts[index] = self._end, len(data)
                self._end += len(data)
            if self._progress is not None:
                self._progress(1)

    def close(self, patch: bool = True) -> None:
        """Write every table in place (when ``patch``) and close the file."""
        try:
            if patch:
                for page, row in enumerate(self.tables):
                    for level, table in enumerate(row):
                        self._patch(page, level, table)
        finally:
            self._fh.close()

    def _patch(self, page: int, level: int, table: Table) -> None:
        missing = np.flatnonzero(table.counts == 0)
        if len(missing):
            raise ImgioError(
                f"page {page} level {level}: tiles {missing[:5].tolist()} were never written"
            )
        for at, code, values in (
            (table.offsets_at, table.offsets_code, table.offsets),
            (table.counts_at, table.counts_code, table.counts),
        ):
            if int(values.max()) >= 1 << (8 * struct.calcsize(code)):
                raise ImgioError(
                    f"page {page} level {level}: a tile offset or size of {int(values.max())} "
                    f"does not fit the TIFF field ({code}); write with bigtiff=True"
                )
            os.pwrite(self._fh.fileno(), values.astype(self._order + code).tobytes(), at)
