"""imgio: microscopy and whole-slide images of any size as lazy, dims-labelled arrays.

>>> import imgio
>>> img = imgio.Image("slide.ome.tif")          # doctest: +SKIP
>>> img.xarray_dask_data.sel(C="DAPI")          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__ as __version__  # the one source (pyproject reads it)
from .dims import Dims, PhysicalPixelSizes
from .errors import (
    CorruptFileError,
    ExternalFileError,
    ImgioError,
    ImgioWarning,
    MissingDependencyError,
    MissingFileError,
    NotByteRangesError,
    SelectionError,
    TargetExistsError,
    UnsupportedFormatError,
    WriteError,
)

__all__ = [
    "CorruptFileError",
    "Dims",
    "ExternalFileError",
    "Image",
    "ImageFile",
    "ImgioError",
    "ImgioWarning",
    "MissingDependencyError",
    "MissingFileError",
    "NotByteRangesError",
    "PhysicalPixelSizes",
    "SelectionError",
    "TargetExistsError",
    "TileSink",
    "UnsupportedFormatError",
    "WriteError",
    "create",
    "imread",
    "imread_dask",
    "imread_xarray",
    "imread_xarray_dask",
    "mosaic",
    "new",
    "references",
    "write",
    "write_plate",
]

# heavy modules load on first use so that `import imgio` stays fast
_LAZY = {
    "Image": "imgio.image",
    "ImageFile": "imgio.arrays",
    "imread": "imgio.image._imread",
    "imread_dask": "imgio.image._imread",
    "imread_xarray": "imgio.image._imread",
    "imread_xarray_dask": "imgio.image._imread",
    "write": "imgio.writers",
    "references": "imgio.references",
    "create": "imgio.writers",
    "mosaic": "imgio.writers._mosaic",
    "new": "imgio.writers.tile_sink",
    "TileSink": "imgio.writers.tile_sink",
    "write_plate": "imgio.writers.plate",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'imgio' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
