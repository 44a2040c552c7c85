"""MetaMorph ``.nd`` acquisitions against tifffile reads of the files they name.

``tests/metamorph_writer.py`` writes the ``.nd`` text and MetaMorph's file names; each
file read by tifffile is the independent reference.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import tifffile
from metamorph_writer import nd_text, write_nd

import imgio
from imgio.errors import CorruptFileError, ExternalFileError, ImgioWarning
from imgio.readers.base import STATS

WAVES = [("Conf640", True), ("Conf561", True), ("BF", False)]


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 4096, (2, 3, 3, 4, 24, 30), dtype=np.uint16)


@pytest.fixture(scope="module")
def nd(tmp_path_factory: pytest.TempPathFactory, data: np.ndarray) -> Path:
    return write_nd(tmp_path_factory.mktemp("nd"), "exp", data, WAVES, ["left", "right"], "2,50")


def test_scenes_channels_and_pixels(nd: Path, data: np.ndarray) -> None:
    img = imgio.Image(nd)
    assert img.reader.name == "metamorph"
    assert img.scenes == ("left", "right")
    assert img.channel_names == ["Conf640", "Conf561", "BF"]
    assert img.dims.order == "TCZYX" and img.shape == (3, 3, 4, 24, 30)
    assert img.physical_pixel_sizes.Z == pytest.approx(2.5)  # decimal comma
    assert img.metadata["NTimePoints"] == 3
    for p, name in enumerate(("left", "right")):
        img.set_scene(name)
        got = img.data
        for t, c in np.ndindex(3, 3):
            w, has_z = WAVES[c]
            path = nd.parent / f"exp_w{c + 1}{w}_s{p + 1}_t{t + 1}.{'stk' if has_z else 'tif'}"
            ref = tifffile.imread(path)
            if has_z:
                np.testing.assert_array_equal(got[t, c], ref)
            else:  # a wavelength without Z: its one plane at Z=0
                np.testing.assert_array_equal(got[t, c, 0], ref)
                assert not got[t, c, 1:].any()


def test_lazy_and_pickles(nd: Path, data: np.ndarray, stats: object) -> None:
    img = imgio.Image(nd)
    lazy = img.get_xarray_dask_data(scene=1)
    assert STATS.chunks_decoded == 0
    np.testing.assert_array_equal(lazy.isel(T=2, C=1, Z=3).values, data[1, 2, 1, 3])
    assert STATS.chunks_decoded == 1
    again = pickle.loads(pickle.dumps(img))
    np.testing.assert_array_equal(again.get_image_data("ZYX", T=0, C=0), data[0, 0, 0])


def test_one_position_no_stage(tmp_path: Path, data: np.ndarray) -> None:
    nd = write_nd(tmp_path, "single", data[:1, :2, :2], WAVES[:2], [])
    img = imgio.Image(nd)
    assert img.scenes == ("Image:0",)
    np.testing.assert_array_equal(img.data, data[0, :2, :2])


def test_missing_file_reads_as_zero(tmp_path: Path, data: np.ndarray) -> None:
    nd = write_nd(tmp_path, "gap", data[:1, :2, :2], WAVES[:2], [], skip=((0, 1, 1),))
    with pytest.warns(ImgioWarning, match="1 of the files it names are missing"):
        img = imgio.Image(nd)
    got = img.data
    assert not got[1, 1].any()
    np.testing.assert_array_equal(got[0], data[0, 0, :2])


def test_http(nd: Path, data: np.ndarray) -> None:
    from _servers import RangeHTTPServer

    with RangeHTTPServer(nd.parent) as http:
        img = imgio.Image(f"{http.url}/exp.nd")
        img.set_scene("right")
        np.testing.assert_array_equal(img.get_image_data("ZYX", T=1, C=0), data[1, 1, 0])


def test_bad_nd_files(tmp_path: Path, data: np.ndarray) -> None:
    text = nd_text(WAVES[:1], [], 1, 4)
    (tmp_path / "a.nd").write_text(text.replace('"NZSteps", 4', "NZSteps 4"))
    with pytest.raises(CorruptFileError, match="line"):
        imgio.Image(tmp_path / "a.nd")
    (tmp_path / "b.nd").write_text(text.replace('"NTimePoints", 1', '"NTimePoints", -3'))
    with pytest.raises(CorruptFileError, match="NTimePoints"):
        imgio.Image(tmp_path / "b.nd")
    (tmp_path / "c.nd").write_text(text)
    with pytest.raises(CorruptFileError, match="none of the files"):
        imgio.Image(tmp_path / "c.nd")


def test_wave_names_stay_in_the_folder(tmp_path: Path, data: np.ndarray) -> None:
    inner = tmp_path / "acq"
    inner.mkdir()
    tifffile.imwrite(tmp_path / "x_w1.tif", data[0, 0, 0, 0])  # outside acq/
    waves = [("/../../x_w1", False)]
    (inner / "x.nd").write_text(nd_text(waves, [], 1, 1))
    (inner / "x_w1").mkdir()
    with pytest.raises(ExternalFileError):
        imgio.Image(inner / "x.nd")
