"""large_image styles: bands, min/max, palettes, composites, gamma -> RGB(A) uint8.

A style is a dict (or its JSON text) as large_image defines it: one band's keys, or
``{"bands": [...]}`` with one dict per band. Keys: ``band`` (1-based sample index or
``"red"``/``"green"``/``"blue"``/``"gray"``/``"alpha"``), ``frame``, ``channel``
(imgio: a channel name or index at the current T/Z), ``framedelta``, ``min``/``max``
(a number, ``"auto"``, ``"min"``, ``"max"``, ``"full"``, or ``"min:0.02"``-style
percentiles excluding that fraction), ``palette`` (a colour, a list of colours, or a
matplotlib colormap name), ``composite`` (``"lighten"``/``"multiply"``), ``gamma``
(applied to the normalised value, ``v ** gamma``), ``clamp``, ``nodata``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ImgioError

__all__ = ["BandStyle", "StyleError", "parse_color", "parse_style", "render"]

BAND_KEYS = {
    "band",
    "frame",
    "framedelta",
    "channel",
    "min",
    "max",
    "palette",
    "composite",
    "gamma",
    "clamp",
    "nodata",
    "dtype",
    "axis",
}
BAND_NAMES = {"red": 0, "green": 1, "blue": 2, "alpha": 3}
NAMED = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "lime": (0, 255, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "cyan": (0, 255, 255),
    "aqua": (0, 255, 255),
    "magenta": (255, 0, 255),
    "fuchsia": (255, 0, 255),
    "orange": (255, 165, 0),
    "purple": (128, 0, 128),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "maroon": (128, 0, 0),
    "navy": (0, 0, 128),
    "olive": (128, 128, 0),
    "teal": (0, 128, 128),
    "pink": (255, 192, 203),
    "brown": (165, 42, 42),
    "transparent": (0, 0, 0, 0),
}


class StyleError(ImgioError, ValueError):
    """A style key, colour, range or band that is not valid."""


@dataclass(frozen=True)
class BandStyle:
    """One band of a parsed style (frames/channels resolved later by the tile source)."""

    band: int | str | None  # 0-based sample, "gray", or None (every sample)
    frame: int | None
    framedelta: int | None
    channel: int | str | None
    min: Any
    max: Any
    palette: np.ndarray[Any, Any] | None  # (n, 4) float RGBA 0..255
    composite: str
    gamma: float
    clamp: bool
    nodata: float | None


def parse_color(value: Any) -> tuple[float, float, float, float]:
    """``#rgb``, ``#rgba``, ``#rrggbb``, ``#rrggbbaa``, a CSS name, ``rgb(...)`` or a tuple."""
    if isinstance(value, (list, tuple)) and len(value) in (3, 4):
        try:
            rgba = [float(v) for v in value] + ([255.0] if len(value) == 3 else [])
        except (TypeError, ValueError):
            rgba = []
        if len(rgba) == 4 and all(0 <= v <= 255 for v in rgba):
            return rgba[0], rgba[1], rgba[2], rgba[3]
    if isinstance(value, str):
        text = value.strip().lower()
        if text in NAMED:
            rgb = NAMED[text]
            return (*map(float, rgb[:3]), float(rgb[3]) if len(rgb) == 4 else 255.0)  # type: ignore[return-value]
        digits = text[1:]
        if text.startswith("#") and len(digits) in (3, 4, 6, 8):
            try:
                if len(digits) in (3, 4):
                    digits = "".join(c * 2 for c in digits)
                vals = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
            except ValueError:
                vals = []
            if vals:
                return (*map(float, vals[:3]), float(vals[3]) if len(vals) == 4 else 255.0)  # type: ignore[return-value]
        if text.startswith(("rgb(", "rgba(")) and text.endswith(")"):
            parts = text[text.index("(") + 1 : -1].split(",")
            try:
                nums = [float(p) for p in parts]
            except ValueError:
                nums = []
            if len(nums) == 4:
                nums[3] *= 255 if nums[3] <= 1 else 1
            if len(nums) in (3, 4):
                return parse_color(nums)
    raise StyleError(
        f"unknown colour {value!r}: use #rgb, #rrggbb, #rrggbbaa, rgb(r, g, b), an (r, g, b) "
        f"tuple or one of {sorted(NAMED)}"
    )


