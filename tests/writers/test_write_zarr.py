"""OME-Zarr output checked with zarr, ome-zarr-models and bioio's OME-Zarr plugin."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr

import imgio
from imgio.errors import ImgioError


def _attrs(group, version):
    attrs = dict(group.attrs)
    return attrs["ome"] if version == "0.5" else attrs


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_levels_and_metadata(tmp_path, cyx, ref_halve, version):
    out = imgio.write(
        cyx,
        tmp_path / "a.ome.zarr",
        dims="CYX",
        chunks=128,
        ngff_version=version,
        channel_names=["DAPI", "GFP"],
        physical_pixel_sizes=(None, 0.25, 0.5),
    )
    group = zarr.open_group(str(out), mode="r")
    assert group.metadata.zarr_format == (2 if version == "0.4" else 3)
    attrs = _attrs(group, version)
    ms = attrs["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["t", "c", "z", "y", "x"]
    assert [a.get("unit") for a in ms["axes"]] == [None, None, None, "micrometer", "micrometer"]
    # auto: 517 -> 259 -> 130 (<= one 128 chunk? no) -> 65
    assert [d["path"] for d in ms["datasets"]] == ["0", "1", "2", "3"]
    scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
    assert scales[0] == [1.0, 1.0, 1.0, 0.25, 0.5]
    assert scales[2] == [1.0, 1.0, 1.0, 1.0, 2.0]
    assert [c["label"] for c in attrs["omero"]["channels"]] == ["DAPI", "GFP"]
    want = cyx[None, :, None]
    for d in ms["datasets"]:
        arr = group[d["path"]]
        assert arr.chunks[-2:] == (min(128, arr.shape[-2]), min(128, arr.shape[-1]))
        np.testing.assert_array_equal(arr[:], want)
        want = ref_halve(want)
    if version == "0.5":
        assert list(group["0"].metadata.dimension_names) == ["t", "c", "z", "y", "x"]
        from ome_zarr_models.v05 import Image
    else:
        from ome_zarr_models.v04 import Image
    Image.from_zarr(group)


def test_sharded_v3(tmp_path, cyx):
    out = imgio.write(
        cyx,
        tmp_path / "s.ome.zarr",
        dims="CYX",
        chunks=64,
        shards=256,
        ngff_version="0.5",
        pyramid_levels=2,
        compression="lz4",
    )
    group = zarr.open_group(str(out), mode="r")
    assert group["0"].shards == (1, 1, 1, 256, 256) and group["0"].chunks == (1, 1, 1, 64, 64)
    np.testing.assert_array_equal(group["0"][0, :, 0], cyx)
    with pytest.raises(ImgioError, match="0.5"):
        imgio.write(cyx, tmp_path / "bad.ome.zarr", dims="CYX", shards=256, ngff_version="0.4")


def test_rgb_becomes_channels_nearest(tmp_path, rgb):
    out = imgio.write(
        rgb, tmp_path / "rgb.ome.zarr", chunks=64, pyramid_levels=2, downsample="nearest"
    )
    group = zarr.open_group(str(out), mode="r")
    np.testing.assert_array_equal(group["0"][0, :, 0], np.moveaxis(rgb, -1, 0))
    np.testing.assert_array_equal(group["1"][0, :, 0], np.moveaxis(rgb, -1, 0)[:, ::2, ::2])
    channels = dict(group.attrs)["omero"]["channels"]
    assert [c["color"] for c in channels] == ["FF0000", "00FF00", "0000FF"]


def test_scenes_bioformats2raw(tmp_path):
    a = np.ones((20, 30), np.uint8)
    b = np.full((2, 10, 12), 5, np.uint16)
    out = imgio.write([a, xr.DataArray(b, dims=list("CYX"))], tmp_path / "two.ome.zarr")
    root = zarr.open_group(str(out), mode="r")
    assert root.attrs["bioformats2raw.layout"] == 3
    assert dict(root["OME"].attrs)["series"] == ["0", "1"]
    np.testing.assert_array_equal(root["1/0"][0, :, 0], b)
    from ome_types import from_xml

    ome = from_xml((out / "OME" / "METADATA.ome.xml").read_text(), validate=True)
    assert [im.pixels.size_c for im in ome.images] == [1, 2]


def test_bioio_reads_it(tmp_path, cyx):
    import bioio
    import bioio_ome_zarr as plugin

    out = imgio.write(
        cyx,
        tmp_path / "b.ome.zarr",
        dims="CYX",
        channel_names=["a", "b"],
        physical_pixel_sizes=(None, 0.3, 0.3),
        chunks=128,
    )
    img = bioio.BioImage(out, reader=plugin.Reader)
    assert img.shape == (1, 2, 1, 301, 517)
    assert img.channel_names == ["a", "b"]
    assert img.physical_pixel_sizes.X == pytest.approx(0.3)
    np.testing.assert_array_equal(img.get_image_data("CYX"), cyx)


def test_levels_read_back_not_recomputed(tmp_path):
    calls = []

    def count(block):
        if block.size > 1:  # dask probes the function with tiny blocks
            calls.append(block.shape)
        return block

    data = da.from_array(
        np.arange(256 * 256, dtype=np.uint16).reshape(256, 256), chunks=64
    ).map_blocks(count)
    imgio.write(data, tmp_path / "c.ome.zarr", dims="YX", chunks=64, pyramid_levels=3)
    assert len(calls) == 16  # each source block once, although three levels were written


def test_distributed_workers_write(tmp_path, cyx):
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        out = imgio.write(
            da.from_array(cyx, chunks=(1, 128, 128)),
            tmp_path / "d.ome.zarr",
            dims="CYX",
            chunks=128,
            pyramid_levels=2,
        )
    group = zarr.open_group(str(out), mode="r")
    np.testing.assert_array_equal(group["0"][0, :, 0], cyx)


def test_bad_zarr_options(tmp_path, cyx):
    with pytest.raises(ImgioError, match="expected one of"):
        imgio.write(cyx, tmp_path / "x.ome.zarr", dims="CYX", compression="jpeg")
    with pytest.raises(ImgioError, match="ngff_version"):
        imgio.write(cyx, tmp_path / "x.ome.zarr", dims="CYX", ngff_version="0.3")
    with pytest.raises(ImgioError, match="OME-TIFF option"):
        imgio.write(cyx, tmp_path / "x.ome.zarr", dims="CYX", tile=256)
    assert not list(tmp_path.iterdir())
