"""The Image API surface and imread/imread_dask, checked against tifffile's arrays."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
import tifffile
import xarray as xr

import imgio
from imgio.readers.base import STATS

CHANNELS = ["DAPI", "GFP", "RFP"]


@pytest.fixture(scope="module")
def ome_file(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Scene 0: TCZYX uint16 with channel names and a 3-level SubIFD pyramid; scene 1: RGB."""
    path = tmp_path_factory.mktemp("image") / "two.ome.tif"
    rng = np.random.default_rng(7)
    data = rng.integers(0, 4000, (3, 3, 4, 64, 96), dtype=np.uint16)
    rgb = rng.integers(0, 255, (30, 20, 3), dtype=np.uint8)
    with tifffile.TiffWriter(path, ome=True) as tw:
        meta = {
            "axes": "TCZYX",
            "Name": "cells",
            "Channel": {"Name": CHANNELS},
            "PhysicalSizeX": 0.5,
            "PhysicalSizeY": 0.5,
            "PhysicalSizeZ": 1.0,
        }
        tw.write(data, tile=(32, 32), compression="zlib", subifds=2, metadata=meta)
        for factor in (2, 4):
            tw.write(
                data[..., ::factor, ::factor], tile=(16, 16), compression="zlib", subfiletype=1
            )
        tw.write(rgb, photometric="rgb", metadata={"axes": "YXS", "Name": "overview"})
    return path, data, rgb


def test_surface(ome_file: tuple[Path, Any, Any]) -> None:
    path, data, rgb = ome_file
    img = imgio.Image(path)
    assert img.dims.order == "TCZYX" and img.dims.X == 96 and img.dims["C"] == 3
    assert img.shape == data.shape and img.dtype == np.uint16
    assert img.scenes == ("cells", "overview")
    assert img.current_scene == "cells" and img.current_scene_index == 0
    assert img.resolution_levels == (0, 1, 2)
    assert img.channel_names == CHANNELS
    assert img.physical_pixel_sizes == imgio.PhysicalPixelSizes(1.0, 0.5, 0.5)
    assert isinstance(img.metadata, str) and "<OME" in img.metadata
    assert isinstance(img.xarray_dask_data, xr.DataArray)
    assert isinstance(img.dask_data, da.Array)
    np.testing.assert_array_equal(img.data, data)
    np.testing.assert_array_equal(img.xarray_data.values, data)
    np.testing.assert_array_equal(img.dask_data.compute(), data)
    text = repr(img)
    for part in ("cells", "T:3", "C:3", "uint16", "DAPI", "0.5", "levels"):
        assert part in text
    assert "<table>" in img._repr_html_()


def test_levels_and_scenes(ome_file: tuple[Path, Any, Any]) -> None:
    path, data, rgb = ome_file
    img = imgio.Image(path)
    img.set_resolution_level(2)
    assert img.current_resolution_level == 2
    assert img.shape == data[..., ::4, ::4].shape
    np.testing.assert_array_equal(img.data, data[..., ::4, ::4])
    assert img.physical_pixel_sizes.X == pytest.approx(2.0)
    multiscale = img.multiscale
    assert [m.shape[-1] for m in multiscale] == [96, 48, 24]
    # stateless access does not change the current scene/level
    over = img.get_xarray_dask_data(scene="overview")
    assert over.dims == ("T", "C", "Z", "Y", "X", "S")
    np.testing.assert_array_equal(over.values[0, 0, 0], rgb)
    assert img.current_resolution_level == 2 and img.current_scene == "cells"
    img.set_scene("overview")
    assert img.current_resolution_level == 0 and img.dims.order == "TCZYXS"
    assert img.channel_names == ["Channel:1:0"]
    img.set_scene(0)
    assert img.shape == data.shape
    with pytest.raises(imgio.SelectionError, match=r"scene 5 out of range \(0\.\.1\)"):
        img.set_scene(5)
    with pytest.raises(imgio.SelectionError, match=r"no scene named 'x'.*cells"):
        img.set_scene("x")
    with pytest.raises(imgio.SelectionError, match=r"level 3 out of range .*\(0\.\.2\)"):
        img.set_resolution_level(3)


