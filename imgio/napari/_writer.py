"""The npe2 writers: image layers (with Labels beside them) and Labels layers on their own.

Image layers go to ``.ome.tif(f)``/``.tif(f)`` or ``.ome.zarr``/``.zarr`` through
:func:`imgio.write`: one layer is one image, several of one shape its channels. Labels
saved with images become NGFF ``labels/<name>`` beside the image (OME-Zarr). A Labels
layer saved on its own becomes an integer image with a nearest-neighbour pyramid (a
TIFF), or in OME-Zarr that image plus its ``labels/<name>`` with the layer's colours and
features as ``image-label`` metadata, so that napari-ome-zarr and imgio open it as Labels.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ImgioError
from ._layers import NAMED, LayerData

__all__ = ["write_images", "write_labels"]


def _zarr(path: str) -> bool:
    from ..writers import ZARR_SUFFIXES

    return path.rstrip("/\\").lower().endswith(ZARR_SUFFIXES)


def write_images(path: str, layer_data: Sequence[LayerData]) -> list[str]:
    """npe2 writer: image layers (and Labels layers beside them) through :func:`imgio.write`.

    One layer is one image; several layers (same shape and dtype) become its channels,
    named after the layers. A multiscale layer is written from its level 0 (the writer
    builds its own pyramid). ``scale`` is taken as µm for Z/Y/X unless its unit says pixels.

    Raises
    ------
    ImgioError
        Layers of different shapes, or Labels beside an image in a TIFF.
    """
    images = [item for item in layer_data if item[2] != "labels"]
    if not images:
        raise ImgioError(f"nothing to write to {path!r}: no image layers given")
    labels = {
        _name(meta, f"labels{k}"): _label_spec(data, meta)
        for k, (data, meta, kind) in enumerate(layer_data)
        if kind == "labels"
    }
    if labels and not _zarr(path):
        raise ImgioError(
            f"cannot save Labels layers beside an image in {os.path.basename(path)!r}: "
            "label images live in OME-Zarr (.ome.zarr); save the Labels layer on its own "
            "to write it as a TIFF"
        )
    xarr, sizes = _stacked(images)
    from ..writers import write

    written = write(
        xarr,
        path,
        channel_names=list(xarr.coords["C"].values),
        physical_pixel_sizes=tuple(sizes.get(d) for d in "ZYX"),
        overwrite=True,
        labels=labels or None,
    )
    return [os.fspath(written)]


def write_labels(path: str, data: Any, meta: Mapping[str, Any]) -> list[str]:
    """npe2 writer: one Labels layer on its own (a TIFF, or OME-Zarr with ``labels/<name>``).

    Raises
    ------
    ImgioError
        A layer that is not integer labels.
    """
    name = _name(meta, "labels")
    spec = _label_spec(data, meta)
    mask = spec["data"]
    if np.dtype(mask.dtype).kind not in "iub":
        raise ImgioError(f"Labels layer {name!r}: expected integer values, found {mask.dtype}")
    dims = _layer_dims(meta, mask.ndim)
    sizes, _ = _physical(meta, dims)
    from ..writers import write

    written = write(
        mask,
        path,
        dims=dims,
        channel_names=[name],
        physical_pixel_sizes=tuple(sizes.get(d) for d in "ZYX"),
        downsample="nearest",
        overwrite=True,
        labels={name: {**spec, "dims": dims}} if _zarr(path) else None,
    )
    return [os.fspath(written)]


def _name(meta: Mapping[str, Any], default: str) -> str:
    return str(meta.get("name") or default)


def _label_spec(data: Any, meta: Mapping[str, Any]) -> dict[str, Any]:
    """``imgio.write``'s label spec of a Labels layer: data, its colours, its features."""
    spec: dict[str, Any] = {"data": _level0(data, meta)}
    colors = _label_colors(meta.get("colormap"))
    if colors:
        spec["colors"] = colors
    properties = _label_properties(meta.get("features"))
    if properties:
        spec["properties"] = properties
    return spec


def _label_colors(colormap: Any) -> dict[int, tuple[int, ...]] | None:
    """A direct label colormap's colours (0-255 RGBA) per value; ``None`` for cyclic ones."""
    mapping = getattr(colormap, "color_dict", None)
    if mapping is None and isinstance(colormap, Mapping):
        mapping = colormap.get("color_dict")
    if not isinstance(mapping, Mapping):
        return None
    out = {}
    for value, rgba in mapping.items():
        if value is None or int(value) == 0:
            continue
        out[int(value)] = tuple(int(round(float(v) * 255)) for v in np.asarray(rgba)[:4])
    return out or None


def _label_properties(features: Any) -> dict[int, dict[str, Any]] | None:
    """A Labels layer's ``features`` table as ``{value: {column: value}}`` (``index`` is
    the label value's column, else the row number is; the area is the writer's to count)."""
    if features is None or not hasattr(features, "to_dict") or len(features) == 0:
        return None
    from ..writers._labels import AREA  # recomputed from the data being written

    rows = features.to_dict(orient="records")
    out: dict[int, dict[str, Any]] = {}
    for i, row in enumerate(rows):
        value = int(row.pop("index", i))
        out[value] = {str(k): _plain(v) for k, v in row.items() if k != AREA}
    return out


