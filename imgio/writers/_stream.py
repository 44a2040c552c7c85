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
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ._pyramid import downsample_block

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["Spool", "dask_bands", "prefetched", "tiles"]

T = TypeVar("T")
Pieces = np.ndarray[Any, Any] | list[np.ndarray[Any, Any]]  # a band, whole or as column blocks
Band = tuple[int, Pieces]


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


def dask_bands(arr: da.Array, min_rows: int) -> Iterator[tuple[int, Callable[[], Pieces]]]:
    """``(plane, compute)`` for every band of a ``T C Z Y X [S]`` dask array, in file order.

    A band comes back as its column blocks, not concatenated (that would copy it once
    more). The graph is optimized once, so each band's compute only culls a flat graph
    instead of re-optimizing every layer (a mosaic of 100 files has hundreds of layers).
    """
    from dask.base import compute, optimize

    (arr,) = optimize(arr)  # type: ignore[no-untyped-call]
    groups = row_groups(arr.chunks[3], min_rows)
    for p, idx in enumerate(np.ndindex(*arr.shape[:3])):
        plane = arr[idx]
        for y0, y1 in groups:
            part = plane[y0:y1]
            if len(part.chunks[0]) > 1 or (part.ndim == 3 and len(part.chunks[2]) > 1):
                part = part.rechunk({0: -1, 2: -1} if part.ndim == 3 else {0: -1})
            blocks = part.to_delayed().ravel().tolist()
            yield p, partial(_compute_blocks, compute, blocks)


def _compute_blocks(compute: Any, blocks: list[Any]) -> Pieces:
    return [np.asarray(b) for b in compute(*blocks)]


def as_array(band: Pieces) -> np.ndarray[Any, Any]:
    """One array of a band given as column pieces."""
    if isinstance(band, np.ndarray):
        return band
    return band[0] if len(band) == 1 else np.concatenate(band, axis=1)


def _columns(
    pieces: list[np.ndarray[Any, Any]], r0: int, r1: int, tw: int
) -> Iterator[np.ndarray[Any, Any]]:
    """Tiles of rows ``r0:r1`` across column pieces, as contiguous copies.

    Copies (which tifffile would make anyway) hold no reference to the band, so a band is
    freed as soon as its last tile is handed over, not when that tile has been compressed:
    at most two bands are alive (one being tiled, one being computed).
    """
    edges = np.cumsum([0] + [p.shape[1] for p in pieces])
    width = int(edges[-1])
    k = 0
    for x0 in range(0, width, tw):
        x1 = min(width, x0 + tw)
        while edges[k + 1] <= x0:
            k += 1
        if x1 <= edges[k + 1]:
            yield np.ascontiguousarray(pieces[k][r0:r1, x0 - edges[k] : x1 - edges[k]])
            continue
        parts, j = [], k
        while j < len(pieces) and edges[j] < x1:
            a, b = max(x0, edges[j]) - edges[j], min(x1, edges[j + 1]) - edges[j]
            parts.append(pieces[j][r0:r1, a:b])
            j += 1
        yield np.concatenate(parts, axis=1)


