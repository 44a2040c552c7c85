"""napari plugin (npe2, ``napari.yaml``): each scene's ``Image.get_multiscale`` as a layer tuple.

The reader gives one layer (or one ``channel_axis`` group) per scene with every pyramid level
as lazy dask arrays; nothing is decoded while opening except the smallest level (contrast
limits from its percentiles, when the file has no display window; see :mod:`imgio._display`).
A whole slide's associated images (label, macro, thumbnail) are not opened over the slide.
The writer hands image layers to :func:`imgio.write`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._display import channel_rgb, contrast_limits

if TYPE_CHECKING:
    import xarray as xr

    from .image import Image

__all__ = ["get_reader", "layers", "read", "write_images"]

LayerData = tuple[Any, dict[str, Any], str]
PathOrPaths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]

#: napari's built-in colormaps for pure channel colors (RGB, alpha ignored)
_NAMED = {
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
_ZARR_MARKERS = (".zgroup", ".zarray", ".zattrs", "zarr.json")


# ---------------------------------------------------------------------------- reader
def get_reader(path: PathOrPaths) -> Callable[[PathOrPaths], list[LayerData]] | None:
    """npe2 ``get_reader``: :func:`read` when imgio has a reader for every path, else ``None``."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths or not all(_readable(os.fspath(p)) for p in paths):
        return None
    return read


def _readable(path: str) -> bool:
    from ._location import as_location
    from .readers._registry import available_readers, reader_class

    name = path.rstrip("/\\").lower()
    local_dir = "://" not in path and os.path.isdir(path)
    if local_dir and any(os.path.exists(os.path.join(path, m)) for m in _ZARR_MARKERS):
        return True
    for reader in available_readers():
        try:
            cls = reader_class(reader)
        except (ImportError, AttributeError, TypeError):
            continue
        if any(name.endswith(s.lower()) for s in cls.suffixes):
            return True
        if local_dir and cls.sniff_location(as_location(path)):
            return True
    return False


def read(path: PathOrPaths) -> list[LayerData]:
    """Every scene of every path as napari layer data (lazy, multiscale)."""
    from .image import Image

    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    out: list[LayerData] = []
    for p in paths:
        img = Image(os.fspath(p))
        out.extend(layers(img, scene) for scene in _shown_scenes(img))
    return out


def _shown_scenes(img: Image) -> list[int]:
    """Scenes that become layers: a whole slide's label/macro/thumbnail are left out.

    Associated images have their own sizes and (no) calibration: drawn in the slide's
    world they would cover it at a wrong scale (napari also warns of mixed units). They
    stay reachable through ``imgio.Image(path).set_scene("label")``.
    """
    infos = img.reader.scenes()
    shown = [i for i, info in enumerate(infos) if info.associated is None]
    return shown or list(range(len(infos)))


def layers(img: Image, scene: int = 0) -> LayerData:
    """One scene of ``img`` as a napari layer data tuple: all levels, ``channel_axis`` when C > 1.

    Singleton dims (in every level) are dropped except Y and X; ``scale`` and ``translate``
    are in µm (Z, Y, X) and seconds (T) where the file says, else 1 and 0.
    """
    levels = img.get_multiscale(scene)
    info = img.reader.scenes()[scene]
    full = levels[0]
    dims = [str(d) for d in full.dims]
    keep = [d for i, d in enumerate(dims) if d in "YX" or any(lvl.shape[i] != 1 for lvl in levels)]
    index = tuple(slice(None) if d in keep else 0 for d in dims)
    data = [lvl.data[index] for lvl in levels]
    sizes = dict(zip(dims, full.shape, strict=True))
    n_channels = sizes.get("C", 1)
    rgb = "S" in keep and sizes["S"] in (3, 4)
    spatial = [d for d in keep if d != "C" and not (rgb and d == "S")]  # the layer's own axes

    names = list(info.channel_names) if info.channel_names else None
    multi_scene = sum(not _is_label(img.scenes[i]) for i in _shown_scenes(img)) > 1
    kwargs: dict[str, Any] = {
        "multiscale": len(data) > 1,
        "scale": [_step(full, d, info.time_interval) for d in spatial],
        "translate": [_origin(full, d) for d in spatial],
        "axis_labels": spatial,
        "units": [_UNITS[d] if _known(full, d, info.time_interval) else "pixel" for d in spatial],
        "metadata": {
            "path": img.path,
            "scene": info.name,
            "scene_index": scene,
            "reader": img.reader.name,
            "dims": "".join(d for d in keep if d != "C"),
            "level_shapes": [tuple(int(n) for n in a.shape) for a in data],
        },
    }
    if _is_label(info.name) and n_channels == 1 and info.dtype.kind in "iub":
        parent, _, label = info.name.rpartition("/labels/")
        label = label.removeprefix("labels/")
        kwargs["name"] = f"{label} [{parent}]" if multi_scene and parent else label
        return (data if len(data) > 1 else data[0], kwargs, "labels")
    if "C" in keep:
        kwargs["channel_axis"] = keep.index("C")
        labels = names or [f"Channel:{c}" for c in range(n_channels)]
        kwargs["name"] = [f"{c} [{info.name}]" if multi_scene else c for c in labels]
    else:
        if names and not _GENERIC.match(names[0]):
            kwargs["name"] = f"{names[0]} [{info.name}]" if multi_scene else names[0]
        else:  # an unnamed channel (or RGB): the scene, or the file when it has one scene
            kwargs["name"] = info.name if multi_scene else _stem(img.path)
    if rgb:
        kwargs["rgb"] = True
    else:
        colors = channel_rgb(names, info.channel_colors, n_channels)
        colormaps = [_colormap(color) for color in colors]
        kwargs["colormap"] = colormaps if "C" in keep else colormaps[0]
        smallest = img.get_xarray_lazy_data(scene, len(levels) - 1)  # reads covering tiles
        limits = contrast_limits(img.metadata, scene, info.dtype, smallest)
        if limits is not None:
            kwargs["contrast_limits"] = limits if "C" in keep else limits[0]
    return (data if len(data) > 1 else data[0], kwargs, "image")


