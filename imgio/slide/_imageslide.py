"""openslide's ``ImageSlide``: a plain image (PNG, JPEG...) with the slide API."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .._limits import BoundedFile
from ..errors import ImgioError, require
from ._base import AbstractSlide, OpenSlideError
from ._pixels import _pil

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["ImageSlide", "ImageSlideClosedError"]


def _bounded(path: str | bytes | os.PathLike[str]) -> BoundedFile:
    """The file for Pillow, whose reads stop at its end (a flipped PNG chunk length asks
    ``read`` for gigabytes, allocated before reading)."""
    fh = open(path, "rb")  # noqa: SIM115 - closed by the caller through the wrapper
    return BoundedFile(fh, os.fstat(fh.fileno()).st_size, os.fsdecode(path))


class ImageSlideClosedError(ImgioError, ValueError):
    """An :class:`ImageSlide` was used after ``close()`` (openslide raises ValueError)."""


class ImageSlide(AbstractSlide):
    """A plain image (a path Pillow opens, or a PIL image) with the slide API, one level."""

    def __init__(self, file: Any) -> None:
        image_mod: Any = require("PIL.Image", extra="slide", package="Pillow")
        self._file = file
        self._close = not isinstance(file, image_mod.Image)
        fh = _bounded(file) if isinstance(file, (str, bytes, os.PathLike)) else None
        # Pillow's decode errors (a length field past the file ends in a short read)
        errors = (OSError, SyntaxError, ValueError, EOFError, image_mod.DecompressionBombError)
        try:
            img = image_mod.open(fh or file) if self._close else file
            self._rgba = np.asarray(img.convert("RGBA"))
        except errors as exc:
            raise OpenSlideError(f"{file!r}: Pillow cannot decode the image ({exc})") from exc
        finally:
            if fh is not None:
                fh.close()
        self._profile = img.info.get("icc_profile") or None
        self._closed = False
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
        """Forget the pixels: later reads raise ``ValueError`` (as openslide's)."""
        self._closed = True

    def _check(self) -> None:
        if self._closed:
            raise ImageSlideClosedError("Cannot read from a closed slide")

    @property
    def level_count(self) -> int:
        return 1

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        self._check()
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
        self._check()
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
