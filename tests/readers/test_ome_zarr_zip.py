"""Zipped OME-Zarr (``.ome.zarr.zip``): written by imgio.write, read by ZipStore and imgio."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import zarr
from _servers import RangeHTTPServer

import imgio


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_two_scenes_roundtrip(tmp_path: Path, version: str) -> None:
    rng = np.random.default_rng(5)
    first = rng.integers(0, 60000, (2, 300, 260), dtype=np.uint16)
    second = rng.integers(0, 255, (90, 70, 3), dtype=np.uint8)
    out = imgio.write([first, second], tmp_path / "s.ome.zarr.zip", dims=None, ngff_version=version)
    names = zipfile.ZipFile(out).namelist()
    assert names[0] in ("zarr.json", ".zattrs") and "OME/METADATA.ome.xml" in names
    group = zarr.open_group(zarr.storage.ZipStore(out, mode="r"), mode="r")
    np.testing.assert_array_equal(group["0/0"][0, 0], first)  # guessed dims ZYX
    np.testing.assert_array_equal(np.moveaxis(group["1/0"][0, :, 0], 0, -1), second)
    img = imgio.Image(out)
    assert img.reader.name == "ome-zarr" and len(img.scenes) == 2
    assert "<OME" in img.metadata["ome_xml"]  # bioformats2raw XML read from the archive
    np.testing.assert_array_equal(img.get_image_data("ZYX"), first)
    img.set_scene(1)
    np.testing.assert_array_equal(img.get_image_data("CYX"), np.moveaxis(second, -1, 0))


def test_remote_zip_over_http(tmp_path: Path) -> None:
    """A zipped store on a web server: the archive is read by byte ranges, also by workers."""
    import pickle

    data = np.random.default_rng(6).integers(0, 60000, (2, 200, 300), dtype=np.uint16)
    imgio.write(data, tmp_path / "r.ome.zarr.zip", dims="CYX", ngff_version="0.5")
    with RangeHTTPServer(tmp_path) as http:
        img = imgio.Image(f"{http.url}/r.ome.zarr.zip")
        assert img.reader.name == "ome-zarr" and img.dims.C == 2
        np.testing.assert_array_equal(img.get_image_data("CYX"), data)
        lazy = pickle.loads(pickle.dumps(img.get_image_dask_data("CYX", X=slice(10, 90))))
        np.testing.assert_array_equal(lazy.compute(), data[:, :, 10:90])
        assert all(r.path == "/r.ome.zarr.zip" for r in http.requests)


def test_damaged_zip(tmp_path: Path) -> None:
    out = imgio.write(np.ones((64, 64), np.uint8), tmp_path / "d.ome.zarr.zip")
    cut = tmp_path / "cut.ome.zarr.zip"
    cut.write_bytes(out.read_bytes()[:100])
    with pytest.raises(imgio.ImgioError, match="damaged or truncated ZIP"):
        imgio.Image(cut)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("notes.txt", "not a zarr store")
    with pytest.raises(imgio.UnsupportedFormatError, match="no reader accepts"):
        imgio.Image(other)
