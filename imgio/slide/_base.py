"""What every slide class shares: errors, context manager, best level, thumbnail, cache."""

from __future__ import annotations

import ctypes
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from io import BytesIO
from typing import TYPE_CHECKING, Any

from ..errors import ImgioError, UnsupportedFormatError, require
from ..tiles._cache import TileCache

if TYPE_CHECKING:
    from PIL import Image as PILImage
    from PIL import ImageCms

__all__ = [
    "AbstractSlide",
    "ArgumentError",
    "Filename",
    "OpenSlideCache",
    "OpenSlideError",
    "OpenSlideUnsupportedFormatError",
    "OpenSlideVersionError",
    "as_openslide_error",
    "slide_path",
]


class OpenSlideError(ImgioError):
    """A slide could not be read (openslide's error; also an :class:`imgio.ImgioError`)."""


class OpenSlideUnsupportedFormatError(OpenSlideError, UnsupportedFormatError):
    """No imgio reader accepts the file."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.location = ""
        self.declined: dict[str, str] = {}


class OpenSlideVersionError(OpenSlideError):
    """openslide's error for a feature its C library lacks (imgio.slide has them all;
    defined so that code importing it runs unchanged)."""


class ArgumentError(ctypes.ArgumentError, ImgioError):
    """A closed slide was used, or an argument has the wrong type (openslide raises
    ``ctypes.ArgumentError`` for both; this is one, and an :class:`imgio.ImgioError`)."""


_WRAPPED: dict[type[BaseException], type[OpenSlideError]] = {}
_WRAPPED_LOCK = threading.Lock()


def as_openslide_error(exc: ImgioError) -> OpenSlideError:
    """``exc`` as an :class:`OpenSlideError` that is still of ``exc``'s own class.

    The one place where imgio errors reaching the facade become openslide's: code
    written for openslide catches ``OpenSlideError``, imgio code its own classes.
    """
    if isinstance(exc, OpenSlideError):
        return exc
    kind = type(exc)
    with _WRAPPED_LOCK:
        wrapped = _WRAPPED.get(kind)
        if wrapped is None:
            body = {"__reduce__": _reduce, "__module__": kind.__module__}
            wrapped = _WRAPPED[kind] = type(kind.__name__, (OpenSlideError, kind), body)
    out = wrapped.__new__(wrapped, *exc.args)
    out.args = exc.args
    out.__dict__.update(exc.__dict__)
    out.__dict__["_imgio_error"] = exc
    out.__cause__ = exc
    return out


def _reduce(self: OpenSlideError) -> tuple[Any, tuple[Any, ...]]:
    """Pickle a wrapped error as its imgio error, wrapped again on unpickling."""
    return as_openslide_error, (self.__dict__["_imgio_error"],)


#: what openslide accepts as a slide path
Filename = str | bytes | os.PathLike[Any]


def slide_path(filename: Filename) -> str:
    """A ``str``, ``bytes`` or ``os.PathLike`` path as text (openslide takes all three)."""
    if isinstance(filename, (str, bytes, os.PathLike)):
        path = os.fspath(filename)
        return os.fsdecode(path) if isinstance(path, bytes) else path
    raise ArgumentError(
        f"a slide path is a str, bytes or os.PathLike, not {type(filename).__name__}"
    )


class OpenSlideCache:
    """A cache of decoded tiles, ``capacity`` bytes, shareable between slides
    (:meth:`OpenSlide.set_cache`)."""

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise ArgumentError(f"cache capacity must be an int, not {type(capacity).__name__}")
        if capacity < 0:
            raise ArgumentError(f"cache capacity must be >= 0, not {capacity}")
        self._capacity = capacity
        self._cache = TileCache(capacity)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._capacity!r})"


class AbstractSlide(ABC):
    """The members shared by :class:`OpenSlide` and :class:`ImageSlide`."""

    _profile: bytes | None = None

    def __enter__(self) -> AbstractSlide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Release the file."""

    @property
    @abstractmethod
    def level_count(self) -> int:
        """Number of stored levels."""

    @property
    @abstractmethod
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        """``(width, height)`` of each level."""

    @property
    def dimensions(self) -> tuple[int, int]:
        """``(width, height)`` of level 0."""
        return self.level_dimensions[0]

    @property
    @abstractmethod
    def level_downsamples(self) -> tuple[float, ...]:
        """Downsample factor of each level."""

    @property
    @abstractmethod
    def properties(self) -> Mapping[str, str]:
        """Metadata as strings."""

    @property
    @abstractmethod
    def associated_images(self) -> Mapping[str, PILImage.Image]:
        """Associated images by name."""

    @property
    def color_profile(self) -> ImageCms.ImageCmsProfile | None:
        """The slide's ICC profile (Pillow's ``ImageCmsProfile``), or None."""
        if self._profile is None:
            return None
        cms: Any = require("PIL.ImageCms", extra="slide", package="Pillow")
        profile: ImageCms.ImageCmsProfile = cms.getOpenProfile(BytesIO(self._profile))
        return profile

    def set_cache(self, cache: OpenSlideCache) -> None:  # noqa: B027 - openslide's no-op
        """Cache decoded tiles in ``cache`` (this slide keeps none: a no-op)."""

    @abstractmethod
    def read_region(
        self,
        location: tuple[int, int],
        level: int,
        size: tuple[int, int],
        *,
        as_array: bool = False,
    ) -> Any:
        """An RGBA region (see :meth:`imgio.slide.OpenSlide.read_region`)."""

    def get_best_level_for_downsample(self, downsample: float) -> int:
        """The level to read for ``downsample`` (openslide's rule: never coarser than asked)."""
        downsamples = self.level_downsamples
        if downsample < downsamples[0]:
            return 0
        for i in range(1, len(downsamples)):
            if downsample < downsamples[i]:
                return i - 1
        return len(downsamples) - 1

    def _scaled_region(
        self,
        location: tuple[int, int],
        level: int,
        size: tuple[int, int],
        out_hw: tuple[int, int],
    ) -> Any:
        """``read_region(location, level, size)`` area-averaged to ``out_hw``: numpy
        ``(h, w, bands)``. Slides with tile verbs read the covering tiles instead."""
        from ..tiles._resample import area_resize

        arr = self.read_region(location, level, size, as_array=True)
        return area_resize(arr, (0, arr.shape[0], 0, arr.shape[1]), out_hw)

    def get_thumbnail(self, size: tuple[int, int]) -> PILImage.Image:
        """An RGB thumbnail within ``size``, on the slide's background colour (white)."""
        import numpy as np

        from ._pixels import _pil

        width, height = self.dimensions
        downsample = max(width / size[0], height / size[1])
        level = self.get_best_level_for_downsample(downsample)
        out_w = max(1, min(size[0], round(width / downsample)))
        out_h = max(1, min(size[1], round(height / downsample)))
        rgba = self._scaled_region((0, 0), level, self.level_dimensions[level], (out_h, out_w))
        if rgba.shape[-1] in (1, 2):  # grey, grey + alpha: the grey band as R, G and B
            rgba = np.concatenate([np.repeat(rgba[..., :1], 3, axis=-1), rgba[..., 1:]], axis=-1)
        if rgba.shape[-1] == 4:
            alpha = rgba[..., 3:].astype(np.float32) / 255
            rgba = np.rint(rgba[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
        out = _pil(rgba[..., :3], "RGB")
        if self._profile is not None:
            out.info["icc_profile"] = self._profile
        return out