def parse_palette(value: Any) -> np.ndarray[Any, Any]:
    """A palette: one colour (black to it), a list of colours, or a matplotlib colormap."""
    if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (int, float)):
        if len(value) < 2:
            return parse_palette(value[0])
        return np.array([parse_color(c) for c in value], dtype=np.float32)
    try:
        return np.array([(0, 0, 0, 255), parse_color(value)], dtype=np.float32)
    except StyleError:
        if not isinstance(value, str):
            raise
    try:
        import matplotlib

        cmap = matplotlib.colormaps[value]
    except (ImportError, KeyError):
        raise StyleError(
            f"unknown colour or palette {value!r}: use a colour (#rrggbb, a CSS name), a list "
            "of colours, or a matplotlib colormap name (with matplotlib installed)"
        ) from None
    return np.asarray(cmap(np.linspace(0, 1, 256)), dtype=np.float32) * 255


def _band_of(value: Any, where: str) -> int | str | None:
    if value is None or value == -1:
        return None
    if isinstance(value, str):
        key = value.lower()
        if key == "gray" or key == "grey":
            return "gray"
        if key in BAND_NAMES:
            return BAND_NAMES[key]
        raise StyleError(
            f"{where}: unknown band {value!r}; use 1-based numbers or "
            f"{sorted(BAND_NAMES) + ['gray']}"
        )
    if isinstance(value, (int, np.integer)) and value >= 1:
        return int(value) - 1
    raise StyleError(f"{where}: band must be a 1-based number or a band name, got {value!r}")


def _one(spec: Mapping[str, Any], where: str) -> BandStyle:
    unknown = set(spec) - BAND_KEYS
    if unknown:
        raise StyleError(
            f"{where}: unknown style key(s) {sorted(unknown)}; valid keys are "
            f"{sorted(BAND_KEYS | {'bands'})}"
        )
    composite = str(spec.get("composite", "lighten")).lower()
    if composite not in ("lighten", "multiply"):
        raise StyleError(f"{where}: composite must be 'lighten' or 'multiply', got {composite!r}")
    gamma = float(spec.get("gamma", 1.0))
    if not gamma > 0:
        raise StyleError(f"{where}: gamma must be > 0, got {gamma}")
    for key in ("min", "max"):
        _check_limit(spec.get(key), f"{where}: {key}")
    palette = spec.get("palette")
    return BandStyle(
        band=_band_of(spec.get("band"), where),
        frame=None if spec.get("frame") is None else int(spec["frame"]),
        framedelta=None if spec.get("framedelta") is None else int(spec["framedelta"]),
        channel=spec.get("channel"),
        min=spec.get("min"),
        max=spec.get("max"),
        palette=None if palette is None else parse_palette(palette),
        composite=composite,
        gamma=gamma,
        clamp=bool(spec.get("clamp", True)),
        nodata=None if spec.get("nodata") is None else float(spec["nodata"]),
    )


def _check_limit(value: Any, where: str) -> None:
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return
    if isinstance(value, str):
        head, _, frac = value.partition(":")
        if head in ("auto", "min", "max", "full") and (not frac or _fraction(frac)):
            return
    raise StyleError(
        f"{where} must be a number, 'auto', 'min', 'max', 'full' or 'min:0.02'-style "
        f"percentile, got {value!r}"
    )


def _fraction(text: str) -> bool:
    try:
        return 0 <= float(text) < 0.5
    except ValueError:
        return False


def parse_style(style: Any) -> list[BandStyle]:
    """Parse a style dict or its JSON text into one :class:`BandStyle` per band."""
    if isinstance(style, str):
        try:
            style = json.loads(style)
        except json.JSONDecodeError as exc:
            raise StyleError(f"style is not valid JSON: {exc}") from exc
    if not isinstance(style, Mapping):
        raise StyleError(f"a style is a dict or its JSON text, got {type(style).__name__}")
    if "bands" in style:
        extra = set(style) - {"bands", "dtype", "axis"}
        if extra:
            raise StyleError(f"unknown style key(s) {sorted(extra)} beside 'bands'")
        bands = style["bands"]
        if not isinstance(bands, Sequence) or not bands:
            raise StyleError("style 'bands' must be a non-empty list of band styles")
        return [_one(b, f"style band {i}") for i, b in enumerate(bands)]
    return [_one(style, "style")]


