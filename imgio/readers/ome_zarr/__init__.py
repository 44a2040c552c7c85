"""OME-Zarr reader (NGFF 0.1-0.5 on Zarr v2/v3) and plain zarr arrays and groups."""

from __future__ import annotations

from ._source import ZarrSource
from .reader import OmeZarrReader

__all__ = ["OmeZarrReader", "ZarrSource"]
