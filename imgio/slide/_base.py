"""What every slide class shares: errors, context manager, best level, thumbnail."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ImgioError, UnsupportedFormatError

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["AbstractSlide", "OpenSlideError", "OpenSlideUnsupportedFormatError"]


class OpenSlideError(ImgioError):
    """A slide could not be read (openslide's error; also an :class:`imgio.ImgioError`)."""


class OpenSlideUnsupportedFormatError(OpenSlideError, UnsupportedFormatError):
    """No imgio reader accepts the file."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.location = ""
        self.declined: dict[str, str] = {}


class AbstractSlide(ABC):
    """The members shared by :class:`OpenSlide` and :class:`ImageSlide`."""

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
    def color_profile(self) -> None:
        """The ICC profile: imgio reads none (openslide's name, always None here)."""
        return None

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

    def get_thumbnail(self, size: tuple[int, int]) -> PILImage.Image:
        """An RGB thumbnail within ``size``, on the slide's background colour (white)."""
        import numpy as np

        from . import _pil

        width, height = self.dimensions
        downsample = max(width / size[0], height / size[1])
        level = self.get_best_level_for_downsample(downsample)
        out_w = max(1, min(size[0], round(width / downsample)))
        out_h = max(1, min(size[1], round(height / downsample)))
        tiles = getattr(self, "tiles", None)
        if tiles is not None:
            box = (0.0, 0.0, float(width), float(height))
            rgba = tiles._pixels(box, (out_h, out_w), None, {}, "auto", "png", level=level)
        else:
            from ..tiles._resample import area_resize

            full = self.read_region((0, 0), 0, (width, height), as_array=True)
            rgba = area_resize(full, (0, full.shape[0], 0, full.shape[1]), (out_h, out_w))
        if rgba.shape[-1] == 4:
            alpha = rgba[..., 3:].astype(np.float32) / 255
            rgba = np.rint(rgba[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
        elif rgba.shape[-1] == 1:
            rgba = np.repeat(rgba, 3, axis=-1)
        return _pil(rgba[..., :3], "RGB")
