"""IIIF Image API 3.0: parse a request's region, size, rotation, quality and format.

Pure functions over the image's full size: no pixels, no HTTP. Every malformed or
impossible request raises :class:`RequestError` with the status the spec asks for
(400 for syntax and out-of-bounds requests, 501 for features imgio does not offer).
See https://iiif.io/api/image/3.0/ sections 4.1-4.5.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "IIIFRequest",
    "RequestError",
    "fit_exact",
    "info_json",
    "orient",
    "parse_request",
    "quality",
]

FORMATS = {"jpg": "image/jpeg", "png": "image/png", "tif": "image/tiff", "webp": "image/webp"}
QUALITIES = ("default", "color", "gray", "bitonal")

_NUM = r"\d+(?:\.\d+)?"


class RequestError(ValueError):
    """A request the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class IIIFRequest:
    """A parsed image request: region in full-resolution pixels, output size and options."""

    x: int
    y: int
    w: int
    h: int
    out_w: int
    out_h: int
    rotation: int  # degrees clockwise, a multiple of 90
    mirror: bool
    quality: str
    format: str

    @property
    def media_type(self) -> str:
        return FORMATS[self.format]


def _region(text: str, width: int, height: int) -> tuple[int, int, int, int]:
    if text == "full":
        return 0, 0, width, height
    if text == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    pct = text.startswith("pct:")
    body = text[4:] if pct else text
    pattern = rf"({_NUM}),({_NUM}),({_NUM}),({_NUM})" if pct else r"(\d+),(\d+),(\d+),(\d+)"
    m = re.fullmatch(pattern, body)
    if m is None:
        raise RequestError(
            f"region {text!r} is not full, square, x,y,w,h or pct:x,y,w,h (non-negative numbers)"
        )
    vals = [float(v) for v in m.groups()]
    if pct:
        vals = [vals[0] * width / 100, vals[1] * height / 100, vals[2] * width / 100,
                vals[3] * height / 100]  # fmt: skip
    x, y = int(round(vals[0])), int(round(vals[1]))
    w, h = int(round(vals[2])), int(round(vals[3]))
    if w <= 0 or h <= 0:
        raise RequestError(f"region {text!r} has zero width or height")
    if x >= width or y >= height:
        raise RequestError(f"region {text!r} lies outside the image ({width} x {height})")
    return x, y, min(w, width - x), min(h, height - y)


def _size(text: str, rw: int, rh: int, max_area: int, max_side: int) -> tuple[int, int]:
    upscale = text.startswith("^")
    body = text[1:] if upscale else text
    if body == "max":
        w, h = rw, rh
        scale = min(1.0, math.sqrt(max_area / (w * h)), max_side / max(w, h))
        if upscale:
            scale = min(math.sqrt(max_area / (w * h)), max_side / max(w, h))
        return max(1, int(w * scale)), max(1, int(h * scale))
    if body.startswith("pct:"):
        m = re.fullmatch(_NUM, body[4:])
        if m is None or float(body[4:]) <= 0:
            raise RequestError(f"size {text!r}: pct:n needs a positive number")
        f = float(body[4:]) / 100
        w, h = max(1, int(round(rw * f))), max(1, int(round(rh * f)))
    else:
        m = re.fullmatch(r"(!)?(\d*),(\d*)", body)
        if m is None or (not m.group(2) and not m.group(3)):
            raise RequestError(f"size {text!r} is not max, w,, ,h, w,h, !w,h or pct:n")
        best, sw, sh = m.group(1), m.group(2), m.group(3)
        if best and not (sw and sh):
            raise RequestError(f"size {text!r}: !w,h needs both a width and a height")
        w = int(sw) if sw else 0
        h = int(sh) if sh else 0
        if (sw and w <= 0) or (sh and h <= 0):
            raise RequestError(f"size {text!r} asks for zero pixels")
        if best:
            f = min(w / rw, h / rh)
            w, h = max(1, int(round(rw * f))), max(1, int(round(rh * f)))
        elif not sh:
            h = max(1, int(round(rh * w / rw)))
        elif not sw:
            w = max(1, int(round(rw * h / rh)))
    if not upscale and (w > rw or h > rh):
        raise RequestError(
            f"size {text!r} ({w} x {h}) is larger than the region ({rw} x {rh}); "
            "prefix it with ^ to upscale"
        )
    if w * h > max_area or max(w, h) > max_side:
        raise RequestError(
            f"size {text!r} ({w} x {h}) exceeds this server's limit "
            f"({max_side} px a side, {max_area} px in all)"
        )
    return w, h