def tiles(bands: Iterable[Band], tile: tuple[int, int]) -> Iterator[np.ndarray[Any, Any]]:
    """Tiles in TIFF order (planes, then tile rows, then columns) from bands of any height."""
    th, tw = tile
    plane: int | None = None
    rest: np.ndarray[Any, Any] | None = None

    for p, band in bands:
        if p != plane:
            if rest is not None and len(rest):
                yield from _columns([rest], 0, len(rest), tw)
            plane, rest = p, None
        pieces = [band] if isinstance(band, np.ndarray) else list(band)
        height = pieces[0].shape[0]
        if rest is not None and len(rest):
            pieces = [np.concatenate([rest, as_array(pieces)])]
            height = pieces[0].shape[0]
        whole = (height // th) * th
        for r in range(0, whole, th):
            yield from _columns(pieces, r, r + th, tw)
        rest = as_array([q[whole:] for q in pieces]).copy() if whole < height else None
        del pieces, band
    if rest is not None and len(rest):
        yield from _columns([rest], 0, len(rest), tw)


def encoded(
    chunks: Iterable[np.ndarray[Any, Any]],
    encode: Callable[[np.ndarray[Any, Any]], bytes],
    tile_shape: tuple[int, ...],
    workers: int,
) -> Iterator[bytes]:
    """Tiles compressed on ``workers`` threads through a sliding window, yielded in order.

    Unlike batch-wise compression, the window keeps every thread busy while the caller
    produces the next tiles and writes finished ones. Edge tiles are zero-padded first.
    """

    def run(tile: np.ndarray[Any, Any]) -> bytes:
        if tile.shape != tile_shape:
            tile = np.pad(
                tile, [(0, want - got) for want, got in zip(tile_shape, tile.shape, strict=True)]
            )
        return encode(tile)

    if workers <= 1:
        yield from map(run, chunks)
        return
    pending: deque[Future[bytes]] = deque()
    window = 4 * workers
    pool = ThreadPoolExecutor(workers, thread_name_prefix="imgio-encode")
    try:
        for tile in chunks:
            pending.append(pool.submit(run, tile))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class Spool:
    """The next level, written as halved, LZ4-compressed bands to an unnamed temporary file."""

    def __init__(self, folder: Path | None, method: str) -> None:
        self._file = tempfile.TemporaryFile(dir=folder, prefix=".imgio-level-")
        self._index: list[tuple[int, int, int, tuple[int, ...]]] = []
        self._method = method
        self._plane: int | None = None
        self._odd: np.ndarray[Any, Any] | None = None
        self._offset = 0

    def add(self, plane: int, band: Pieces) -> None:
        """Halve a band of ``plane`` (keeping an odd last row for the next band) and store it."""
        if not isinstance(band, np.ndarray):
            widths = [q.shape[1] for q in band]
            if (
                self._odd is None
                and band[0].shape[0] % 2 == 0
                and all(w % 2 == 0 for w in widths[:-1])
            ):
                halves = [downsample_block(q, 0, 1, self._method) for q in band]
                if plane != self._plane:
                    self._flush()
                    self._plane = plane
                self._store(plane, as_array(halves))
                return
            band = as_array(band)
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

        data = imagecodecs.lz4_encode(np.ascontiguousarray(half))  # type: ignore[arg-type]
        self._file.write(data)
        self._index.append((plane, self._offset, len(data), half.shape))
        self._offset += len(data)

    def finish(self) -> None:
        """Store the last odd row; call when every band has been added (idempotent)."""
        self._flush()
        self._plane = None
        self._file.flush()

    def readers(
        self, dtype: np.dtype[Any]
    ) -> Iterator[tuple[int, Callable[[], np.ndarray[Any, Any]]]]:
        """``(plane, read)`` for every stored band, in order."""
        import imagecodecs

        fd = self._file.fileno()

        def read(offset: int, n: int, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
            import os

            raw = os.pread(fd, n, offset)
            out = np.empty(shape, dtype)
            imagecodecs.lz4_decode(raw, out=out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
            return out

        for plane, offset, n, shape in self._index:
            yield plane, partial(read, offset, n, shape)

    def close(self) -> None:
        self._file.close()


def spooled(
    sources: Iterable[tuple[int, Callable[[], Pieces]]],
    spool: Spool | None,
    progress: Callable[[int], None] | None = None,
) -> Generator[Band, None, None]:
    """Bands computed one ahead on a background thread, each also fed to ``spool``.

    The consumer may stop after the last tile without exhausting this generator: call
    ``spool.finish()`` once it is done.
    """

    def task(plane: int, get: Callable[[], Pieces]) -> Band:
        band = get()
        if spool is not None:
            spool.add(plane, band)
        if progress is not None:
            progress((band if isinstance(band, np.ndarray) else band[0]).shape[0])
        return plane, band

    yield from prefetched(partial(task, p, g) for p, g in sources)


def band_bytes(shape: tuple[int, ...], itemsize: int, rows: int) -> int:
    """Bytes of a band of ``rows`` rows of a ``T C Z Y X [S]`` shape."""
    return rows * math.prod(shape[4:]) * itemsize
