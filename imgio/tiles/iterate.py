"""Tile iterators: every tile of a region at a scale, with overlap, decoded ahead on threads."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SelectionError
from ._encode import encode, normalize_format
from ._render import pad_tile

if TYPE_CHECKING:
    from .source import TileSource

__all__ = ["tile_batches", "tile_iterator"]


def _positions(start: float, stop: float, size: int, overlap: int) -> list[tuple[int, int, int]]:
    """``(index, start, stop)`` of each tile along one axis, in output-scale pixels.

    large_image's grid: tiles start at multiples of ``size - overlap`` from the image
    origin; those meeting ``[start, stop)`` are kept, cropped to it.
    """
    stride = size - overlap
    out: list[tuple[int, int, int]] = []
    first = max(0, math.floor(start / stride))
    last = max(first, math.ceil((stop - overlap) / stride) - 1)
    for k in range(first, last + 1):
        a, b = max(k * stride, round(start)), min(k * stride + size, round(stop))
        if b > a:
            out.append((k, a, b))
    return out


def tile_specs(
    ts: TileSource,
    tile_size: int | tuple[int, int] | None,
    overlap: int,
    scale: float | None,
    magnification: float | None,
    region: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Position, size and overlap of every tile, without reading pixels."""
    lay = ts.geometry
    tw, th = (tile_size, tile_size) if isinstance(tile_size, int) else (tile_size or ts.tile_size)
    if not (0 <= overlap < min(tw, th)):
        raise SelectionError(
            f"overlap must be 0..{min(tw, th) - 1} for {tw}x{th} tiles, got {overlap}"
        )
    reg = dict(region or {})
    units = reg.pop("units", "base_pixels")
    box = lay.region_box(
        reg.get("left"),
        reg.get("top"),
        reg.get("right"),
        reg.get("bottom"),
        reg.get("width"),
        reg.get("height"),
        units,
    )
    s = ts._scale_for(box, None, None, scale, magnification, True)
    xs = _positions(box[0] / s, box[2] / s, tw, overlap)
    ys = _positions(box[1] / s, box[3] / s, th, overlap)
    half = overlap // 2
    first_x, first_y, last_x, last_y = xs[0][0], ys[0][0], xs[-1][0], ys[-1][0]
    out: list[dict[str, Any]] = []
    for ky, y0, y1 in ys:
        for kx, x0, x1 in xs:
            out.append(
                {
                    "level_x": kx,
                    "level_y": ky,
                    "position": len(out),
                    "x": x0,
                    "y": y0,
                    "width": x1 - x0,
                    "height": y1 - y0,
                    "gx": x0 * s,
                    "gy": y0 * s,
                    "gwidth": (x1 - x0) * s,
                    "gheight": (y1 - y0) * s,
                    "scale": s,
                    "tile_overlap": {
                        "left": half if kx > first_x else 0,
                        "top": half if ky > first_y else 0,
                        "right": overlap - half if kx < last_x else 0,
                        "bottom": overlap - half if ky < last_y else 0,
                    },
                    "iterator_range": {
                        "level_x_max": len(xs),
                        "level_y_max": len(ys),
                        "position": len(xs) * len(ys),
                    },
                }
            )
    return out


