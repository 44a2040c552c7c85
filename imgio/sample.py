"""The built-in sample: a synthetic multi-channel pyramidal OME-TIFF made with tifffile.

>>> from imgio.sample import make_sample
>>> path = make_sample("demo.ome.tif")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CHANNELS", "PIXEL_SIZE_UM", "make_sample"]

CHANNELS = ("DAPI", "GFP", "mCherry")
PIXEL_SIZE_UM = 0.325
SIZE = 2048
TILE = 256
LEVELS = 3


def _channel(c: int, size: int) -> np.ndarray[Any, np.dtype[np.uint16]]:
    """Blobs of different size per channel on a soft gradient: looks like cells, compresses well."""
    rng = np.random.default_rng(c + 1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img = 200.0 + 40.0 * np.sin(xx / (97.0 + 31 * c)) + 30.0 * np.cos(yy / (131.0 - 17 * c))
    radius = (6.0, 10.0, 16.0)[c % 3] * size / 2048
    for cy, cx in rng.uniform(0, size, size=(120, 2)):
        y0, y1 = int(max(cy - 3 * radius, 0)), int(min(cy + 3 * radius, size))
        x0, x1 = int(max(cx - 3 * radius, 0)), int(min(cx + 3 * radius, size))
        d2 = (yy[y0:y1, x0:x1] - cy) ** 2 + (xx[y0:y1, x0:x1] - cx) ** 2
        img[y0:y1, x0:x1] += 3000.0 * np.exp(-d2 / (2 * radius**2))
    out: np.ndarray[Any, np.dtype[np.uint16]] = img.astype(np.uint16)
    return out


def make_sample(path: str | Path, size: int = SIZE) -> Path:
    """Write the demo OME-TIFF: C=3 x ``size``^2 uint16, 256 tiles, zlib, 3 levels in SubIFDs."""
    import tifffile

    path = Path(path)
    data = np.stack([_channel(c, size) for c in range(len(CHANNELS))])
    metadata = {
        "axes": "CYX",
        "Channel": {"Name": list(CHANNELS)},
        "PhysicalSizeX": PIXEL_SIZE_UM,
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": PIXEL_SIZE_UM,
        "PhysicalSizeYUnit": "µm",
        "Name": "imgio demo",
    }
    options: dict[str, Any] = {
        "tile": (TILE, TILE),
        "compression": "zlib",
        "photometric": "minisblack",
    }
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(data, subifds=LEVELS - 1, metadata=metadata, **options)
        level = data
        for _ in range(LEVELS - 1):
            h, w = level.shape[1] // 2 * 2, level.shape[2] // 2 * 2
            level = level[:, :h, :w].reshape(level.shape[0], h // 2, 2, w // 2, 2).mean(axis=(2, 4))
            level = level.astype(np.uint16)
            tif.write(level, subfiletype=1, **options)
    return path
