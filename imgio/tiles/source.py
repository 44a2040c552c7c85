"""The tile verbs of one scene: region at a size, tile (x, y, z), thumbnail, styles...

:class:`TileSource` is a thin layer above :class:`imgio.Image`: it chooses a stored
level, reads through the scene's array sources (covering tiles only, on the decode
pool), resamples by area averaging and renders styles. Every verb is a pure function
of its arguments, so an HTTP layer can key a cache on them (plus :attr:`token`).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..arrays import HasImageFile, ImageFile, as_image_file
from ..errors import SelectionError
from ._cache import TileCache
from ._encode import MIME_TYPES, encode, normalize_format
from ._geometry import SceneGeometry
from ._render import pad_tile
from ._style import parse_palette
from ._values import PixelValues

__all__ = ["MIME_TYPES", "TileSource", "tile_source"]

# one TileSource per (file, scene), kept outside the file so that files pickle as before
_CACHE: weakref.WeakKeyDictionary[ImageFile, dict[int, TileSource]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def tile_source(file: ImageFile, scene: int) -> TileSource:
    """The cached :class:`TileSource` of ``file``'s ``scene`` (``img.tiles``)."""
    with _CACHE_LOCK:
        per_file = _CACHE.setdefault(file, {})
        if scene not in per_file:
            per_file[scene] = TileSource(file, scene)
        return per_file[scene]


Box = tuple[float, float, float, float]


class TileSource(PixelValues):
    """large_image-style tile verbs on one scene of an :class:`~imgio.Image`.

    Get one with ``img.tiles`` (current scene) or ``TileSource(img, scene=...)``.
    Coordinates are level-0 ("base") pixels unless ``units=`` says otherwise; virtual
    tile levels ``z`` run from 0 (whole image in one tile) to ``levels - 1`` (full
    resolution), as in large_image.

    Parameters
    ----------
    image
        An open :class:`~imgio.Image` or :class:`~imgio.ImageFile`, or a path to open.
    scene
        Scene index or name (default: an ``Image``'s current scene, else 0).
    tile_size
        Edge of the served tiles (default: the file's own tile edge, else 256).
    edge
        Edge tiles: ``"crop"`` (default), ``"pad"`` (zeros) or a colour to pad with.
    jpeg_quality
        Quality of JPEG output.
    """

    def __init__(
        self,
        image: HasImageFile | ImageFile | str,
        scene: int | str | None = None,
        *,
        tile_size: int | None = None,
        edge: str = "crop",
        jpeg_quality: int = 90,
    ) -> None:
        self.file = as_image_file(image)
        if scene is None:  # an Image's public current scene; an ImageFile has none
            scene = image.current_scene_index if isinstance(image, HasImageFile) else 0
        self.scene = self.file.scene_index(scene)
        self.geometry = SceneGeometry(self.file, self.scene, tile_size)
        self.edge = edge
        self.jpeg_quality = int(jpeg_quality)
        self._stats: dict[tuple[int, int], np.ndarray[Any, Any]] = {}
        self._lock = threading.Lock()
        if edge not in ("crop", "pad"):
            parse_palette(edge)  # validates the colour

    def __repr__(self) -> str:
        lay = self.geometry
        return (
            f"<imgio.TileSource {self.file.path!r} scene {self.scene} {lay.width}x{lay.height} "
            f"levels={lay.levels} tile={lay.tile_width}x{lay.tile_height}>"
        )

    def set_tile_cache(self, cache: TileCache | None) -> None:
        """Read decoded tiles through ``cache`` (shareable between sources), or, with
        None, decode every read afresh (the default)."""
        self.__dict__["_tile_cache"] = cache
        self.__dict__.pop("_sources", None)

    # ----------------------------------------------------------------- summary
    @property
    def token(self) -> str:
        """Changes when the file changes: use it in cache keys with the verb's arguments."""
        return f"{self.file.source(self.scene, 0).token}|{self.geometry.tile_width}"

    @property
    def levels(self) -> int:
        """Number of levels of the virtual power-of-two tile pyramid."""
        return self.geometry.levels

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of level 0."""
        return self.geometry.width, self.geometry.height

    @property
    def tile_size(self) -> tuple[int, int]:
        """(width, height) of a tile."""
        return self.geometry.tile_width, self.geometry.tile_height

    @property
    def magnification(self) -> float | None:
        """Objective magnification of level 0 (from the file, else 10 µm / µm per pixel)."""
        power = self.file.objective_power(self.scene)
        mpp = self.geometry.mpp_x
        return power if power else (10.0 / mpp if mpp else None)

    @property
    def frame_count(self) -> int:
        return self.geometry.n_frames

    def metadata(self) -> dict[str, Any]:
        """large_image's ``getMetadata()`` keys: levels, sizes, tile size, magnification, frames."""
        lay = self.geometry
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
        lay = self.geometry
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
        lay = self.geometry
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
            arr = pad_tile(arr, th, tw, edge)
        return encode(arr, fmt, quality=self.jpeg_quality, attrs=self._attrs(box, s))

    def _raw_tile(
        self, x: int, y: int, z: int, frame: int | None, axes: Mapping[str, Any]
    ) -> bytes | None:
        lay = self.geometry
        level = lay.stored_level_for_z(z)
        if level is None or lay.dtype != np.uint8:
            return None
        if "C" in lay.frame_sizes and lay.frame_sizes["C"] > 1 and lay.bands == 1:
            return None  # multi-channel: JPEG output is a composite
        src = self._source(level)
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

    # -------------------------------------------------------- associated images
    @property
    def associated_images(self) -> dict[str, int]:
        """Names of the associated images (label, macro, thumbnail...) and their scenes."""
        return {n: i for n, i in self.file.associated_images.items() if i != self.scene}

    def get_associated_image(
        self,
        name: str,
        *,
        max_width: int | None = None,
        max_height: int | None = None,
        style: Any = None,
        format: str = "numpy",
    ) -> Any:
        """An associated image by name, in its own pixels (optionally shrunk)."""
        scenes = self.associated_images
        if name not in scenes:
            raise SelectionError(f"no associated image {name!r}; this file has {sorted(scenes)}")
        other = TileSource(self.file, scenes[name])
        return other.get_region(
            output_width=max_width, output_height=max_height, style=style, format=format
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