def sorted_quantile(values: np.ndarray[Any, Any], q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation) of already sorted ``values``:
    two lookups instead of a partition of the whole array."""
    pos = min(max(q, 0.0), 1.0) * (values.size - 1)
    i = int(pos)
    lo = float(values[i])
    if i + 1 >= values.size or pos == i:
        return lo
    return lo + (float(values[i + 1]) - lo) * (pos - i)


def resolve_limits(
    band: BandStyle, dtype: np.dtype[Any], stats: Callable[[], np.ndarray[Any, Any]]
) -> tuple[float, float]:
    """The numeric (min, max) of a band; ``stats()`` gives sorted sample values when needed."""
    full = float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0
    if dtype == np.bool_:
        full = 1.0
    out = []
    for key, value in (("min", band.min), ("max", band.max)):
        if value is None:
            out.append(0.0 if key == "min" else 255.0)
            continue
        if not isinstance(value, str):
            out.append(float(value))
            continue
        head, _, frac = value.partition(":")
        if head == "full":
            out.append(0.0 if key == "min" else full)
            continue
        values = stats()
        if values.dtype == np.bool_:  # numpy's quantile does not subtract booleans
            values = values.view(np.uint8)
        q = float(frac) if frac else 0.0
        lo = sorted_quantile(values, q) if values.size else 0.0
        hi = sorted_quantile(values, 1 - q) if values.size else full
        if head == "auto" and lo >= 0 and hi <= 255 and not frac:
            out.append(0.0 if key == "min" else 255.0)
        elif head == "min" or (head == "auto" and key == "min"):
            out.append(lo)
        else:
            out.append(hi)
    return out[0], out[1]


def render(
    planes: Sequence[np.ndarray[Any, Any]],
    bands: Sequence[BandStyle],
    limits: Sequence[tuple[float, float]],
) -> np.ndarray[Any, Any]:
    """Composite one 2-D plane per band into RGB(A) uint8 ``(h, w, 3|4)``."""
    out: np.ndarray[Any, Any] | None = None
    alpha: np.ndarray[Any, Any] | None = None
    for plane, band, (lo, hi) in zip(planes, bands, limits, strict=True):
        values = plane.astype(np.float32)
        v = (values - lo) / (hi - lo) if hi != lo else (values > lo).astype(np.float32)
        mask = None
        if not band.clamp:
            mask = (v < 0) | (v > 1)
        if band.nodata is not None:
            nod = values == band.nodata
            mask = nod if mask is None else mask | nod
        v = np.clip(v, 0, 1)
        if band.gamma != 1:
            v = v**band.gamma
        if band.band == 3:  # alpha band: sets opacity
            alpha = v * 255 if alpha is None else np.minimum(alpha, v * 255)
            continue
        rgba = _apply_palette(v, band.palette)
        if mask is not None:
            rgba[..., 3] = np.where(mask, 0, rgba[..., 3])
        if out is None:
            out = rgba
        elif band.composite == "multiply":
            out[..., :3] = out[..., :3] * rgba[..., :3] / 255
            out[..., 3] = np.minimum(out[..., 3], rgba[..., 3])
        else:
            out[..., :3] = np.maximum(out[..., :3], rgba[..., :3])
            out[..., 3] = np.maximum(out[..., 3], rgba[..., 3])
    if out is None:
        shape = planes[0].shape
        out = np.zeros((*shape, 4), dtype=np.float32)
        out[..., :3] = 255
    if alpha is not None:
        out[..., 3] = np.minimum(out[..., 3], alpha)
    keep = 4 if (out[..., 3] < 255).any() else 3
    result: np.ndarray[Any, Any] = np.clip(np.rint(out[..., :keep]), 0, 255).astype(np.uint8)
    return result


def _apply_palette(
    v: np.ndarray[Any, Any], palette: np.ndarray[Any, Any] | None
) -> np.ndarray[Any, Any]:
    if palette is None:
        palette = np.array([(0, 0, 0, 255), (255, 255, 255, 255)], dtype=np.float32)
    n = len(palette)
    if n == 2:
        two: np.ndarray[Any, Any] = palette[0] + v[..., None] * (palette[1] - palette[0])
        return two
    pos = v * (n - 1)
    i = np.minimum(pos.astype(np.int64), n - 2)
    t = (pos - i)[..., None]
    many: np.ndarray[Any, Any] = palette[i] * (1 - t) + palette[i + 1] * t
    return many
