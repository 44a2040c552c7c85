"""Row bands in file order: computed from dask one band at a time, cut into tiles.

A *band* is ``(plane, rows, more)``: consecutive rows of one plane (``Y X [S]``), whole
width, or, for a band one tile row high, a segment of whole column blocks (``more``: the
next segment of the same rows follows). Bands of level 0 come from dask (whole chunk
rows, so no block is computed twice), one ahead on a background thread; each is also fed
to a :class:`~imgio.writers._spool.Spool` that builds the next level. Memory stays at a
couple of bands (segments), whatever the height (and width).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["as_array", "dask_bands", "encoded", "prefetched", "spooled", "tiles"]

T = TypeVar("T")
Pieces = np.ndarray[Any, Any] | list[np.ndarray[Any, Any]]  # a band, whole or as column blocks
Band = tuple[int, Pieces, bool]  # plane, rows, more segments of the same rows follow
Source = tuple[int, Callable[[], Pieces], bool]
SEGMENT_BYTES = 16 << 20


class SpoolLike(Protocol):
    def add(self, plane: int, band: Pieces, more: bool = False) -> None: ...


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


def dask_bands(arr: da.Array, min_rows: int, segment_bytes: int | None = None) -> Iterator[Source]:
    """``(plane, compute, more)`` for every band of a ``T C Z Y X [S]`` array, in file order.

    A band comes back as its column blocks, not concatenated (that would copy it once
    more). A band that is exactly one tile row high is split into segments of whole
    column blocks of about ``segment_bytes`` (``more`` is true for all but its last), so
    memory does not grow with the image width. The graph is optimized once, so each
    compute only culls a flat graph (a mosaic of 100 files has hundreds of layers).
    """
    from dask.base import compute, optimize

    segment_bytes = segment_bytes or SEGMENT_BYTES
    (arr,) = optimize(arr)  # type: ignore[no-untyped-call]
    groups = row_groups(arr.chunks[3], min_rows)
    height = arr.shape[3]
    per_column = math.prod(arr.shape[5:]) * arr.dtype.itemsize
    for p, idx in enumerate(np.ndindex(*arr.shape[:3])):
        plane = arr[idx]
        for y0, y1 in groups:
            part = plane[y0:y1]
            if len(part.chunks[0]) > 1 or (part.ndim == 3 and len(part.chunks[2]) > 1):
                part = part.rechunk({0: -1, 2: -1} if part.ndim == 3 else {0: -1})
            blocks = part.to_delayed().ravel().tolist()
            segments = [blocks]
            if y0 % min_rows == 0 and (y1 - y0 == min_rows or y1 - y0 < min_rows and y1 == height):
                segments = _segments(
                    blocks, [min_rows * w * per_column for w in part.chunks[1]], segment_bytes
                )
            for k, seg in enumerate(
                segments
            ):  # the same columns in every band (the spool pairs them)
                yield p, partial(_compute_blocks, compute, seg), k + 1 < len(segments)


def _segments(blocks: list[Any], sizes: list[int], target: int) -> list[list[Any]]:
    out: list[list[Any]] = [[]]
    total = 0
    for block, size in zip(blocks, sizes, strict=True):
        if out[-1] and total >= target:
            out.append([])
            total = 0
        out[-1].append(block)
        total += size
    return out


def _compute_blocks(compute: Any, blocks: list[Any]) -> Pieces:
    return [np.asarray(b) for b in compute(*blocks)]


def _listed(band: Pieces) -> list[np.ndarray[Any, Any]]:
    return [band] if isinstance(band, np.ndarray) else list(band)


def as_array(band: Pieces) -> np.ndarray[Any, Any]:
    """One array of a band given as column pieces."""
    if isinstance(band, np.ndarray):
        return band
    return band[0] if len(band) == 1 else np.concatenate(band, axis=1)


def _take(
    pieces: list[np.ndarray[Any, Any]], edges: Any, r0: int, r1: int, x0: int, x1: int, k: int
) -> np.ndarray[Any, Any]:
    """Rows ``r0:r1``, columns ``x0:x1`` of column pieces (``k``: the piece holding ``x0``)."""
    if x1 <= edges[k + 1]:
        return np.ascontiguousarray(pieces[k][r0:r1, x0 - edges[k] : x1 - edges[k]])
    parts, j = [], k
    while j < len(pieces) and edges[j] < x1:
        a, b = max(x0, edges[j]) - edges[j], min(x1, edges[j + 1]) - edges[j]
        parts.append(pieces[j][r0:r1, a:b])
        j += 1
    return np.concatenate(parts, axis=1)


def _columns(
    pieces: list[np.ndarray[Any, Any]], r0: int, r1: int, tw: int, stop: int | None = None
) -> Iterator[np.ndarray[Any, Any]]:
    """Tiles of rows ``r0:r1`` across column pieces (up to column ``stop``), as copies.

    Copies (which tifffile would make anyway) hold no reference to the band, so a band is
    freed as soon as its last tile is handed over, not when that tile has been compressed:
    at most two bands are alive (one being tiled, one being computed).
    """
    edges = np.cumsum([0] + [p.shape[1] for p in pieces])
    width = int(edges[-1])
    k = 0
    for x0 in range(0, width if stop is None else stop, tw):
        while edges[k + 1] <= x0:
            k += 1
        yield _take(pieces, edges, r0, r1, x0, min(width, x0 + tw), k)


def tiles(bands: Iterable[Band], tile: tuple[int, int]) -> Iterator[np.ndarray[Any, Any]]:
    """Tiles in TIFF order (planes, then tile rows, then columns) from bands of any height.

    Rows left over below a whole tile row wait for the next band; in a band that comes in
    segments, columns left over right of a whole tile wait for the next segment.
    """
    th, tw = tile
    plane: int | None = None
    rest: np.ndarray[Any, Any] | None = None
    cols: np.ndarray[Any, Any] | None = None
    segmented = False

    for p, band, more in bands:
        if p != plane:
            if rest is not None and len(rest):
                yield from _columns([rest], 0, len(rest), tw)
            plane, rest = p, None
        pieces = [band] if isinstance(band, np.ndarray) else list(band)
        if segmented or more:  # one tile row, arriving left to right
            if cols is not None:
                pieces.insert(0, cols)
            width = sum(q.shape[1] for q in pieces)
            stop = width // tw * tw if more else width
            yield from _columns(pieces, 0, pieces[0].shape[0], tw, stop)
            edges = np.cumsum([0] + [q.shape[1] for q in pieces])
            k = int(np.searchsorted(edges, stop, side="right")) - 1
            cols = (
                _take(pieces, edges, 0, pieces[0].shape[0], stop, width, k)
                if stop < width
                else None
            )
            segmented = more
            del pieces, band
            continue
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


def spooled(
    sources: Iterable[Source],
    spool: SpoolLike | None,
    progress: Callable[[int], None] | None = None,
) -> Generator[Band, None, None]:
    """Bands computed one ahead on a background thread, each also fed to ``spool``.

    The consumer may stop after the last tile without exhausting this generator: call
    ``spool.finish()`` once it is done.
    """

    def task(plane: int, get: Callable[[], Pieces], more: bool) -> Band:
        band = get()
        if spool is not None:
            spool.add(plane, band, more)
        if progress is not None and not more:
            progress((band if isinstance(band, np.ndarray) else band[0]).shape[0])
        return plane, band, more

    yield from prefetched(partial(task, p, g, m) for p, g, m in sources)


def band_bytes(shape: tuple[int, ...], itemsize: int, rows: int) -> int:
    """Bytes of a band of ``rows`` rows of a ``T C Z Y X [S]`` shape."""
    return rows * math.prod(shape[4:]) * itemsize