def _plain(value: Any) -> Any:
    """A JSON-ready scalar (numpy numbers become Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value


def _stacked(images: Sequence[LayerData]) -> tuple[Any, dict[str, float]]:
    """Image layers as one DataArray (their channels) and their µm sizes."""
    import dask.array as da
    import xarray as xr

    arrays: list[da.Array] = []
    names: list[str] = []
    colors: list[int | None] = []
    first_meta = images[0][1]
    for data, meta, _kind in images:
        level0 = _level0(data, meta)
        arrays.append(level0 if isinstance(level0, da.Array) else da.asarray(level0))  # type: ignore[no-untyped-call]
        names.append(_name(meta, f"Channel:{len(names)}"))
        colors.append(_packed(meta.get("colormap")))
    shapes = {(a.shape, str(a.dtype)) for a in arrays}
    if len(shapes) > 1:
        raise ImgioError(
            f"layers written together become channels of one image and need one shape and dtype; "
            f"found {sorted(shapes)}"
        )
    dims = _layer_dims(first_meta, arrays[0].ndim)
    stack = da.stack(arrays, axis=0) if len(arrays) > 1 else arrays[0][None]  # type: ignore[no-untyped-call]
    sizes, origin = _physical(first_meta, dims)
    coords: dict[str, Any] = {"C": names}
    for d, size in sizes.items():
        coords[d] = origin.get(d, 0.0) + np.arange(stack.shape[1 + dims.index(d)]) * size
    attrs: dict[str, Any] = {}
    if any(c is not None for c in colors):
        attrs["channel_colors"] = tuple(colors)
    scene = names[0]
    if len(names) > 1:  # channels of one image: keep the scene name they were read from
        scene = str(_our(first_meta).get("scene") or names[0])
    return xr.DataArray(stack, dims=["C", *dims], coords=coords, attrs=attrs, name=scene), sizes


def _level0(data: Any, meta: Mapping[str, Any]) -> Any:
    """Full resolution of a layer's data (a multiscale layer's first level)."""
    return data[0] if meta.get("multiscale") or isinstance(data, (list, tuple)) else data


def _layer_dims(meta: Mapping[str, Any], ndim: int) -> str:
    """Dims letters of a layer: ours from the reader, napari's axis labels, else a guess."""
    ours = _our(meta).get("dims")
    if isinstance(ours, str) and len(ours) == ndim and "C" not in ours:
        return ours
    rgb = bool(meta.get("rgb"))
    labels = [str(a).upper() for a in meta.get("axis_labels") or ()]
    spatial_ndim = ndim - 1 if rgb else ndim
    known = set("TZYXQPMHIRVEAL")
    if len(labels) == spatial_ndim == len(set(labels)) and set(labels) <= known:
        return "".join(labels) + ("S" if rgb else "")
    guess = "TZYX"[-spatial_ndim:] if spatial_ndim <= 4 else "QPMHI"[: spatial_ndim - 4] + "TZYX"
    return guess + ("S" if rgb else "")


def _our(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``metadata`` this reader gave the layer (empty for other layers)."""
    value = meta.get("metadata")
    return value if isinstance(value, Mapping) else {}


def _physical(meta: Mapping[str, Any], dims: str) -> tuple[dict[str, float], dict[str, float]]:
    """µm sizes and origins of Z/Y/X from the layer's scale/translate (skipping pixel units)."""
    axes = [d for d in dims if d != "S"]
    scale = list(meta.get("scale") or [1.0] * len(axes))
    translate = list(meta.get("translate") or [0.0] * len(axes))
    units = [str(u) for u in meta.get("units") or ()]
    sizes: dict[str, float] = {}
    origin: dict[str, float] = {}
    for i, d in enumerate(axes):
        if d not in "ZYX" or i >= len(scale):
            continue
        unit = units[i] if i < len(units) else "pixel"
        pixels = unit.strip().lower() in ("pixel", "pixels", "px", "")
        if pixels and float(scale[i]) == 1.0:
            continue
        # napari's default unit is "pixel": a scale set without a unit is taken as µm (the
        # napari habit); a unit that is not a length is not a calibration
        factor = 1.0 if pixels else _to_micrometre(unit)
        if factor is None:
            continue
        sizes[d] = float(scale[i]) * factor
        if i < len(translate):
            origin[d] = float(translate[i]) * factor
    return sizes, origin


def _to_micrometre(unit: str) -> float | None:
    """µm per ``unit``; ``None`` for units that are not lengths."""
    from .._ome import to_micrometres

    if unit.strip().lower() in ("pixel", "reference frame"):
        return None
    return to_micrometres(1.0, unit.strip())


def _packed(colormap: Any) -> int | None:
    """A packed RGBA int from a layer's colormap (its top color), or ``None`` for gray."""
    colors = getattr(colormap, "colors", None)
    if colors is None and isinstance(colormap, Mapping):
        colors = colormap.get("colors")
    if colors is None and isinstance(colormap, str):
        rgb = {v: k for k, v in NAMED.items()}.get(colormap)
        return None if rgb is None or colormap == "gray" else _pack(rgb)
    if colors is None or len(colors) == 0:
        return None
    top = np.asarray(colors[-1], dtype=float)
    r, g, b = (int(round(float(v) * 255)) for v in top[:3])
    return None if (r, g, b) == (255, 255, 255) else _pack((r, g, b))


def _pack(rgb: tuple[int, int, int]) -> int:
    return (rgb[0] << 24) | (rgb[1] << 16) | (rgb[2] << 8) | 0xFF