def test_selections(ome_file: tuple[Path, Any, Any]) -> None:
    path, data, _ = ome_file
    img = imgio.Image(path)
    np.testing.assert_array_equal(img.get_image_data("ZYX", T=0, C="GFP"), data[0, 1])
    np.testing.assert_array_equal(img.get_image_data("CZYX", T=2), data[2])
    np.testing.assert_array_equal(
        img.get_image_data("YXZ", T=1, C=0), data[1, 0].transpose(1, 2, 0)
    )
    np.testing.assert_array_equal(
        img.get_image_data("TCZYX", C=["RFP", "DAPI"], Z=slice(1, 3)), data[:, [2, 0], 1:3]
    )
    np.testing.assert_array_equal(img.get_image_data("TCYX", Z=[3], C=[1, 2]), data[:, 1:3, 3])
    np.testing.assert_array_equal(
        img.get_image_data("ZYX", T=-1, C=0, Y=slice(5, 50), X=slice(60, None)),
        data[-1, 0, :, 5:50, 60:],
    )
    lazy = img.get_image_dask_data("CZYX", T=1, C=[2, 0])
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), data[1, [2, 0]])
    np.testing.assert_array_equal(
        img.get_image_data("ZYX", T=0, C="DAPI", level=1), data[0, 0, :, ::2, ::2]
    )
    with pytest.raises(imgio.SelectionError, match=r"T=3 out of range \(0\.\.2\)"):
        img.get_image_data("ZYX", T=3, C=0)
    with pytest.raises(imgio.SelectionError, match=r"Z=7 out of range \(0\.\.3\)"):
        img.get_image_data("CZYX", T=0, Z=[0, 7])
    with pytest.raises(imgio.SelectionError, match=r"no channel named 'CY5'.*DAPI"):
        img.get_image_data("ZYX", T=0, C="CY5")
    # a left-out dim of size > 1 gives its index 0, with a warning naming it (AICSImage does so)
    with pytest.warns(imgio.ImgioWarning, match=r"dims C \(size 3\) .*took index 0"):
        np.testing.assert_array_equal(img.get_image_data("ZYX", T=0), data[0, 0])
    with pytest.warns(imgio.ImgioWarning, match=r"dims T \(size 3\), C \(size 3\)"):
        np.testing.assert_array_equal(img.get_image_data("ZYX"), data[0, 0])
    with pytest.warns(imgio.ImgioWarning, match=r"dims T \(size 3\)"):
        lazy_zyx = img.get_image_dask_data("ZYX", C=2)
    np.testing.assert_array_equal(lazy_zyx.compute(), data[0, 2])
    with pytest.raises(imgio.SelectionError, match=r"no dim 'Q'"):
        img.get_image_data("ZYX", T=0, C=0, Q=1)
    with pytest.raises(imgio.SelectionError, match=r"cannot return dims 'ZZYX'"):
        img.get_image_data("ZZYX", T=0, C=0)


def test_region_read_decodes_only_its_tiles(ome_file: tuple[Path, Any, Any]) -> None:
    path, data, _ = ome_file
    img = imgio.Image(path)
    STATS.reset()
    got = img.xarray_dask_data[1, 2, 3, 40:50, 10:20].values  # one 32x32 tile
    assert STATS.chunks_decoded == 1
    np.testing.assert_array_equal(got, data[1, 2, 3, 40:50, 10:20])
    STATS.reset()
    img.get_image_data("YX", T=0, C=0, Z=0, Y=slice(30, 34), X=slice(0, 40))  # 2 x 2 tiles
    assert STATS.chunks_decoded == 4


def test_chunks_option(ome_file: tuple[Path, Any, Any]) -> None:
    path, data, _ = ome_file
    img = imgio.Image(path, chunks={"Y": 32, "X": 64, "Z": 2})
    chunks = img.dask_data.chunks
    assert chunks[2] == (2, 2) and chunks[3] == (32, 32) and chunks[4] == (64, 32)
    np.testing.assert_array_equal(img.dask_data.compute(), data)


def test_imread_and_imread_dask(ome_file: tuple[Path, Any, Any]) -> None:
    path, data, rgb = ome_file
    np.testing.assert_array_equal(imgio.imread(path), data)
    np.testing.assert_array_equal(imgio.imread(path, T=1, C="RFP"), data[1, 2])
    np.testing.assert_array_equal(imgio.imread(path, scene=1), rgb[None, None, None])
    np.testing.assert_array_equal(
        imgio.imread(path, level=1, T=0, C=0, Z=0), data[0, 0, 0, ::2, ::2]
    )
    lazy = imgio.imread_dask(path, C=1)
    assert isinstance(lazy, da.Array) and lazy.shape == data[:, 1].shape
    np.testing.assert_array_equal(lazy.compute(), data[:, 1])
    restored = pickle.loads(pickle.dumps(lazy))
    np.testing.assert_array_equal(restored[0, 2].compute(), data[0, 1, 2])
    with pytest.raises(imgio.MissingFileError):
        imgio.imread(path.with_name("absent.ome.tif"))


def test_context_manager_closes(ome_file: tuple[Path, Any, Any]) -> None:
    path, data, _ = ome_file
    with imgio.Image(path) as img:
        lazy = img.xarray_dask_data
    # sources reopen their file after the reader is closed
    np.testing.assert_array_equal(lazy[0, 0, 0].values, data[0, 0, 0])


def test_lazy_data_without_dask_composes_chained_selections(
    ome_file: tuple[Path, Any, Any],
) -> None:
    path, data, _ = ome_file
    img = imgio.Image(path)
    lazy = img.get_xarray_lazy_data(level=1)
    assert not isinstance(lazy.data, da.Array)
    like = img.get_xarray_dask_data(level=1)
    assert lazy.dims == like.dims and lazy.shape == like.shape
    assert list(lazy.coords["C"].values) == CHANNELS
    np.testing.assert_allclose(lazy.coords["X"].values, like.coords["X"].values)
    STATS.reset()
    # three chained selections: one read of the 1 x 16 x 16 region (tiles of 16 at level 1)
    region = lazy.isel(T=1, Z=2).sel(C="GFP").isel(Y=slice(3, 19), X=slice(16, 32))
    got = region.values
    assert STATS.chunks_decoded == 2  # rows 0 and 1 of tile column 1
    np.testing.assert_array_equal(got, data[1, 1, 2, ::2, ::2][3:19, 16:32])
    # selecting in micrometres gives the same tissue as on level 0
    um = img.xarray_lazy_data.sel(X=slice(8.0, 15.9)).isel(T=0, C=0, Z=0, Y=0).values
    np.testing.assert_array_equal(um, data[0, 0, 0, 0, 16:32])
