"""An HCS plate as one grid: each well's first field at its row and column.

As napari-ome-zarr draws plates: the first field of every well, tiled into one lazy
array per level (missing wells are zeros), so a 384-well plate is still one layer per
channel and every pyramid level stays lazy. Wells of different shapes, dims or dtypes
cannot share one array: they become a layer group per well, translated to their place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._layers import LayerData, kept_dims, scene_arrays, scene_layers, stem

if TYPE_CHECKING:
    from ..arrays import ImageFile

__all__ = ["plate_layers"]


def first_fields(file: ImageFile, scenes: list[int]) -> dict[tuple[int, int], int]:
    """(row, column) -> the scene of each well's first field."""
    out: dict[tuple[int, int], int] = {}
    for s in scenes:
        well = file.infos()[s].well
        if well is not None and well not in out:
            out[well] = s
    return out


def plate_layers(file: ImageFile, scenes: list[int]) -> list[LayerData]:
    """The plate's wells as one grid (a layer per channel), or translated per-well layers."""
    wells = first_fields(file, scenes)
    first = next(iter(wells.values()))
    facts = {_facts(file, s) for s in wells.values()}
    if len(facts) > 1:
        return _translated(file, wells)
    data, kwargs, kind = scene_layers(file, first)
    levels = [_grid(file, wells, lvl) for lvl in range(file.n_levels(first))]
    kwargs["name"] = _renamed(kwargs["name"], stem(file.path))
    kwargs["metadata"] = {
        **kwargs["metadata"],
        "plate": {f"{r},{c}": file.scene_names[s] for (r, c), s in wells.items()},
        "level_shapes": [tuple(int(n) for n in a.shape) for a in levels],
    }
    return [(levels if len(levels) > 1 else levels[0], kwargs, kind)]


def _facts(file: ImageFile, scene: int) -> tuple[Any, ...]:
    """What wells must share to be tiled into one array."""
    dims, keep = kept_dims(file, scene)
    levels = tuple(a.shape for a in scene_arrays(file, scene))
    return (tuple(keep), levels, str(file.dtype(scene)))


def _grid(file: ImageFile, wells: dict[tuple[int, int], int], level: int) -> Any:
    import dask.array as da

    first = next(iter(wells.values()))
    _, keep = kept_dims(file, first)
    y, x = keep.index("Y"), keep.index("X")
    template = scene_arrays(file, first)[level]
    n_rows = max(r for r, _ in wells) + 1
    n_cols = max(c for _, c in wells) + 1
    rows = []
    for r in range(n_rows):
        tiles = []
        for c in range(n_cols):
            s = wells.get((r, c))
            if s is None:
                tiles.append(da.zeros_like(template))  # type: ignore[no-untyped-call]
            else:
                tiles.append(scene_arrays(file, s)[level])
        rows.append(da.concatenate(tiles, axis=x))  # type: ignore[no-untyped-call]
    return da.concatenate(rows, axis=y)  # type: ignore[no-untyped-call]


def _translated(file: ImageFile, wells: dict[tuple[int, int], int]) -> list[LayerData]:
    """One layer group per well, moved to its row and column (wells of unequal shapes)."""
    pitch_y = pitch_x = 0.0
    groups = []
    for s in wells.values():
        data, kwargs, kind = scene_layers(file, s, suffix=f" [{file.scene_names[s]}]")
        axes = kwargs["axis_labels"]
        full = data[0] if kwargs["multiscale"] else data
        shape = [n for i, n in enumerate(full.shape) if i != kwargs.get("channel_axis", -1)]
        pitch_y = max(pitch_y, shape[axes.index("Y")] * kwargs["scale"][axes.index("Y")])
        pitch_x = max(pitch_x, shape[axes.index("X")] * kwargs["scale"][axes.index("X")])
        groups.append((data, kwargs, kind))
    for (r, c), (_, kwargs, _) in zip(wells, groups, strict=True):
        axes = kwargs["axis_labels"]
        kwargs["translate"][axes.index("Y")] += r * pitch_y
        kwargs["translate"][axes.index("X")] += c * pitch_x
    return groups


def _renamed(name: Any, plate: str) -> Any:
    """Layer names of a plate: the channel names, with the plate's name when unnamed."""
    return name if isinstance(name, list) else (name or plate)