def _rotation(text: str) -> tuple[int, bool]:
    mirror = text.startswith("!")
    body = text[1:] if mirror else text
    if re.fullmatch(_NUM, body) is None:
        raise RequestError(f"rotation {text!r} is not a number of degrees (0-360), ! to mirror")
    deg = float(body)
    if deg < 0 or deg > 360:
        raise RequestError(f"rotation {text!r} is outside 0-360")
    if deg % 90:
        raise RequestError(f"rotation {text!r}: only multiples of 90 degrees are served", 501)
    return int(deg) % 360, mirror


def parse_request(
    region: str,
    size: str,
    rotation: str,
    quality_format: str,
    width: int,
    height: int,
    *,
    max_area: int,
    max_side: int,
) -> IIIFRequest:
    """Parse the four path segments after the identifier (IIIF Image API 3.0, 4.1-4.5).

    Raises
    ------
    RequestError
        With status 400 (bad syntax, out of bounds, too large) or 501 (not offered).
    """
    quality, dot, fmt = quality_format.rpartition(".")
    if not dot or quality not in QUALITIES:
        raise RequestError(
            f"{quality_format!r} is not quality.format with quality in {list(QUALITIES)}"
        )
    if fmt not in FORMATS:
        raise RequestError(f"format {fmt!r} is not served; use one of {sorted(FORMATS)}", 400)
    x, y, w, h = _region(region, width, height)
    out_w, out_h = _size(size, w, h, max_area, max_side)
    deg, mirror = _rotation(rotation)
    return IIIFRequest(x, y, w, h, out_w, out_h, deg, mirror, quality, fmt)


def info_json(
    base_id: str,
    width: int,
    height: int,
    tile: int,
    n_levels: int,
    *,
    max_area: int,
    max_side: int,
    gray: bool,
) -> dict[str, object]:
    """The ``info.json`` document of an image (level 2 features that imgio serves)."""
    factors = [2**i for i in range(n_levels)]
    sizes = []
    for f in reversed(factors):
        w, h = math.ceil(width / f), math.ceil(height / f)
        if w * h <= max_area and max(w, h) <= max_side:
            sizes.append({"width": w, "height": h})
    return {
        "@context": "http://iiif.io/api/image/3/context.json",
        "id": base_id,
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level2",
        "width": width,
        "height": height,
        "maxArea": max_area,
        "maxWidth": max_side,
        "maxHeight": max_side,
        "sizes": sizes,
        "tiles": [{"width": tile, "height": tile, "scaleFactors": factors}],
        "extraQualities": ["gray", "bitonal"] if not gray else ["bitonal"],
        "extraFormats": ["tif", "webp"],
        "extraFeatures": ["mirroring", "rotationBy90s", "regionSquare", "sizeUpscaling"],
    }


def fit_exact(arr: np.ndarray[Any, Any], h: int, w: int) -> np.ndarray[Any, Any]:
    """IIIF asks for an exact w,h: the tile verbs keep aspect, so stretch by nearest index."""
    if arr.shape[0] == h and arr.shape[1] == w:
        return arr
    ys = np.minimum((np.arange(h) + 0.5) * arr.shape[0] / h, arr.shape[0] - 1).astype(np.intp)
    xs = np.minimum((np.arange(w) + 0.5) * arr.shape[1] / w, arr.shape[1] - 1).astype(np.intp)
    out: np.ndarray[Any, Any] = arr[ys][:, xs]
    return out


def orient(arr: np.ndarray[Any, Any], rotation: int, mirror: bool) -> np.ndarray[Any, Any]:
    if mirror:
        arr = arr[:, ::-1]
    if rotation:
        arr = np.rot90(arr, k=-(rotation // 90), axes=(0, 1))
    return np.ascontiguousarray(arr)


def quality(arr: np.ndarray[Any, Any], quality: str) -> np.ndarray[Any, Any]:
    if quality in ("default", "color"):
        return arr
    rgb = arr[..., :3].astype(np.float32)
    gray = rgb[..., 0] if rgb.shape[-1] < 3 else rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    if quality == "bitonal":
        gray = np.where(gray >= 128, 255, 0)
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None]
