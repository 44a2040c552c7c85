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


def test_ozx_is_rfc9(tmp_path: Path) -> None:
    """``.ozx``: Zarr v3, sharded, stored members, zarr.json first breadth-first, the comment."""
    import json

    data = np.random.default_rng(9).integers(0, 60000, (2, 1500, 1300), dtype=np.uint16)
    out = imgio.write(data, tmp_path / "x.ozx", dims="CYX", chunks=256, channel_names=["a", "b"])
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
        comment = zf.comment
    names = [i.filename for i in infos]
    docs = [n for n in names if n.rsplit("/", 1)[-1] == "zarr.json"]
    assert names[: len(docs)] == docs and docs[0] == "zarr.json"
    assert [d.count("/") for d in docs] == sorted(d.count("/") for d in docs)  # breadth-first
    assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
    assert comment.endswith(b"\0") and json.loads(comment[:-1]) == {"ome": {"version": "0.5"}}
    group = zarr.open_group(zarr.storage.ZipStore(out, mode="r"), mode="r")
    assert group.metadata.zarr_format == 3 and group["0"].shards is not None
    np.testing.assert_array_equal(group["0"][...].reshape(data.shape), data)
    img = imgio.Image(out)
    assert img.reader.name == "ome-zarr" and img.channel_names == ["a", "b"]
    np.testing.assert_array_equal(img.get_image_data("CYX"), data)
    img.set_resolution_level(1)
    np.testing.assert_array_equal(img.get_image_data("CYX"), group["1"][...].reshape(2, 750, 650))
    with RangeHTTPServer(tmp_path) as http:  # and remotely, by byte ranges of the archive
        remote = imgio.Image(f"{http.url}/x.ozx")
        np.testing.assert_array_equal(
            remote.get_image_data("CYX", X=slice(100, 400)), data[:, :, 100:400]
        )


def test_ozx_refusals_and_unsharded(tmp_path: Path) -> None:
    data = np.ones((40, 50), np.uint8)
    with pytest.raises(imgio.ImgioError, match=r"\.ozx file is Zarr v3"):
        imgio.write(data, tmp_path / "v2.ozx", ngff_version="0.4")
    assert not list(tmp_path.iterdir())  # nothing left behind
    out = imgio.write(data, tmp_path / "u.ozx", chunks={"Y": 16, "X": 16})  # not sharded
    assert zipfile.ZipFile(out).comment == b""  # so not the recommended variant: no comment
    before = out.read_bytes()
    with pytest.raises(imgio.TargetExistsError):
        imgio.write(data * 2, out)
    assert out.read_bytes() == before
    imgio.write(data * 3, out, overwrite=True)
    np.testing.assert_array_equal(imgio.imread(out).squeeze(), data * 3)
    assert [p.name for p in tmp_path.iterdir()] == ["u.ozx"]
