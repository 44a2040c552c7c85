"""Metadata matrix: every resolution/unit source x the formats that carry it.

Files are written with tifffile and zarr directly (never imgio's writers), so a wrong
factor anywhere in imgio's unit handling (nm/mm swapped, cm taken as µm, ...) fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr

import imgio

# what each unit is in µm, written out here (not taken from imgio's tables)
UM = {
    "nm": 1e-3,
    "µm": 1.0,
    "mm": 1e3,
    "cm": 1e4,
    "m": 1e6,
    "Å": 1e-4,
    "inch": 25400.0,
}

# ---------------------------------------------------------------- ImageJ TIFF
# ImageJ's ``unit=`` spellings -> µm per unit (None: uncalibrated)
IMAGEJ_UNITS: dict[str, float | None] = {
    "micron": 1.0,
    "microns": 1.0,
    "micrometer": 1.0,
    "\\u00B5m": 1.0,  # how ImageJ writes µm into the ASCII description
    "um": 1.0,
    "nm": UM["nm"],
    "nanometer": UM["nm"],
    "mm": UM["mm"],
    "cm": UM["cm"],
    "inch": UM["inch"],
    "pixel": None,
}
SIZE = 0.15  # pixel width in the ImageJ unit
SPACING = 0.5  # Z step in the ImageJ unit


def _imagej_tiff(path: Path, unit: str, resolution: float, resolutionunit: str) -> Path:
    description = f"ImageJ=1.54f\nimages=3\nslices=3\nunit={unit}\nspacing={SPACING}\nloop=false\n"
    tifffile.imwrite(
        path,
        np.zeros((3, 8, 10), "uint8"),
        description=description,
        resolution=(resolution, resolution),
        resolutionunit=resolutionunit,
        metadata=None,
        photometric="minisblack",
    )
    return path


@pytest.mark.parametrize("unit", list(IMAGEJ_UNITS))
def test_imagej_unit_resolution_none(tmp_path: Path, unit: str) -> None:
    """ImageJ itself: ResolutionUnit NONE, XResolution per ImageJ unit."""
    factor = IMAGEJ_UNITS[unit]
    path = _imagej_tiff(tmp_path / "ij.tif", unit, 1 / SIZE, "NONE")
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej and tif.imagej_metadata["unit"] == unit
    z, y, x = imgio.Image(path).physical_pixel_sizes
    if factor is None:
        assert (z, y, x) == (None, None, None)
    else:
        assert x == pytest.approx(SIZE * factor, rel=1e-6)
        assert y == pytest.approx(SIZE * factor, rel=1e-6)
        assert z == pytest.approx(SPACING * factor, rel=1e-6)


@pytest.mark.parametrize("unit", [u for u, f in IMAGEJ_UNITS.items() if f is not None])
def test_imagej_unit_with_centimetre_tag(tmp_path: Path, unit: str) -> None:
    """Fiji/SCIFIO: ResolutionUnit centimetre, XResolution per cm, ``unit=`` for display."""
    factor = IMAGEJ_UNITS[unit]
    assert factor is not None
    per_cm = UM["cm"] / (SIZE * factor)
    path = _imagej_tiff(tmp_path / "ij.tif", unit, per_cm, "CENTIMETER")
    z, y, x = imgio.Image(path).physical_pixel_sizes
    assert x == pytest.approx(SIZE * factor, rel=1e-6)
    assert y == pytest.approx(SIZE * factor, rel=1e-6)
    assert z == pytest.approx(SPACING * factor, rel=1e-6)  # spacing is in the ImageJ unit


def test_imagej_micrometer_centimetre_reported_case(tmp_path: Path) -> None:
    """The reported file: unit=micrometer, ResolutionUnit cm -> 0.15 µm, not 1.5e-5."""
    path = _imagej_tiff(tmp_path / "ij.tif", "micrometer", 1e4 / 0.15, "CENTIMETER")
    sizes = imgio.Image(path).physical_pixel_sizes
    assert sizes.X == pytest.approx(0.15) and sizes.Y == pytest.approx(0.15)


def test_imagej_yunit_and_zunit(tmp_path: Path) -> None:
    """``yunit=``/``zunit=``: Y and Z in units of their own (X in ``unit``)."""
    path = tmp_path / "ij.tif"
    description = (
        "ImageJ=1.54f\nimages=3\nslices=3\nunit=micron\nyunit=nm\nzunit=mm\nspacing=0.002\n"
    )
    tifffile.imwrite(
        path,
        np.zeros((3, 8, 10), "uint8"),
        description=description,
        resolution=(1 / 0.5, 1 / 250.0),  # X 0.5 micron, Y 250 nm
        resolutionunit="NONE",
        metadata=None,
        photometric="minisblack",
    )
    assert imgio.Image(path).physical_pixel_sizes == pytest.approx((2.0, 0.25, 0.5))


def test_imagej_inch_tag_with_micron_unit(tmp_path: Path) -> None:
    """tifffile users who leave INCH next to unit=um meant resolution per µm (6.7 'dpi')."""
    path = _imagej_tiff(tmp_path / "ij.tif", "um", 1 / SIZE, "INCH")
    assert imgio.Image(path).physical_pixel_sizes.X == pytest.approx(SIZE)


# ---------------------------------------------------------------- plain TIFF tags
@pytest.mark.parametrize(
    ("resolutionunit", "per_unit", "expected"),
    [
        ("NONE", 2.0, None),  # no unit: no calibration
        ("INCH", UM["inch"] / 0.5, 0.5),  # 50800 dpi: a scanner calibration
        ("INCH", 72.0, None),  # screen default
        ("INCH", 300.0, None),  # print default
        ("CENTIMETER", UM["cm"] / 0.5, 0.5),
        ("CENTIMETER", UM["cm"] / 0.25, 0.25),
        ("CENTIMETER", 300 / 2.54, None),  # 300 dpi stored per cm
        ("MILLIMETER", UM["mm"] / 0.5, 0.5),  # tifffile's extension
        ("MICROMETER", 1 / 0.5, 0.5),  # tifffile's extension
    ],
)
def test_tiff_resolution_unit(
    tmp_path: Path, resolutionunit: str, per_unit: float, expected: float | None
) -> None:
    path = tmp_path / "plain.tif"
    tifffile.imwrite(
        path,
        np.zeros((8, 10), "uint8"),
        resolution=(per_unit, per_unit / 2),  # Y pixels twice as tall
        resolutionunit=resolutionunit,
        metadata=None,
        photometric="minisblack",
    )
    sizes = imgio.Image(path).physical_pixel_sizes
    if expected is None:
        assert (sizes.Y, sizes.X) == (None, None)
    else:
        assert sizes.X == pytest.approx(expected, rel=1e-6)
        assert sizes.Y == pytest.approx(2 * expected, rel=1e-6)
    assert sizes.Z is None


# ---------------------------------------------------------------- OME-TIFF
OME_UNITS = {"nm": UM["nm"], "µm": UM["µm"], "mm": UM["mm"], "cm": UM["cm"], "m": UM["m"]}
OME_UNITS["Å"] = UM["Å"]


def _ome_xml(attrs: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
        '<Image ID="Image:0" Name="cells"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" '
        f'Type="uint8" SizeX="10" SizeY="8" SizeZ="3" SizeC="1" SizeT="1" {attrs}>'
        '<Channel ID="Channel:0:0" SamplesPerPixel="1"/>'
        '<TiffData IFD="0" PlaneCount="3"/></Pixels></Image></OME>'
    )


def _ome_tiff(path: Path, attrs: str) -> Path:
    tifffile.imwrite(
        path,
        np.zeros((3, 8, 10), "uint8"),
        description=_ome_xml(attrs).encode("utf-8"),
        metadata=None,
        photometric="minisblack",
    )
    return path


@pytest.mark.parametrize("unit", list(OME_UNITS))
def test_ome_physical_size_units(tmp_path: Path, unit: str) -> None:
    attrs = (
        f'PhysicalSizeX="0.5" PhysicalSizeXUnit="{unit}" '
        f'PhysicalSizeY="0.25" PhysicalSizeYUnit="{unit}" '
        f'PhysicalSizeZ="2" PhysicalSizeZUnit="{unit}"'
    )
    path = _ome_tiff(tmp_path / "units.ome.tif", attrs)
    z, y, x = imgio.Image(path).physical_pixel_sizes
    factor = OME_UNITS[unit]
    assert (x, y, z) == pytest.approx((0.5 * factor, 0.25 * factor, 2 * factor), rel=1e-9)


def test_ome_default_unit_is_micrometre(tmp_path: Path) -> None:
    path = _ome_tiff(tmp_path / "u.ome.tif", 'PhysicalSizeX="0.5" PhysicalSizeY="0.5"')
    assert imgio.Image(path).physical_pixel_sizes == (None, 0.5, 0.5)


def test_ome_mixed_units_per_axis(tmp_path: Path) -> None:
    attrs = (
        'PhysicalSizeX="650" PhysicalSizeXUnit="nm" PhysicalSizeY="0.65" '
        'PhysicalSizeYUnit="µm" PhysicalSizeZ="0.002" PhysicalSizeZUnit="mm"'
    )
    path = _ome_tiff(tmp_path / "mixed.ome.tif", attrs)
    assert imgio.Image(path).physical_pixel_sizes == pytest.approx((2.0, 0.65, 0.65))


def test_ome_pixel_unit_is_no_calibration(tmp_path: Path) -> None:
    """``PhysicalSizeXUnit="pixel"`` says nothing in µm: unknown, not 1 µm."""
    attrs = (
        'PhysicalSizeX="1" PhysicalSizeXUnit="pixel" PhysicalSizeY="1" PhysicalSizeYUnit="pixel"'
    )
    path = _ome_tiff(tmp_path / "px.ome.tif", attrs)
    assert imgio.Image(path).physical_pixel_sizes == (None, None, None)


# ---------------------------------------------------------------- OME-Zarr (NGFF)
NGFF_UNITS = {
    "nanometer": UM["nm"],
    "micrometer": UM["µm"],
    "millimeter": UM["mm"],
    "centimeter": UM["cm"],
    "meter": UM["m"],
    "angstrom": UM["Å"],
    "inch": UM["inch"],
}


def _ngff(path: Path, unit: str | None, zarr_format: int) -> Path:
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    arr = group.create_array("0", shape=(3, 8, 10), dtype="uint8", chunks=(1, 8, 10))
    arr[...] = 0
    axes: list[dict[str, Any]] = [{"name": d, "type": "space"} for d in "zyx"]
    if unit is not None:
        for ax in axes:
            ax["unit"] = unit
    ms = {
        "axes": axes,
        "datasets": [
            {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [2, 0.25, 0.5]}]}
        ],
    }
    if zarr_format == 3:
        group.attrs["ome"] = {"version": "0.5", "multiscales": [ms]}
    else:
        group.attrs["multiscales"] = [{"version": "0.4", **ms}]
    return path


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("unit", list(NGFF_UNITS))
def test_ngff_axis_units(tmp_path: Path, unit: str, zarr_format: int) -> None:
    path = _ngff(tmp_path / "u.ome.zarr", unit, zarr_format)
    z, y, x = imgio.Image(path).physical_pixel_sizes
    factor = NGFF_UNITS[unit]
    assert (x, y, z) == pytest.approx((0.5 * factor, 0.25 * factor, 2 * factor), rel=1e-9)
    coords = imgio.Image(path).xarray_dask_data.coords["X"].values
    assert coords[1] - coords[0] == pytest.approx(0.5 * factor, rel=1e-9)
