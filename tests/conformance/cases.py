"""The table of the reader conformance suite: one line per reader (and file kind).

A reader joins the suite with one :class:`Case` line: its registry name, a function
that returns a sample path (a small file in ``tests/data``, or one written into a temp
folder by the test writers), the fuzz family whose mutator damages it, and whether the
sample can be read over HTTP. :mod:`tests.conformance.test_readers` runs every test on
every line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class Case:
    reader: str  # the registry name the file must open with
    make: Callable[[Path], Path]  # writes (or finds) the sample; gets a fresh temp folder
    family: str  # tests/fuzzing family whose mutator damages the sample
    remote: bool = True  # the sample reads over HTTP (multi-file sets may not)
    id: str = ""

    @property
    def name(self) -> str:
        return self.id or self.reader


def _data(name: str) -> Callable[[Path], Path]:
    return lambda _tmp: DATA / name


def _png(tmp: Path) -> Path:
    import imagecodecs

    rgba = np.random.default_rng(3).integers(0, 255, (40, 56, 4), dtype=np.uint8)
    path = tmp / "rgba.png"
    path.write_bytes(imagecodecs.png_encode(rgba))
    return path


def _oib(tmp: Path) -> Path:
    from oif_writer import write_oib

    data = np.random.default_rng(8).integers(0, 4096, (2, 2, 3, 24, 32), dtype=np.uint16)
    return write_oib(tmp / "cells.oib", data, dyes=("DAPI", "GFP"))


def _xlif(tmp: Path) -> Path:
    from xlif_writer import write_xlef, write_xlif

    lif = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"
    root = tmp / "proj"
    write_xlif(lif, root / "Images", kind="tif", name="A")
    return write_xlef(root / "proj.xlef", ["Images/A.xlif"])


def _pyramid_tiff(tmp: Path) -> Path:
    """A two-scene OME-TIFF pyramid with different pixel sizes per scene (imgio's writer)."""
    import xarray as xr

    import imgio

    rng = np.random.default_rng(5)

    def scene(shape: tuple[int, int, int], step: float) -> xr.DataArray:
        coords = {"C": ["DAPI", "GFP"], "Y": np.arange(shape[1]) * step}
        coords["X"] = np.arange(shape[2]) * step
        pixels = rng.integers(0, 60000, shape, dtype=np.uint16)
        return xr.DataArray(pixels, dims=("C", "Y", "X"), coords=coords)

    path = tmp / "two.ome.tif"
    imgio.write([scene((2, 700, 900), 0.5), scene((2, 300, 260), 2.0)], path, tile=128)
    return path


CASES: list[Case] = [
    Case("tiff", _pyramid_tiff, "tiff", id="tiff-ome-pyramid-2-scenes"),
    Case("tiff", _data("galaxy-multiseries.ome.tiff"), "tiff", id="tiff-ome-multiseries"),
    Case("tiff", _data("largeimage-small_la.tiff"), "tiff", id="tiff-grey-alpha"),
    Case("tiff", _data("galaxy-xyz_8bit__mitotic_plate_calibrated.tiff"), "tiff", id="tiff-imagej"),
    Case("ome-zarr", _data("ome-zarr/galaxy-image-04.zarr"), "ome-zarr", id="ome-zarr-image"),
    Case(
        "ome-zarr", _data("ome-zarr/omezarrpy-plate-rows-2.zarr"), "ome-zarr", id="ome-zarr-plate"
    ),
    Case("ome-companion", _data("omemodel-set-1-meta-companion"), "tiff", remote=False),
    Case("czi", _data("aicsimageio-s_1_t_1_c_1_z_1.czi"), "czi"),
    Case("images", _png, "images"),
    Case("lif", _data("readlif-PR2729_frameOrderCombinedScanTypes.lif"), "lif"),
    Case("nd2", _data("arcadia-example-zstack.nd2"), "nd2"),
    Case("xlif", _xlif, "xlif"),
    Case("oif", _oib, "olympus"),
]
