"""Reading and rendering behind the tile verbs: frames, levels, styles (a mixin)."""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..arrays import _lazy
from ..errors import ImgioError, SelectionError
from ._cache import CachedSource
from ._resample import area_resize
from ._style import (
    BandStyle,
    StyleError,
    parse_palette,
    parse_style,
    render,
    resolve_limits,
)

if TYPE_CHECKING:
    from ..arrays import ImageFile
    from ._geometry import SceneGeometry

__all__ = ["Renderer", "pad_tile"]

Box = tuple[float, float, float, float]


#: most bytes one tile verb decodes to make a smaller picture (a thumbnail or a low zoom
#: tile of an image stored without coarse enough levels); an output as large as its
#: window is read whatever its size (the caller asked for those pixels)
MAX_RESAMPLED_BYTES = 2**30
#: channels the default style composites (the first ones; a style picks any others): every
#: channel is read and ranged for a picture, and past a few dozen the mix says nothing
MAX_DEFAULT_CHANNELS = 64


def _check_decode(
    window: tuple[int, int, int, int], out_hw: tuple[int, int], itemsize: int, level: int
) -> None:
    """Refuse to decode more than :data:`MAX_RESAMPLED_BYTES` for a smaller picture."""
    n, h, w, bands = window
    nbytes = n * h * w * bands * itemsize
    allowed = max(MAX_RESAMPLED_BYTES, 4 * n * out_hw[0] * out_hw[1] * bands * itemsize)
    if nbytes > allowed:
        raise ImgioError(
            f"a {out_hw[1]} x {out_hw[0]} picture would decode {w} x {h} pixels of level "
            f"{level} ({nbytes / 2**30:.1f} GiB); expected at most "
            f"{MAX_RESAMPLED_BYTES // 2**30} GiB: the image has no level coarse enough "
            "(write it with a pyramid, or read a region at the size it is stored)"
        )


