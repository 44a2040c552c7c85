"""File sequences (a ``{D}`` pattern, a list of paths, a glob) against tifffile.

The files are written with tifffile; tifffile's own ``TiffSequence`` (or ``imread`` of
each file) is the independent reader the pixels are compared with.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import tifffile

import imgio
from imgio.errors import CorruptFileError, ExternalFileError, ImgioWarning, MissingFileError
from imgio.readers.base import STATS

SHAPE = (3, 2, 4, 40, 56)  # T C Z Y X


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 60000, SHAPE, dtype=np.uint16)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, data: np.ndarray) -> Path:
    root = tmp_path_factory.mktemp("seq")
    for t, c, z in np.ndindex(*SHAPE[:3]):
        tifffile.imwrite(root / f"img_t{t:02d}_c{c}_z{z}.tif", data[t, c, z])
    return root


def test_pattern_against_tiffsequence(folder: Path, data: np.ndarray) -> None:
    img = imgio.Image(folder / "img_t{T}_c{C}_z{Z}.tif")
    assert img.reader.name == "sequence"
    assert img.dims.order == "TCZYX" and img.shape == SHAPE
    seq = tifffile.TiffSequence(str(folder / "img_t*_c*_z*.tif"), pattern=r"_t(\d+)_c(\d+)_z(\d+)")
    ref = seq.asarray()
    assert ref.shape == SHAPE
    np.testing.assert_array_equal(img.data, ref)
    np.testing.assert_array_equal(img.get_image_data("ZYX", T=2, C=1), data[2, 1])


def test_text_fields_are_channel_names(tmp_path: Path, data: np.ndarray) -> None:
    for c, name in enumerate(("GFP", "DAPI")):
        for t in range(2):
            tifffile.imwrite(tmp_path / f"cells_{name}_{t}.tif", data[t, c, 0])
    img = imgio.Image(f"{tmp_path}/cells_{{C}}_{{T}}.tif")
    assert img.channel_names == ["DAPI", "GFP"]  # sorted as text
    np.testing.assert_array_equal(img.get_image_data("TYX", C="GFP"), data[:2, 0, 0])
    np.testing.assert_array_equal(img.get_image_data("TYX", C="DAPI"), data[:2, 1, 0])


def test_lazy_open_and_plane_read(folder: Path, data: np.ndarray, stats: object) -> None:
    img = imgio.Image(folder / "img_t{T}_c{C}_z{Z}.tif")
    lazy = img.xarray_dask_data
    assert STATS.chunks_decoded == 0
    plane = lazy.isel(T=1, C=0, Z=3).values
    np.testing.assert_array_equal(plane, data[1, 0, 3])
    assert STATS.chunks_decoded == 1  # one file, one strip
    region = img.get_image_data("CYX", T=2, Z=1, Y=slice(10, 30), X=slice(5, 50))
    np.testing.assert_array_equal(region, data[2, :, 1, 10:30, 5:50])


def test_list_and_nested_list(folder: Path, data: np.ndarray) -> None:
    paths = [folder / f"img_t{t:02d}_c0_z0.tif" for t in range(3)]
    img = imgio.Image([str(p) for p in paths], dims="T")
    assert img.shape == (3, 1, 1, 40, 56)
    np.testing.assert_array_equal(img.data[:, 0, 0], tifffile.imread(paths))
    nested = [[folder / f"img_t{t:02d}_c1_z{z}.tif" for z in range(4)] for t in range(3)]
    img = imgio.Image(nested, dims="TZ")
    np.testing.assert_array_equal(img.get_image_data("TZYX", C=0), data[:, 1])


def test_glob_default_indexer_positions_as_scenes(tmp_path: Path, data: np.ndarray) -> None:
    for s, t, c in np.ndindex(2, 3, 2):
        tifffile.imwrite(tmp_path / f"S{s}_T{t}_C{c}_Z0.tif", data[t, c, s])
    img = imgio.Image(str(tmp_path / "*.tif"))
    assert img.scenes == ("S0", "S1")
    for s in range(2):
        img.set_scene(s)
        assert img.shape == (3, 2, 1, 40, 56)
        np.testing.assert_array_equal(img.data[:, :, 0], data[:, :, s])


def test_glob_with_regex_pattern(folder: Path, data: np.ndarray) -> None:
    img = imgio.Image(str(folder / "img_*_z2.tif"), pattern=r"_t(?P<T>\d+)_c(?P<C>\d+)")
    np.testing.assert_array_equal(img.get_image_data("TCYX", Z=0), data[:, :, 2])


def test_pickle_and_threads(folder: Path, data: np.ndarray) -> None:
    img = imgio.Image(folder / "img_t{T}_c{C}_z{Z}.tif")
    again = pickle.loads(pickle.dumps(img))
    np.testing.assert_array_equal(again.get_image_data("CZYX", T=1), data[1])
    lazy = pickle.loads(pickle.dumps(img.get_xarray_dask_data().isel(X=slice(3, 9))))
    np.testing.assert_array_equal(lazy.compute(scheduler="threads").values, data[..., 3:9])


def test_pyramid_files_give_levels(tmp_path: Path, data: np.ndarray) -> None:
    for t in range(2):
        imgio.write(
            data[t, :, 0], tmp_path / f"p{t}.ome.tif", dims="CYX", pyramid_levels=2, tile=16
        )
    img = imgio.Image(f"{tmp_path}/p{{T}}.ome.tif")
    assert img.resolution_levels == (0, 1)
    low = img.get_image_data("TCYX", level=1)
    for t in range(2):
        with tifffile.TiffFile(tmp_path / f"p{t}.ome.tif") as tif:
            np.testing.assert_array_equal(low[t], tif.series[0].levels[1].asarray())


def test_http_list_of_urls(folder: Path, data: np.ndarray) -> None:
    from _servers import RangeHTTPServer

    with RangeHTTPServer(folder) as http:
        urls = [f"{http.url}/img_t{t:02d}_c1_z2.tif" for t in range(3)]
        img = imgio.Image(urls, dims="T")
        np.testing.assert_array_equal(img.get_image_data("TYX"), data[:, 1, 2])


def test_s3_pattern(folder: Path, data: np.ndarray) -> None:
    from s3_server import moto_s3, s3_filesystem

    with moto_s3(("seq",)) as (options, _proxy):
        fs = s3_filesystem(options)
        for t, z in np.ndindex(3, 4):
            fs.put(str(folder / f"img_t{t:02d}_c0_z{z}.tif"), f"seq/a/img_t{t:02d}_z{z}.tif")
        img = imgio.Image("s3://seq/a/img_t{T}_z{Z}.tif", storage_options=options)
        assert img.shape == (3, 1, 4, 40, 56)
        np.testing.assert_array_equal(img.get_image_data("TZYX"), data[:, 0])


def test_missing_cells_read_as_zero(tmp_path: Path, data: np.ndarray) -> None:
    for t, z in [(0, 0), (0, 1), (1, 0)]:
        tifffile.imwrite(tmp_path / f"a_t{t}_z{z}.tif", data[t, 0, z])
    with pytest.warns(ImgioWarning, match="1 of 4 cells"):
        img = imgio.Image(f"{tmp_path}/a_t{{T}}_z{{Z}}.tif")
        got = img.get_image_data("TZYX")
    np.testing.assert_array_equal(got[1, 1], 0)
    np.testing.assert_array_equal(got[0], data[0, 0, :2])


def test_bad_sequences(tmp_path: Path, data: np.ndarray) -> None:
    with pytest.raises(MissingFileError, match="no file matches"):
        imgio.Image(f"{tmp_path}/nothing_{{T}}.tif")
    tifffile.imwrite(tmp_path / "b_t1.tif", data[0, 0, 0])
    tifffile.imwrite(tmp_path / "b_t01.tif", data[1, 0, 0])
    with pytest.raises(CorruptFileError, match="both map to"):
        imgio.Image(f"{tmp_path}/b_t{{T}}.tif")
    tifffile.imwrite(tmp_path / "c_t0.tif", data[0, 0, 0])
    tifffile.imwrite(tmp_path / "c_t1.tif", data[0, 0, 0, :20])
    img = imgio.Image(f"{tmp_path}/c_t{{T}}.tif")
    with pytest.raises(CorruptFileError, match=r"c_t1.tif is \(20, 56\) uint16"):
        img.get_image_data("TYX")
    (tmp_path / "d_t0.tif").write_bytes(b"II*\0" + b"\xff" * 40)
    with pytest.raises(imgio.ImgioError):
        imgio.Image(f"{tmp_path}/d_t{{T}}.tif").get_image_data("TYX")


def test_confined_to_the_folder(tmp_path: Path, data: np.ndarray) -> None:
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    tifffile.imwrite(inside / "x_0.tif", data[0, 0, 0])
    tifffile.imwrite(outside / "secret.tif", data[1, 0, 0])
    os.symlink(outside / "secret.tif", inside / "x_1.tif")
    with pytest.raises(ExternalFileError, match="outside the folder"):
        imgio.Image(f"{inside}/x_{{T}}.tif")
    with pytest.raises(ExternalFileError):
        imgio.Image([inside / "x_0.tif", outside / "secret.tif"], dims="T")
    img = imgio.Image([inside / "x_0.tif", outside / "secret.tif"], allow_external_files=True)
    np.testing.assert_array_equal(img.get_image_data("TYX")[1], data[1, 0, 0])


def test_glob_lists_files_as_glob_does(tmp_path: Path, data: np.ndarray) -> None:
    """One ``scandir`` pass lists what ``glob`` would: no hidden files unless the pattern
    names them, no folders, links to files inside the folder kept."""
    tifffile.imwrite(tmp_path / "a_t0.tif", data[0, 0, 0])
    tifffile.imwrite(tmp_path / "b_t1.tif", data[1, 0, 0])
    tifffile.imwrite(tmp_path / ".h_t2.tif", data[2, 0, 0])  # hidden: glob skips it
    (tmp_path / "d_t3.tif").mkdir()  # a folder: not a file
    os.symlink(tmp_path / "a_t0.tif", tmp_path / "l_t4.tif")  # a link inside the folder
    img = imgio.Image(f"{tmp_path}/*_t*.tif", pattern=r"_t(?P<T>\d+)")
    names = [os.path.basename(f) for f in img.reader.metadata["files"]["Image:0"]]
    assert names == ["a_t0.tif", "b_t1.tif", "a_t0.tif"]  # the link, resolved
    want = np.stack([data[0, 0, 0], data[1, 0, 0], data[0, 0, 0]])
    np.testing.assert_array_equal(img.get_image_data("TYX"), want)
    hidden = imgio.Image(f"{tmp_path}/.*_t*.tif", pattern=r"_t(?P<T>\d+)")
    np.testing.assert_array_equal(hidden.get_image_data("TYX"), data[2, 0, 0][np.newaxis])
