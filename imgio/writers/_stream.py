"""Source blocks computed a few at a time, cut into tiles, encoded on a bounded pool.

Each plane (``Y X [S]`` of a ``T C Z Y X [S]`` dask array) is computed in *groups*: runs
of whole chunks of one chunk row, about :data:`GROUP_BYTES` each (at least one chunk),
in Z order (:func:`z_order`), one group ahead on a background thread. Every block of a
group is pasted into the plane's :class:`~imgio.writers._cascade.Pyramid`; the tiles it
completes are encoded and stored on ``workers`` threads through a sliding window of
``4 * workers`` tiles, which also holds the producer back. So what is alive at once is
two groups of source chunks, the tiles in the window and the pyramid's waiting tiles,
whatever the image's width or height, and the thread count is fixed (one producer,
``workers`` encoders, dask's own pool).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import ImgioError
from ._cascade import Pyramid, Samples

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["GROUP_BYTES", "Group", "groups", "prefetched", "run", "z_order"]

T = TypeVar("T")
GROUP_BYTES = 8 << 20
Block = tuple[int, int, np.ndarray[Any, Any]]  # y0, x0, pixels
Group = tuple[int, Callable[[], list[Block]]]  # plane index, compute


def prefetched(tasks: Iterable[Callable[[], T]], depth: int = 1) -> Generator[T, None, None]:
    """Run ``tasks`` in order on one background thread, ``depth`` ahead of the consumer."""
    pending: deque[Future[T]] = deque()
    pool = ThreadPoolExecutor(1, thread_name_prefix="imgio-source")
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


def _run_length(widths: tuple[int, ...], row_bytes: int, target: int, least: int) -> int:
    """Chunks per group along X: a power of two, ``least`` or more, about ``target`` bytes."""
    widest = max(widths) * row_bytes
    g = 1
    while (g * widest < target or g < least) and g < len(widths):
        g *= 2
    return g


def z_order(rows: int, cols: int) -> Iterator[tuple[int, int]]:
    """The cells of a ``rows`` x ``cols`` grid in Z (Morton) order, quadrant by quadrant.

    Every aligned square of 2**k x 2**k cells is visited in one stretch, so a pyramid
    tile built from such a square completes before the next one starts.
    """
    side = 1
    while side < max(rows, cols):
        side *= 2
    stack = [(0, 0, side)]
    while stack:
        r, c, n = stack.pop()
        if r >= rows or c >= cols:
            continue
        if n == 1:
            yield r, c
            continue
        h = n // 2
        stack.extend([(r + h, c + h, h), (r + h, c, h), (r, c + h, h), (r, c, h)])


def groups(arr: da.Array, target: int | None = None, workers: int = 1) -> Iterator[Group]:
    """``(plane, compute)`` for every group of chunks of every plane, plane by plane.

    A group is a run of a power-of-two number of chunks of one chunk row (about
    ``target`` bytes, and half ``workers`` chunks or more: dask computes those at once
    while the other workers encode); groups go in Z order, so each pyramid tile is made
    from source chunks that are computed close together. The graph is optimized once per plane (a
    mosaic of 100 files has hundreds of layers), so each compute only culls its blocks.
    """
    own = getattr(arr, "stream_groups", None)
    if own is not None:  # a producer of its own groups (the dask-free mosaic)
        yield from own(workers)
        return
    target = target or GROUP_BYTES
    per_pixel = math.prod(arr.shape[5:]) * arr.dtype.itemsize
    for p, idx in enumerate(np.ndindex(*arr.shape[:3])):
        plane = arr[idx]
        if plane.ndim == 3 and len(plane.chunks[2]) > 1:
            plane = plane.rechunk({2: -1})
        rows, cols = len(plane.chunks[0]), len(plane.chunks[1])
        blocks = plane.to_delayed().reshape(rows, cols)
        ys = np.cumsum((0, *plane.chunks[0]))
        xs = np.cumsum((0, *plane.chunks[1]))
        g = _run_length(plane.chunks[1], max(plane.chunks[0]) * per_pixel, target, workers // 2)
        for i, k in z_order(rows, -(-cols // g)):
            js = range(k * g, min(cols, k * g + g))
            places = [(int(ys[i]), int(xs[j])) for j in js]
            yield p, partial(_compute, [blocks[i, j] for j in js], places)


def _compute(blocks: list[Any], places: list[tuple[int, int]]) -> list[Block]:
    from dask.base import compute

    values = compute(*blocks)  # type: ignore[no-untyped-call]
    return [(y, x, np.asarray(b)) for (y, x), b in zip(places, values, strict=True)]


def run(
    sources: Iterable[Group],
    pyramid: Callable[[int], Pyramid | Samples],
    workers: int,
) -> None:
    """Paste every block into its plane's pyramid; finish tiles on ``workers`` threads.

    ``pyramid(plane)`` gives the pyramid of a plane (called once per plane, in order).
    """
    current: tuple[int, Pyramid | Samples] | None = None
    pending: deque[Future[None]] = deque()
    window = 4 * max(1, workers)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="imgio-encode") if workers > 1 else None
    computed = prefetched(partial(_tagged, p, get) for p, get in sources)

    def submit(job: Callable[[], None]) -> None:
        if pool is None:
            job()
            return
        pending.append(pool.submit(job))
        while len(pending) > window:
            pending.popleft().result()

    try:
        for plane, blocks in computed:
            if current is None or current[0] != plane:
                _drain(pending, current)
                current = (plane, pyramid(plane))
            while blocks:
                y0, x0, pixels = blocks.pop(0)
                for job in current[1].add(y0, x0, pixels):
                    submit(job)
                del pixels
        _drain(pending, current)
    finally:
        computed.close()
        for fut in pending:
            fut.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _tagged(plane: int, get: Callable[[], list[Block]]) -> tuple[int, list[Block]]:
    return plane, get()


def _drain(pending: deque[Future[None]], current: tuple[int, Pyramid | Samples] | None) -> None:
    while pending:
        pending.popleft().result()
    if current is not None and current[1].waiting():
        raise ImgioError(f"plane {current[0]}: {current[1].waiting()} tiles never completed")
