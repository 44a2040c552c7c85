"""One scene of an :class:`imgio.ImageFile` as napari layer data: lazy levels, µm, colours.

Singleton dims are dropped except Y and X, and Y too for an x-z scan (one row per Z
plane, or a file without Y such as a LIF x-t scan): napari then draws Z (T) against X,
each with its own µm scale, instead of a one-pixel strip. Contrast limits read the
smallest level only (see :mod:`imgio._display`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .._display import channel_rgb, contrast_limits

if TYPE_CHECKING:
    from ..arrays import ImageFile
    from ..readers.base import SceneInfo

__all__ = ["LayerData", "is_label", "kept_dims", "scene_arrays", "scene_layers", "stem"]

LayerData = tuple[Any, dict[str, Any], str]

#: napari's built-in colormaps for pure channel colors (RGB, alpha ignored)
NAMED = {
    (255, 0, 0): "red",
    (0, 255, 0): "green",
    (0, 0, 255): "blue",
    (255, 0, 255): "magenta",
    (0, 255, 255): "cyan",
    (255, 255, 0): "yellow",
    (255, 255, 255): "gray",
}
_UNITS = {"Z": "micrometer", "Y": "micrometer", "X": "micrometer", "T": "second"}
_GENERIC = re.compile(r"Channel:\d+(:\d+)?$")  # names imgio or tifffile make up


def stem(path: str) -> str:
    """A file's name without its suffixes (``demo`` for ``.../demo.ome.tif``)."""
    return os.path.basename(path.rstrip("/\\")).split(".")[0] or path


def is_label(scene: str) -> bool:
    """OME-Zarr label images are scenes named ``labels/<name>`` or ``<image>/labels/<name>``."""
    return scene.startswith("labels/") or "/labels/" in scene


def kept_dims(file: ImageFile, scene: int) -> tuple[str, list[str]]:
    """The presented dims of ``scene`` and those a layer keeps (see the module's doc)."""
    info = file.infos()[scene]
    dims = file.presented(scene)[0]
    shapes = [file.presented(scene, level)[1] for level in range(info.n_levels)]
    keep = [d for i, d in enumerate(dims) if d in "YX" or any(shape[i] != 1 for shape in shapes)]
    flat_y = all(shape[dims.index("Y")] == 1 for shape in shapes)
    planes = [d for d in keep if d not in "CS"]
    if flat_y and ("Z" in keep or "Y" not in info.dims) and len(planes) > 2 and "S" not in keep:
        keep.remove("Y")  # an x-z scan (or x-t without a Y in the file): Z (T) against X
    return dims, keep


def scene_arrays(file: ImageFile, scene: int) -> list[Any]:
    """Every level of ``scene`` as a lazy dask array over the dims :func:`kept_dims` keeps."""
    dims, keep = kept_dims(file, scene)
    index = tuple(slice(None) if d in keep else 0 for d in dims)
    return [file.dataarray(scene, lvl).data[index] for lvl in range(file.n_levels(scene))]


def scene_layers(file: ImageFile, scene: int, *, suffix: str = "") -> LayerData:
    """``scene`` as one napari layer data tuple: all levels, ``channel_axis`` when C > 1.

    ``suffix`` (e.g. ``" [scene 2]"``) is appended to the layer names. ``scale`` and
    ``translate`` are in µm (Z, Y, X) and seconds (T) where the file says, else 1 and 0.
    """
    info = file.infos()[scene]
    dims, keep = kept_dims(file, scene)
    data = scene_arrays(file, scene)
    full = file.dataarray(scene, 0)
    sizes = dict(zip(dims, full.shape, strict=True))
    rgb = "S" in keep and sizes["S"] in (3, 4)
    spatial = [d for d in keep if d != "C" and not (rgb and d == "S")]  # the layer's own axes
    kwargs: dict[str, Any] = {
        "multiscale": len(data) > 1,
        "scale": [_step(info, d) for d in spatial],
        "translate": [_origin(full, d) for d in spatial],
        "axis_labels": spatial,
        "units": [_UNITS[d] if _known(info, d) else "pixel" for d in spatial],
        "metadata": {
            "path": file.path,
            "scene": info.name,
            "scene_index": scene,
            "reader": file.reader.name,
            "dims": "".join(d for d in keep if d != "C"),
            "level_shapes": [tuple(int(n) for n in a.shape) for a in data],
        },
    }
    out = data if len(data) > 1 else data[0]
    if is_label(info.name) and sizes.get("C", 1) == 1 and info.dtype.kind in "iub":
        kwargs["name"] = label_name(info.name) + suffix
        kwargs.update(_label_style(info.label_table))
        return (out, kwargs, "labels")
    _names_and_colors(file, scene, keep, rgb, suffix, kwargs)
    return (out, kwargs, "image")


