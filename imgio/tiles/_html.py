"""The notebook picture of an :class:`~imgio.Image`: a small thumbnail from its smallest level."""

from __future__ import annotations

import base64
import warnings
from typing import TYPE_CHECKING

from ..errors import ImgioError

if TYPE_CHECKING:
    from ..arrays import ImageFile

__all__ = ["thumbnail_html"]

MAX_EDGE = 256
MAX_PIXELS = 4096 * 4096  # never decode more than this for a notebook picture


def thumbnail_html(file: ImageFile, scene: int, max_edge: int = MAX_EDGE) -> str | None:
    """An ``<img>`` tag with a PNG thumbnail of ``scene``, or None when not cheap.

    Reads only the scene's smallest stored level (composited with the channel colours,
    middle Z plane, first time point); a level above 16 Mpixels is not read at all.
    """
    from .source import TileSource

    try:
        ts = TileSource(file, scene)
        lay = ts.geometry
        level = lay.n_stored - 1
        h, w = lay.sizes[level]
        if h * w > MAX_PIXELS:
            return None
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
    return (
        f"<img src='data:image/png;base64,{data}' width='{out_hw[1]}' height='{out_hw[0]}' "
        "style='image-rendering:auto' alt='thumbnail'/>"
    )
