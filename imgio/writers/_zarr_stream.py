"""OME-Zarr levels written tile by tile in one pass, as the OME-TIFF writer does.

Each plane's source chunks are computed a few at a time (:mod:`~imgio.writers._stream`);
every level's chunks are made from the chunks above them as soon as those are complete
(:mod:`~imgio.writers._cascade`) and written into the level arrays on ``workers``
threads. Nothing is read back and no level is recomputed; memory holds a few source
chunks and the chunks that wait for a neighbour, whatever the image size. RGB samples
(stored as channels) are split from the same computed block.

Used when the chunks hold one plane each, with even Y/X edges, unsharded, and the tasks
run in this process; otherwise (a ``dask.distributed`` client, whose workers write
the chunks themselves) the writer stores level 0 with dask and halves it level by level.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._cascade import Pyramid, Samples
from ._stream import groups, run

if TYPE_CHECKING:
    import dask.array as da
    import zarr

__all__ = ["chunk_count", "streamable", "write_levels"]


def _on_cluster() -> bool:
    """True when dask's default scheduler is a ``dask.distributed`` client."""
    from dask.base import get_scheduler

    owner = getattr(get_scheduler(), "__self__", None)  # type: ignore[no-untyped-call]
    return type(owner).__name__ == "Client"


def streamable(chunks: Sequence[int], shards: Sequence[int] | None) -> bool:
    """Whether :func:`write_levels` can write an array of these ``T C Z Y X`` chunks."""
    one_plane = all(c == 1 for c in chunks[:3])
    return (
        one_plane
        and shards is None
        and chunks[3] % 2 == 0
        and chunks[4] % 2 == 0
        and not (_on_cluster())
    )


def write_levels(
    source: da.Array,
    levels: Sequence[zarr.Array[Any]],
    method: str,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Fill ``levels`` (level 0 first, chunks of one plane) from ``source``.

    ``source`` is ``T C Z Y X`` or ``T C Z Y X S``, whose samples are channels
    ``c * S + s`` of the levels. ``progress(n)`` is called with each chunk written.
    """
    shapes = [(int(a.shape[3]), int(a.shape[4])) for a in levels]
    tile = (int(levels[0].chunks[3]), int(levels[0].chunks[4]))
    planes = list(np.ndindex(*source.shape[:3]))
    samples = int(source.shape[5]) if source.ndim == 6 else 0
    lock = threading.Lock()

    def pyramid_of(t: int, c: int, z: int) -> Pyramid:
        def put(level: int, index: int, pixels: np.ndarray[Any, Any]) -> None:
            columns = -(-shapes[level][1] // tile[1])
            y0, x0 = index // columns * tile[0], index % columns * tile[1]
            rows, cols = pixels.shape[:2]
            levels[level][t, c, z, y0 : y0 + rows, x0 : x0 + cols] = pixels
            if progress is not None:
                with lock:  # in order, whichever thread wrote the chunk
                    progress(1)

        return Pyramid(shapes, tile, method, put)

    def pyramid(plane: int) -> Pyramid | Samples:
        t, c, z = planes[plane]
        if not samples:
            return pyramid_of(t, c, z)
        return Samples([pyramid_of(t, c * samples + k, z) for k in range(samples)])

    workers = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    run(groups(source, workers=workers), pyramid, workers)


def chunk_count(shapes: Sequence[Sequence[int]], chunks: Sequence[int]) -> int:
    """Chunks of all levels of ``T C Z Y X`` shapes (for progress)."""
    return sum(math.prod(s[:3]) * -(-s[3] // chunks[3]) * -(-s[4] // chunks[4]) for s in shapes)
