"""Pixel values behind the tile verbs: ``get_pixel`` and ``histogram`` (a mixin)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SelectionError
from ._render import Renderer

__all__ = ["PixelValues"]


class PixelValues(Renderer):
    """Values of pixels and histograms of :class:`~imgio.tiles.TileSource`."""

    def get_pixel(
        self,
        x: float,
        y: float,
        *,
        units: str = "base_pixels",
        frame: int | None = None,
        **axes: Any,
    ) -> dict[str, Any]:
        """Every band of the pixel at ``(x, y)``, and every channel when the image has several."""
        lay = self.geometry
        bx, by = lay.to_base(x, units, "x"), lay.to_base(y, units, "y")
        if not (0 <= bx < lay.width and 0 <= by < lay.height):
            raise SelectionError(
                f"pixel ({bx:g}, {by:g}) is outside the image "
                f"(0..{lay.width - 1}, 0..{lay.height - 1})"
            )
        sel = lay.frame_axes(frame, axes)
        ix, iy = int(bx), int(by)
        out: dict[str, Any] = {"x": ix, "y": iy, "frame": lay.frame_of(sel)}
        values = self._read(0, iy, iy + 1, ix, ix + 1, [sel])[0][0, 0]
        out["bands"] = {i + 1: values[i].item() for i in range(lay.bands)}
        if "C" in sel and lay.frame_sizes["C"] > 1:
            sels = [{**sel, "C": c} for c in range(lay.frame_sizes["C"])]
            planes = self._read(0, iy, iy + 1, ix, ix + 1, sels)
            names = lay.channel_names or [str(c) for c in range(len(sels))]
            out["channels"] = {names[c]: p[0, 0, 0].item() for c, p in enumerate(planes)}
        return out

    def histogram(
        self,
        bins: int = 256,
        range: tuple[float, float] | None = None,  # noqa: A002 - numpy's name
        *,
        frame: int | None = None,
        level: int | None = None,
        **axes: Any,
    ) -> list[dict[str, Any]]:
        """One histogram per band (``hist``, ``bin_edges``, ``min``, ``max``), from ``level``.

        ``level`` is a stored level; by default the coarsest one (fast on a big pyramid).
        """
        lay = self.geometry
        lvl = lay.n_stored - 1 if level is None else level
        if not isinstance(lvl, (int, np.integer)) or not 0 <= lvl < lay.n_stored:
            raise SelectionError(f"level {level!r} out of range (0..{lay.n_stored - 1})")
        sel = lay.frame_axes(frame, axes)
        h, w = lay.sizes[lvl]
        data = self._read(int(lvl), 0, h, 0, w, [sel])[0]
        out = []
        for b in np.arange(lay.bands):
            values = data[..., b].ravel()
            lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
            rng = (
                range
                if range is not None
                else (lo, hi + 1 if np.issubdtype(values.dtype, np.integer) else hi)
            )
            hist, edges = np.histogram(values, bins=bins, range=rng)
            out.append({"min": lo, "max": hi, "range": rng, "hist": hist, "bin_edges": edges})
        return out