def label_name(scene: str) -> str:
    """``cells`` for the label scenes ``labels/cells`` and ``image/labels/cells``."""
    return scene.rpartition("/labels/")[2].removeprefix("labels/")


def _names_and_colors(
    file: ImageFile, scene: int, keep: list[str], rgb: bool, suffix: str, kwargs: dict[str, Any]
) -> None:
    info = file.infos()[scene]
    names = list(info.channel_names) if info.channel_names else None
    n_channels = file.sizes(scene).get("C", 1)
    if "C" in keep:
        kwargs["channel_axis"] = keep.index("C")
        labels = names or [f"Channel:{c}" for c in range(n_channels)]
        kwargs["name"] = [f"{c}{suffix}" for c in labels]
    elif names and not _GENERIC.match(names[0]):
        kwargs["name"] = names[0] + suffix
    else:  # an unnamed channel (or RGB): the scene, or the file when it has one scene
        kwargs["name"] = info.name if suffix else stem(file.path)
    if rgb:
        kwargs["rgb"] = True
        return
    colormaps = [_colormap(c) for c in channel_rgb(names, info.channel_colors, n_channels)]
    kwargs["colormap"] = colormaps if "C" in keep else colormaps[0]
    smallest = file.lazy_dataarray(scene, info.n_levels - 1)  # reads covering tiles only
    limits = contrast_limits(file.metadata, scene, info.dtype, smallest)
    if limits is not None:
        kwargs["contrast_limits"] = limits if "C" in keep else limits[0]


def _label_style(table: Mapping[int, Mapping[str, Any]] | None) -> dict[str, Any]:
    """A Labels layer's ``colormap`` (the file's colours) and ``features`` (its properties)."""
    if not table:
        return {}
    out: dict[str, Any] = {}
    colors = {v: row["rgba"] for v, row in table.items() if "rgba" in row}
    if colors:
        from napari.utils.colormaps import DirectLabelColormap

        mapping: dict[int | None, Any] = {
            v: np.asarray(rgba, dtype=float) / 255 for v, rgba in colors.items()
        }
        mapping[None] = np.zeros(4)  # values the file gives no colour: transparent
        mapping.setdefault(0, np.zeros(4))
        out["colormap"] = DirectLabelColormap(color_dict=mapping)
    keys = sorted({k for row in table.values() for k in row if k != "rgba"})
    if keys:
        values = sorted(table)
        features: dict[str, list[Any]] = {"index": values}
        for key in keys:
            features[key] = [table[v].get(key) for v in values]
        out["features"] = features
    return out


def _step(info: SceneInfo, d: str) -> float:
    if d == "T":
        return float(info.time_interval) if info.time_interval else 1.0
    if d in "ZYX":
        size = info.pixel_sizes["ZYX".index(d)]
        if size:
            return float(size)
    return 1.0


def _known(info: SceneInfo, d: str) -> bool:
    if d == "T":
        return bool(info.time_interval)
    return d in "ZYX" and bool(info.pixel_sizes["ZYX".index(d)])


def _origin(full: Any, d: str) -> float:
    if d in "TZYX" and d in full.coords and full.coords[d].size:
        value = full.coords[d].values[0]
        if np.issubdtype(np.asarray(value).dtype, np.number):
            return float(value)
    return 0.0


def _colormap(rgb: tuple[int, int, int]) -> Any:
    """napari's named colormap for a pure colour, else a black-to-colour ramp."""
    return NAMED.get(rgb) or _custom_colormap(rgb)


def _custom_colormap(rgb: tuple[int, int, int]) -> Any:
    from napari.utils.colormaps import Colormap

    hexa = "#{:02x}{:02x}{:02x}".format(*rgb)
    top = [v / 255 for v in rgb] + [1.0]
    return Colormap([[0.0, 0.0, 0.0, 1.0], top], name=f"imgio{hexa}", display_name=hexa)
