"""Whole-slide / tile-serving verbs above :class:`imgio.Image` (large_image semantics).

``img.tiles`` (or :class:`TileSource`) gives ``metadata()``, ``get_region``, ``get_tile``,
``thumbnail``, ``tile_iterator``, ``tile_batches``, ``histogram``, ``get_pixel`` and the
associated images; styles render false-colour composites. Nothing here imports a
reader: pixels come through the image's array sources.
"""

from __future__ import annotations

from ._style import StyleError, parse_color, parse_style
from .source import MIME_TYPES, TileSource, tile_source

__all__ = ["MIME_TYPES", "StyleError", "TileSource", "parse_color", "parse_style", "tile_source"]
