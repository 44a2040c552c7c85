"""Channel colours: the file's own (OME ``Color``, NGFF ``omero``), else a default by name.

Colours travel through imgio as RGBA packed into one int (OME's convention, unsigned
here) and are presented to users as ``(r, g, b)`` tuples of 0-255.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

__all__ = [
    "DEFAULT_CYCLE",
    "color_by_name",
    "default_color",
    "hex_color",
    "resolve_colors",
    "unpack_rgba",
]

RGB = tuple[int, int, int]

# fluorophores and stains by the names microscopes give channels (lower case, substring match)
_BY_NAME: tuple[tuple[tuple[str, ...], RGB], ...] = (
    (("dapi", "hoechst", "dna", "nuclei", "blue", "bfp", "405", "cfp"), (0, 0, 255)),
    (("gfp", "fitc", "alexa488", "alexa 488", "af488", "488", "green", "yfp", "egfp"), (0, 255, 0)),
    (
        ("mcherry", "rfp", "tritc", "texas", "cy3", "alexa568", "alexa 568", "568", "561", "red"),
        (255, 0, 0),
    ),
    (("cy5", "alexa647", "alexa 647", "647", "640", "far red", "farred"), (255, 0, 255)),
    (("cy7", "750", "790"), (0, 255, 255)),
    (("bright", "brightfield", "dic", "phase", "trans", "gray", "grey"), (255, 255, 255)),
)

# one pattern per colour, tried in the table's order (the first colour named wins)
_PATTERNS = tuple((re.compile("|".join(map(re.escape, keys))), rgb) for keys, rgb in _BY_NAME)
_ANY = re.compile("|".join(re.escape(k) for keys, _ in _BY_NAME for k in keys))

# for channels with no colour and no recognisable name: napari/Fiji-like composite order
DEFAULT_CYCLE: tuple[RGB, ...] = (
    (0, 255, 0),
    (255, 0, 255),
    (0, 255, 255),
    (255, 0, 0),
    (0, 0, 255),
    (255, 255, 0),
)


def unpack_rgba(packed: int) -> tuple[int, int, int, int]:
    """OME's packed RGBA int (signed or unsigned) as ``(r, g, b, a)``."""
    v = int(packed) & 0xFFFFFFFF
    return (v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF


def hex_color(rgb: Sequence[int]) -> str:
    """``(r, g, b)`` as ``"#rrggbb"``."""
    r, g, b = (int(c) for c in rgb[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


@lru_cache(maxsize=1024)
def color_by_name(name: str | None) -> RGB | None:
    """The usual colour of a fluorophore or stain named in ``name`` (DAPI blue...), or None."""
    low = name.lower() if name else ""
    if _ANY.search(low):
        for pattern, rgb in _PATTERNS:
            if pattern.search(low):
                return rgb
    return None


def default_color(name: str | None, index: int, n_channels: int) -> RGB:
    """A colour for a channel the file gives none: by fluorophore name, else by position.

    A single channel is white (grey scale); several fall back to a composite cycle.
    """
    rgb = color_by_name(name)
    if rgb is not None:
        return rgb
    if n_channels == 1:
        return (255, 255, 255)
    return DEFAULT_CYCLE[index % len(DEFAULT_CYCLE)]


def resolve_colors(
    names: Sequence[str] | None, packed: Sequence[int | None] | None, n_channels: int
) -> list[RGB]:
    """One ``(r, g, b)`` per channel: the file's colour where it has one, else a default.

    A packed colour that is pure black with zero alpha is treated as absent (writers
    that have no colour often leave 0).
    """
    out: list[RGB] = []
    for i in range(n_channels):
        value = packed[i] if packed is not None and i < len(packed) else None
        if value is not None and (int(value) & 0xFFFFFFFF) != 0:
            r, g, b, _ = unpack_rgba(value)
            out.append((r, g, b))
            continue
        name = names[i] if names is not None and i < len(names) else None
        out.append(default_color(name, i, n_channels))
    return out