class Renderer:
    """Pixel access of :class:`~imgio.tiles.TileSource`: reads, resamples, renders styles."""

    file: ImageFile
    scene: int
    geometry: SceneGeometry
    _stats: dict[tuple[int, int], np.ndarray[Any, Any]]
    _lock: threading.Lock

    # --------------------------------------------------------------- internals
    def _source(self, level: int) -> Any:
        """The presented array source of a stored level (made once)."""
        cache: dict[int, Any] = self.__dict__.setdefault("_sources", {})
        src = cache.get(level)
        if src is None:
            src = self.file.source(self.scene, level)
            tile_cache = self.__dict__.get("_tile_cache")
            if tile_cache is not None:
                src = CachedSource(src, tile_cache)
            cache[level] = src
        return src

    def _read(
        self, level: int, y0: int, y1: int, x0: int, x1: int, sels: list[dict[str, int]]
    ) -> list[np.ndarray[Any, Any]]:
        """``(h, w, bands)`` of each frame selection at a stored level (one read per C group)."""
        lay = self.geometry
        src = self._source(level)
        groups: dict[tuple[tuple[str, int], ...], list[int]] = {}
        for i, sel in enumerate(sels):
            groups.setdefault(tuple((d, v) for d, v in sel.items() if d != "C"), []).append(i)
        out: list[np.ndarray[Any, Any]] = [None] * len(sels)  # type: ignore[list-item]
        for members in groups.values():
            cs = [sels[i].get("C", 0) for i in members]
            c0, c1 = min(cs), max(cs) + 1
            key: list[Any] = []
            for d in lay.order:
                if d == "Y":
                    key.append(slice(y0, y1))
                elif d == "X":
                    key.append(slice(x0, x1))
                elif d == "S":
                    key.append(slice(None))
                elif d == "C":
                    key.append(slice(c0, c1))
                else:
                    key.append(sels[members[0]][d])
            data = _lazy.read(src, tuple(key))
            data = data.reshape((c1 - c0, y1 - y0, x1 - x0, lay.bands))
            for i, c in zip(members, cs, strict=True):
                out[i] = data[c - c0]
        return out

    def _frames(
        self,
        box: Box,
        out_hw: tuple[int, int],
        sels: list[dict[str, int]],
        level: int | None = None,
    ) -> list[np.ndarray[Any, Any]]:
        """Each frame's pixels of ``box`` (base pixels) resampled to ``out_hw``.

        Read from ``level``, else the coarsest stored level at least as fine as asked.
        """
        lay = self.geometry
        s = min((box[2] - box[0]) / out_hw[1], (box[3] - box[1]) / out_hw[0])
        level = lay.best_level(s) if level is None else level
        dy, dx = lay.downsamples[level]
        h, w = lay.sizes[level]
        fy0, fy1, fx0, fx1 = box[1] / dy, box[3] / dy, box[0] / dx, box[2] / dx
        iy0, ix0 = max(0, math.floor(fy0 + 1e-6)), max(0, math.floor(fx0 + 1e-6))
        iy1, ix1 = min(h, math.ceil(fy1 - 1e-6)), min(w, math.ceil(fx1 - 1e-6))
        iy1, ix1 = max(iy1, iy0 + 1), max(ix1, ix0 + 1)
        _check_decode(
            (len(sels), iy1 - iy0, ix1 - ix0, lay.bands), out_hw, lay.dtype.itemsize, level
        )
        planes = self._read(level, iy0, iy1, ix0, ix1, sels)
        window = (fy0 - iy0, min(fy1, h) - iy0, fx0 - ix0, min(fx1, w) - ix0)
        return [area_resize(p, window, out_hw) for p in planes]

    def _pixels(
        self,
        box: Box,
        out_hw: tuple[int, int],
        frame: int | None,
        axes: Mapping[str, Any],
        style: Any,
        fmt: str,
        level: int | None = None,
    ) -> np.ndarray[Any, Any]:
        """The pixels of ``box`` at ``out_hw``: raw, or rendered with ``style``."""
        lay = self.geometry
        sel = lay.frame_axes(frame, axes)
        chosen = frame is not None or axes.get("C") is not None
        if style is None and (fmt not in ("png", "jpeg") or self._plain_8bit(chosen)):
            return self._frames(box, out_hw, [sel], level)[0]
        bands = (
            self._default_style(chosen) if style is None or style == "auto" else parse_style(style)
        )
        if not bands:
            return self._frames(box, out_hw, [sel], level)[0]
        sels, samples = zip(*(self._band_source(b, sel) for b in bands), strict=True)
        unique = list({lay.frame_of(s): s for s in sels}.values())
        data = dict(
            zip(
                (lay.frame_of(s) for s in unique),
                self._frames(box, out_hw, unique, level),
                strict=True,
            )
        )
        planes = [data[lay.frame_of(s)][..., k] for s, k in zip(sels, samples, strict=True)]
        limits = [
            resolve_limits(b, lay.dtype, functools.partial(self._sample_stats, s, k))
            for b, s, k in zip(bands, sels, samples, strict=True)
        ]
        return render(planes, bands, limits)

    def _plain_8bit(self, chosen: bool) -> bool:
        lay = self.geometry
        multi = lay.frame_sizes.get("C", 1) > 1 and lay.bands == 1 and not chosen
        return lay.dtype == np.uint8 and not multi

    def _default_style(self, chosen: bool) -> list[BandStyle]:
        """The file's channel colours for multi-channel images (the first
        :data:`MAX_DEFAULT_CHANNELS`); robust ranges when not 8-bit."""
        lay = self.geometry
        robust = lay.dtype != np.uint8
        lo, hi = ("min:0.001", "max:0.001") if robust else (0, 255)
        if lay.frame_sizes.get("C", 1) > 1 and lay.bands == 1 and not chosen:
            colors = _scene_colors(self.file, self.scene)[:MAX_DEFAULT_CHANNELS]
            spec = [
                {
                    "channel": c,
                    "min": lo,
                    "max": hi,
                    "palette": ["#000000", "#{:02x}{:02x}{:02x}".format(*tuple(rgb))],
                }
                for c, rgb in enumerate(colors)
            ]
            return parse_style({"bands": spec})
        if not robust:
            return []
        if lay.bands >= 3:
            rgb = ["#ff0000", "#00ff00", "#0000ff"]
            return parse_style(
                {
                    "bands": [
                        {"band": i + 1, "min": lo, "max": hi, "palette": ["#000", rgb[i]]}
                        for i in range(3)
                    ]
                }
            )
        return parse_style({"band": 1, "min": lo, "max": hi})

    def _band_source(self, band: BandStyle, sel: dict[str, int]) -> tuple[dict[str, int], int]:
        """The frame selection and sample index one style band reads."""
        lay = self.geometry
        if band.frame is not None:
            out = lay.frame_axes(band.frame, {})
        elif band.framedelta is not None:
            target = lay.frame_of(sel) + band.framedelta
            out = lay.frame_axes(target, {})
        elif band.channel is not None:
            if "C" not in lay.frame_sizes:
                raise StyleError(f"style channel {band.channel!r}: this image has no channel axis")
            try:
                out = {**sel, "C": lay.axis_index("C", band.channel)}
            except SelectionError as exc:
                raise StyleError(f"style channel {band.channel!r}: {exc}") from None
        else:
            out = sel
        if band.band == "gray" or band.band is None:
            sample = 1 if lay.bands >= 3 else 0
        else:
            sample = int(band.band)
            if sample >= lay.bands:
                names = "red, green, blue, alpha"[: 6 * lay.bands] if lay.bands > 1 else "gray"
                raise StyleError(
                    f"style band {sample + 1} does not exist: this image has {lay.bands} band(s) "
                    f"(1..{lay.bands}; {names}); use 'frame' or 'channel' to pick channels"
                )
        return out, sample

    def _sample_stats(self, sel: dict[str, int], sample: int) -> np.ndarray[Any, Any]:
        """Sorted values of one frame and sample at the thumbnail level (for min/max and
        percentiles)."""
        lay = self.geometry
        key = (lay.frame_of(sel), sample)
        with self._lock:
            if key in self._stats:
                return self._stats[key]
        box = (0.0, 0.0, float(lay.width), float(lay.height))
        s = max(1.0, lay.width / 1024, lay.height / 1024)
        out_hw = (max(1, round(lay.height / s)), max(1, round(lay.width / s)))
        data = self._frames(box, out_hw, [sel])[0][..., sample].ravel()
        data = data[np.isfinite(data)] if data.dtype.kind == "f" else data
        data = np.sort(data)  # once per frame: each tile's limits are then two lookups
        with self._lock:
            self._stats[key] = data
        return data


def _scene_colors(file: ImageFile, scene: int) -> list[tuple[int, int, int]]:
    from .._colors import resolve_colors

    info = file.info(scene)
    names = info.channel_names
    return resolve_colors(names, info.channel_colors, len(names) if names else 1)


def pad_tile(arr: np.ndarray[Any, Any], th: int, tw: int, edge: str) -> np.ndarray[Any, Any]:
    """``arr`` padded to ``th`` x ``tw`` with zeros (``"pad"``) or a colour."""
    h, w = arr.shape[:2]
    out = np.zeros((th, tw, arr.shape[2]), dtype=arr.dtype)
    if edge != "pad":
        color = parse_palette(edge)[-1]
        bands = arr.shape[2]
        fill = color[:bands] if bands >= 3 else color[1:2]
        out[...] = np.asarray(fill, dtype=np.float64).astype(arr.dtype)
    out[:h, :w] = arr
    return out
