"""Scenes, planes, mosaic tiles and pyramid levels from the CZI subblock directory.

Each subblock carries its start and size along every dimension. A scene is one value
of ``S`` (the whole file when there is no ``S``); its planes are the combinations of
the other non-spatial dims (extras such as ``H``/``R``/``I``/``V``, then ``T C Z``);
its tiles sit at their logical ``X``/``Y`` start, relative to the bounding box of the
scene's full-resolution subblocks. Pyramid subblocks (stored size smaller than their
logical size) make the lower levels, one per minification factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._format import MAX_EDGE, PIXEL_TYPES, Directory

__all__ = ["LevelLayout", "SceneLayout", "scene_layouts"]

EXTRA_DIMS = "HRIVB"  # kept as extra axes when the scene has more than one value


@dataclass
class LevelLayout:
    """The tiles of one (scene, level): directory rows, plane ids and level-pixel boxes."""

    factor: int
    shape_yx: tuple[int, int]
    rows: np.ndarray[Any, Any]  # directory row of each tile, in draw order
    plane: np.ndarray[Any, Any]  # plane id of each tile
    y: np.ndarray[Any, Any]
    x: np.ndarray[Any, Any]
    h: np.ndarray[Any, Any]
    w: np.ndarray[Any, Any]


@dataclass
class SceneLayout:
    index: int  # S value (0 when the file has no S)
    plane_dims: str
    plane_shape: tuple[int, ...]
    plane_origin: dict[str, int]  # first start value of each plane dim
    pixel_type: int
    levels: list[LevelLayout]
    tile_positions: list[tuple[int, int]] | None  # level-0 (Y, X) of each M tile

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(PIXEL_TYPES[self.pixel_type][0])

    @property
    def samples(self) -> int:
        return PIXEL_TYPES[self.pixel_type][1]

    @property
    def dims(self) -> str:
        return self.plane_dims + "YX" + ("S" if self.samples > 1 else "")

    def shape(self, level: int) -> tuple[int, ...]:
        tail = (self.samples,) if self.samples > 1 else ()
        return self.plane_shape + self.levels[level].shape_yx + tail


def scene_layouts(d: Directory, *, mosaic: bool) -> list[SceneLayout]:
    """One layout per scene; ``mosaic=False`` puts the tiles of a tile scan on ``M``."""
    if len(d) == 0:
        raise ValueError("the subblock directory is empty")
    if not set(np.unique(d.pixel_type).tolist()) <= set(PIXEL_TYPES):
        i = int(np.flatnonzero(~np.isin(d.pixel_type, list(PIXEL_TYPES)))[0])
        raise ValueError(f"subblock {i} has unknown pixel type {int(d.pixel_type[i])}")
    yx = [d.dims.index("Y"), d.dims.index("X")]
    sizes, stored = d.sizes[:, yx], d.stored[:, yx]
    bad = ((stored < 1) | (stored > MAX_EDGE) | (sizes < stored)).any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        wrong = (stored[i] < 1) | (stored[i] > MAX_EDGE) | (sizes[i] < stored[i])
        k = int(np.flatnonzero(wrong)[0])
        raise ValueError(
            f"subblock {i}: {'YX'[k]} size {int(sizes[i, k])} stored as {int(stored[i, k])} pixels"
        )
    flat = (d.column("X", "sizes") != d.column("X", "stored")) & (d.pyramid_type == 0)
    if flat.any():
        i = int(np.flatnonzero(flat)[0])
        raise ValueError(
            f"subblock {i}: X size {int(d.column('X', 'sizes')[i])} stored as "
            f"{int(d.column('X', 'stored')[i])} pixels, but it is not a pyramid subblock"
        )
    svals = d.column("S")
    return [_scene(d, np.flatnonzero(svals == s), int(s), mosaic) for s in np.unique(svals)]


def _scene(d: Directory, rows: np.ndarray[Any, Any], s: int, mosaic: bool) -> SceneLayout:
    factor = d.column("X", "sizes")[rows] / d.column("X", "stored")[rows]
    base = rows[factor < 1.001]
    if len(base) == 0:
        raise ValueError(f"scene {s} has no full-resolution subblocks")
    types = np.unique(d.pixel_type[base])
    if len(types) > 1:
        raise ValueError(f"scene {s} mixes pixel types {types.tolist()}")
    plane_dims, plane_shape, origin = "", [], {}
    starts = d.starts[base]
    lows, highs = starts.min(axis=0).tolist(), starts.max(axis=0).tolist()
    for dim in EXTRA_DIMS + "TCZ":
        j = d.dims.find(dim)
        lo, n = (lows[j], highs[j] - lows[j] + 1) if j >= 0 else (0, 1)
        if dim in "TCZ" or n > 1:
            plane_dims += dim
            plane_shape.append(n)
            origin[dim] = lo
    if math.prod(plane_shape) > 16 * len(base) + 64:
        raise ValueError(f"scene {s}: {plane_shape} planes for {len(base)} subblocks")
    idx = np.stack([d.column(k)[base] - origin[k] for k in plane_dims], axis=0)
    plane = np.ravel_multi_index(tuple(idx), tuple(plane_shape)).astype(np.int64)
    ys, xs = d.column("Y")[base], d.column("X")[base]
    hs, ws = d.column("Y", "sizes")[base], d.column("X", "sizes")[base]
    by, bx = int(ys.min()), int(xs.min())
    height, width = int((ys + hs).max() - by), int((xs + ws).max() - bx)
    if height * width > max(256 * int((hs * ws).sum()), 1 << 24):
        raise ValueError(f"scene {s}: tiles spread over {height} x {width} pixels")
    # draw order: by M index, then directory order (a later tile covers an earlier one)
    order = np.lexsort((base, d.column("M")[base], plane))
    base, plane = base[order], plane[order]
    counts = np.bincount(plane)
    if not mosaic and counts.max() > 1:
        lay = SceneLayout(s, plane_dims, tuple(plane_shape), origin, int(types[0]), [], None)
        return _tiles_on_m(d, lay, base, plane, (by, bx))
    levels = [_level(d, base, plane, 1, (by, bx), (height, width))]
    pyramid = rows[factor >= 1.001]
    if len(pyramid):
        keys = np.rint(d.column("X", "sizes")[pyramid] / d.column("X", "stored")[pyramid])
        for f in np.unique(keys):
            sub = pyramid[keys == f]
            at = [d.column(k)[sub] - origin[k] for k in plane_dims]
            if any(((v < 0) | (v >= n)).any() for v, n in zip(at, plane_shape, strict=True)):
                continue
            pl = np.ravel_multi_index(tuple(at), tuple(plane_shape)).astype(np.int64)
            if len(np.unique(pl)) != len(np.unique(plane)):
                continue  # this level lacks some planes: not usable as a level
            o = np.lexsort((sub, d.column("M")[sub], pl))
            levels.append(_level(d, sub[o], pl[o], int(f), (by, bx), (height, width)))
    return SceneLayout(s, plane_dims, tuple(plane_shape), origin, int(types[0]), levels, None)


def _level(
    d: Directory,
    rows: np.ndarray[Any, Any],
    plane: np.ndarray[Any, Any],
    f: int,
    box0: tuple[int, int],
    size: tuple[int, int],
) -> LevelLayout:
    y = np.floor((d.column("Y")[rows] - box0[0]) / f + 0.5).astype(np.int64)
    x = np.floor((d.column("X")[rows] - box0[1]) / f + 0.5).astype(np.int64)
    shape = (max(1, -(-size[0] // f)), max(1, -(-size[1] // f)))
    h, w = d.column("Y", "stored")[rows], d.column("X", "stored")[rows]
    return LevelLayout(f, shape, rows, plane, y, x, h, w)


def _tiles_on_m(
    d: Directory,
    lay: SceneLayout,
    base: np.ndarray[Any, Any],
    plane: np.ndarray[Any, Any],
    box0: tuple[int, int],
) -> SceneLayout:
    """The tiles of each plane on a leading ``M`` axis, in draw order."""
    first = np.r_[0, np.flatnonzero(np.diff(plane)) + 1]
    lengths = np.diff(np.r_[first, len(plane)])
    rank = np.arange(len(plane)) - np.repeat(first, lengths)
    n_m = int(lengths.max())
    plane_id = np.unravel_index(plane, lay.plane_shape)
    m_plane = np.ravel_multi_index((rank, *plane_id), (n_m, *lay.plane_shape)).astype(np.int64)
    stored_y, stored_x = d.column("Y", "stored")[base], d.column("X", "stored")[base]
    sel = int(first[int(np.argmax(lengths))])
    tiles = base[sel : sel + n_m]
    ys, xs = d.column("Y")[tiles] - box0[0], d.column("X")[tiles] - box0[1]
    zeros = np.zeros(len(base), np.int64)
    shape = (int(stored_y.max()), int(stored_x.max()))
    level0 = LevelLayout(1, shape, base, m_plane, zeros, zeros, stored_y, stored_x)
    lay.plane_dims = "M" + lay.plane_dims
    lay.plane_shape = (n_m, *lay.plane_shape)
    lay.plane_origin["M"] = 0
    lay.levels = [level0]
    lay.tile_positions = [(int(y), int(x)) for y, x in zip(ys, xs, strict=True)]
    return lay
