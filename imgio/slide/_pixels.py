"""RGBA regions and PIL images of the slide classes (assembly only: the pixels come from
:mod:`imgio.tiles`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import require

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from ..tiles import TileSource

__all__ = ["_as_rgba", "_pil", "_region_rgba"]


def _region_rgba(
    ts: TileSource, location: tuple[int, int], level: int, size: tuple[int, int]
) -> np.ndarray[Any, Any]:
    lay = ts.geometry
    w, h = size
    out = np.zeros((h, w, 4), dtype=np.uint8)
    dy, dx = lay.downsamples[level]
    lh, lw = lay.sizes[level]
    x0, y0 = round(location[0] / dx), round(location[1] / dy)
    ix0, iy0 = max(0, x0), max(0, y0)
    ix1, iy1 = min(lw, x0 + w), min(lh, y0 + h)
    if ix1 <= ix0 or iy1 <= iy0:
        return out
    box = (ix0 * dx, iy0 * dy, min(ix1 * dx, lay.width), min(iy1 * dy, lay.height))
    rgb = ts._pixels(box, (iy1 - iy0, ix1 - ix0), None, {}, "auto", "png", level=level)
    _fill_rgba(out[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0], rgb)
    return out


def _fill_rgba(dst: np.ndarray[Any, Any], arr: np.ndarray[Any, Any]) -> None:
    """Write 1-4 band pixels into the RGBA ``dst`` (grey repeated, opaque without alpha)."""
    bands = arr.shape[-1]
    dst[..., :3] = arr[..., :3] if bands >= 3 else arr[..., :1]
    dst[..., 3] = arr[..., bands - 1] if bands in (2, 4) else 255


def _as_rgba(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """1-4 band pixels as RGBA."""
    if arr.shape[-1] == 4:
        return arr
    out = np.empty(arr.shape[:2] + (4,), dtype=np.uint8)
    _fill_rgba(out, arr)
    return out


def _pil(arr: np.ndarray[Any, Any], mode: str) -> PILImage.Image:
    image_mod: Any = require("PIL.Image", extra="slide", package="Pillow")
    out: PILImage.Image = image_mod.fromarray(np.ascontiguousarray(arr), mode)
    return out
