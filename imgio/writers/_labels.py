"""NGFF label images: ``labels/<name>`` beside an image in the same OME-Zarr.

Each label image is a multiscale of integer values with the image's T, Z, Y, X (C of 1),
reduced by nearest neighbour (a label value is never averaged into another), with the
image's scales, and ``image-label`` metadata: a colour and properties per label value
(``area`` in pixels unless given) and ``source`` pointing back at the image.

>>> imgio.write(img, "out.ome.zarr", labels={"cells": mask})  # doctest: +SKIP
>>> imgio.write(img, "out.ome.zarr", labels={"cells": {"data": mask,  # doctest: +SKIP
...     "colors": {1: (255, 0, 0, 255)}, "properties": {1: {"class": "nucleus"}}}})
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImgioError
from ._input import Scene, standardize

if TYPE_CHECKING:
    import zarr

__all__ = ["AREA", "label_color", "write_labels"]

#: the property every written label value gets: its pixel count (computed at write time)
AREA = "area (pixels)"


def label_color(value: int) -> list[int]:
    """A distinct, stable RGBA colour for a label value (golden-ratio hues)."""
    hue = (int(value) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return [round(r * 255), round(g * 255), round(b * 255), 255]


def _label_scene(name: str, spec: Any, image: Scene) -> tuple[Scene, dict[str, Any]]:
    """Standardize one label spec (an array, or a mapping with ``data``) against the image."""
    options = dict(spec) if isinstance(spec, Mapping) else {"data": spec}
    if "data" not in options:
        raise ImgioError(f"labels[{name!r}]: expected an array or a mapping with 'data'")
    data = options["data"]
    dims = options.get("dims")
    if dims is None and not hasattr(data, "dims"):  # no channels: 3-d is Z Y X, never Y X S
        dims = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TCZYX"}.get(np.ndim(data))
    scene = standardize(data, dims=dims, name=name)
    want = dict(zip(image.dims, image.data.shape, strict=True))
    got = dict(zip(scene.dims, scene.data.shape, strict=True))
    if got.get("C", 1) != 1 or "S" in got or any(got[d] != want[d] for d in "TZYX"):
        raise ImgioError(
            f"labels[{name!r}] has shape {got}; expected the image's T, Z, Y, X "
            f"{ {d: want[d] for d in 'TZYX'} } and no channels"
        )
    kind = np.dtype(scene.data.dtype).kind
    if kind not in "uib":
        raise ImgioError(
            f"labels[{name!r}]: expected integer label values, found {scene.data.dtype}"
        )
    if kind == "b":
        scene.data = scene.data.astype(np.uint8)
    return scene, options


def _metadata(scene: Scene, options: Mapping[str, Any], version: str) -> dict[str, Any]:
    import dask.array as da

    colors = options.get("colors")
    properties = options.get("properties")
    values, counts = da.compute(*da.unique(scene.array, return_counts=True))  # type: ignore[no-untyped-call]
    present = [int(v) for v in values if v != 0]
    area = {int(v): int(c) for v, c in zip(values, counts, strict=True)}
    color_map = (
        {int(k): list(v) for k, v in colors.items()}
        if colors is not None
        else {v: label_color(v) for v in present}
    )
    props = []
    for v in sorted(set(present) | set((properties or {}).keys())):
        entry = {"label-value": int(v), AREA: area.get(int(v), 0)}
        entry.update((properties or {}).get(v, {}))
        props.append(entry)
    return {
        **({"version": version} if version == "0.4" else {}),
        "colors": [{"label-value": k, "rgba": rgba} for k, rgba in sorted(color_map.items())],
        "properties": props,
        "source": {"image": "../../"},
    }


def write_labels(
    group: zarr.Group,
    labels: Mapping[str, Any],
    image: Scene,
    *,
    version: str,
    chunks: tuple[int, ...],
    n_levels: int,
    compression: str | None,
    quality: int | None,
    progress: Callable[[], None] | None = None,
) -> list[str]:
    """Write ``labels`` (name -> array or spec) under ``group/labels``; their names."""
    from ._ngff_attrs import write_image_attrs
    from ._zarr_levels import _store, build_levels, create_level

    prepared = [(str(name), *_label_scene(str(name), spec, image)) for name, spec in labels.items()]
    parent = group.create_group("labels")
    names = [name for name, *_ in prepared]
    if version == "0.4":
        parent.attrs.update({"labels": names})
    else:
        parent.attrs.update({"ome": {"version": "0.5", "labels": names}})
    for name, scene, options in prepared:
        sub = parent.create_group(name)
        arr = scene.array
        first = create_level(
            sub, "0", arr.shape, arr.dtype, "TCZYX", chunks, version=version,
            compression=compression, quality=quality,
        )  # fmt: skip
        _store(arr, first, progress)
        shapes = build_levels(sub, "TCZYX", n_levels, "nearest", progress)
        write_image_attrs(
            sub,
            version=version,
            dims="TCZYX",
            shapes=shapes,
            name=name,
            channel_names=None,
            pixel_sizes=tuple(image.pixel_sizes),
            origin=image.origin,
            method="nearest",
        )
        meta = _metadata(scene, options, version)
        attrs: dict[str, Any] = dict(sub.attrs)
        if version == "0.4":
            attrs.pop("omero", None)
            attrs["image-label"] = meta
        else:
            ome: dict[str, Any] = dict(attrs["ome"])
            ome.pop("omero", None)
            ome["image-label"] = meta
            attrs["ome"] = ome
        sub.attrs.put(attrs)
    return names
