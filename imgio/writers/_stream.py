"""Row bands in file order: computed from dask one band at a time, tiled, spooled per level.

A *band* is ``(plane, rows)``: consecutive full-width rows of one plane (``Y X [S]``).
Bands of level 0 come from dask (whole chunk rows, so no block is computed twice); each
band is halved on the fly and spooled, LZ4-compressed, to an unnamed temporary file,
which then feeds the next level. Memory stays at a couple of bands, whatever the height.
"""

from __future__ import annotations

import math
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ._pyramid import downsample_block

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["Spool", "dask_bands", "prefetched", "tiles"]

T = TypeVar("T")
Band = tuple[int, np.ndarray[Any, Any]]


def prefetched(tasks: Iterable[Callable[[], T]], depth: int = 1) -> Iterator[T]:
    """Run ``tasks`` in order on one background thread, ``depth`` ahead of the consumer."""
    pending: deque[Future[T]] = deque()
    pool = ThreadPoolExecutor(1, thread_name_prefix="imgio-band")
    try:
        for task in tasks:
            pending.append(pool.submit(task))
            if len(pending) > depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def row_groups(chunks: tuple[int, ...], min_rows: int) -> list[tuple[int, int]]:
    """Whole dask chunk rows merged until each group has at least ``min_rows`` rows."""
    out, start, stop = [], 0, 0
    for c in chunks:
        stop += c
        if stop - start >= min_rows:
            out.append((start, stop))
            start = stop
    if stop > start:
        out.append((start, stop))
    return out


def dask_bands(arr: da.Array, min_rows: int) -> Iterator[tuple[int, Callable[[], np.ndarray[Any, Any]]]]:
    """``(plane, compute)`` for every band of a ``T C Z Y X [S]`` dask array, in file order."""
    groups = row_groups(arr.chunks[3], min_rows)
    for p, idx in enumerate(np.ndindex(*arr.shape[:3])):
        plane = arr[idx]
        for y0, y1 in groups:
            part = plane[y0:y1]
            yield p, lambda part=part: np.asarray(part.compute())


def tiles(bands: Iterable[Band], tile: tuple[int, int]) -> Iterator[np.ndarray[Any, Any]]:
    """Tiles in TIFF order (planes, then tile rows, then columns) from bands of any height."""
    th, tw = tile
    plane: int | None = None
    rest: np.ndarray[Any, Any] | None = None

    def row(rows: np.ndarray[Any, Any]) -> Iterator[np.ndarray[Any, Any]]:
        for x0 in range(0, rows.shape[1], tw):
            yield rows[:, x0 : x0 + tw]

    for p, band in bands:
        if p != plane:
            if rest is not None and len(rest):
                yield from row(rest)
            plane, rest = p, None
        if rest is not None and len(rest):
            band = np.concatenate([rest, band])
        whole = (band.shape[0] // th) * th
        for r in range(0, whole, th):
            yield from row(band[r : r + th])
        rest = band[whole:].copy() if whole < band.shape[0] else None
    if rest is not None and len(rest):
        yield from row(rest)


class Spool:
    """The next level, written as halved, LZ4-compressed bands to an unnamed temporary file."""

    def __init__(self, folder: Path | None, method: str) -> None:
        self._file = tempfile.TemporaryFile(dir=folder, prefix=".imgio-level-")
        self._index: list[tuple[int, int, int, tuple[int, ...]]] = []
        self._method = method
        self._plane: int | None = None
        self._odd: np.ndarray[Any, Any] | None = None
        self._offset = 0

    def add(self, plane: int, band: np.ndarray[Any, Any]) -> None:
        """Halve a band of ``plane`` (keeping an odd last row for the next band) and store it."""
        if plane != self._plane:
            self._flush()
            self._plane = plane
        if self._odd is not None:
            band = np.concatenate([self._odd, band])
            self._odd = None
        if band.shape[0] % 2:
            self._odd, band = band[-1:].copy(), band[:-1]
        if band.shape[0]:
            self._store(plane, downsample_block(band, 0, 1, self._method))

    def _flush(self) -> None:
        if self._odd is not None and self._plane is not None:
            self._store(self._plane, downsample_block(self._odd, 0, 1, self._method))
        self._odd = None

    def _store(self, plane: int, half: np.ndarray[Any, Any]) -> None:
        import imagecodecs

        data = imagecodecs.lz4_encode(np.ascontiguousarray(half))
        self._file.write(data)
        self._index.append((plane, self._offset, len(data), half.shape))
        self._offset += len(data)

    def finish(self) -> None:
        """Store the last odd row; call when every band has been added (idempotent)."""
        self._flush()
        self._plane = None
        self._file.flush()

    def readers(self, dtype: np.dtype[Any]) -> Iterator[tuple[int, Callable[[], np.ndarray[Any, Any]]]]:
        """``(plane, read)`` for every stored band, in order."""
        import imagecodecs

        fd = self._file.fileno()

        def read(offset: int, n: int, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
            import os

            raw = os.pread(fd, n, offset)
            out = np.empty(shape, dtype)
            imagecodecs.lz4_decode(raw, out=out.reshape(-1).view(np.uint8))
            return out

        for plane, offset, n, shape in self._index:
            yield plane, lambda o=offset, n=n, s=shape: read(o, n, s)

    def close(self) -> None:
        self._file.close()


def spooled(
    sources: Iterable[tuple[int, Callable[[], np.ndarray[Any, Any]]]],
    spool: Spool | None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Band]:
    """Bands computed one ahead on a background thread, each also fed to ``spool``.

    The consumer may stop after the last tile without exhausting this generator: call
    ``spool.finish()`` once it is done.
    """

    def task(plane: int, get: Callable[[], np.ndarray[Any, Any]]) -> Band:
        band = get()
        if spool is not None:
            spool.add(plane, band)
        if progress is not None:
            progress(band.shape[0])
        return plane, band

    yield from prefetched(lambda p=p, g=g: task(p, g) for p, g in sources)


def band_bytes(shape: tuple[int, ...], itemsize: int, rows: int) -> int:
    """Bytes of a band of ``rows`` rows of a ``T C Z Y X [S]`` shape."""
    return rows * math.prod(shape[4:]) * itemsize
