"""The tile verbs of one scene: region at a size, tile (x, y, z), thumbnail, styles...

:class:`TileSource` is a thin layer above :class:`imgio.Image`: it chooses a stored
level, reads through the scene's array sources (covering tiles only, on the decode
pool), resamples by area averaging and renders styles. Every verb is a pure function
of its arguments, so an HTTP layer can key a cache on them (plus :attr:`token`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _lazy
from ..errors import SelectionError
from ._encode import MIME_TYPES, encode, normalize_format
from ._layout import Layout, native_magnification
from ._resample import area_resize
from ._style import BandStyle, StyleError, parse_palette, parse_style, render, resolve_limits

if TYPE_CHECKING:
    from ..image import Image

__all__ = ["MIME_TYPES", "TileSource"]

Box = tuple[float, float, float, float]


class TileSource:
    """large_image-style tile verbs on one scene of an :class:`~imgio.Image`.

    Get one with ``img.tiles`` (current scene) or ``TileSource(img, scene=...)``.
    Coordinates are level-0 ("base") pixels unless ``units=`` says otherwise; virtual
    tile levels ``z`` run from 0 (whole image in one tile) to ``levels - 1`` (full
    resolution), as in large_image.

    Parameters
    ----------
    image
        An open image.
    scene
        Scene index or name (default: the image's current scene).
    tile_size
        Edge of the served tiles (default: the file's own tile edge, else 256).
    edge
        Edge tiles: ``"crop"`` (default), ``"pad"`` (zeros) or a colour to pad with.
    jpeg_quality
        Quality of JPEG output.
    """

    def __init__(
        self,
        image: Image,
        scene: int | str | None = None,
        *,
        tile_size: int | None = None,
        edge: str = "crop",
        jpeg_quality: int = 90,
    ) -> None:
        self.image = image
        self.scene = image._scene_index(scene)
        self.layout = Layout(image, self.scene, tile_size)
        self.edge = edge
        self.jpeg_quality = int(jpeg_quality)
        self._stats: dict[tuple[int, int], np.ndarray[Any, Any]] = {}
        self._lock = threading.Lock()
        if edge not in ("crop", "pad"):
            parse_palette(edge)  # validates the colour

    def __repr__(self) -> str:
        lay = self.layout
        return (
            f"<imgio.TileSource {self.image.path!r} scene {self.scene} {lay.width}x{lay.height} "
            f"levels={lay.levels} tile={lay.tile_width}x{lay.tile_height}>"
        )

    # ----------------------------------------------------------------- summary
    @property
    def token(self) -> str:
        """Changes when the file changes: use it in cache keys with the verb's arguments."""
        return f"{self.image.source(self.scene, 0).token}|{self.layout.tile_width}"

    @property
    def levels(self) -> int:
        """Number of levels of the virtual power-of-two tile pyramid."""
        return self.layout.levels

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of level 0."""
        return self.layout.width, self.layout.height

    @property
    def tile_size(self) -> tuple[int, int]:
        """(width, height) of a tile."""
        return self.layout.tile_width, self.layout.tile_height

    @property
    def magnification(self) -> float | None:
        """Objective magnification of level 0 (from the file, else 10 µm / µm per pixel)."""
        img = self.image
        return native_magnification(img.metadata, img.reader.ome_xml(), self.layout.mpp_x)

    @property
    def frame_count(self) -> int:
        return self.layout.n_frames

    def metadata(self) -> dict[str, Any]:
        """large_image's ``getMetadata()`` keys: levels, sizes, tile size, magnification, frames."""
        lay = self.layout
        out = lay.summary()
        out["magnification"] = self.magnification
        out["levelsStored"] = [
            {"width": w, "height": h, "downsample": lay.width / w} for h, w in lay.sizes
        ]
        out["associated"] = list(self.associated_images)
        if lay.channel_names and lay.frame_sizes.get("C", 1) > 1:
            out["channels"] = list(lay.channel_names)
            out["channelmap"] = {n: i for i, n in enumerate(lay.channel_names)}
        if lay.n_frames > 1:
            frames = lay.frames()
            out["frames"] = frames
            keys = {k for f in frames for k in f if k.startswith("Index") and k != "Index"}
            out["IndexRange"] = {
                k: len({f[k] for f in frames})
                for k in sorted(keys)
                if len({f[k] for f in frames}) > 1
            }
        return out

    # ------------------------------------------------------------------ regions
    def get_region(
        self,
        left: float | None = None,
        top: float | None = None,
        right: float | None = None,
        bottom: float | None = None,
        *,
        width: float | None = None,
        height: float | None = None,
        units: str = "base_pixels",
        output_width: int | None = None,
        output_height: int | None = None,
        scale: float | None = None,
        magnification: float | None = None,
        allow_upscale: bool = False,
        frame: int | None = None,
        style: Any = None,
        format: str = "numpy",
        **axes: Any,
    ) -> Any:
        """A region, resampled to an output size or scale.

        Parameters
        ----------
        left, top, right, bottom, width, height
            The region in ``units`` (``"base_pixels"``, ``"um"``, ``"mm"``, ``"fraction"``);
            missing sides default to the image edges; cropped to the image.
        output_width, output_height
            The largest output size (aspect ratio kept; no upscaling unless ``allow_upscale``).
        scale, magnification
            Base pixels per output pixel, or the objective magnification to render at.
        frame, T, C, Z, ...
            Frame number (large_image numbering) or axis indices (``C`` also by name).
        style
            A large_image style dict/JSON, ``"auto"`` (channel colours, robust ranges) or
            None (raw pixels; image formats get ``"auto"`` when pixels are not 8-bit).
        format
            ``"numpy"`` (``(h, w, bands)``), ``"dataarray"``, ``"png"``, ``"jpeg"``, ``"tiff"``.

        Raises
        ------
        SelectionError
            A region outside the image, unknown units, a frame or axis out of range.
        StyleError
            An invalid style.
        """
        lay = self.layout
        box = lay.region_box(left, top, right, bottom, width, height, units)
        s = self._scale_for(box, output_width, output_height, scale, magnification, allow_upscale)
        out_w = max(1, round((box[2] - box[0]) / s))
        out_h = max(1, round((box[3] - box[1]) / s))
        fmt = normalize_format(format)
        arr = self._pixels(box, (out_h, out_w), frame, axes, style, fmt)
        return encode(arr, fmt, quality=self.jpeg_quality, attrs=self._attrs(box, s))

    def _scale_for(
        self,
        box: Box,
        max_w: int | None,
        max_h: int | None,
        scale: float | None,
        magnification: float | None,
        allow_upscale: bool,
    ) -> float:
        if scale is not None:
            if not scale > 0:
                raise SelectionError(f"scale must be > 0, got {scale}")
            return float(scale)
        if magnification is not None:
            native = self.magnification
            if not native or not magnification > 0:
                raise SelectionError(
                    f"magnification={magnification!r} needs a known native magnification "
                    f"(this image has {native}) and a value > 0"
                )
            return native / float(magnification)
        if max_w is None and max_h is None:
            return 1.0
        for name, v in (("output_width", max_w), ("output_height", max_h)):
            if v is not None and not v >= 1:
                raise SelectionError(f"{name} must be >= 1, got {v}")
        s = max(
            (box[2] - box[0]) / max_w if max_w else 0.0,
            (box[3] - box[1]) / max_h if max_h else 0.0,
        )
        return s if allow_upscale else max(s, 1.0)

    def _attrs(self, box: Box, scale: float) -> dict[str, Any]:
        return {"left": box[0], "top": box[1], "right": box[2], "bottom": box[3], "scale": scale}

    # -------------------------------------------------------------------- tiles
    def get_tile(
        self,
        x: int,
        y: int,
        z: int,
        *,
        frame: int | None = None,
        style: Any = None,
        format: str = "numpy",
        edge: str | None = None,
        **axes: Any,
    ) -> Any:
        """Tile ``(x, y)`` of virtual level ``z`` (0: the whole image in one tile).

        Levels the file lacks are made from the next finer stored level. A JPEG request
        for exactly one stored JPEG tile returns the stored bytes, undecoded.

        Raises
        ------
        SelectionError
            ``z`` beyond the levels or ``(x, y)`` beyond the level's tile grid.
        """
        lay = self.layout
        s = lay.check_z(z)
        nx, ny = lay.tile_grid(z)
        if not (isinstance(x, (int, np.integer)) and isinstance(y, (int, np.integer))) or not (
            0 <= x < nx and 0 <= y < ny
        ):
            raise SelectionError(
                f"tile ({x!r}, {y!r}) is outside level z={z}, whose grid is {nx} x {ny} tiles "
                f"(x 0..{nx - 1}, y 0..{ny - 1})"
            )
        fmt = normalize_format(format)
        edge = self.edge if edge is None else edge
        tw, th = lay.tile_width, lay.tile_height
        if fmt == "jpeg" and style is None:
            raw = self._raw_tile(int(x), int(y), int(z), frame, axes)
            if raw is not None:
                return raw
        zw, zh = math.ceil(lay.width / s), math.ceil(lay.height / s)
        out_w, out_h = min(tw, zw - x * tw), min(th, zh - y * th)
        box = (
            float(x * tw * s),
            float(y * th * s),
            float(min((x * tw + out_w) * s, lay.width)),
            float(min((y * th + out_h) * s, lay.height)),
        )
        arr = self._pixels(box, (out_h, out_w), frame, axes, style, fmt)
        if edge != "crop" and (out_w < tw or out_h < th):
            arr = _pad(arr, th, tw, edge)
        return encode(arr, fmt, quality=self.jpeg_quality, attrs=self._attrs(box, s))

    def _raw_tile(
        self, x: int, y: int, z: int, frame: int | None, axes: Mapping[str, Any]
    ) -> bytes | None:
        lay = self.layout
        level = lay.stored_level_for_z(z)
        if level is None or lay.dtype != np.uint8:
            return None
        if "C" in lay.frame_sizes and lay.frame_sizes["C"] > 1 and lay.bands == 1:
            return None  # multi-channel: JPEG output is a composite
        src = self.image.source(self.scene, level)
        chunks = dict(zip(lay.order, src.chunks, strict=True))
        h, w = lay.sizes[level]
        if (chunks["Y"], chunks["X"]) != (lay.tile_height, lay.tile_width):
            return None
        if (x + 1) * lay.tile_width > w or (y + 1) * lay.tile_height > h:
            return None  # edge tiles hold padding beyond the image
        raw = getattr(src, "raw_tile", None)
        if raw is None:
            return None
        sel = lay.frame_axes(frame, axes)
        index = []
        for d, c in zip(lay.order, src.chunks, strict=True):
            index.append(y if d == "Y" else x if d == "X" else 0 if d == "S" else sel[d] // c)
        out: bytes | None = raw(tuple(index), "jpeg")
        return out

    def thumbnail(
        self,
        max_width: int = 256,
        max_height: int = 256,
        *,
        frame: int | None = None,
        style: Any = "auto",
        format: str = "numpy",
        **axes: Any,
    ) -> Any:
        """The whole image within ``max_width`` x ``max_height`` (coarsest level that serves)."""
        return self.get_region(
            output_width=max_width,
            output_height=max_height,
            frame=frame,
            style=style,
            format=format,
            **axes,
        )

    # ------------------------------------------------------------ pixel values
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
        lay = self.layout
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
        lay = self.layout
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

    # -------------------------------------------------------- associated images
    @property
    def associated_images(self) -> dict[str, int]:
        """Names of the associated images (label, macro, thumbnail...) and their scenes."""
        return {
            info.associated: i
            for i, info in enumerate(self.image.reader.scenes())
            if info.associated and i != self.scene
        }

    def get_associated_image(
        self,
        name: str,
        *,
        max_width: int | None = None,
        max_height: int | None = None,
        format: str = "numpy",
    ) -> Any:
        """An associated image by name, in its own pixels (optionally shrunk)."""
        scenes = self.associated_images
        if name not in scenes:
            raise SelectionError(f"no associated image {name!r}; this file has {sorted(scenes)}")
        other = TileSource(self.image, scenes[name])
        return other.get_region(
            output_width=max_width,
            output_height=max_height,
            style=None if format in ("numpy", "dataarray", "tiff") else "auto",
            format=format,
        )

    # ------------------------------------------------------------------ iterate
    def tile_iterator(self, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Tiles of a region with overlap; see :func:`imgio.tiles.iterate.tile_iterator`."""
        from .iterate import tile_iterator

        return tile_iterator(self, *args, **kwargs)

    def tile_batches(
        self, *args: Any, **kwargs: Any
    ) -> Iterator[tuple[np.ndarray[Any, Any], list[dict[str, Any]]]]:
        """Tiles as ``(N, h, w, bands)`` batches; see :func:`imgio.tiles.iterate.tile_batches`."""
        from .iterate import tile_batches

        return tile_batches(self, *args, **kwargs)

    # --------------------------------------------------------------- internals
    def _read(
        self, level: int, y0: int, y1: int, x0: int, x1: int, sels: list[dict[str, int]]
    ) -> list[np.ndarray[Any, Any]]:
        """``(h, w, bands)`` of each frame selection at a stored level (one read per C group)."""
        lay = self.layout
        src = self.image.source(self.scene, level)
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
        self, box: Box, out_hw: tuple[int, int], sels: list[dict[str, int]]
    ) -> list[np.ndarray[Any, Any]]:
        """Each frame's pixels of ``box`` (base pixels) resampled to ``out_hw``."""
        lay = self.layout
        s = min((box[2] - box[0]) / out_hw[1], (box[3] - box[1]) / out_hw[0])
        level = lay.best_level(s)
        dy, dx = lay.downsamples[level]
        h, w = lay.sizes[level]
        fy0, fy1, fx0, fx1 = box[1] / dy, box[3] / dy, box[0] / dx, box[2] / dx
        iy0, ix0 = max(0, math.floor(fy0 + 1e-6)), max(0, math.floor(fx0 + 1e-6))
        iy1, ix1 = min(h, math.ceil(fy1 - 1e-6)), min(w, math.ceil(fx1 - 1e-6))
        iy1, ix1 = max(iy1, iy0 + 1), max(ix1, ix0 + 1)
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
    ) -> np.ndarray[Any, Any]:
        lay = self.layout
        sel = lay.frame_axes(frame, axes)
        chosen = frame is not None or axes.get("C") is not None
        if style is None and (fmt not in ("png", "jpeg") or self._plain_8bit(chosen)):
            return self._frames(box, out_hw, [sel])[0]
        bands = (
            self._default_style(chosen) if style is None or style == "auto" else parse_style(style)
        )
        if not bands:
            return self._frames(box, out_hw, [sel])[0]
        sels, samples = zip(*(self._band_source(b, sel) for b in bands), strict=True)
        unique = list({lay.frame_of(s): s for s in sels}.values())
        data = dict(
            zip((lay.frame_of(s) for s in unique), self._frames(box, out_hw, unique), strict=True)
        )
        planes = [data[lay.frame_of(s)][..., k] for s, k in zip(sels, samples, strict=True)]
        limits = [
            resolve_limits(b, lay.dtype, lambda s=s, k=k: self._sample_stats(s, k))
            for b, s, k in zip(bands, sels, samples, strict=True)
        ]
        return render(planes, bands, limits)

    def _plain_8bit(self, chosen: bool) -> bool:
        lay = self.layout
        multi = lay.frame_sizes.get("C", 1) > 1 and lay.bands == 1 and not chosen
        return lay.dtype == np.uint8 and not multi

    def _default_style(self, chosen: bool) -> list[BandStyle]:
        """The file's channel colours for multi-channel images; robust ranges when not 8-bit."""
        lay = self.layout
        robust = lay.dtype != np.uint8
        lo, hi = ("min:0.001", "max:0.001") if robust else (0, 255)
        if lay.frame_sizes.get("C", 1) > 1 and lay.bands == 1 and not chosen:
            colors = (
                self.image.get_channel_colors(self.scene)
                if hasattr(self.image, "get_channel_colors")
                else _scene_colors(self.image, self.scene)
            )
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
        lay = self.layout
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
        """Values of one frame and sample at the thumbnail level (for min/max/percentiles)."""
        lay = self.layout
        key = (lay.frame_of(sel), sample)
        with self._lock:
            if key in self._stats:
                return self._stats[key]
        box = (0.0, 0.0, float(lay.width), float(lay.height))
        s = max(1.0, lay.width / 1024, lay.height / 1024)
        out_hw = (max(1, round(lay.height / s)), max(1, round(lay.width / s)))
        data = self._frames(box, out_hw, [sel])[0][..., sample].ravel()
        data = data[np.isfinite(data)] if data.dtype.kind == "f" else data
        with self._lock:
            self._stats[key] = data
        return data


def _scene_colors(image: Image, scene: int) -> list[tuple[int, int, int]]:
    from .._colors import resolve_colors

    info = image._info(scene)
    names = info.channel_names
    return resolve_colors(names, info.channel_colors, len(names) if names else 1)


def _pad(arr: np.ndarray[Any, Any], th: int, tw: int, edge: str) -> np.ndarray[Any, Any]:
    h, w = arr.shape[:2]
    out = np.zeros((th, tw, arr.shape[2]), dtype=arr.dtype)
    if edge != "pad":
        color = parse_palette(edge)[-1]
        bands = arr.shape[2]
        fill = color[:bands] if bands >= 3 else color[1:2]
        out[...] = np.asarray(fill, dtype=np.float64).astype(arr.dtype)
    out[:h, :w] = arr
    return out
