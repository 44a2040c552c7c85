"""OpenSlide's Python API on every format imgio reads: ``import imgio.slide as openslide``.

``OpenSlide``, ``ImageSlide``, ``open_slide``, ``detect_format``, the ``PROPERTY_NAME_*``
constants, the errors and :mod:`imgio.slide.deepzoom` behave as openslide-python's,
translated onto the tile verbs of :mod:`imgio.tiles` (no pixel code of their own).
``read_region(..., as_array=True)`` returns numpy as tiffslide does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImgioError, MissingFileError, UnsupportedFormatError
from ..tiles._cache import TileCache
from ._base import (
    AbstractSlide,
    ArgumentError,
    Filename,
    OpenSlideCache,
    OpenSlideError,
    OpenSlideUnsupportedFormatError,
    OpenSlideVersionError,
    as_openslide_error,
    slide_path,
)
from ._imageslide import ImageSlide
from ._maps import _AssociatedImageMap, _PropertyMap
from ._pixels import _as_rgba, _pil, _region_rgba
from ._props import slide_properties

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from ..image import Image
    from ..tiles import TileSource

__all__ = [
    "PROPERTY_NAME_BACKGROUND_COLOR",
    "PROPERTY_NAME_BARCODE",
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
    "OpenSlideVersionError",
    "detect_format",
    "open_slide",
]

#: bytes of decoded tiles each slide keeps by default (OpenSlide's default)
DEFAULT_CACHE_SIZE = 32 << 20

__version__ = "imgio"
__library_version__ = "imgio"

PROPERTY_NAME_BARCODE = "openslide.barcode"
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


def detect_format(filename: Filename) -> str | None:
    """The vendor name of a slide imgio can open (``"aperio"``, ``"ome-tiff"``...), else None.

    ``filename`` is a ``str``, ``bytes`` or ``os.PathLike`` path, or a URL.
    """
    from ..image import Image

    path = slide_path(filename)
    try:
        with Image(path) as img:
            return img.file.vendor
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

    def __init__(
        self, filename: Filename, *, storage_options: Mapping[str, Any] | None = None
    ) -> None:
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
        try:
            with self._reading():
                infos = self._image.reader.scenes()
                main = next((i for i, info in enumerate(infos) if not info.associated), 0)
                self._ts = _tiles(self._image, main)
                self._ts.set_tile_cache(TileCache(DEFAULT_CACHE_SIZE))
                self._profile = self._image.reader.icc_profile(self._ts.scene)
        except OpenSlideError:
            self._image.close()
            raise
        self._properties: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"OpenSlide({self._filename!r})"

    @classmethod
    def detect_format(cls, filename: Filename) -> str | None:
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
        self._ts.set_tile_cache(None)
        self._image.close()

    @property
    def level_count(self) -> int:
        self._check()
        return self._ts.geometry.n_stored

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        self._check()
        return tuple((w, h) for h, w in self._ts.geometry.sizes)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        self._check()
        return tuple((dy + dx) / 2 for dy, dx in self._ts.geometry.downsamples)

    @property
    def properties(self) -> Mapping[str, str]:
        """Metadata as strings: ``openslide.*`` keys plus the file's own (``tiff.*``...)."""
        self._check()
        return _PropertyMap(self)

    def _property_dict(self) -> dict[str, str]:
        with self._reading():
            if self._properties is None:
                self._properties = slide_properties(self._image.file, self._ts)
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
        if 0 <= level < self._ts.geometry.n_stored:
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
        lay = self._ts.geometry
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
    from ..tiles import tile_source

    return tile_source(image.file, scene)


def open_slide(filename: Filename) -> OpenSlide | ImageSlide:
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
