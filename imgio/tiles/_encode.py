"""Output formats of the tile verbs: numpy, DataArray, PNG / JPEG / TIFF bytes."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..errors import SelectionError

__all__ = [
    "FORMATS",
    "IMAGE_FORMATS",
    "MIME_TYPES",
    "SUFFIX_FORMATS",
    "encode",
    "normalize_format",
]

FORMATS = ("numpy", "dataarray", "png", "jpeg", "webp", "tiff")
IMAGE_FORMATS = ("png", "jpeg")
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "tiff": "image/tiff"}
# the output format of a file written by the tile verbs (``imgio region out.png``)
SUFFIX_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff"}


def normalize_format(fmt: str) -> str:
    key = str(fmt).lower().replace("_", "")
    key = {"jpg": "jpeg", "tif": "tiff", "xarray": "dataarray", "array": "numpy"}.get(key, key)
    if key not in FORMATS:
        raise SelectionError(f"unknown format {fmt!r}; use one of {list(FORMATS)}")
    return key


def encode(
    arr: np.ndarray[Any, Any], fmt: str, *, quality: int = 90, attrs: dict[str, Any] | None = None
) -> Any:
    """``arr`` (``(h, w, bands)``) in the output format ``fmt`` (already normalized).

    The one image encoder of tiles, thumbnails, ``imgio serve`` (zxy, DeepZoom, IIIF)
    and the command line.
    """
    if fmt == "numpy":
        return arr
    if fmt == "dataarray":
        import xarray as xr

        return xr.DataArray(arr, dims=("Y", "X", "S"), attrs=dict(attrs or {}))
    import imagecodecs

    if fmt == "png":
        return bytes(imagecodecs.png_encode(_squeeze(arr)))
    if fmt == "jpeg":
        data = arr
        if data.dtype != np.uint8:
            raise SelectionError(f"JPEG needs uint8 pixels, got {data.dtype}; give a style")
        if data.shape[-1] in (2, 4):  # drop alpha: flatten onto white
            alpha = data[..., -1:].astype(np.float32) / 255
            data = np.rint(data[..., :-1] * alpha + 255 * (1 - alpha)).astype(np.uint8)
        return bytes(imagecodecs.jpeg8_encode(_squeeze(data), level=quality))
    if fmt == "webp":
        return bytes(imagecodecs.webp_encode(np.ascontiguousarray(arr), level=quality))
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, _squeeze(arr), photometric="rgb" if arr.shape[-1] in (3, 4) else None)
    return buf.getvalue()


def _squeeze(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """One band as 2-D; C-contiguous (the encoders refuse a planar file's strided samples)."""
    return np.ascontiguousarray(arr[..., 0] if arr.ndim == 3 and arr.shape[-1] == 1 else arr)