def _stem(path: str) -> str:
    return os.path.basename(path.rstrip("/\\")).split(".")[0] or path


def _is_label(scene: str) -> bool:
    """OME-Zarr label images are scenes named ``labels/<name>`` or ``<image>/labels/<name>``."""
    return scene.startswith("labels/") or "/labels/" in scene


def _step(full: xr.DataArray, d: str, interval: float | None) -> float:
    if d == "T":
        return float(interval) if interval else 1.0
    if d in "ZYX":
        size = full.attrs.get("pixel_sizes", (None, None, None))["ZYX".index(d)]
        if size:
            return float(size)
    return 1.0


def _known(full: xr.DataArray, d: str, interval: float | None) -> bool:
    if d == "T":
        return bool(interval)
    return d in "ZYX" and bool(full.attrs.get("pixel_sizes", (None, None, None))["ZYX".index(d)])


def _origin(full: xr.DataArray, d: str) -> float:
    if d in "TZYX" and d in full.coords and full.coords[d].size:
        value = full.coords[d].values[0]
        if np.issubdtype(np.asarray(value).dtype, np.number):
            return float(value)
    return 0.0


def _colormap(rgb: tuple[int, int, int]) -> Any:
    """napari's named colormap for a pure colour, else a black-to-colour ramp."""
    return _NAMED.get(rgb) or _custom_colormap(rgb)


def _custom_colormap(rgb: tuple[int, int, int]) -> Any:
    from napari.utils.colormaps import Colormap

    hexa = "#{:02x}{:02x}{:02x}".format(*rgb)
    top = [v / 255 for v in rgb] + [1.0]
    return Colormap([[0.0, 0.0, 0.0, 1.0], top], name=f"imgio{hexa}", display_name=hexa)


# ---------------------------------------------------------------------------- writer
def write_images(path: str, layer_data: Sequence[LayerData]) -> list[str]:
    """npe2 writer: image layers to ``.ome.tif``/``.ome.zarr`` through :func:`imgio.write`.

    One layer is one image; several layers (same shape and dtype) become its channels,
    named after the layers. A multiscale layer is written from its level 0 (the writer
    builds its own pyramid). ``scale`` is taken as µm for Z/Y/X unless its unit says pixels.

    Raises
    ------
    ImgioError
        Layers of different shapes, or a suffix other than ``.ome.tif(f)``/``.ome.zarr``.
    """
    import dask.array as da
    import xarray as xr

    from .errors import ImgioError
    from .writers import write

    labels = {
        str(meta.get("name") or f"labels{k}"): _level0(data, meta)
        for k, (data, meta, kind) in enumerate(layer_data)
        if kind == "labels"
    }  # Labels layers: NGFF labels/<name> beside the image (OME-Zarr)
    layer_data = [item for item in layer_data if item[2] != "labels"]
    if not layer_data:
        raise ImgioError(f"nothing to write to {path!r}: no image layers given")
    arrays: list[da.Array] = []
    names: list[str] = []
    colors: list[int | None] = []
    first_meta = layer_data[0][1]
    for data, meta, _kind in layer_data:
        level0 = _level0(data, meta)
        arrays.append(level0 if isinstance(level0, da.Array) else da.asarray(level0))  # type: ignore[no-untyped-call]
        names.append(str(meta.get("name") or f"Channel:{len(names)}"))
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
    xarr = xr.DataArray(stack, dims=["C", *dims], coords=coords, attrs=attrs, name=scene)
    written = write(
        xarr,
        path,
        channel_names=names,
        physical_pixel_sizes=tuple(sizes.get(d) for d in "ZYX"),
        overwrite=True,
        labels=labels or None,
    )
    return [os.fspath(written)]


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
    from ._ome import to_micrometres

    if unit.strip().lower() in ("pixel", "reference frame"):
        return None
    return to_micrometres(1.0, unit.strip())


def _packed(colormap: Any) -> int | None:
    """A packed RGBA int from a layer's colormap (its top color), or ``None`` for gray."""
    colors = getattr(colormap, "colors", None)
    if colors is None and isinstance(colormap, Mapping):
        colors = colormap.get("colors")
    if colors is None and isinstance(colormap, str):
        rgb = {v: k for k, v in _NAMED.items()}.get(colormap)
        return None if rgb is None or colormap == "gray" else _pack(rgb)
    if colors is None or len(colors) == 0:
        return None
    top = np.asarray(colors[-1], dtype=float)
    r, g, b = (int(round(float(v) * 255)) for v in top[:3])
    return None if (r, g, b) == (255, 255, 255) else _pack((r, g, b))


def _pack(rgb: tuple[int, int, int]) -> int:
    return (rgb[0] << 24) | (rgb[1] << 16) | (rgb[2] << 8) | 0xFF
