"""What a writer takes from its input: dims, channel names, pixel sizes, overrides, errors."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import tifffile
import xarray as xr
from ome_types import from_xml

import imgio
from imgio.errors import ImgioError


def _pixels(path):
    with tifffile.TiffFile(path) as tif:
        return from_xml(tif.ome_metadata, validate=True).images[0].pixels, tif.series[0].axes


def test_xarray_coords_give_metadata(tmp_path):
    data = xr.DataArray(
        np.zeros((3, 2, 20, 30), np.uint16),
        dims=["z", "c", "y", "x"],  # lower case and non-standard order
        coords={
            "c": ["DAPI", "GFP"],
            "z": [0.0, 2.0, 4.0],
            "y": 10 + 0.5 * np.arange(20),
            "x": 0.25 * np.arange(30),
        },
    )
    pixels, axes = _pixels(imgio.write(data, tmp_path / "a.ome.tif"))
    assert axes == "CZYX"
    assert [c.name for c in pixels.channels] == ["DAPI", "GFP"]
    assert (pixels.physical_size_z, pixels.physical_size_y, pixels.physical_size_x) == (
        2.0,
        0.5,
        0.25,
    )


def test_attrs_pixel_sizes_and_keyword_overrides(tmp_path):
    data = xr.DataArray(
        np.zeros((2, 20, 30), np.uint8), dims=list("CYX"), attrs={"pixel_sizes": (None, 0.7, 0.8)}
    )
    pixels, _ = _pixels(imgio.write(data, tmp_path / "a.ome.tif"))
    assert (pixels.physical_size_y, pixels.physical_size_x) == (0.7, 0.8)
    pixels, _ = _pixels(
        imgio.write(
            data,
            tmp_path / "b.ome.tif",
            physical_pixel_sizes=(None, 0.1, 0.2),
            channel_names=["x", "y"],
        )
    )
    assert (pixels.physical_size_y, pixels.physical_size_x) == (0.1, 0.2)
    assert [c.name for c in pixels.channels] == ["x", "y"]


@pytest.mark.parametrize(
    ("shape", "axes"),
    [((20, 30), "YX"), ((20, 30, 3), "YXS"), ((4, 20, 30), "ZYX"), ((2, 4, 20, 30), "CZYX")],
)
def test_guessed_dims(tmp_path, shape, axes):
    data = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape) % 251
    out = imgio.write(da.from_array(data.astype(np.uint8)), tmp_path / "g.ome.tif")
    with tifffile.TiffFile(out) as tif:
        assert tif.series[0].axes == axes
        np.testing.assert_array_equal(tif.series[0].asarray(), data.astype(np.uint8))


def test_dims_override_reorders(tmp_path):
    data = np.arange(2 * 20 * 30, dtype=np.uint16).reshape(20, 30, 2)
    out = imgio.write(data, tmp_path / "r.ome.tif", dims="YXC")
    np.testing.assert_array_equal(tifffile.imread(out), np.moveaxis(data, -1, 0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dims": "YXX"}, "repeat"),
        ({"dims": "CYXZ"}, "4 axes"),
        ({"dims": "CZT"}, "Y and X"),
        ({"dims": "CYX", "channel_names": ["a"]}, "expected 2 names"),
        ({"dims": "CYX", "physical_pixel_sizes": (1, 2)}, r"expected \(Z, Y, X\)"),
    ],
)
def test_bad_input(tmp_path, kwargs, match):
    with pytest.raises(ImgioError, match=match):
        imgio.write(np.zeros((2, 20, 30), np.uint8), tmp_path / "x.ome.tif", **kwargs)


def test_not_an_array(tmp_path):
    with pytest.raises(ImgioError, match="expected numpy, dask"):
        imgio.write("hello", tmp_path / "x.ome.tif")


def test_channel_colors_reach_ome_tiff_and_zarr(tmp_path):
    import zarr

    data = xr.DataArray(
        np.zeros((2, 16, 16), np.uint8),
        dims=list("CYX"),
        coords={"C": ["red", "green"]},
        attrs={"channel_colors": (0xFF0000FF, 0x00FF00FF)},  # RGBA packed, as imgio readers give
    )
    pixels, _ = _pixels(imgio.write(data, tmp_path / "c.ome.tif"))
    assert [c.color.as_rgb_tuple(alpha=False) for c in pixels.channels] == [
        (255, 0, 0),
        (0, 255, 0),
    ]
    group = zarr.open_group(str(imgio.write(data, tmp_path / "c.ome.zarr")), mode="r")
    assert [c["color"] for c in dict(group.attrs)["omero"]["channels"]] == ["FF0000", "00FF00"]


def test_progress_reaches_total(tmp_path):
    seen = []
    imgio.write(
        np.zeros((2, 300, 200), np.uint8),
        tmp_path / "p.ome.tif",
        dims="CYX",
        tile=64,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen and seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
