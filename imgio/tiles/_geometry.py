"""Levels, frames and units of one scene, as the tile verbs see it (no pixels read)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SelectionError

if TYPE_CHECKING:
    from ..arrays import ImageFile

__all__ = ["SceneGeometry"]

UNITS = ("base_pixels", "um", "mm", "fraction")
LEVEL_TOLERANCE = 0.01  # a stored level up to 1 % coarser than asked still serves


class SceneGeometry:
    """Stored levels, the virtual power-of-two tile pyramid and the frames of one scene."""

    def __init__(self, file: ImageFile, scene: int, tile_size: int | None = None) -> None:
        self.scene = scene
        info = file.info(scene)
        self.n_stored = info.n_levels
        self.order, shape0 = file.presented(scene, 0)
        self.sizes: list[tuple[int, int]] = []
        for level in range(self.n_stored):
            _, shape = file.presented(scene, level)
            sizes = dict(zip(self.order, shape, strict=True))
            self.sizes.append((sizes["Y"], sizes["X"]))
        self.height, self.width = self.sizes[0]
        if 0 in shape0 or any(0 in size for size in self.sizes):
            raise SelectionError(
                f"scene {scene} of {file.path} holds no pixels (shape {shape0} {self.order}): "
                "no region, tile or thumbnail to make"
            )
        self.downsamples = [(self.height / h, self.width / w) for h, w in self.sizes]
        full = dict(zip(self.order, shape0, strict=True))
        self.bands = full.get("S", 1)
        self.dtype = np.dtype(info.dtype)
        self.frame_dims = [d for d in self.order if d not in "YXS"]
        # frame numbering: C fastest, then Z, then T, then extra dims (slowest)
        self.enum_dims = [d for d in self.frame_dims if d not in "TZC"]
        self.enum_dims += [d for d in "TZC" if d in self.frame_dims]
        self.frame_sizes = {d: full[d] for d in self.frame_dims}
        self.n_frames = math.prod(self.frame_sizes[d] for d in self.enum_dims)
        self.channel_names = list(info.channel_names or [])
        chunks = dict(zip(self.order, file.source(scene, 0).chunks, strict=True))
        if tile_size is None:
            tile_y, tile_x = chunks["Y"], chunks["X"]
            if not (64 <= tile_x <= 4096 and 64 <= tile_y <= 4096) or tile_x == self.width:
                tile_y = tile_x = 256
        else:
            tile_y = tile_x = int(tile_size)
        self.tile_height, self.tile_width = tile_y, tile_x
        ratio = max(self.width / self.tile_width, self.height / self.tile_height)
        self.levels = max(1, math.ceil(math.log2(ratio)) + 1) if ratio > 1 else 1
        sizes_um = file.physical_pixel_sizes(scene, 0)
        self.mpp_y, self.mpp_x = sizes_um.Y, sizes_um.X

    # ------------------------------------------------------------------ frames
    def frame_axes(self, frame: int | None, axes: Mapping[str, Any]) -> dict[str, int]:
        """Index of every frame dim for ``frame`` and explicit ``T=``/``C=``/``Z=`` values."""
        if frame is not None:
            if not isinstance(frame, (int, np.integer)) or not 0 <= frame < self.n_frames:
                raise SelectionError(f"frame {frame!r} out of range (0..{self.n_frames - 1})")
            shape = [self.frame_sizes[d] for d in self.enum_dims]
            index = np.unravel_index(int(frame), shape) if shape else ()
            sel = {d: int(i) for d, i in zip(self.enum_dims, index, strict=True)}
        else:
            sel = {d: 0 for d in self.frame_dims}
        for d, value in axes.items():
            if value is None:
                continue
            if d not in self.frame_sizes:
                raise SelectionError(
                    f"no frame dim {d!r}; this image has {self.frame_dims or 'no frame dims'}"
                )
            sel[d] = self.axis_index(d, value)
        return sel

    def axis_index(self, d: str, value: Any) -> int:
        n = self.frame_sizes[d]
        if d == "C" and isinstance(value, str):
            if value not in self.channel_names:
                raise SelectionError(
                    f"no channel named {value!r}; channels are {self.channel_names}"
                )
            return self.channel_names.index(value)
        if isinstance(value, (list, tuple, range, slice, np.ndarray)):
            names = f" or a channel name ({', '.join(self.channel_names)})" if d == "C" else ""
            raise SelectionError(
                f"{d}={value!r}: the tile verbs take one {d} at a time, an index 0..{n - 1}"
                f"{names}; for several channels as bands give style={{'bands': [...]}}, "
                "or read the region from Image.xarray_dask_data"
            )
        if not isinstance(value, (int, np.integer)) or not -n <= value < n:
            raise SelectionError(f"{d}={value!r} out of range (0..{n - 1})")
        return int(value) % n

    def frame_of(self, sel: Mapping[str, int]) -> int:
        shape = [self.frame_sizes[d] for d in self.enum_dims]
        if not shape:
            return 0
        return int(np.ravel_multi_index([sel.get(d, 0) for d in self.enum_dims], shape))

    def frames(self) -> list[dict[str, Any]]:
        """large_image's frame list: ``Frame``, ``Index``, ``IndexC``/``IndexZ``..., ``Channel``."""
        out = []
        non_c = [d for d in self.enum_dims if d != "C"]
        for f in range(self.n_frames):
            sel = self.frame_axes(f, {})
            entry: dict[str, Any] = {"Frame": f}
            index_shape = [self.frame_sizes[d] for d in non_c]
            entry["Index"] = (
                int(np.ravel_multi_index([sel[d] for d in non_c], index_shape)) if non_c else 0
            )
            for d in self.enum_dims:
                entry[f"Index{d if d in 'TZC' else d}"] = sel[d]
            if "C" in sel and self.channel_names:
                entry["Channel"] = self.channel_names[sel["C"]]
            out.append(entry)
        return out

    # ------------------------------------------------------------------ levels
    def best_level(self, scale: float) -> int:
        """The coarsest stored level at least as fine as ``scale`` base pixels per pixel."""
        best = 0
        for k, (dy, dx) in enumerate(self.downsamples):
            if max(dy, dx) <= scale * (1 + LEVEL_TOLERANCE):
                best = k
        return best

    def stored_level_for_z(self, z: int) -> int | None:
        """The stored level that *is* virtual level ``z`` (same size), else None."""
        s = 2 ** (self.levels - 1 - z)
        want = (math.ceil(self.height / s), math.ceil(self.width / s))
        for k, size in enumerate(self.sizes):
            if size == want:
                return k
        return None

    def check_z(self, z: int) -> int:
        if not isinstance(z, (int, np.integer)) or not 0 <= z < self.levels:
            raise SelectionError(
                f"z={z!r} out of range: this image has levels 0..{self.levels - 1}"
            )
        return int(2 ** (self.levels - 1 - int(z)))

    def tile_grid(self, z: int) -> tuple[int, int]:
        """(tiles across, tiles down) at virtual level ``z``."""
        s = self.check_z(z)
        w, h = math.ceil(self.width / s), math.ceil(self.height / s)
        return math.ceil(w / self.tile_width), math.ceil(h / self.tile_height)

    # ------------------------------------------------------------------- units
    def to_base(self, value: float, units: str, axis: str) -> float:
        """A coordinate in ``units`` as base (level 0) pixels along ``axis`` ("x" or "y")."""
        if units in ("base_pixels", "pixels"):
            return float(value)
        if units == "fraction":
            return float(value) * (self.width if axis == "x" else self.height)
        if units in ("um", "mm"):
            mpp = self.mpp_x if axis == "x" else self.mpp_y
            if not mpp:
                raise SelectionError(
                    f"units={units!r} needs the pixel size, which this image does not have; "
                    "use units='base_pixels' or 'fraction'"
                )
            return float(value) * (1000.0 if units == "mm" else 1.0) / mpp
        raise SelectionError(f"unknown units {units!r}; use one of {list(UNITS)}")

    def region_box(
        self,
        left: float | None,
        top: float | None,
        right: float | None,
        bottom: float | None,
        width: float | None,
        height: float | None,
        units: str,
    ) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) in base pixels, cropped to the image (large_image rules)."""
        x0 = self.to_base(left, units, "x") if left is not None else None
        y0 = self.to_base(top, units, "y") if top is not None else None
        x1 = self.to_base(right, units, "x") if right is not None else None
        y1 = self.to_base(bottom, units, "y") if bottom is not None else None
        w = self.to_base(width, units, "x") if width is not None else None
        h = self.to_base(height, units, "y") if height is not None else None
        x0, x1 = _span(x0, x1, w, self.width)
        y0, y1 = _span(y0, y1, h, self.height)
        cx0, cx1 = max(0.0, x0), min(float(self.width), x1)
        cy0, cy1 = max(0.0, y0), min(float(self.height), y1)
        if cx1 <= cx0 or cy1 <= cy0:
            raise SelectionError(
                f"region x {x0:g}..{x1:g}, y {y0:g}..{y1:g} (base pixels) lies outside the image "
                f"(0..{self.width}, 0..{self.height})"
            )
        return cx0, cy0, cx1, cy1

    def summary(self) -> dict[str, Any]:
        return {
            "levels": self.levels,
            "sizeX": self.width,
            "sizeY": self.height,
            "tileWidth": self.tile_width,
            "tileHeight": self.tile_height,
            "mm_x": self.mpp_x / 1000 if self.mpp_x else None,
            "mm_y": self.mpp_y / 1000 if self.mpp_y else None,
            "dtype": str(self.dtype),
            "bandCount": self.bands,
        }


def _span(
    start: float | None, stop: float | None, size: float | None, n: int
) -> tuple[float, float]:
    if start is None:
        start = stop - size if stop is not None and size is not None else 0.0
    if stop is None:
        stop = start + size if size is not None else float(n)
    return float(start), float(stop)
