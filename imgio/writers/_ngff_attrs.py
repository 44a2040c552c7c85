"""NGFF image attributes: ``multiscales`` (axes, per-level scale and translation) and
``omero`` channels. A space axis gets a unit only when its pixel size is known: the scale
of an axis without a unit is a placeholder (1.0), not a calibration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import zarr

__all__ = ["write_image_attrs"]

DEFAULT_COLORS = ("FFFFFF",)
MULTI_COLORS = ("FF0000", "00FF00", "0000FF", "FF00FF", "FFFF00", "00FFFF")
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
) -> None:
    """NGFF ``multiscales`` (axes, per-level scale, translation) and ``omero`` channels."""
    sizes = dict(zip("ZYX", pixel_sizes, strict=True))
    axes = []
    for d in dims:
        axis: dict[str, Any] = {"name": d.lower(), "type": AXIS_TYPES[d]}
        if d in "ZYX" and sizes.get(d) is not None:
            axis["unit"] = "micrometer"
        axes.append(axis)
    datasets = []
    for level in range(len(shapes)):
        scale = [
            float(sizes.get(d) or 1.0) * (2**level if d in "YX" else 1) if d in "ZYX" else 1.0
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
        palette = DEFAULT_COLORS if n == 1 else MULTI_COLORS
        colors = list(channel_colors or [None] * n)
        dtype = _level0_dtype(group)
        attrs["omero"] = {
            "channels": [
                {
                    "label": str(c),
                    "color": _hex(colors[i], palette[i % len(palette)]),
                    "active": True,
                    "coefficient": 1,
                    "family": "linear",
                    "inverted": False,
                    "window": _window(np.dtype(str(dtype))),
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


def _level0_dtype(group: zarr.Group) -> Any:
    return getattr(group["0"], "dtype", None)
