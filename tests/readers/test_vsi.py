"""Olympus cellSens ``.vsi`` + ETS against the arrays they were written from.

No redistributable VSI sample is small enough to commit here; ``tests/vsi_writer.py``
writes the ETS layout the reader documents. Lossless codecs (raw, JPEG 2000, PNG) are
compared exactly; JPEG tiles against imagecodecs' decode of the same stored tile.
"""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from vsi_writer import level_of, write_vsi

import imgio
from imgio.errors import CorruptFileError, ExternalFileError
from imgio.readers.base import STATS


@pytest.fixture(scope="module")
def stacks() -> list[np.ndarray]:
    rng = np.random.default_rng(9)
    return [
        rng.integers(0, 4000, (1, 3, 2, 150, 200), dtype=np.uint16),  # T Z C Y X
        rng.integers(0, 255, (1, 1, 1, 90, 70, 3), dtype=np.uint8),  # RGB
    ]


@pytest.mark.parametrize("compression", ["jpeg2000", "raw", "png"])
def test_levels_scenes_lossless(tmp_path: Path, stacks: list[np.ndarray], compression: str) -> None:
    vsi = write_vsi(
        tmp_path,
        "slide",
        stacks,
        compression=compression,
        tile=64,
        levels=3,
        stack_numbers=[1, 10001],
    )
    img = imgio.Image(vsi)
    assert img.reader.name == "vsi"
    # the .vsi's own page (the writer puts an 8 x 8 one) is the macro, after the stacks
    assert img.scenes == ("stack1", "stack10001", "macro image")
    assert img.resolution_levels == (0, 1, 2)
    assert img.dims.order == "TCZYX" and img.shape == (1, 2, 3, 150, 200)
    for level in range(3):
        want = level_of(stacks[0], level)  # T Z C Y X
        got = img.get_image_data("TZCYX", level=level)
        np.testing.assert_array_equal(got, want)
    img.set_scene("stack10001")
    assert img.dims.order == "TCZYXS" and img.shape[-3:] == (90, 70, 3)
    np.testing.assert_array_equal(img.get_image_data("YXS"), stacks[1][0, 0, 0])
    np.testing.assert_array_equal(img.get_image_data("YXS", level=2), stacks[1][0, 0, 0, ::4, ::4])


def test_jpeg_tiles_and_lazy_region(
    tmp_path: Path, stacks: list[np.ndarray], stats: object
) -> None:
    rgb = stacks[1]
    vsi = write_vsi(tmp_path, "j", [rgb], compression="jpeg", tile=32, levels=1)
    img = imgio.Image(vsi)
    assert STATS.chunks_decoded == 0
    region = img.get_image_data("YXS", Y=slice(33, 60), X=slice(40, 63))
    assert STATS.chunks_decoded == 1  # the one tile (1, 1) under the window
    stored = np.zeros((32, 32, 3), np.uint8)
    stored[:] = rgb[0, 0, 0, 32:64, 32:64]
    ref = imagecodecs.jpeg8_decode(imagecodecs.jpeg8_encode(stored, level=95))
    np.testing.assert_array_equal(region, ref[1:28, 8:31])
    lazy = pickle.loads(pickle.dumps(img.get_xarray_dask_data().isel(Y=slice(0, 20))))
    np.testing.assert_array_equal(lazy.values[0, 0, 0], img.get_image_data("YXS")[:20])


def test_s3(tmp_path: Path, stacks: list[np.ndarray]) -> None:
    from s3_server import moto_s3, s3_filesystem

    write_vsi(tmp_path, "remote", stacks[:1], compression="raw", tile=64, levels=2)
    with moto_s3(("slides",)) as (options, _proxy):
        fs = s3_filesystem(options)
        fs.put(str(tmp_path), "slides/", recursive=True)
        img = imgio.Image(f"s3://slides/{tmp_path.name}/remote.vsi", storage_options=options)
        np.testing.assert_array_equal(
            img.get_image_data("ZYX", C=1, level=1), level_of(stacks[0], 1)[0, :, 1]
        )


def test_ets_confined_and_bad_headers(tmp_path: Path, stacks: list[np.ndarray]) -> None:
    outside = tmp_path / "elsewhere"
    write_vsi(outside, "o", stacks[:1], compression="raw")
    inside = tmp_path / "in"
    inside.mkdir()
    (inside / "s.vsi").write_bytes((outside / "o.vsi").read_bytes())
    (inside / "_s_").mkdir()
    os.symlink(outside / "_o_" / "stack1", inside / "_s_" / "stack1")
    with pytest.raises(ExternalFileError):
        imgio.Image(inside / "s.vsi")
    assert imgio.Image(inside / "s.vsi", allow_external_files=True).shape[-2:] == (150, 200)

    vsi = write_vsi(tmp_path / "bad", "b", stacks[:1], compression="raw", tile=64)
    ets = tmp_path / "bad" / "_b_" / "stack1" / "frame_t_0.ets"
    good = ets.read_bytes()
    for offset, value, match in [
        (12, 99, "dims"),  # n_dims
        (40, 10**6, "tile records"),  # tile count
        (64 + 8, 77, "pixel type"),
        (64 + 28, 0, "tiles"),  # tile width 0
    ]:
        ets.write_bytes(good[:offset] + struct.pack("<I", value) + good[offset + 4 :])
        with pytest.raises(CorruptFileError, match=match):
            imgio.Image(vsi)
    ets.write_bytes(good[:-30])
    with pytest.raises(CorruptFileError):
        imgio.Image(vsi)
    (tmp_path / "bad" / "_b_" / "stack1" / "frame_t_0.ets").unlink()
    with pytest.raises(CorruptFileError, match="no _b_/stack"):
        imgio.Image(vsi)


def test_photo_pages_are_label_and_macro(tmp_path: Path, stacks: list[np.ndarray]) -> None:
    """The .vsi's own TIFF pages: the last is the macro, the one before it the label (as
    Bio-Formats names them), read pixel for pixel as tifffile reads them."""
    import tifffile

    import imgio.slide

    vsi = write_vsi(tmp_path, "slide", stacks[:1], compression="raw", tile=64, levels=1)
    rng = np.random.default_rng(3)
    label = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    macro = rng.integers(0, 255, (50, 120, 3), dtype=np.uint8)
    tifffile.imwrite(vsi, label, photometric="rgb")
    tifffile.imwrite(vsi, macro, photometric="rgb", append=True)
    img = imgio.Image(vsi)
    assert img.scenes == ("stack1", "label image", "macro image")
    np.testing.assert_array_equal(img.get_image_data("TZCYX"), stacks[0])
    img.set_scene("label image")
    np.testing.assert_array_equal(img.get_image_data("YXS"), tifffile.imread(vsi, key=0))
    np.testing.assert_array_equal(img.get_image_data("YXS"), label)
    with imgio.slide.OpenSlide(vsi) as slide:
        assert set(slide.associated_images) == {"label", "macro"}
        got = np.asarray(slide.associated_images["macro"].convert("RGB"))
        np.testing.assert_array_equal(got, macro)
