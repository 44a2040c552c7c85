"""Display settings for viewers: contrast limits and channel colours of one scene.

Contrast limits come from the file when it stores a display window (NGFF
``omero.channels[].window``), else from robust percentiles of the scene's SMALLEST
pyramid level (a central window of it when even that is large): opening never reads the
full resolution. Colours come from :func:`imgio._colors.resolve_colors` (the file's own,
else by fluorophore name, else a composite cycle).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._colors import resolve_colors

__all__ = [
    "central_window",
    "channel_rgb",
    "contrast_limits",
    "omero_windows",
    "robust_limits",
    "stored_ranges",
]

#: the read for contrast limits covers at most this much of the smallest level; beyond it
#: (a file without a pyramid) a central window of WINDOW x WINDOW pixels per plane
RANGE_BYTES = 8 << 20
WINDOW = 1024
#: percentiles that ignore hot pixels and empty background
LOW, HIGH = 0.1, 99.9


def channel_rgb(
    names: Sequence[str] | None, packed: Sequence[int | None] | None, n: int
) -> list[tuple[int, int, int]]:
    """One ``(r, g, b)`` per channel, as :attr:`imgio.Image.channel_colors` gives them."""
    return resolve_colors(names, packed, n)


def contrast_limits(
    metadata: Any, scene: int, dtype: np.dtype[Any], smallest: Any
) -> list[tuple[float, float]] | None:
    """Per channel ``(low, high)``; ``smallest`` is the smallest level as a lazy DataArray.

    The NGFF ``omero`` window (or the reader's stored display ranges) when the file has
    one, ``(0, 1)`` for booleans, else the 0.1 and 99.9 percentiles of the smallest level
    (NaN ignored), per channel. Pass :meth:`imgio.Image.get_xarray_lazy_data`: its
    selections read only covering tiles.
    """
    n = int(smallest.sizes.get("C", 1))
    windows = omero_windows(metadata, scene, n) or stored_ranges(metadata, scene, n)
    if windows is not None:
        return windows
    if dtype.kind == "b":
        return [(0.0, 1.0)] * n
    if dtype.kind not in "iuf":
        return None
    part = _bounded(smallest)
    values = np.asarray(part.values)
    if "C" in part.dims:
        values = np.moveaxis(values, list(part.dims).index("C"), 0)
    else:
        values = values[None]
    return [robust_limits(v, dtype) for v in values.reshape(n, -1)]


def robust_limits(values: np.ndarray[Any, Any], dtype: np.dtype[Any]) -> tuple[float, float]:
    """The LOW/HIGH percentiles of ``values`` (NaN ignored; a constant: its value + 1)."""
    if values.dtype == np.bool_:  # a mask: percentiles need numbers
        values = values.astype(np.uint8)
    finite = values[np.isfinite(values)] if dtype.kind == "f" else values
    if finite.size == 0:
        return (0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(finite, [LOW, HIGH]))
    if not hi > lo:  # a constant image: show it mid-grey rather than not at all
        lo, hi = float(finite.min()), float(finite.max())
        hi = hi if hi > lo else lo + 1.0
    return (lo, hi)


def _bounded(arr: Any) -> Any:
    """The middle plane of each plane axis and a central Y/X window, when ``arr`` is large."""
    if arr.size * arr.dtype.itemsize <= RANGE_BYTES:
        return arr
    return arr.isel(central_window(arr.sizes))


def central_window(sizes: Mapping[str, int]) -> dict[str, slice]:
    """Per dim: the middle plane of each plane axis, a central ``WINDOW`` of Y and X
    (C and S whole, so left out)."""
    index: dict[str, slice] = {}
    for d, n in sizes.items():
        if d in ("C", "S"):
            continue
        if d in ("Y", "X"):
            start = max(0, n // 2 - WINDOW // 2)
            index[d] = slice(start, start + WINDOW)
        else:
            index[d] = slice(n // 2, n // 2 + 1)
    return index


def stored_ranges(meta: Any, scene: int, n: int) -> list[tuple[float, float]] | None:
    """A reader's ``metadata["display_ranges"]`` (Imaris ``ColorRange``): one (low, high)
    per channel of scene 0, or None when any channel has none."""
    ranges = meta.get("display_ranges") if scene == 0 and isinstance(meta, Mapping) else None
    if not isinstance(ranges, list) or len(ranges) != n or any(r is None for r in ranges):
        return None
    return [(float(lo), float(hi)) for lo, hi in ranges]


def omero_windows(meta: Any, scene: int, n: int) -> list[tuple[float, float]] | None:
    """``omero.channels[i].window`` (start, end) of a Zarr image at the store root (scene 0)."""
    if scene != 0 or not isinstance(meta, Mapping):
        return None
    attrs = meta.get("ome", meta) if isinstance(meta.get("ome"), Mapping) else meta
    omero = attrs.get("omero")
    if "multiscales" not in attrs or not isinstance(omero, Mapping):
        return None
    channels = omero.get("channels")
    if not isinstance(channels, list) or len(channels) != n:
        return None
    out = []
    for ch in channels:
        window = ch.get("window") if isinstance(ch, Mapping) else None
        if not isinstance(window, Mapping):
            return None
        start, end = window.get("start"), window.get("end")
        if not isinstance(start, (int, float)) or not isinstance(end, (int, float)) or end <= start:
            return None
        out.append((float(start), float(end)))
    return out