def tile_iterator(
    ts: TileSource,
    tile_size: int | tuple[int, int] | None = None,
    overlap: int = 0,
    *,
    scale: float | None = None,
    magnification: float | None = None,
    region: dict[str, Any] | None = None,
    frame: int | None = None,
    style: Any = None,
    format: str = "numpy",
    prefetch: int | None = None,
    **axes: Any,
) -> Iterator[dict[str, Any]]:
    """Yield each tile of ``region`` at ``scale`` with its position and overlap.

    Parameters
    ----------
    tile_size
        Tile edge (or ``(width, height)``) in output pixels; default: the file's tile.
    overlap
        Pixels shared by neighbouring tiles (stride = tile - overlap), as large_image.
    scale, magnification
        Base pixels per output pixel, or objective magnification (default: full resolution).
    region
        ``left``/``top``/``right``/``bottom``/``width``/``height``/``units`` (base pixels).
    prefetch
        Runs of tiles read ahead in the background (default 1; 0 reads in the loop).
        Neighbouring tiles of a row are read in one go (each stored tile decoded once,
        on every thread of the decode pool) and sliced.

    Yields
    ------
    dict
        ``tile`` (the pixels in ``format``), ``x``/``y``/``width``/``height`` in output
        pixels, ``gx``/``gy``/``gwidth``/``gheight`` in base pixels, ``level_x``/``level_y``,
        ``tile_overlap`` (left/top/right/bottom) and ``iterator_range``.
    """
    fmt = normalize_format(format)
    specs = tile_specs(ts, tile_size, overlap, scale, magnification, region)
    lay = ts.geometry

    def load(block: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One read for a run of tiles on a row; the tiles are slices of it."""
        first, last = block[0], block[-1]
        s = first["scale"]
        x0, x1 = first["x"], max(t["x"] + t["width"] for t in block)
        y0, y1 = first["y"], last["y"] + last["height"]
        box = (x0 * s, y0 * s, min(x1 * s, lay.width), min(y1 * s, lay.height))
        strip = ts._pixels(box, (y1 - y0, x1 - x0), frame, axes, style, fmt)
        out = []
        for spec in block:
            a, b = spec["x"] - x0, spec["y"] - y0
            tile = np.ascontiguousarray(strip[b : b + spec["height"], a : a + spec["width"]])
            out.append({**spec, "format": fmt, "tile": encode(tile, fmt, quality=ts.jpeg_quality)})
        return out

    blocks = _blocks(specs)
    ahead = 1 if prefetch is None else prefetch
    for tiles in _ahead(load, blocks, ahead):
        yield from tiles


BLOCK_TILES = 48  # tiles read together (all columns of a few rows when the grid is narrow)
BLOCK_COLUMNS = 32


def _blocks(specs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Tiles read together, kept in row-major order.

    Up to ``BLOCK_COLUMNS`` tiles of a row; when the whole row fits, several rows at
    once (``BLOCK_TILES`` in all), so overlapping rows decode their stored tiles once.
    """
    rows: list[list[dict[str, Any]]] = []
    for spec in specs:
        if rows and rows[-1][0]["y"] == spec["y"]:
            rows[-1].append(spec)
        else:
            rows.append([spec])
    ncols = len(rows[0]) if rows else 1
    if ncols > BLOCK_COLUMNS:
        return [
            row[i : i + BLOCK_COLUMNS] for row in rows for i in range(0, len(row), BLOCK_COLUMNS)
        ]
    per = max(1, BLOCK_TILES // ncols)
    return [sum(rows[i : i + per], []) for i in range(0, len(rows), per)]


def _ahead(load: Any, blocks: list[Any], ahead: int) -> Iterator[Any]:
    """``map(load, blocks)`` with ``ahead`` blocks read in the background.

    A plain helper thread (not the decode pool) reads ahead, so each read still decodes
    its tiles on every thread of the pool.
    """
    if ahead <= 0:
        yield from map(load, blocks)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="imgio-tiles-ahead") as pool:
        pending: deque[Future[Any]] = deque()
        it = iter(blocks)
        try:
            for block in it:
                pending.append(pool.submit(load, block))
                if len(pending) > ahead:
                    break
            while pending:
                done = pending.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.submit(load, nxt))
                yield done
        finally:
            for fut in pending:
                fut.cancel()


def tile_batches(
    ts: TileSource,
    batch_size: int = 32,
    tile_size: int | tuple[int, int] | None = None,
    overlap: int = 0,
    **kwargs: Any,
) -> Iterator[tuple[np.ndarray[Any, Any], list[dict[str, Any]]]]:
    """Tiles as ``(N, height, width, bands)`` arrays for training loops.

    Edge tiles are padded with zeros to the full tile size; each batch comes with the
    tiles' position dicts (``width``/``height`` give the valid part). Takes the
    arguments of :func:`tile_iterator` (numpy format only).
    """
    if batch_size < 1:
        raise SelectionError(f"batch_size must be >= 1, got {batch_size}")
    kwargs["format"] = "numpy"
    tw, th = (tile_size, tile_size) if isinstance(tile_size, int) else (tile_size or ts.tile_size)
    batch: list[np.ndarray[Any, Any]] = []
    infos: list[dict[str, Any]] = []
    for info in tile_iterator(ts, tile_size, overlap, **kwargs):
        tile = info.pop("tile")
        if tile.shape[:2] != (th, tw):
            tile = pad_tile(tile, th, tw, "pad")
        batch.append(tile)
        infos.append(info)
        if len(batch) == batch_size:
            yield np.stack(batch), infos
            batch, infos = [], []
    if batch:
        yield np.stack(batch), infos
