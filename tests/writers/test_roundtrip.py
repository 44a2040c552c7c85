"""imgio read -> write -> read: pixels, dims, channel names and pixel sizes survive; CLI."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import xarray as xr

import imgio
from imgio.cli import main


@pytest.fixture
def source(tmp_path, cyx):
    data = xr.DataArray(
        cyx[:, None],
        dims=list("CZYX"),
        coords={"C": ["DAPI", "GFP"]},
        attrs={"pixel_sizes": (1.5, 0.25, 0.25)},
    )
    return imgio.write(data, tmp_path / "src.ome.tif", tile=64, pyramid_levels=2)


@pytest.mark.parametrize(
    ("suffix", "version"), [(".ome.tif", None), (".ome.zarr", "0.4"), (".ome.zarr", "0.5")]
)
def test_image_round_trip(tmp_path, source, cyx, suffix, version):
    first = imgio.Image(source)
    options = {"ngff_version": version, "chunks": 128} if suffix == ".ome.zarr" else {"tile": 128}
    out = tmp_path / f"copy{suffix}"
    first.save(out, **options)
    again = imgio.Image(out)
    assert again.dims.order == first.dims.order == "TCZYX"
    assert again.shape == first.shape
    assert again.channel_names == ["DAPI", "GFP"]
    assert tuple(again.physical_pixel_sizes) == pytest.approx((1.5, 0.25, 0.25))
    np.testing.assert_array_equal(again.get_image_data("CYX"), cyx)
    assert len(again.resolution_levels) > 1


def test_image_scenes_choice(tmp_path):
    two = imgio.write(
        [np.full((20, 30), 1, np.uint8), np.full((2, 10, 12), 2, np.uint16)],
        tmp_path / "two.ome.tif",
        dims=None,
    )
    img = imgio.Image(two)
    assert len(img.scenes) == 2
    imgio.write(img, tmp_path / "second.ome.tif", scenes=[1])
    with tifffile.TiffFile(tmp_path / "second.ome.tif") as tif:
        assert len(tif.series) == 1 and tif.series[0].shape == (2, 10, 12)
    with pytest.raises(imgio.SelectionError, match="out of range"):
        imgio.write(img, tmp_path / "x.ome.tif", scenes=[5])


def test_cli_convert_options(tmp_path, source, cyx, capsys):
    out = tmp_path / "c.ome.tif"
    code = main(
        [
            "convert",
            str(source),
            str(out),
            "--tile",
            "32",
            "--compression",
            "zlib",
            "--pyramid-levels",
            "3",
            "--quiet",
        ]
    )
    assert code == 0 and "wrote" in capsys.readouterr().out
    with tifffile.TiffFile(out) as tif:
        assert (
            tif.pages[0].tilewidth == 32
            and tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        )
        assert len(tif.series[0].levels) == 3
        np.testing.assert_array_equal(tif.series[0].asarray(), cyx)  # tifffile drops Z of 1
    assert main(["convert", str(source), str(out), "--quiet"]) == 2  # exists
    assert "overwrite" in capsys.readouterr().err
    assert main(["convert", str(source), str(tmp_path / "l1.ome.zarr"), "--level", "1"]) == 0
    assert capsys.readouterr().err == ""  # no progress display when stderr is not a terminal
    back = imgio.Image(tmp_path / "l1.ome.zarr")
    assert back.shape[-2:] == (151, 259)


def test_cli_mosaic(tmp_path, capsys):
    paths = []
    for i in range(3):
        paths.append(
            str(imgio.write(np.full((40, 50), i + 1, np.uint8), tmp_path / f"t{i}.ome.tif"))
        )
    out = tmp_path / "m.ome.tif"
    assert main(["mosaic", str(out), *paths, "--across", "2", "--spacing", "2", "--quiet"]) == 0
    got = tifffile.imread(out)
    assert got.shape == (82, 102)
    assert got[0, 0] == 1 and got[0, 60] == 2 and got[50, 10] == 3 and got[50, 60] == 0


def test_scenes_in_ome_zarr_read_back(tmp_path):
    first = np.ones((20, 30), np.uint8)
    second = xr.DataArray(np.full((2, 10, 12), 5, np.uint16), dims=list("CYX"), name="second")
    out = imgio.write([first, second], tmp_path / "two.ome.zarr")
    img = imgio.Image(out)
    assert img.scenes == ("Image:0", "second")
    np.testing.assert_array_equal(img.get_xarray_dask_data(scene=1).values[0, :, 0], second.values)
    img.save(tmp_path / "back.ome.tif")
    assert imgio.Image(tmp_path / "back.ome.tif").scenes == ("Image:0", "second")
