"""The incremental sink: regions from threads, processes and dask; pyramid and metadata on close."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ThreadPoolExecutor

import dask
import numpy as np
import pytest
import tifffile
import zarr

import imgio
from imgio.errors import ImgioError, TargetExistsError

SHAPE = (2, 300, 400)


def expected() -> np.ndarray:
    c, y, x = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1], 0 : SHAPE[2]]
    return ((c * 1000 + y * 3 + x) % 65521).astype(np.uint16)


def _put(args):
    sink, c, y0, y1, x0, x1 = args
    sink[c, y0:y1, x0:x1] = expected()[c, y0:y1, x0:x1]
    return c


def _regions(sink, step_y, step_x):
    return [
        (sink, c, y, min(y + step_y, SHAPE[1]), x, min(x + step_x, SHAPE[2]))
        for c in range(SHAPE[0])
        for y in range(0, SHAPE[1], step_y)
        for x in range(0, SHAPE[2], step_x)
    ]


def _check(path, ref_halve):
    group = zarr.open_group(str(path), mode="r")
    np.testing.assert_array_equal(group["0"][:], expected())
    np.testing.assert_array_equal(group["1"][:], ref_halve(expected()))
    attrs = dict(group.attrs)
    assert [c["label"] for c in attrs["omero"]["channels"]] == ["a", "b"]
    assert attrs["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"] == [
        1.0,
        0.5,
        0.5,
    ]
    from ome_zarr_models.v04 import Image

    Image.from_zarr(group)


def _create(path, **kwargs):
    options = {
        "shape": SHAPE,
        "dims": "CYX",
        "dtype": "uint16",
        "chunks": 64,
        "channel_names": ["a", "b"],
        "physical_pixel_sizes": (None, 0.5, 0.5),
        "pyramid_levels": 3,
        **kwargs,
    }
    return imgio.create(path, **options)


def test_unaligned_regions_from_threads(tmp_path, ref_halve):
    path = tmp_path / "t.ome.zarr"
    sink = _create(path)
    assert not path.exists()  # written under a partial name until closed
    with ThreadPoolExecutor(
        4
    ) as pool:  # 50 x 70 regions: most chunks are shared by several writers
        list(pool.map(_put, _regions(sink, 50, 70)))
    assert sink.close() == path
    _check(path, ref_halve)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_regions_from_process_pool(tmp_path, ref_halve):
    path = tmp_path / "p.ome.zarr"
    with _create(path) as sink:
        assert pickle.loads(pickle.dumps(sink)).shape == SHAPE
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            pool.map(_put, _regions(sink, 100, 90))
    _check(path, ref_halve)


def test_regions_from_dask_tasks(tmp_path, ref_halve):
    path = tmp_path / "d.ome.zarr"
    with _create(path) as sink:
        dask.compute(
            *[dask.delayed(_put)(r) for r in _regions(sink, 64, 128)],
            scheduler="processes",
            num_workers=2,
        )
    _check(path, ref_halve)


def test_error_in_block_discards(tmp_path):
    path = tmp_path / "e.ome.zarr"
    with pytest.raises(ImgioError, match="does not fit"):
        with _create(path) as sink:
            sink[0, 0:10, 0:10] = np.ones((5, 5), np.uint16)
    assert list(tmp_path.iterdir()) == []


def test_copy_cannot_close_and_bad_keys(tmp_path):
    sink = _create(tmp_path / "c.ome.zarr")
    copy = pickle.loads(pickle.dumps(sink))
    with pytest.raises(ImgioError, match="process that created it"):
        copy.close()
    with pytest.raises(IndexError, match="out of range"):
        sink[5, 0:10, 0:10] = 1
    with pytest.raises(IndexError, match="step 1"):
        sink[0, ::2, 0:10] = 1
    sink.abort()
    assert list(tmp_path.iterdir()) == []


def test_create_checks(tmp_path):
    with pytest.raises(ImgioError, match=".ome.zarr"):
        imgio.create(tmp_path / "x.ome.tif", shape=(10, 10), dims="YX", dtype="uint8")
    with pytest.raises(ImgioError, match="TCZYX"):
        imgio.create(tmp_path / "x.ome.zarr", shape=(10, 10, 2), dims="YXC", dtype="uint8")
    (tmp_path / "x.ome.zarr").mkdir()
    with pytest.raises(TargetExistsError):
        imgio.create(tmp_path / "x.ome.zarr", shape=(10, 10), dims="YX", dtype="uint8")


def test_sink_v05_sharded_then_convert_to_tiff(tmp_path):
    path = tmp_path / "v5.ome.zarr"
    with _create(path, ngff_version="0.5", shards=128) as sink:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(_put, _regions(sink, 60, 60)))
    group = zarr.open_group(str(path), mode="r")
    assert group["0"].shards == (1, 128, 128)
    np.testing.assert_array_equal(group["0"][:], expected())
    from imgio.cli import main

    assert (
        main(["convert", str(path), str(tmp_path / "v5.ome.tif"), "--tile", "64", "--quiet"]) == 0
    )
    with tifffile.TiffFile(tmp_path / "v5.ome.tif") as tif:
        assert tif.is_ome
        np.testing.assert_array_equal(tif.series[0].asarray(), expected())
        assert len(tif.series[0].levels) > 1
