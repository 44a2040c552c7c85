"""Instances -> scenes and levels: the layout of a slide, built from headers only.

VOLUME instances of one series become the levels of one scene, ordered by size
(instances of the same size are one level: concatenations, or focal planes and
optical paths stored apart). Each level maps (optical path, focal plane, tile row,
tile column) to (instance, frame); a tile no frame covers is missing and reads as
the background. THUMBNAIL, LABEL and OVERVIEW instances become associated scenes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._limits import check_geometry
from ...dims import PhysicalPixelSizes
from ...errors import CorruptFileError, ImgioWarning
from ..base import SceneInfo
from ._header import ASSOCIATED, Instance

__all__ = ["LevelLayout", "SceneLayout", "build_scenes"]

#: most grid cells (paths x planes x tiles) one level may declare
MAX_CELLS = 1 << 25


@dataclass(frozen=True)
class LevelLayout:
    """One level: its instances (indices into the reader's list) and frame grid."""

    instances: tuple[int, ...]
    rows: int
    cols: int
    tile: tuple[int, int]
    grid: np.ndarray[Any, Any]  # (C, Z, tile rows, tile cols): instance << 32 | frame, or -1
    spacing_mm: tuple[float, float] | None
    #: frames off the tile grid (TILED_SPARSE): rows of (C, Z, row, column, instance << 32 |
    #: frame) in paste order, the grid then stays empty; None when every frame is on the grid
    placed: np.ndarray[Any, Any] | None = None


@dataclass(frozen=True)
class SceneLayout:
    """One scene: dims, dtype, background and its levels."""

    info: SceneInfo
    levels: tuple[LevelLayout, ...]
    samples: int
    dtype: np.dtype[Any]
    background: int


def _background(inst: Instance) -> int:
    if inst.padding is not None and 0 <= inst.padding <= np.iinfo(inst.dtype).max:
        return inst.padding
    return int(np.iinfo(inst.dtype).max) if inst.samples > 1 else 0


def _z_values(group: Sequence[Instance]) -> list[float]:
    values: set[float] = set()
    for inst in group:
        finite = inst.z[~np.isnan(inst.z)]
        values.update(round(float(v), 6) for v in np.unique(finite))
    return sorted(values) or [math.nan]


def _z_index(
    z: np.ndarray[Any, Any], zs: list[float], zindex: dict[float, int]
) -> np.ndarray[Any, Any]:
    """Each frame's focal plane index (0 where the frame gives none)."""
    if len(zs) == 1:
        return np.zeros(len(z), dtype=np.int64)
    return np.asarray(
        [0 if math.isnan(v) else zindex[round(float(v), 6)] for v in z], dtype=np.int64
    )


def _level(
    members: list[tuple[int, Instance]], paths: list[str], zs: list[float], where: str
) -> LevelLayout:
    first = members[0][1]
    tr, tc = first.tile_rows, first.tile_cols
    rows, cols = first.total_rows, first.total_cols
    gy, gx = -(-rows // tr), -(-cols // tc)
    cells = len(paths) * len(zs) * gy * gx
    dims = "CZYX"
    check_geometry(where, (len(paths), len(zs), rows, cols), (1, 1, tr, tc), first.samples, dims)
    if cells > MAX_CELLS:
        raise CorruptFileError(
            f"{where}: {cells} tiles ({len(paths)} paths x {len(zs)} planes x {gy} x {gx}); "
            f"expected at most {MAX_CELLS}"
        )
    grid = np.full((len(paths), len(zs), gy, gx), -1, dtype=np.int64)
    zindex = {z: i for i, z in enumerate(zs)}
    for _, inst in members:
        if (inst.tile_rows, inst.tile_cols) != (tr, tc):
            raise CorruptFileError(
                f"{inst.where}: tiles of {inst.tile_rows} x {inst.tile_cols}; the other "
                f"instances of its {rows} x {cols} level have {tr} x {tc}"
            )
        bad = (inst.rows < 0) | (inst.rows >= rows) | (inst.cols < 0) | (inst.cols >= cols)
        if bad.any():
            f = int(np.flatnonzero(bad)[0])
            raise CorruptFileError(
                f"{inst.where}: frame {f + 1} at row {int(inst.rows[f]) + 1}, column "
                f"{int(inst.cols[f]) + 1} lies outside the {rows} x {cols} pixel matrix"
            )
    off_grid = any(
        ((inst.rows % tr) != 0).any() or ((inst.cols % tc) != 0).any() for _, inst in members
    )
    placed = []
    for k, inst in members:
        if inst.n_frames == 0:
            continue
        pmap = np.asarray([paths.index(p) for p in inst.paths], dtype=np.int64)
        c = pmap[inst.path_of_frame]
        z = _z_index(inst.z, zs, zindex)
        codes = (np.int64(k) << 32) | np.arange(inst.n_frames, dtype=np.int64)
        if off_grid:
            placed.append(np.stack((c, z, inst.rows, inst.cols, codes), axis=1))
        else:
            grid[c, z, inst.rows // tr, inst.cols // tc] = codes
    return LevelLayout(
        instances=tuple(k for k, _ in members),
        rows=rows,
        cols=cols,
        tile=(tr, tc),
        grid=grid,
        spacing_mm=first.spacing_mm,
        placed=np.concatenate(placed).astype(np.int64) if placed else None,
    )


def _channels(
    group: Sequence[Instance], paths: list[str]
) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    by_id = {p.identifier: p for inst in group for p in inst.optical_paths}
    names, colors = [], []
    for p in paths:
        found = by_id.get(p)
        names.append(found.description if found and found.description else p)
        colors.append(found.color if found else None)
    return tuple(names), tuple(colors)


def _volume_scene(
    name: str, group: list[tuple[int, Instance]], associated: str | None
) -> SceneLayout:
    insts = [inst for _, inst in group]
    first = insts[0]
    for inst in insts:
        if (inst.samples, inst.dtype) != (first.samples, first.dtype):
            raise CorruptFileError(
                f"{inst.where}: {inst.samples} samples of {inst.dtype}; the rest of its series "
                f"has {first.samples} of {first.dtype}"
            )
    paths: list[str] = []
    for inst in sorted(insts, key=lambda i: -i.total_rows * i.total_cols):
        paths += [p for p in inst.paths if p not in paths]
    zs = _z_values(insts)
    sizes: dict[tuple[int, int], list[tuple[int, Instance]]] = {}
    for k, inst in group:
        sizes.setdefault((inst.total_rows, inst.total_cols), []).append((k, inst))
    order = sorted(sizes, key=lambda s: (-s[0] * s[1], -s[1]))
    levels = tuple(_level(sizes[s], paths, zs, f"{first.where} ({name})") for s in order)
    dims = ("C" if len(paths) > 1 else "") + ("Z" if len(zs) > 1 else "") + "YX"
    dims += "S" if first.samples > 1 else ""
    lead = (len(paths),) * (len(paths) > 1) + (len(zs),) * (len(zs) > 1)
    tail = (first.samples,) * (first.samples > 1)
    shapes = tuple(lead + (lv.rows, lv.cols) + tail for lv in levels)
    z_step = zs[1] - zs[0] if len(zs) > 1 else None
    scales = tuple(
        ({"Z": z_step} if z_step else {})
        | (
            {"Y": lv.spacing_mm[0] * 1000.0, "X": lv.spacing_mm[1] * 1000.0}
            if lv.spacing_mm
            else {}
        )
        for lv in levels
    )
    s0 = scales[0]
    channel_names, colors = _channels(insts, paths) if len(paths) > 1 else (None, None)
    info = SceneInfo(
        name=name,
        dims=dims,
        shapes=shapes,
        dtype=first.dtype,
        channel_names=channel_names,
        channel_colors=colors,
        pixel_sizes=PhysicalPixelSizes(z_step, s0.get("Y"), s0.get("X")),
        origin={"Z": zs[0]} if len(zs) > 1 else {},
        level_scales=scales if all(lv.spacing_mm for lv in levels) else None,
        associated=associated,
    )
    return SceneLayout(info, levels, first.samples, first.dtype, _background(first))


def build_scenes(instances: Sequence[Instance], where: str) -> list[SceneLayout]:
    """Scenes of a set of instances: one per series with VOLUME instances, then associated.

    Raises
    ------
    CorruptFileError
        No instance to show, or a series whose instances disagree.
    """
    series: dict[str, list[tuple[int, Instance]]] = {}
    extra: list[tuple[int, Instance]] = []
    for k, inst in enumerate(instances):
        if inst.flavor == "VOLUME":
            series.setdefault(inst.series_uid, []).append((k, inst))
        else:
            extra.append((k, inst))
    scenes: list[SceneLayout] = []
    for i, group in enumerate(series.values()):
        desc = group[0][1].series_description
        name = desc if desc and len(series) > 1 else f"Image:{i}"
        try:
            scenes.append(_volume_scene(name, group, None))
        except CorruptFileError as exc:
            if len(series) == 1:
                raise
            warnings.warn(
                f"series {group[0][1].series_uid} skipped: {exc}", ImgioWarning, stacklevel=3
            )
    for k, inst in extra:
        kind = ASSOCIATED[inst.flavor]
        scenes.append(_volume_scene(kind, [(k, inst)], kind if scenes else None))
    if not scenes:
        raise CorruptFileError(f"{where}: no whole-slide image instance found")
    return scenes
