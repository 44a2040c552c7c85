"""``engine="imgio"`` and DataTrees against tifffile/zarr on files written here.

Until the ``xarray.backends`` entry point is installed the engine is passed as the
class; ``test_entry_point`` checks the registered name once it is.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import xarray as xr
from _servers import RangeHTTPServer

import imgio
from imgio.readers.base import STATS
from imgio.xarray_backend import ImgioBackendEntrypoint, to_datatree

ENGINE = ImgioBackendEntrypoint
TILE = 64
SIZE_UM = 0.4


def _levels(base: np.ndarray[Any, Any], n: int) -> list[np.ndarray[Any, Any]]:
    out = [base]
    for _ in range(1, n):
        out.append(out[-1][..., ::2, ::2].copy())
    return out


@pytest.fixture(scope="module")
def two_scenes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[Any]]]:
    """OME-TIFF: scene "tissue" (C Y X, 3 levels, channels) and scene "overview" (Y X, uint8)."""
    path = tmp_path_factory.mktemp("xr") / "two.ome.tif"
    rng = np.random.default_rng(11)
    tissue = _levels(rng.integers(0, 9000, (2, 400, 328), dtype=np.uint16), 3)
    overview = [rng.integers(0, 255, (90, 120), dtype=np.uint8)]
    opts: dict[str, Any] = {
        "tile": (TILE, TILE),
        "compression": "zlib",
        "photometric": "minisblack",
    }
    with tifffile.TiffWriter(path, ome=True) as tw:
        tw.write(
            tissue[0],
            subifds=2,
            metadata={
                "axes": "CYX",
                "Name": "tissue",
                "PhysicalSizeX": SIZE_UM,
                "PhysicalSizeY": SIZE_UM,
                "Channel": {"Name": ["DAPI", "CD8"]},
            },
            **opts,
        )
        for lv in tissue[1:]:
            tw.write(lv, subfiletype=1, **opts)
        tw.write(overview[0], metadata={"axes": "YX", "Name": "overview"}, **opts)
    return path, [tissue, overview]


def presented(arr: np.ndarray[Any, Any], axes: str) -> np.ndarray[Any, Any]:
    """tifffile's array in imgio's T C Z Y X order (singletons added)."""
    missing = "".join(d for d in "TCZ" if d not in axes)
    arr = arr.reshape((1,) * len(missing) + arr.shape)
    have = missing + axes
    return np.transpose(arr, [have.index(d) for d in "TCZYX"])


def test_open_dataarray_every_scene_and_level(two_scenes: Any) -> None:
    path, scenes = two_scenes
    for s, (name, axes) in enumerate([("tissue", "CYX"), ("overview", "YX")]):
        for level, want in enumerate(scenes[s]):
            for key in (s, name):
                da = xr.open_dataarray(path, engine=ENGINE, scene=key, level=level)
                assert da.name == "image"
                assert da.dims == ("T", "C", "Z", "Y", "X")
                assert da.attrs["scene"] == name and da.attrs["level"] == level
                np.testing.assert_array_equal(da.values, presented(want, axes))
    default = xr.open_dataarray(path, engine=ENGINE)
    assert default.attrs["scene"] == "tissue" and default.shape[-2:] == (400, 328)


def test_region_reads_only_covering_tiles(two_scenes: Any) -> None:
    path, scenes = two_scenes
    stats = STATS
    stats.reset()
    da = xr.open_dataarray(path, engine=ENGINE, level=1)  # 200 x 164, tiles of 64
    assert stats.chunks_decoded == 0  # opening reads no pixels
    got = da.isel(C=1, Y=slice(70, 130), X=slice(10, 60)).values
    np.testing.assert_array_equal(got[0, 0], scenes[0][1][1, 70:130, 10:60])
    assert stats.chunks_decoded == 2  # tile rows 1-2 of tile column 0
    stats.reset()
    sel = da.sel(C="DAPI", X=[0.0, 8.0, 40.0]).values  # µm: columns 0, 10, 50
    np.testing.assert_array_equal(sel[0, 0], scenes[0][1][0][:, [0, 10, 50]])
    assert stats.chunks_decoded == math.ceil(200 / TILE)


def test_open_dataset_and_chunks(two_scenes: Any) -> None:
    path, scenes = two_scenes
    ds = xr.open_dataset(path, engine=ENGINE, scene="tissue")
    assert list(ds.data_vars) == ["image"]
    assert ds["image"].chunks is None  # lazily indexed, no dask unless asked
    preferred = ds["image"].encoding["preferred_chunks"]
    assert all(preferred[d] % TILE == 0 or preferred[d] == ds.sizes[d] for d in "YX")
    chunked = xr.open_dataset(path, engine=ENGINE, scene="tissue", chunks={})
    ychunks = chunked["image"].chunks[3]
    assert sum(ychunks) == 400 and all(c % TILE == 0 for c in ychunks[:-1])
    np.testing.assert_array_equal(chunked["image"].values[0, :, 0], scenes[0][0])
    assert ds.coords["X"].attrs["units"] == "µm"
    assert list(ds.coords["C"].values) == ["DAPI", "CD8"]
    ds.close()


def test_open_datatree_layout_and_coordinates(two_scenes: Any) -> None:
    path, scenes = two_scenes
    tree = xr.open_datatree(path, engine=ENGINE)
    assert set(tree.children) == {"tissue", "overview"}
    assert tree.attrs["scenes"] == ["tissue", "overview"]
    tissue = tree["tissue"]
    assert set(tissue.children) == {"level_0", "level_1", "level_2"}
    assert tissue.attrs["channel_names"] == ["DAPI", "CD8"]
    assert set(tree["overview"].children) == {"level_0"}
    extents = []
    for level, want in enumerate(scenes[0]):
        node = tree[f"tissue/level_{level}"]
        x = node["image"]
        np.testing.assert_array_equal(x.values[0, :, 0], want)
        step = float(x.coords["X"][1] - x.coords["X"][0])
        assert step == pytest.approx(SIZE_UM * 2**level)
        ystep = float(x.coords["Y"][1] - x.coords["Y"][0])
        extents.append((x.sizes["Y"] * ystep, x.sizes["X"] * step))
    # the same physical extent at every level (shapes that halve exactly here)
    assert extents[1] == pytest.approx(extents[0]) and extents[2] == pytest.approx(extents[0])
    # a physical selection picks the same tissue at every level
    lo = tree["tissue/level_0"]["image"].sel(Y=slice(20.0, 40.0), X=slice(8.0, 30.0))
    hi = tree["tissue/level_1"]["image"].sel(Y=slice(20.0, 40.0), X=slice(8.0, 30.0))
    np.testing.assert_array_equal(hi.values, lo.values[..., ::2, ::2])


def test_datatree_dask_and_to_datatree(two_scenes: Any) -> None:
    path, scenes = two_scenes
    chunked = xr.open_datatree(path, engine=ENGINE, chunks={})
    assert chunked["tissue/level_0"]["image"].chunks is not None
    with imgio.Image(path) as img:
        tree = to_datatree(img)
        if hasattr(imgio.Image, "to_datatree"):
            xr.testing.assert_identical(img.to_datatree(), tree)
    for level, want in enumerate(scenes[0]):
        x = tree[f"tissue/level_{level}"]["image"]
        assert x.chunks is not None  # dask
        np.testing.assert_array_equal(x.values[0, :, 0], want)
        other = chunked[f"tissue/level_{level}"]["image"]
        xr.testing.assert_identical(x.compute(), other.compute())
    assert tree["overview"].attrs["dims"] == "TCZYX"


def test_scene_names_made_node_safe() -> None:
    from imgio.xarray_backend import _node_names

    assert _node_names(["labels/cells", "A", "A", "", ".."]) == [
        "labels_cells",
        "A",
        "A (2)",
        "scene_3",
        "scene_4",
    ]


def test_ome_zarr_datatree(tmp_path: Path) -> None:
    from test_remote import CHANNELS, LEVELS, write_ome_zarr

    levels = write_ome_zarr(tmp_path / "z.ome.zarr", "0.4")
    tree = xr.open_datatree(tmp_path / "z.ome.zarr", engine=ENGINE)
    (scene,) = tree.children
    assert len(tree[scene].children) == LEVELS
    for level, want in enumerate(levels):
        x = tree[f"{scene}/level_{level}"]["image"]
        assert list(x.coords["C"].values) == CHANNELS
        np.testing.assert_array_equal(x.values[0, :, 0], want)


def test_storage_options_reach_fsspec(two_scenes: Any) -> None:
    path, scenes = two_scenes
    with RangeHTTPServer(path.parent) as http:
        options = {"headers": {"X-Imgio-Test": "yes"}}
        da = xr.open_dataarray(
            f"{http.url}/{path.name}", engine=ENGINE, scene="overview", storage_options=options
        )
        np.testing.assert_array_equal(da.values[0, 0, 0], scenes[1][0])
        assert http.requests and all(r.headers.get("x-imgio-test") == "yes" for r in http.requests)
        tree = xr.open_datatree(f"{http.url}/{path.name}", engine=ENGINE, storage_options=options)
        np.testing.assert_array_equal(tree["tissue/level_2"]["image"].values[0, :, 0], scenes[0][2])


def test_guess_can_open(two_scenes: Any, tmp_path: Path) -> None:
    path, _ = two_scenes
    engine = ImgioBackendEntrypoint()
    assert engine.guess_can_open(path)
    assert engine.guess_can_open("s3://bucket/plate.ome.zarr")
    assert engine.guess_can_open("https://host/slide.svs")
    assert not engine.guess_can_open("data.nc")
    assert not engine.guess_can_open(io.BytesIO(b"II*\0"))
    nameless = tmp_path / "no_suffix"
    nameless.write_bytes(path.read_bytes())
    assert engine.guess_can_open(nameless)  # sniffed
    text = tmp_path / "notes.dat"
    text.write_bytes(b"CDF\x01 not an image")
    assert not engine.guess_can_open(text)


def test_file_objects_refused(two_scenes: Any) -> None:
    path, _ = two_scenes
    with pytest.raises(imgio.ImgioError, match="path or URL"):
        xr.open_dataset(io.BytesIO(path.read_bytes()), engine=ENGINE)


def test_entry_point(two_scenes: Any) -> None:
    assert "imgio" in xr.backends.list_engines(), "the xarray.backends entry point is missing"
    assert isinstance(xr.backends.list_engines()["imgio"], ImgioBackendEntrypoint)
    path, scenes = two_scenes
    by_name = xr.open_dataarray(path, engine="imgio", scene="overview")
    np.testing.assert_array_equal(by_name.values[0, 0, 0], scenes[1][0])
    guessed = xr.open_dataset(path)  # no engine: guess_can_open picks imgio
    assert guessed["image"].attrs["scene"] == "tissue"
    assert set(xr.open_datatree(path, engine="imgio").children) == {"tissue", "overview"}
