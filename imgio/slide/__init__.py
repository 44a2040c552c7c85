"""OpenSlide's Python API on every format imgio reads: ``import imgio.slide as openslide``.

``OpenSlide``, ``ImageSlide``, ``open_slide``, ``detect_format``, the ``PROPERTY_NAME_*``
constants, the errors and :mod:`imgio.slide.deepzoom` behave as openslide-python's,
translated onto the tile verbs of :mod:`imgio.tiles` (no pixel code of their own).
``read_region(..., as_array=True)`` returns numpy as tiffslide does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImgioError, MissingFileError, UnsupportedFormatError, require
from ..tiles._cache import TileCache
from ._base import (
    AbstractSlide,
    ArgumentError,
    OpenSlideCache,
    OpenSlideError,
    OpenSlideUnsupportedFormatError,
    as_openslide_error,
    slide_path,
)
from ._maps import _AssociatedImageMap, _PropertyMap
from ._props import slide_properties

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from ..image import Image
    from ..tiles import TileSource

__all__ = [
    "PROPERTY_NAME_BACKGROUND_COLOR",
    "PROPERTY_NAME_BOUNDS_HEIGHT",
    "PROPERTY_NAME_BOUNDS_WIDTH",
    "PROPERTY_NAME_BOUNDS_X",
    "PROPERTY_NAME_BOUNDS_Y",
    "PROPERTY_NAME_COMMENT",
    "PROPERTY_NAME_MPP_X",
    "PROPERTY_NAME_MPP_Y",
    "PROPERTY_NAME_OBJECTIVE_POWER",
    "PROPERTY_NAME_QUICKHASH1",
    "PROPERTY_NAME_VENDOR",
    "AbstractSlide",
    "ArgumentError",
    "ImageSlide",
    "OpenSlide",
    "OpenSlideCache",
    "OpenSlideError",
    "OpenSlideUnsupportedFormatError",
    "detect_format",
    "open_slide",
]

#: bytes of decoded tiles each slide keeps by default (OpenSlide's default)
DEFAULT_CACHE_SIZE = 32 << 20

__version__ = "imgio"
__library_version__ = "imgio"

PROPERTY_NAME_COMMENT = "openslide.comment"
PROPERTY_NAME_VENDOR = "openslide.vendor"
PROPERTY_NAME_QUICKHASH1 = "openslide.quickhash-1"
PROPERTY_NAME_BACKGROUND_COLOR = "openslide.background-color"
PROPERTY_NAME_OBJECTIVE_POWER = "openslide.objective-power"
PROPERTY_NAME_MPP_X = "openslide.mpp-x"
PROPERTY_NAME_MPP_Y = "openslide.mpp-y"
PROPERTY_NAME_BOUNDS_X = "openslide.bounds-x"
PROPERTY_NAME_BOUNDS_Y = "openslide.bounds-y"
PROPERTY_NAME_BOUNDS_WIDTH = "openslide.bounds-width"
PROPERTY_NAME_BOUNDS_HEIGHT = "openslide.bounds-height"

VENDORS = {
    ".svs": "aperio",
    ".ndpi": "hamamatsu",
    ".scn": "leica",
    ".bif": "ventana",
    ".mrxs": "mirax",
    ".vms": "hamamatsu",
    ".tif": "generic-tiff",
    ".tiff": "generic-tiff",
    ".ptif": "generic-tiff",
}


def _vendor(image: Image) -> str:
    name = image.path.lower().rstrip("/")
    if name.endswith((".ome.tif", ".ome.tiff", ".ome.btf")):
        return "ome-tiff"
    if name.endswith(".zarr") or image.reader.name.startswith("ome-zarr"):
        return "ome-zarr"
    meta = image.metadata
    if isinstance(meta, str) and meta.startswith("Aperio"):
        return "aperio"
    return VENDORS.get(os.path.splitext(name)[1], image.reader.name)


def detect_format(filename: Any) -> str | None:
    """The vendor name of a slide imgio can open (``"aperio"``, ``"ome-tiff"``...), else None.

    ``filename`` is a ``str``, ``bytes`` or ``os.PathLike`` path, or a URL.
    """
    from ..image import Image

    path = slide_path(filename)
    try:
        with Image(path) as img:
            return _vendor(img)
    except ImgioError:
        return None


class OpenSlide(AbstractSlide):
    """A slide file of any format imgio reads, with openslide's members.

    As openslide's: every use after :meth:`close` (also the end of a ``with`` block)
    raises :class:`ArgumentError`; once a read fails with :class:`OpenSlideError`,
    every later use raises it too (latched). Decoded tiles are kept in a private
    32 MiB cache unless :meth:`set_cache` gives another.

    Parameters
    ----------
    filename
        Local path (``str``, ``bytes`` or ``os.PathLike``) or URL (``s3://``...).
    storage_options
        fsspec options for remote locations.

    Raises
    ------
    OpenSlideUnsupportedFormatError
        The file is missing or no imgio reader accepts it (as openslide).
    OpenSlideError
        The file is corrupt.
    ArgumentError
        ``filename`` is not a path.
    """

    def __init__(self, filename: Any, *, storage_options: Mapping[str, Any] | None = None) -> None:
        from ..image import Image

        self._filename = filename
        self._closed = False
        self._error: str | None = None
        path = slide_path(filename)
        try:
            self._image = Image(path, storage_options=storage_options)
        except (UnsupportedFormatError, MissingFileError) as exc:  # as openslide: "missing"
            raise OpenSlideUnsupportedFormatError(str(exc)) from exc
        except ImgioError as exc:
            raise as_openslide_error(exc) from exc
        with self._reading():
            infos = self._image.reader.scenes()
            main = next((i for i, info in enumerate(infos) if not info.associated), 0)
            self._ts = self._image.tiles if main == 0 else _tiles(self._image, main)
            self._ts.set_tile_cache(TileCache(DEFAULT_CACHE_SIZE))
            self._profile = self._image.reader.icc_profile(self._ts.scene)
        self._properties: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"OpenSlide({self._filename!r})"

    @classmethod
    def detect_format(cls, filename: Any) -> str | None:
        """The vendor name of ``filename``, or None when imgio cannot open it."""
        return detect_format(filename)

    def _check(self) -> None:
        """Raise as openslide does on a closed slide or after a failed read."""
        if self._closed:
            raise ArgumentError("the slide is closed")
        if self._error is not None:
            raise OpenSlideError(self._error)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Check the slide, then latch and re-raise as :class:`OpenSlideError` any imgio
        error of the block (the one place imgio errors of an open slide are wrapped)."""
        self._check()
        try:
            yield
        except ImgioError as exc:
            self._error = str(exc)
            raise as_openslide_error(exc) from exc

    @property
    def image(self) -> Image:
        """The underlying :class:`imgio.Image`."""
        self._check()
        return self._image

    @property
    def tiles(self) -> TileSource:
        """The tile verbs of the slide's main image."""
        self._check()
        return self._ts

    def close(self) -> None:
        """Release the file; any later use (a second close too) raises :class:`ArgumentError`."""
        if self._closed:
            raise ArgumentError("the slide is closed")
        self._closed = True
        self._image.close()

    @property
    def level_count(self) -> int:
        self._check()
        return self._ts.layout.n_stored

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        self._check()
        return tuple((w, h) for h, w in self._ts.layout.sizes)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        self._check()
        return tuple((dy + dx) / 2 for dy, dx in self._ts.layout.downsamples)

    @property
    def properties(self) -> Mapping[str, str]:
        """Metadata as strings: ``openslide.*`` keys plus the file's own (``tiff.*``...)."""
        self._check()
        return _PropertyMap(self)

    def _property_dict(self) -> dict[str, str]:
        with self._reading():
            if self._properties is None:
                vendor = _vendor(self._image)
                self._properties = slide_properties(self._image, self._ts, vendor)
            return self._properties

    @property
    def associated_images(self) -> Mapping[str, PILImage.Image]:
        """Label, macro, thumbnail... as RGBA PIL images, read on access."""
        self._check()
        return _AssociatedImageMap(self)

    def _associated_names(self) -> list[str]:
        self._check()
        return list(self._ts.associated_images)

    def _associated_image(self, name: str) -> PILImage.Image:
        with self._reading():
            arr = self._ts.get_associated_image(name, style="auto")
            profile = self._image.reader.icc_profile(self._ts.associated_images[name])
        out = _pil(_as_rgba(arr), "RGBA")
        if profile is not None:
            out.info["icc_profile"] = self._profile if profile == self._profile else profile
        return out

    def set_cache(self, cache: OpenSlideCache) -> None:
        """Keep decoded tiles in ``cache`` (shareable between slides) from now on."""
        if not isinstance(cache, OpenSlideCache):
            raise TypeError(f"Not a cache object: {cache!r}")
        self._check()
        self._ts.set_tile_cache(cache._cache)

    def read_region(
        self,
        location: tuple[int, int],
        level: int,
        size: tuple[int, int],
        *,
        as_array: bool = False,
    ) -> Any:
        """``size`` pixels of ``level`` at level-0 ``location``: an RGBA PIL image.

        Pixels outside the image, and every pixel of a level past the last, are
        transparent (as openslide). ``as_array=True`` returns a numpy ``(h, w, 4)``
        uint8 array instead (tiffslide's form, with the alpha kept).
        """
        self._check()
        if not isinstance(level, (int, np.integer)):
            raise ArgumentError(f"level must be an int, not {type(level).__name__}")
        w, h = (int(v) for v in size)
        if w < 0 or h < 0:
            raise OpenSlideError(f"negative width ({w}) or height ({h})")
        if 0 <= level < self._ts.layout.n_stored:
            with self._reading():
                arr = _region_rgba(self._ts, location, int(level), (w, h))
        else:
            arr = np.zeros((h, w, 4), dtype=np.uint8)
        if as_array:
            return arr
        out = _pil(arr, "RGBA")
        if self._profile is not None:
            out.info["icc_profile"] = self._profile
        return out

    def _scaled_region(
        self,
        location: tuple[int, int],
        level: int,
        size: tuple[int, int],
        out_hw: tuple[int, int],
    ) -> Any:
        lay = self._ts.layout
        dy, dx = lay.downsamples[level]
        box = (
            float(location[0]),
            float(location[1]),
            min(location[0] + size[0] * dx, lay.width),
            min(location[1] + size[1] * dy, lay.height),
        )
        with self._reading():
            return self._ts._pixels(box, out_hw, None, {}, "auto", "png", level=level)


def _tiles(image: Image, scene: int) -> TileSource:
    from ..tiles import TileSource

    return TileSource(image, scene)


def _region_rgba(
    ts: TileSource, location: tuple[int, int], level: int, size: tuple[int, int]
) -> np.ndarray[Any, Any]:
    lay = ts.layout
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
    rgb = _as_rgba(rgb)
    out[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = rgb
    return out


def _as_rgba(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    bands = arr.shape[-1]
    if bands == 4:
        return arr
    if bands == 3:
        alpha = np.full(arr.shape[:2] + (1,), 255, dtype=np.uint8)
        return np.concatenate([arr, alpha], axis=-1)
    gray = arr[..., :1]
    alpha = arr[..., 1:2] if bands == 2 else np.full_like(gray, 255)
    return np.concatenate([gray, gray, gray, alpha], axis=-1)


def _pil(arr: np.ndarray[Any, Any], mode: str) -> PILImage.Image:
    image_mod: Any = require("PIL.Image", extra="slide", package="Pillow")
    out: PILImage.Image = image_mod.fromarray(np.ascontiguousarray(arr), mode)
    return out


class ImageSlide(AbstractSlide):
    """A plain image (a path Pillow opens, or a PIL image) with the slide API, one level."""

    def __init__(self, file: Any) -> None:
        image_mod: Any = require("PIL.Image", extra="slide", package="Pillow")
        self._file = file
        self._close = not isinstance(file, image_mod.Image)
        img = image_mod.open(file) if self._close else file
        self._rgba = np.asarray(img.convert("RGBA"))
        self._profile = img.info.get("icc_profile") or None
        if self._close:
            img.close()

    def __repr__(self) -> str:
        return f"ImageSlide({self._file!r})"

    @classmethod
    def detect_format(cls, filename: str | os.PathLike[str]) -> str | None:
        """Pillow's format name of ``filename``, or None."""
        image_mod: Any = require("PIL.Image", extra="slide", package="Pillow")
        try:
            with image_mod.open(filename) as img:
                return str(img.format) if img.format else None
        except OSError:
            return None

    def close(self) -> None:
        pass

    @property
    def level_count(self) -> int:
        return 1

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return ((self._rgba.shape[1], self._rgba.shape[0]),)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return (1.0,)

    @property
    def properties(self) -> Mapping[str, str]:
        return {}

    @property
    def associated_images(self) -> Mapping[str, PILImage.Image]:
        return {}

    def read_region(
        self,
        location: tuple[int, int],
        level: int,
        size: tuple[int, int],
        *,
        as_array: bool = False,
    ) -> Any:
        """Like :meth:`OpenSlide.read_region` on the single level."""
        if level != 0:
            raise OpenSlideError(f"level {level!r} out of range (0..0)")
        w, h = (int(v) for v in size)
        if w < 0 or h < 0:
            raise OpenSlideError(f"negative width ({w}) or height ({h})")
        out = np.zeros((h, w, 4), dtype=np.uint8)
        x0, y0 = int(location[0]), int(location[1])
        ih, iw = self._rgba.shape[:2]
        ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(iw, x0 + w), min(ih, y0 + h)
        if ix1 > ix0 and iy1 > iy0:
            out[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = self._rgba[iy0:iy1, ix0:ix1]
        if as_array:
            return out
        image = _pil(out, "RGBA")
        if self._profile is not None:
            image.info["icc_profile"] = self._profile
        return image


def open_slide(filename: str | os.PathLike[str]) -> OpenSlide | ImageSlide:
    """An :class:`OpenSlide` when imgio reads the file, else an :class:`ImageSlide`.

    Plain photos (PNG, JPEG, GIF...: imgio's ``images`` reader) are an
    :class:`ImageSlide`, as in openslide.
    """
    try:
        slide = OpenSlide(filename)
    except OpenSlideUnsupportedFormatError:
        return ImageSlide(filename)
    if slide.image.reader.name == "images":
        slide.close()
        return ImageSlide(filename)
    return slide
