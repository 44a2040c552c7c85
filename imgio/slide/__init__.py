"""OpenSlide's Python API on every format imgio reads: ``import imgio.slide as openslide``.

``OpenSlide``, ``ImageSlide``, ``open_slide``, ``detect_format``, the ``PROPERTY_NAME_*``
constants, the errors and :mod:`imgio.slide.deepzoom` behave as openslide-python's,
translated onto the tile verbs of :mod:`imgio.tiles` (no pixel code of their own).
``read_region(..., as_array=True)`` returns numpy as tiffslide does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import (
    ImgioError,
    MissingFileError,
    UnsupportedFormatError,
    require,
)
from ._base import (
    AbstractSlide,
    OpenSlideError,
    OpenSlideUnsupportedFormatError,
)

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
    "ImageSlide",
    "OpenSlide",
    "OpenSlideError",
    "OpenSlideUnsupportedFormatError",
    "detect_format",
    "open_slide",
]

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


def detect_format(filename: str | os.PathLike[str]) -> str | None:
    """The vendor name of a slide imgio can open (``"aperio"``, ``"ome-tiff"``...), else None."""
    from ..image import Image

    try:
        with Image(filename) as img:
            return img.file.vendor
    except ImgioError:
        return None


class OpenSlide(AbstractSlide):
    """A slide file of any format imgio reads, with openslide's members.

    Parameters
    ----------
    filename
        Local path or URL (``s3://``, ``https://``...).
    storage_options
        fsspec options for remote locations.

    Raises
    ------
    OpenSlideUnsupportedFormatError
        The file is missing or no imgio reader accepts it (as openslide).
    OpenSlideError
        The file is corrupt.
    """

    def __init__(
        self, filename: str | os.PathLike[str], *, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        from ..image import Image

        self._filename = filename
        try:
            self._image = Image(filename, storage_options=storage_options)
        except (UnsupportedFormatError, MissingFileError) as exc:  # as openslide: "missing"
            raise OpenSlideUnsupportedFormatError(str(exc)) from exc
        except ImgioError as exc:
            raise OpenSlideError(str(exc)) from exc
        infos = self._image.reader.scenes()
        main = next((i for i, info in enumerate(infos) if not info.associated), 0)
        self._ts = _tiles(self._image, main)
        self._properties: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"OpenSlide({self._filename!r})"

    @classmethod
    def detect_format(cls, filename: str | os.PathLike[str]) -> str | None:
        """The vendor name of ``filename``, or None when imgio cannot open it."""
        return detect_format(filename)

    @property
    def image(self) -> Image:
        """The underlying :class:`imgio.Image`."""
        return self._image

    @property
    def tiles(self) -> TileSource:
        """The tile verbs of the slide's main image."""
        return self._ts

    def close(self) -> None:
        """Release the file."""
        self._image.close()

    @property
    def level_count(self) -> int:
        return self._ts.geometry.n_stored

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return tuple((w, h) for h, w in self._ts.geometry.sizes)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return tuple((dy + dx) / 2 for dy, dx in self._ts.geometry.downsamples)

    @property
    def properties(self) -> Mapping[str, str]:
        """Metadata as strings: ``openslide.*`` keys plus the vendor's own."""
        if self._properties is None:
            self._properties = _properties(self._image, self._ts, self._image.file.vendor)
        return self._properties

    @property
    def associated_images(self) -> Mapping[str, PILImage.Image]:
        """Label, macro, thumbnail... as RGBA PIL images, read on access."""
        return _Associated(self._ts)

    def read_region(
        self,
        location: tuple[int, int],
        level: int,
        size: tuple[int, int],
        *,
        as_array: bool = False,
    ) -> Any:
        """``size`` pixels of ``level`` at level-0 ``location``: an RGBA PIL image.

        Pixels outside the image are transparent. ``as_array=True`` returns a numpy
        ``(h, w, 4)`` uint8 array instead (tiffslide's form, with the alpha kept).
        """
        arr = _region_rgba(self._ts, location, level, size)
        return arr if as_array else _pil(arr, "RGBA")


def _tiles(image: Image, scene: int) -> TileSource:
    from ..tiles import tile_source

    return tile_source(image.file, scene)


def _region_rgba(
    ts: TileSource, location: tuple[int, int], level: int, size: tuple[int, int]
) -> np.ndarray[Any, Any]:
    lay = ts.geometry
    if not isinstance(level, (int, np.integer)) or not 0 <= level < lay.n_stored:
        raise OpenSlideError(f"level {level!r} out of range (0..{lay.n_stored - 1})")
    w, h = (int(v) for v in size)
    if w < 0 or h < 0:
        raise OpenSlideError(f"negative width ({w}) or height ({h})")
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


class _Associated(Mapping[str, "PILImage.Image"]):
    def __init__(self, ts: TileSource) -> None:
        self._ts = ts
        self._names = list(ts.associated_images)

    def __getitem__(self, name: str) -> PILImage.Image:
        if name not in self._names:
            raise KeyError(name)
        arr = self._ts.get_associated_image(name, style="auto")
        return _pil(_as_rgba(arr), "RGBA")

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _properties(image: Image, ts: TileSource, vendor: str) -> dict[str, str]:
    lay = ts.geometry
    props: dict[str, str] = {PROPERTY_NAME_VENDOR: vendor}
    meta = image.metadata
    if isinstance(meta, str):
        props[PROPERTY_NAME_COMMENT] = meta
        props["tiff.ImageDescription"] = meta
        if vendor == "aperio":
            for part in meta.split("|")[1:]:
                key, sep, value = part.partition("=")
                if sep:
                    props[f"aperio.{key.strip()}"] = value.strip()
    if lay.mpp_x:
        props[PROPERTY_NAME_MPP_X] = _num(lay.mpp_x)
    if lay.mpp_y:
        props[PROPERTY_NAME_MPP_Y] = _num(lay.mpp_y)
    mag = ts.magnification
    if mag and (lay.mpp_x is None or abs(mag - 10.0 / lay.mpp_x) > 1e-9):
        props[PROPERTY_NAME_OBJECTIVE_POWER] = f"{mag:g}"
    props["openslide.level-count"] = str(lay.n_stored)
    tile0 = dict(zip(lay.order, image.source(ts.scene, 0).chunks, strict=True))
    for k, ((h, w), (dy, dx)) in enumerate(zip(lay.sizes, lay.downsamples, strict=True)):
        src = image.source(ts.scene, k)
        chunks = dict(zip(lay.order, src.chunks, strict=True))
        # a chunk as large as a small level is a tile clipped to it: report the stored tile
        for d, n in (("Y", h), ("X", w)):
            if chunks[d] == n < tile0[d]:
                chunks[d] = tile0[d]
        props[f"openslide.level[{k}].width"] = str(w)
        props[f"openslide.level[{k}].height"] = str(h)
        props[f"openslide.level[{k}].downsample"] = _num((dy + dx) / 2)
        props[f"openslide.level[{k}].tile-width"] = str(chunks["X"])
        props[f"openslide.level[{k}].tile-height"] = str(chunks["Y"])
    for name, scene in ts.associated_images.items():
        sizes = image.file.sizes(scene, 0)
        props[f"openslide.associated.{name}.width"] = str(sizes["X"])
        props[f"openslide.associated.{name}.height"] = str(sizes["Y"])
    return props


def _num(value: float) -> str:
    """openslide's number text: ``1`` for whole numbers, the shortest repr otherwise."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


class ImageSlide(AbstractSlide):
    """A plain image (a path Pillow opens, or a PIL image) with the slide API, one level."""

    def __init__(self, file: Any) -> None:
        image_mod: Any = require("PIL.Image", extra="slide", package="Pillow")
        self._file = file
        self._close = not isinstance(file, image_mod.Image)
        try:
            img = image_mod.open(file) if self._close else file
            self._rgba = np.asarray(img.convert("RGBA"))
        except (OSError, SyntaxError, ValueError, EOFError) as exc:  # Pillow's decode errors
            raise OpenSlideError(f"{file!r}: Pillow cannot decode the image ({exc})") from exc
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
        return out if as_array else _pil(out, "RGBA")


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
