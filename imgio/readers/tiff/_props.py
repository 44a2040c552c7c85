"""A TIFF's text properties as whole-slide tools name them (``tiff.*``, ``aperio.*``),
its ICC profiles and OpenSlide's ``quickhash-1`` of a pyramid.

The names and value forms are OpenSlide's, so that ``imgio.slide`` reports what
OpenSlide reports: text tags up to their first NUL, rationals as decimal text
(:func:`format_double`), ResolutionUnit as ``none``/``inch``/``centimeter``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ._errors import tiff_errors

__all__ = [
    "WholeSlideFacts",
    "aperio_icc_name",
    "format_double",
    "icc_profile",
    "quickhash1",
    "text_properties",
]

#: text tags, in the order OpenSlide hashes them into quickhash-1
STRING_TAGS = (
    ("tiff.ImageDescription", 270),
    ("tiff.Make", 271),
    ("tiff.Model", 272),
    ("tiff.Software", 305),
    ("tiff.DateTime", 306),
    ("tiff.Artist", 315),
    ("tiff.HostComputer", 316),
    ("tiff.Copyright", 33432),
    ("tiff.DocumentName", 269),
)
FLOAT_TAGS = (
    ("tiff.XResolution", 282),
    ("tiff.YResolution", 283),
    ("tiff.XPosition", 286),
    ("tiff.YPosition", 287),
)
RESOLUTION_UNITS = {1: "none", 2: "inch", 3: "centimeter"}
#: OpenSlide computes no quickhash over a smallest level larger than this (stored bytes)
QUICKHASH_LIMIT = 5 << 20


def format_double(value: float) -> str:
    """A double as OpenSlide (GLib's ``g_ascii_dtostr``) writes it: ``%.17g``."""
    return format(value, ".17g")


def _raw_tag(fh: Any, tag: Any) -> bytes:
    """A tag's stored bytes (the file is open)."""
    fh.seek(tag.valueoffset)
    data: bytes = fh.read(int(tag.count))
    return data


def _text_bytes(fh: Any, page: Any, code: int) -> bytes | None:
    """A text tag's bytes up to its first NUL, or None."""
    tag = page.tags.get(code)
    if tag is None:
        return None
    raw = _raw_tag(fh, tag) if int(tag.dtype) in (1, 2, 7) else str(tag.value).encode()
    return raw.split(b"\0", 1)[0]


def _text(fh: Any, page: Any, code: int) -> str | None:
    raw = _text_bytes(fh, page, code)
    return None if raw is None else raw.decode("utf-8", errors="replace")


def _float(value: Any) -> float | None:
    try:
        if isinstance(value, tuple):
            return float(value[0]) / float(value[1])
        return float(value)
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None


def text_properties(fh: Any, page: Any, svs: bool) -> dict[str, str]:
    """The ``tiff.*`` properties of ``page`` and, for an Aperio SVS, its ``aperio.*`` fields."""
    out: dict[str, str] = {}
    for name, code in STRING_TAGS:
        text = _text(fh, page, code)
        if text is not None:
            out[name] = text
    for name, code in FLOAT_TAGS:
        tag = page.tags.get(code)
        number = _float(tag.value) if tag is not None else None
        if number is not None:
            out[name] = format_double(number)
    unit = page.tags.get(296)
    try:
        code = int(unit.value) if unit is not None else 2
    except (TypeError, ValueError):
        code = 0
    out["tiff.ResolutionUnit"] = RESOLUTION_UNITS.get(code, "unknown")
    description = out.get("tiff.ImageDescription", "")
    if svs and description.startswith("Aperio"):
        for part in description.split("|")[1:]:
            key, sep, value = part.partition("=")
            if sep:
                out[f"aperio.{key.strip()}"] = value.strip()
    return out


def icc_profile(fh: Any, page: Any) -> bytes | None:
    """The InterColorProfile (tag 34675) of ``page``, or None."""
    tag = page.tags.get(34675)
    if tag is None or not tag.count:
        return None
    return _raw_tag(fh, tag)


def aperio_icc_name(page: Any) -> str | None:
    """The ``ICC Profile`` field of an Aperio description (the profile's name), or None."""
    for part in str(page.description or "").split("|")[1:]:
        key, sep, value = part.partition("=")
        if sep and key.strip() == "ICC Profile":
            return value.strip()
    return None


def quickhash1(fh: Any, smallest: Any, first: Any) -> str | None:
    """OpenSlide's quickhash-1: SHA-256 of the smallest level's stored tiles or strips,
    then each text tag of the first page as ``name\\0value\\0``. None when that level
    stores more than 5 MiB (OpenSlide computes none then)."""
    offsets, counts = smallest.dataoffsets, smallest.databytecounts
    if not offsets or len(offsets) != len(counts) or sum(counts) > QUICKHASH_LIMIT:
        return None
    sha = hashlib.sha256()
    for offset, count in zip(offsets, counts, strict=True):
        fh.seek(offset)
        sha.update(fh.read(count))
    for name, code in STRING_TAGS:
        sha.update(name.encode() + b"\0")
        sha.update((_text_bytes(fh, first, code) or b"") + b"\0")
    return sha.hexdigest()


class WholeSlideFacts:
    """The TIFF reader's ICC profiles and named properties (a mixin of ``TiffReader``)."""

    location: Any
    _series: list[Any]
    _level_maps: dict[int, list[int]]
    _empty: dict[int, Any]

    if TYPE_CHECKING:  # provided by the reader

        def check_scene_level(self, scene: int, level: int = 0) -> None: ...
        def scenes(self) -> Sequence[Any]: ...
        def _file(self) -> AbstractContextManager[Any]: ...

    def _keyframe(self, scene: int, level: int = 0) -> Any:
        self.check_scene_level(scene, level)
        if scene in self._empty:
            return None
        return self._series[scene].levels[self._level_maps[scene][level]].keyframe

    def icc_profile(self, scene: int) -> bytes | None:
        """The InterColorProfile of the scene's first page; an Aperio thumbnail that
        names the slide's profile gets the slide's (as OpenSlide)."""
        page = self._keyframe(scene)
        if page is None:
            return None
        with self._file() as tif, tiff_errors(self.location.url, "ICC profile"):
            out = icc_profile(tif.filehandle, page)
            if out is None and tif.is_svs and self.scenes()[scene].associated == "thumbnail":
                main = self._keyframe(0)
                name = aperio_icc_name(page)
                if name and name == aperio_icc_name(main):
                    out = icc_profile(tif.filehandle, main)
            return out

    def stored_tile(self, scene: int, level: int = 0) -> tuple[int, int] | None:
        """TileLength x TileWidth of a tiled level; None for strips."""
        page = self._keyframe(scene, level)
        if page is None or not page.is_tiled:
            return None
        return int(page.tilelength), int(page.tilewidth)

    def named_properties(self, scene: int) -> dict[str, str]:
        """``tiff.*`` tags of the scene's first page, ``aperio.*`` fields of an SVS and
        OpenSlide's ``openslide.quickhash-1`` (smallest level's stored bytes)."""
        page = self._keyframe(scene)
        if page is None:
            return {}
        smallest = self._keyframe(scene, self.scenes()[scene].n_levels - 1)
        with self._file() as tif, tiff_errors(self.location.url, "TIFF tags"):
            out = text_properties(tif.filehandle, page, bool(tif.is_svs))
            digest = quickhash1(tif.filehandle, smallest, page)
        if digest:
            out["openslide.quickhash-1"] = digest
        return out
