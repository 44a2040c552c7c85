"""NGFF image attributes: ``multiscales`` (axes, per-level scale and translation) and
``omero`` channels, and the ``OME`` group (``METADATA.ome.xml``, bioformats2raw series).
A space axis gets a unit only when its pixel size is known: the scale of an axis without a
unit is a placeholder (1.0), not a calibration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import zarr

    from ._input import Scene

__all__ = ["bioformats2raw", "ome_group", "write_image_attrs"]

AXIS_TYPES = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}


def _hex(color: int | None, fallback: str) -> str:
    if color is None:
        return fallback
    return f"{(int(color) & 0xFFFFFFFF) >> 8:06X}"


def _window(dtype: np.dtype[Any]) -> dict[str, float]:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        lo, hi = float(info.min), float(info.max)
    else:
        lo, hi = 0.0, 1.0
    return {"start": lo, "end": hi, "min": lo, "max": hi}


def _windows(group: zarr.Group, dims: str, n_levels: int, n: int) -> list[dict[str, float]]:
    """Per channel display window: ``start``/``end`` are the 0.1/99.9 percentiles of the
    smallest level written (its middle T/Z plane, a central Y/X window when large), as
    imgio's napari reader computes them for a file without one; ``min``/``max`` are the
    dtype's range (the data's for floats). A window of the dtype range would open
    12-bit data nearly black in napari-ome-zarr, OMERO and imgio's own reader."""
    from .._display import central_window, robust_limits

    arr: Any = group[str(n_levels - 1)]
    dtype = np.dtype(str(arr.dtype))
    if dtype.kind == "b":
        return [{"start": 0.0, "end": 1.0, "min": 0.0, "max": 1.0}] * n
    window = central_window(dict(zip(dims, arr.shape, strict=True)))
    index = tuple(window.get(d, slice(None)) for d in dims)
    values = np.moveaxis(np.asarray(arr[index]), dims.index("C"), 0).reshape(n, -1)
    out = []
    for v in values:
        lo, hi = robust_limits(v, dtype)
        full = _window(dtype)
        if dtype.kind == "f":
            finite = v[np.isfinite(v)]
            full["min"], full["max"] = (
                (float(finite.min()), float(finite.max())) if finite.size else (lo, hi)
            )
        out.append({**full, "start": lo, "end": hi})
    return out


def _color(given: int | None, name: str, index: int, n: int) -> str:
    """The file's colour, else the one imgio's readers give such a channel: by fluorophore
    name (DAPI blue, ``red``/``green``/``blue`` samples...), white alone, else a cycle."""
    from .._colors import default_color

    rgb = default_color(name, index, n)
    return _hex(given, "{:02X}{:02X}{:02X}".format(*rgb))


def write_image_attrs(
    group: zarr.Group,
    *,
    version: str,
    dims: str,
    shapes: Sequence[tuple[int, ...]],
    name: str,
    channel_names: Sequence[str] | None,
    pixel_sizes: Sequence[float | None],
    origin: Mapping[str, float] | None = None,
    channel_colors: Sequence[int | None] | None = None,
    method: str = "mean",
    time_interval: float | None = None,
) -> None:
    """NGFF ``multiscales`` (axes, per-level scale, translation) and ``omero`` channels.

    Z/Y/X get ``micrometer`` and T ``second`` only when their size is known.
    """
    sizes: dict[str, float | None] = dict(zip("ZYX", pixel_sizes, strict=True))
    sizes["T"] = time_interval
    axes = []
    for d in dims:
        axis: dict[str, Any] = {"name": d.lower(), "type": AXIS_TYPES[d]}
        if d in "TZYX" and sizes.get(d) is not None:
            axis["unit"] = "second" if d == "T" else "micrometer"
        axes.append(axis)
    datasets = []
    for level in range(len(shapes)):
        scale = [
            float(sizes.get(d) or 1.0) * (2**level if d in "YX" else 1) if d in "TZYX" else 1.0
            for d in dims
        ]
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
        if origin and any(origin.get(d) for d in dims):
            transforms.append(
                {
                    "type": "translation",
                    "translation": [float((origin or {}).get(d, 0.0)) for d in dims],
                }
            )
        datasets.append({"path": str(level), "coordinateTransformations": transforms})
    multiscale: dict[str, Any] = {
        "name": name,
        "axes": axes,
        "datasets": datasets,
        "type": method,
        "metadata": {"method": f"imgio 2x2 {method}"},
    }
    attrs: dict[str, Any] = {"multiscales": [multiscale]}
    if "C" in dims:
        n = shapes[0][dims.index("C")]
        names = list(channel_names or [f"Channel:{i}" for i in range(n)])
        colors = list(channel_colors or [None] * n)
        windows = _windows(group, dims, len(shapes), n)
        attrs["omero"] = {
            "channels": [
                {
                    "label": str(c),
                    "color": _color(colors[i], str(c), i, n),
                    "active": True,
                    "coefficient": 1,
                    "family": "linear",
                    "inverted": False,
                    "window": windows[i],
                }
                for i, c in enumerate(names)
            ],
            "rdefs": {"model": "color"},
        }
    if version == "0.4":
        multiscale["version"] = "0.4"
        attrs["omero"] = {**attrs.get("omero", {}), "version": "0.4"} if "omero" in attrs else None
        group.attrs.update({k: v for k, v in attrs.items() if v is not None})
    else:
        group.attrs.update({"ome": {"version": "0.5", **attrs}})


def bioformats2raw(root: zarr.Group, scenes: Sequence[Scene], version: str) -> None:
    """Several scenes: the bioformats2raw layout (root attribute, ``OME`` series list)."""
    series = [str(i) for i in range(len(scenes))]
    if version == "0.4":
        root.attrs.update({"bioformats2raw.layout": 3})
    else:
        root.attrs.update({"ome": {"version": "0.5", "bioformats2raw.layout": 3}})
    ome_group(root, scenes, version, series)


def ome_group(
    root: zarr.Group, scenes: Sequence[Scene], version: str, series: list[str] | None = None
) -> None:
    """The ``OME`` group with ``METADATA.ome.xml`` (and the series list of bioformats2raw)."""
    from ._omexml import ome_xml

    ome = root.create_group("OME")
    if series is not None:
        listed = {"series": series}
        ome.attrs.update(listed if version == "0.4" else {"ome": {"version": "0.5", **listed}})
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    data = default_buffer_prototype().buffer.from_bytes(ome_xml(scenes).encode("utf-8"))
    sync(root.store.set("OME/METADATA.ome.xml", data))
