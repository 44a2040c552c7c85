"""A mosaic of files written without dask or xarray: what ``imgio mosaic`` runs.

:func:`mosaic_scene` opens every item as an :class:`~imgio.ImageFile`, checks and
places them with the same :func:`~imgio.writers._mosaic.grid` as :func:`imgio.mosaic`, and
returns a writer :class:`~imgio.writers._input.Scene` with the metadata that
``imgio.write(imgio.mosaic(...))`` would write (channel names and pixel sizes of the
first item, name ``mosaic``). Its pixels are a :class:`MosaicPixels`, which the
writers' streaming engine asks for its own groups (:meth:`MosaicPixels.stream_groups`)
instead of computing dask chunks: one group per cell, in Z order, each item decoded
once through its source (straight into the block where the source can), cropped to
its cell and padded with ``background`` strips. An item larger than
:data:`CELL_BYTES` is read in blocks of whole native chunks (a frame-at-once codec
such as JPEG has one chunk: it is still decoded once).

Importing dask costs ~0.9 s in a fresh process (it pulls in xarray, pandas and scipy
when installed): the command line's mosaic job takes about as long as that import
without it.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, cast

import numpy as np

from ..arrays import HasImageFile, ImageFile
from ..arrays._lazy import aligned_chunks, read
from ..dims import STANDARD, PhysicalPixelSizes
from ..readers.base import ArraySource
from ._input import Scene
from ._mosaic import Grid, grid
from ._stream import Block, Group, z_order

__all__ = ["CELL_BYTES", "MosaicPixels", "mosaic_scene"]

#: an item's plane larger than this is read in blocks of about this size
CELL_BYTES = 64 << 20


class MosaicPixels:
    """The pixels of a mosaic (dims ``T C Z Y X [S]``), produced cell by cell.

    Stands in for a scene's DataArray in the OME-TIFF writer: ``dims``, ``shape``,
    ``dtype``, ``ndim`` and ``data`` (itself) are what the writer asks of it.
    """

    def __init__(self, sources: Sequence[ArraySource], place: Grid, background: float) -> None:
        self.sources = list(sources)
        self.place = place
        self.dims = place.dims
        self.shape = place.shape
        self.dtype = np.dtype(sources[0].dtype)
        self.ndim = len(self.shape)
        self.fill = np.full((), background, self.dtype)

    @property
    def data(self) -> MosaicPixels:
        return self

    def stream_groups(self, workers: int = 1) -> Iterator[Group]:
        """``(plane, compute)`` per cell of every plane, cells in Z order (see ``_stream``).

        The cells are read on ``workers`` threads of their own, ``workers`` cells ahead of
        the writer (JPEG sectors decode slower than their tiles encode), so a compute only
        waits for its cell.
        """
        pending: deque[tuple[int, Future[list[Block]]]] = deque()
        pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="imgio-read")
        try:
            for p, task in self._tasks():
                pending.append((p, pool.submit(task)))
                if len(pending) > max(1, workers):
                    q, fut = pending.popleft()
                    yield q, fut.result
            while pending:
                q, fut = pending.popleft()
                yield q, fut.result
        except BaseException:  # the writer stopped (an error, or closed): nothing more to read
            for _, fut in pending:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=False)  # the last cells handed out still run; then the threads end

    def _tasks(self) -> Iterator[tuple[int, Callable[[], list[Block]]]]:
        place = self.place
        rows, cols = len(place.steps_y), len(place.steps_x)
        for p, plane in enumerate(np.ndindex(*self.shape[:3])):
            for r, c in z_order(rows, cols):
                i = r * place.across + c
                src = self.sources[i] if i < place.count else None
                for box in self._boxes(src, r, c):
                    yield p, partial(self._cell, src, plane, r, c, box)

    def _boxes(self, src: ArraySource | None, r: int, c: int) -> list[tuple[int, int, int, int]]:
        """The item's part inside cell ``(r, c)`` as ``(y0, x0, y1, x1)`` reads, Z ordered."""
        if src is None:
            return [(0, 0, 0, 0)]
        h = min(src.shape[3], self.place.steps_y[r])
        w = min(src.shape[4], self.place.steps_x[c])
        per_pixel = math.prod(src.shape[5:]) * self.dtype.itemsize
        if h * w * per_pixel <= CELL_BYTES:
            return [(0, 0, h, w)]
        bh, bw = aligned_chunks((h, w), src.chunks[3:5], per_pixel, CELL_BYTES // 4)
        return [
            (i * bh, j * bw, min(h, i * bh + bh), min(w, j * bw + bw))
            for i, j in z_order(-(-h // bh), -(-w // bw))
        ]

    def _cell(
        self,
        src: ArraySource | None,
        plane: tuple[int, ...],
        r: int,
        c: int,
        box: tuple[int, int, int, int],
    ) -> list[Block]:
        """One box of an item, at its place; the first box of a cell also brings the
        background strips right of and below the item."""
        place = self.place
        y0, x0 = place.ys[r], place.xs[c]
        sy, sx = place.steps_y[r], place.steps_x[c]
        rest = self.shape[5:]
        if src is None:
            return [(y0, x0, np.broadcast_to(self.fill, (sy, sx, *rest)))]
        by0, bx0, by1, bx1 = box
        block = np.empty((by1 - by0, bx1 - bx0, *rest), self.dtype)
        key = tuple(slice(k, k + 1) for k in plane) + (slice(by0, by1), slice(bx0, bx1))
        key += tuple(slice(0, n) for n in rest)
        read(src, key, out=block.reshape((1, 1, 1, *block.shape)))
        out: list[Block] = [(y0 + by0, x0 + bx0, block)]
        if box[:2] == (0, 0):
            h, w = min(src.shape[3], sy), min(src.shape[4], sx)
            if w < sx:
                out.append((y0, x0 + w, np.broadcast_to(self.fill, (h, sx - w, *rest))))
            if h < sy:
                out.append((y0 + h, x0, np.broadcast_to(self.fill, (sy - h, sx, *rest))))
        return out


def mosaic_scene(
    items: Sequence[Any],
    *,
    across: int,
    spacing: int = 0,
    overlap: int = 0,
    background: float = 0,
    storage_options: dict[str, Any] | None = None,
) -> tuple[Scene | None, list[ImageFile]]:
    """A mosaic of paths or ``Image``s as a writer scene (no dask), and the files opened.

    The scene is None when an item has dims beyond ``T C Z Y X S`` (write those through
    :func:`imgio.mosaic`). The caller closes the returned files. An ``Image`` item
    gives its current scene and level, a path its first scene at full resolution.

    Raises
    ------
    ImgioError
        As :func:`imgio.mosaic`: no items, a bad grid option, mismatched items.
    """
    opened: list[ImageFile] = []
    try:
        picked = []  # (file, scene, level) of every item
        for item in items:
            if isinstance(item, HasImageFile):  # an Image: its current scene and level
                picked.append((item.file, item.current_scene_index, item.current_resolution_level))
            else:
                opened.append(ImageFile(os.fspath(item), storage_options=storage_options))
                picked.append((opened[-1], 0, 0))
        sources = [file.source(s, level) for file, s, level in picked]
        if not sources:
            grid([], [], [], across=across)  # raises: no items
        if any(d not in STANDARD for d in sources[0].dims):
            return None, opened
        place = grid(
            [s.dims for s in sources],
            [s.shape for s in sources],
            [s.dtype for s in sources],
            across=across,
            spacing=spacing,
            overlap=overlap,
        )
    except BaseException:
        for file in opened:
            file.close()
        raise
    return _scene(picked[0], MosaicPixels(sources, place, background)), opened


def _scene(first: tuple[ImageFile, int, int], pixels: MosaicPixels) -> Scene:
    """The metadata ``imgio.write(imgio.mosaic(...))`` writes: the first item's channel
    names (when they fit C) and pixel sizes, origin 0 where a size is known."""
    file, scene, level = first
    n = pixels.shape[1]
    names = file.channel_names(scene)
    if len(names) != n:
        names = [f"Channel:{i}" for i in range(n)]
    sizes = file.physical_pixel_sizes(scene, level)
    return Scene(
        "mosaic",
        cast(Any, pixels),
        list(names),
        PhysicalPixelSizes(*sizes),
        {d: 0.0 for d, v in zip("ZYX", sizes, strict=True) if v is not None},
    )
