"""openslide-python's :class:`DeepZoomGenerator` on any imgio slide.

Same levels, tile grid, overlap and coordinates as openslide's generator; the pixels
come from :mod:`imgio.tiles` (read from the same slide level, then area-averaged
where openslide uses Lanczos).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element, SubElement, tostring

import numpy as np

from ..tiles._style import parse_color
from . import PROPERTY_NAME_BACKGROUND_COLOR, AbstractSlide
from ._pixels import _pil

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["DeepZoomGenerator"]


class DeepZoomGenerator:
    """Deep Zoom tiles and DZI metadata of a slide (openslide's members and semantics).

    Parameters
    ----------
    osr
        An :class:`imgio.slide.OpenSlide` or :class:`~imgio.slide.ImageSlide`.
    tile_size, overlap, limit_bounds
        As openslide: tile edge, pixels added to each interior edge, and whether to
        render only the ``openslide.bounds-*`` area.
    """

    def __init__(
        self, osr: AbstractSlide, tile_size: int = 254, overlap: int = 1, limit_bounds: bool = False
    ) -> None:
        self._osr = osr
        self._t = int(tile_size)
        self._overlap = int(overlap)
        self._limit_bounds = limit_bounds
        props = osr.properties
        dims0 = osr.dimensions
        if limit_bounds:
            self._l0_offset = tuple(int(props.get(f"openslide.bounds-{k}", 0)) for k in "xy")
            scale = tuple(
                int(props.get(f"openslide.bounds-{k}", lim)) / lim
                for k, lim in zip(("width", "height"), dims0, strict=True)
            )
            self._l_dims = tuple(
                tuple(math.ceil(v * s) for v, s in zip(size, scale, strict=True))
                for size in osr.level_dimensions
            )
        else:
            self._l0_offset = (0, 0)
            self._l_dims = tuple(tuple(size) for size in osr.level_dimensions)
        z_size = self._l_dims[0]
        z_dims = [z_size]
        while z_size[0] > 1 or z_size[1] > 1:
            z_size = tuple(max(1, math.ceil(v / 2)) for v in z_size)
            z_dims.append(z_size)
        self._z_dims: tuple[tuple[int, int], ...] = tuple(reversed(z_dims))  # type: ignore[arg-type]
        self._t_dims = tuple(
            (math.ceil(w / self._t), math.ceil(h / self._t)) for w, h in self._z_dims
        )
        n = len(self._z_dims)
        l0_z = tuple(2 ** (n - k - 1) for k in range(n))
        self._slide_level = tuple(osr.get_best_level_for_downsample(d) for d in l0_z)
        self._l0_l = osr.level_downsamples
        self._l_z = tuple(l0_z[k] / self._l0_l[self._slide_level[k]] for k in range(n))
        bg = "#" + props.get(PROPERTY_NAME_BACKGROUND_COLOR, "ffffff")
        self._bg = np.array(parse_color(bg)[:3], dtype=np.float32)

    def __repr__(self) -> str:
        return (
            f"DeepZoomGenerator({self._osr!r}, tile_size={self._t!r}, "
            f"overlap={self._overlap!r}, limit_bounds={self._limit_bounds!r})"
        )

    @property
    def level_count(self) -> int:
        """Number of Deep Zoom levels."""
        return len(self._z_dims)

    @property
    def level_tiles(self) -> tuple[tuple[int, int], ...]:
        """``(columns, rows)`` of tiles per level."""
        return self._t_dims

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        """``(width, height)`` in pixels per level."""
        return self._z_dims

    @property
    def tile_count(self) -> int:
        """Total number of tiles."""
        return sum(c * r for c, r in self._t_dims)

    def get_tile(
        self, level: int, address: tuple[int, int], *, as_array: bool = False
    ) -> PILImage.Image | np.ndarray[Any, Any]:
        """An RGB tile (PIL image, or ``(h, w, 3)`` uint8 numpy with ``as_array=True``)."""
        (l0_loc, slide_level, l_size), z_size = self._tile_info(level, address)
        z_size = _fit(l_size, z_size)
        rgb = self._osr._scaled_region(l0_loc, slide_level, l_size, (z_size[1], z_size[0]))
        rgb = self._on_background(rgb)
        if as_array:
            return rgb
        tile = _pil(rgb, "RGB")
        profile = self._osr._profile
        if profile is not None:
            tile.info["icc_profile"] = profile
        return tile

    def _on_background(self, arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        bands = arr.shape[-1]
        if bands in (1, 2):
            arr = np.concatenate([np.repeat(arr[..., :1], 3, axis=-1), arr[..., 1:]], axis=-1)
        if arr.shape[-1] == 4:
            alpha = arr[..., 3:].astype(np.float32) / 255
            return np.rint(arr[..., :3] * alpha + self._bg * (1 - alpha)).astype(np.uint8)
        return np.ascontiguousarray(arr[..., :3])

    def _tile_info(
        self, level: int, address: tuple[int, int]
    ) -> tuple[tuple[tuple[int, int], int, tuple[int, int]], tuple[int, int]]:
        if not isinstance(level, (int, np.integer)) or not 0 <= level < self.level_count:
            raise ValueError(f"Invalid level {level!r} (0..{self.level_count - 1})")
        cols, rows = self._t_dims[level]
        col, row = address
        if not (0 <= col < cols and 0 <= row < rows):
            raise ValueError(
                f"Invalid address {address!r} (level {level} has {cols} x {rows} tiles)"
            )
        slide_level = self._slide_level[level]
        tl = tuple(self._overlap * int(t != 0) for t in address)
        br = tuple(
            self._overlap * int(t != lim - 1) for t, lim in zip(address, (cols, rows), strict=True)
        )
        z_size = tuple(
            min(self._t, zlim - self._t * t) + a + b
            for t, zlim, a, b in zip(address, self._z_dims[level], tl, br, strict=True)
        )
        l_loc = [self._l_z[level] * (self._t * t - a) for t, a in zip(address, tl, strict=True)]
        l0_loc = tuple(
            int(self._l0_l[slide_level] * v + off)
            for v, off in zip(l_loc, self._l0_offset, strict=True)
        )
        l_size = tuple(
            int(min(math.ceil(self._l_z[level] * dz), lim - math.ceil(v)))
            for v, dz, lim in zip(l_loc, z_size, self._l_dims[slide_level], strict=True)
        )
        return ((l0_loc[0], l0_loc[1]), slide_level, (l_size[0], l_size[1])), (z_size[0], z_size[1])

    def get_tile_coordinates(
        self, level: int, address: tuple[int, int]
    ) -> tuple[tuple[int, int], int, tuple[int, int]]:
        """The ``read_region`` arguments (level-0 location, slide level, size) of a tile."""
        return self._tile_info(level, address)[0]

    def get_tile_dimensions(self, level: int, address: tuple[int, int]) -> tuple[int, int]:
        """``(width, height)`` of a tile."""
        return self._tile_info(level, address)[1]

    def get_dzi(self, format: str) -> str:
        """The DZI XML of this generator, tiles in ``format`` (``"jpeg"`` or ``"png"``)."""
        image = Element(
            "Image",
            Format=format,
            Overlap=str(self._overlap),
            TileSize=str(self._t),
            xmlns="http://schemas.microsoft.com/deepzoom/2008",
        )
        w, h = self._l_dims[0]
        SubElement(image, "Size", Width=str(w), Height=str(h))
        return '<?xml version="1.0" encoding="UTF-8"?>' + tostring(image, encoding="unicode")


def _fit(have: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The size openslide's generator ends with: ``have`` shrunk into ``box``, aspect kept.

    openslide shrinks the region it read with PIL's ``thumbnail``: a region already
    inside ``box`` stays as read; otherwise the side that binds is ``box``'s and the
    other is the floor or ceiling whose aspect ratio is closer.
    """
    w, h = have
    bw, bh = box
    if bw >= w and bh >= h:
        return w, h
    aspect = w / h
    if bw / bh >= aspect:
        options = (math.floor(bh * aspect), math.ceil(bh * aspect))
        nw = min(options, key=lambda n: abs(aspect - n / bh))
        return max(nw, 1), bh
    options = (math.floor(bw / aspect), math.ceil(bw / aspect))
    nh = min(options, key=lambda n: 0 if n == 0 else abs(aspect - bw / n))
    return bw, max(nh, 1)
