"""openslide's live mappings: properties and associated images of an open slide.

Both ask the slide on every access, so that they raise as openslide's do once the
slide is closed (:class:`~imgio.slide.ArgumentError`) or has failed
(:class:`~imgio.slide.OpenSlideError`, latched).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from . import OpenSlide

__all__ = ["_AssociatedImageMap", "_PropertyMap"]

_T = TypeVar("_T")


class _OpenSlideMap(Mapping[str, _T]):
    def __init__(self, slide: OpenSlide) -> None:
        self._slide = slide

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict(self)!r}>"

    def __len__(self) -> int:
        return len(self._keys())

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    @abstractmethod
    def _keys(self) -> list[str]:
        """The names the map holds (each map kind answers its own)."""


class _PropertyMap(_OpenSlideMap[str]):
    """``OpenSlide.properties``: property name -> text."""

    def _keys(self) -> list[str]:
        return list(self._slide._property_dict())

    def __getitem__(self, key: str) -> str:
        value = self._slide._property_dict().get(key)
        if value is None:
            raise KeyError(key)
        return value


class _AssociatedImageMap(_OpenSlideMap["PILImage.Image"]):
    """``OpenSlide.associated_images``: name -> RGBA PIL image (read on access)."""

    def _keys(self) -> list[str]:
        return self._slide._associated_names()

    def __getitem__(self, key: str) -> PILImage.Image:
        if key not in self._keys():
            raise KeyError(key)
        image: Any = self._slide._associated_image(key)
        return image  # type: ignore[no-any-return]
