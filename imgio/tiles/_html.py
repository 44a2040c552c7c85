"""The notebook picture of an :class:`~imgio.Image`: a small thumbnail from its smallest level."""

from __future__ import annotations

import base64
import functools
import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImgioError

if TYPE_CHECKING:
    from ..arrays import ImageFile
    from .source import TileSource

__all__ = ["thumbnail_html"]

MAX_EDGE = 256
MAX_PIXELS = 4096 * 4096  # never decode more than this for a notebook picture


MIN_SHOWN = 128  # a smaller picture is shown enlarged (pixelated), not as a speck


def thumbnail_html(file: ImageFile, scene: int, max_edge: int = MAX_EDGE) -> str | None:
    """An ``<img>`` tag with a PNG thumbnail of ``scene``, a note saying why there is
    none, or None when it cannot be made.

    Reads only the scene's smallest stored level (composited with the channel colours,
    middle Z plane, first time point); a level above 16 Mpixels is not read at all (the
    note says so). An x-z scan (Y of 1) shows its Z x X plane; a tiny image is shown
    enlarged with visible pixels.
    """
    from .source import TileSource

    try:
        ts = TileSource(file, scene)
        lay = ts.geometry
        level = lay.n_stored - 1
        h, w = lay.sizes[level]
        if h * w > MAX_PIXELS:
            return _no_pyramid_note(h, w, lay.n_stored)
        if h == 1 and lay.frame_sizes.get("Z", 1) > 1 and lay.bands == 1:
            arr = _xz_plane(file, scene, ts, max_edge)
        else:
            dy, dx = lay.downsamples[level]
            s = max(lay.width / max_edge, lay.height / max_edge, dx, dy)
            out_hw = (max(1, round(lay.height / s)), max(1, round(lay.width / s)))
            box = (0.0, 0.0, float(lay.width), float(lay.height))
            axes = {"Z": lay.frame_sizes["Z"] // 2} if "Z" in lay.frame_sizes else {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                arr = ts._pixels(box, out_hw, None, axes, "auto", "png", level=level)
        from ._encode import encode

        png = encode(arr, "png")
    except (ImgioError, ValueError, MemoryError):
        return None
    data = base64.b64encode(png).decode("ascii")
    height, width = arr.shape[:2]
    zoom = max(1, MIN_SHOWN // max(height, width))
    rendering = "pixelated" if zoom > 1 else "auto"
    return (
        f"<img src='data:image/png;base64,{data}' width='{width * zoom}' "
        f"height='{height * zoom}' style='image-rendering:{rendering}' alt='thumbnail'/>"
    )


def _no_pyramid_note(h: int, w: int, levels: int) -> str:
    """Why a large image has no notebook picture."""
    what = (
        "the image has no pyramid and is"
        if levels == 1
        else f"even the smallest of its {levels} levels is"
    )
    return (
        f"<p style='max-width:16em'>No thumbnail: {what} {w:,} x {h:,} px, more than a "
        f"notebook picture should decode ({MAX_PIXELS // 2**20} Mpixels). "
        "<code>imgio convert</code> writes a copy with a pyramid; "
        "<code>img.tiles.thumbnail()</code> makes one anyway.</p>"
    )


def _sorted(plane: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.sort(plane.ravel())


def _xz_plane(file: ImageFile, scene: int, ts: TileSource, max_edge: int) -> np.ndarray[Any, Any]:
    """The Z x X plane of an x-z scan (Y of 1, first time point), coloured like the tiles,
    with Z and X in proportion to their pixel sizes."""
    from ._style import render, resolve_limits

    lay = ts.geometry
    dims, shape = file.presented(scene, 0)
    if math.prod(shape) > MAX_PIXELS:
        raise ImgioError("x-z scan too large for a notebook picture")
    full = file.read(scene, 0)  # T C Z Y X: small (checked above)
    index = tuple(slice(None) if d in "CZX" else 0 for d in dims)
    data = full[index]
    bands = ts._default_style(False)
    if bands:
        picks = [lay.axis_index("C", b.channel) if b.channel is not None else 0 for b in bands]
        planes = [data[c] for c in picks]
        limits = [
            resolve_limits(b, data.dtype, functools.partial(_sorted, p))
            for b, p in zip(bands, planes, strict=True)
        ]
        arr = render(planes, bands, limits)
    else:
        arr = data[0]
    sizes = file.physical_pixel_sizes(scene)
    z_height = data.shape[1] * (sizes.Z / sizes.X if sizes.Z and sizes.X else 1.0)
    s = max(z_height / max_edge, data.shape[2] / max_edge, 1e-9)
    out_h, out_w = max(1, round(z_height / s)), max(1, round(data.shape[2] / s))
    rows = np.minimum((np.arange(out_h) * data.shape[1] / out_h).astype(int), data.shape[1] - 1)
    cols = np.minimum((np.arange(out_w) * data.shape[2] / out_w).astype(int), data.shape[2] - 1)
    picture: np.ndarray[Any, Any] = np.ascontiguousarray(arr[rows][:, cols])
    return picture
