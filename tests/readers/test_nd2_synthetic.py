"""ND2 layouts the shared samples lack, written by ``tests/nd2_writer.py`` and read by
imgio and by the ``nd2`` library: several channels with a time loop, stage positions as
scenes, RGB frames, zlib-compressed frames."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import nd2
import numpy as np
import pytest
from nd2_writer import write_nd2

import imgio
from imgio.readers.base import STATS

RNG = np.random.default_rng(11)
RED, GREEN = 0x0000FF, 0x00FF00  # ND2 colours are 0xBBGGRR


def _frames(shape: tuple[int, ...], dtype: Any) -> np.ndarray[Any, Any]:
    return RNG.integers(0, 250 if dtype == np.uint8 else 4000, shape, dtype=dtype)


def test_channels_time_and_z(tmp_path: Path) -> None:
    data = _frames((3, 4, 32, 48, 2), np.uint16)  # T Z Y X C
    path = write_nd2(
        tmp_path / "tzc.nd2", data, [("T", 3), ("Z", 4)], channels=("DAPI", "GFP"),
        colors=(RED, GREEN),
    )  # fmt: skip
    img = imgio.Image(path)
    with nd2.ND2File(path) as f:
        want = f.asarray()  # T Z C Y X
        assert f.sizes == {"T": 3, "Z": 4, "C": 2, "Y": 32, "X": 48}
        z_step = f.voxel_size().z
    assert img.dims.order == "TCZYX" and img.shape == (3, 2, 4, 32, 48)
    np.testing.assert_array_equal(img.get_image_data("TZCYX"), want)
    np.testing.assert_array_equal(img.get_image_data("TZYXC"), data)
    assert img.channel_names == ["DAPI", "GFP"]
    assert img.channel_colors == [(255, 0, 0), (0, 255, 0)]  # the file's, not by name
    assert img.physical_pixel_sizes.Z == pytest.approx(z_step) == 1.5
    assert img.time_interval == pytest.approx(0.25)  # the writer's 250 ms loop


def test_positions_are_scenes(tmp_path: Path) -> None:
    data = _frames((2, 3, 32, 48, 1), np.uint8)  # P Z Y X C
    path = write_nd2(
        tmp_path / "pos.nd2", data, [("P", 2), ("Z", 3)], positions=("well A1", "well B2")
    )
    img = imgio.Image(path)
    with nd2.ND2File(path) as f:
        want = f.asarray()  # P Z Y X
        names = [p.name for p in f.experiment[0].parameters.points]
    assert img.scenes == ("well A1", "well B2") == tuple(names)
    for p in range(2):
        img.set_scene(p)
        assert img.dims.order == "TCZYX" and img.shape == (1, 1, 3, 32, 48)
        np.testing.assert_array_equal(img.get_image_data("ZYX"), want[p])
        np.testing.assert_array_equal(img.get_image_data("ZYX"), data[p, ..., 0])
    img.set_scene("well B2")
    lazy = img.xarray_dask_data.isel(Z=1)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(lazy)).values.squeeze(), want[1, 1])


def test_rgb_frames_are_samples(tmp_path: Path) -> None:
    data = _frames((2, 32, 48, 3), np.uint8)  # T Y X S
    path = write_nd2(tmp_path / "rgb.nd2", data, [("T", 2)], rgb=True, channels=("Brightfield",))
    img = imgio.Image(path)
    with nd2.ND2File(path) as f:
        assert f.is_rgb and f.sizes == {"T": 2, "Y": 32, "X": 48, "S": 3}
        want = f.asarray()
    assert img.dims.order == "TCZYXS" and img.shape == (2, 1, 1, 32, 48, 3)
    np.testing.assert_array_equal(img.get_image_data("TYXS"), want)
    np.testing.assert_array_equal(img.get_image_data("TYXS"), data)
    assert img.channel_names == ["Brightfield"]


def test_compressed_frames_decode_one_by_one(tmp_path: Path, stats: Any) -> None:
    data = _frames((5, 32, 48, 1), np.uint16)  # Z Y X C
    path = write_nd2(tmp_path / "zip.nd2", data, [("Z", 5)], compress=True)
    with nd2.ND2File(path) as f:
        assert f.attributes.compressionType == "lossless"
        want = f.asarray()
    img = imgio.Image(path)
    STATS.reset()
    np.testing.assert_array_equal(img.get_image_data("YX", Z=3), want[3])
    assert STATS.chunks_decoded == 1  # that frame only
    np.testing.assert_array_equal(img.get_image_data("ZYX"), data[..., 0])


def test_compressed_frame_damaged(tmp_path: Path) -> None:
    data = _frames((2, 32, 48, 1), np.uint16)
    path = write_nd2(tmp_path / "bad.nd2", data, [("Z", 2)], compress=True)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"ImageDataSeq|1!")
    body = at + raw[at:].index(b"x\x9c")  # the zlib stream of frame 1
    raw[body + 20 : body + 60] = b"\xff" * 40
    path.write_bytes(bytes(raw))
    img = imgio.Image(path)
    np.testing.assert_array_equal(img.get_image_data("YX", Z=0), data[0, ..., 0])
    with pytest.raises(imgio.CorruptFileError, match=r"bad\.nd2"):
        img.get_image_data("YX", Z=1)
