"""Checks of a TIFF's OME-XML before tifffile acts on it: files it names stay inside the
folder (see :mod:`imgio._confine`), plane counts and indices stay bounded."""

from __future__ import annotations

import math
import re
from typing import Any

from ..._confine import referenced
from ..._limits import MAX_GRID
from ..._location import Location

__all__ = ["FLAVOURS", "check_ome_files"]

# tifffile flavours whose series come from their metadata, in tifffile's order
FLAVOURS: tuple[str, ...] = ("shaped", "lsm", "mmstack", "ome", "imagej", "ndtiff", "fluoview")
FLAVOURS += ("stk", "svs", "scn", "qpi", "ndpi", "bif", "philips", "scanimage", "nih", "mdgel")
_FILE_NAME = re.compile(r"<(?:\w+:)?UUID\b[^>]*?\bFileName\s*=\s*(\"[^\"]*\"|'[^']*')")


_PIXELS = re.compile(r"<(?:\w+:)?Pixels\b[^>]*>")
_PLANE_INDEX = re.compile(r"\b(IFD|PlaneCount|FirstZ|FirstC|FirstT)\s*=\s*[\"']\s*(\d+)")
_SIZE = re.compile(r"\bSize([ZCT])\s*=\s*[\"']\s*(\d+)")


def check_ome_files(location: Location, tif: Any, allow_external: bool) -> None:
    """Every file a multi-file OME-TIFF names must lie in its folder (before tifffile opens
    them; see :mod:`imgio._confine`); an image may declare at most ``MAX_GRID`` planes
    (``ValueError`` otherwise: the OME metadata is then ignored)."""
    xml = tif.pages.first.description or ""
    for pixels in _PIXELS.findall(xml):
        planes = math.prod(int(v) for _, v in _SIZE.findall(pixels))
        if planes > MAX_GRID:
            raise ValueError(f"OME Pixels declare {planes} planes (at most {MAX_GRID})")
    for key, value in _PLANE_INDEX.findall(xml):
        if int(value) > MAX_GRID:  # tifffile sizes lists by these
            raise ValueError(f"OME TiffData {key}={value} (at most {MAX_GRID})")
    for quoted in dict.fromkeys(_FILE_NAME.findall(xml)):
        import html  # only here: an import every start-up otherwise

        name = html.unescape(quoted[1:-1])
        if name and name != location.name:
            referenced(location, name, allow_external=allow_external, where=location.url)
