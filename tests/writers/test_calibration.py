"""Unknown calibration stays unknown: a scale without a unit is not micrometres."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr

import imgio
from imgio.napari import write_images


def test_ome_zarr_without_sizes_reads_unknown(tmp_path):
    """The reported case: written without pixel sizes, read back as 1 µm."""
    out = imgio.write(np.zeros((2, 64, 64), "u1"), tmp_path / "z.ome.zarr", dims="CYX")
    img = imgio.Image(out)
    assert tuple(img.physical_pixel_sizes) == (None, None, None)
    assert "X" not in img.xarray_dask_data.coords
    tif = imgio.write(np.zeros((2, 64, 64), "u1"), tmp_path / "z.ome.tif", dims="CYX")
    assert tuple(imgio.Image(tif).physical_pixel_sizes) == (None, None, None)
    axes = zarr.open_group(out, mode="r").attrs["multiscales"][0]["axes"]
    assert [a.get("unit") for a in axes] == [None] * 5  # no unit claimed by the writer


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_known_sizes_round_trip(tmp_path, version):
    out = imgio.write(
        np.zeros((3, 64, 64), "u1"),
        tmp_path / "z.ome.zarr",
        dims="ZYX",
        physical_pixel_sizes=(2.0, None, 0.5),
        ngff_version=version,
        pyramid_levels=2,
    )
    img = imgio.Image(out)
    assert tuple(img.physical_pixel_sizes) == (2.0, None, 0.5)
    img.set_resolution_level(1)
    assert tuple(img.physical_pixel_sizes) == (2.0, None, 1.0)


def _strip_units(group_path):
    """Remove the NGFF units of a v2 image group, as bioformats2raw writes unknown sizes."""
    attrs_file = group_path / ".zattrs"
    attrs = json.loads(attrs_file.read_text())
    for axis in attrs["multiscales"][0]["axes"]:
        axis.pop("unit", None)
    attrs_file.write_text(json.dumps(attrs))


def test_ome_xml_beside_ngff_supplies_sizes(tmp_path):
    """bioformats2raw layout: NGFF scales without units, OME/METADATA.ome.xml with sizes."""
    out = imgio.write(
        [np.zeros((64, 64), "u1"), np.zeros((32, 32), "u2")],
        tmp_path / "b2r.ome.zarr",
        physical_pixel_sizes=(None, 0.25, 0.4),
        pyramid_levels=2,
    )
    for series in ("0", "1"):
        _strip_units(out / series)
    img = imgio.Image(out)
    assert tuple(img.physical_pixel_sizes) == (None, 0.25, 0.4)
    img.set_resolution_level(1)
    assert tuple(img.physical_pixel_sizes) == (None, 0.5, 0.8)
    np.testing.assert_allclose(img.xarray_dask_data.coords["X"].values[:3], [0.0, 0.8, 1.6])
    # without the OME-XML, the same store is uncalibrated
    (out / "OME" / "METADATA.ome.xml").unlink()
    assert tuple(imgio.Image(out).physical_pixel_sizes) == (None, None, None)


def test_napari_unknown_unit_is_not_micrometres(tmp_path):
    """A napari layer scaled in a unit that is not a length is written uncalibrated."""
    data = np.zeros((32, 32), "u1")
    for units in (("furlong", "furlong"), ("second", "second")):
        meta = {"name": "a", "scale": [2.0, 2.0], "units": units}
        (path,) = write_images(str(tmp_path / f"{units[0]}.ome.tif"), [(data, meta, "image")])
        assert tuple(imgio.Image(path).physical_pixel_sizes) == (None, None, None)
    meta = {"name": "a", "scale": [2.0, 2.0], "units": ("nanometer", "nanometer")}
    (path,) = write_images(str(tmp_path / "nm.ome.tif"), [(data, meta, "image")])
    assert tuple(imgio.Image(path).physical_pixel_sizes) == (None, 0.002, 0.002)


def test_ngff_unknown_unit_is_not_micrometres(tmp_path):
    out = imgio.write(
        np.zeros((64, 64), "u1"), tmp_path / "u.ome.zarr", physical_pixel_sizes=(None, 2.0, 2.0)
    )
    attrs_file = out / ".zattrs"
    attrs = json.loads(attrs_file.read_text())
    for axis in attrs["multiscales"][0]["axes"][-2:]:
        axis["unit"] = "pixel"  # not an NGFF unit: a size in pixels is no calibration
    attrs_file.write_text(json.dumps(attrs))
    with pytest.warns(imgio.ImgioWarning, match="unknown space unit 'pixel'; its size is left"):
        sizes = imgio.Image(out).physical_pixel_sizes
    assert tuple(sizes) == (None, None, None)


@pytest.mark.parametrize("suffix", [".ome.tif", ".ome.zarr"])
def test_time_interval_written_only_when_known(tmp_path, suffix):
    import xarray as xr

    data = np.zeros((4, 2, 16, 16), "u1")
    timed = xr.DataArray(
        data, dims=list("TCYX"), coords={"T": [0.0, 2.5, 5.0, 7.5]}, attrs={"units": {"T": "s"}}
    )
    out = imgio.write(timed, tmp_path / f"t{suffix}")
    assert imgio.Image(out).time_interval == 2.5
    # the same numbers without a unit are not seconds
    bare = xr.DataArray(data, dims=list("TCYX"), coords={"T": [0.0, 2.5, 5.0, 7.5]})
    out = imgio.write(bare, tmp_path / f"bare{suffix}")
    assert imgio.Image(out).time_interval is None
