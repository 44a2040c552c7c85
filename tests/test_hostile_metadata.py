"""Issue #21's hostile-input holes, each kept as a regression test (files made here):

- ``ome_metadata`` of an image that opened builds, or fails with an imgio error (never
  pydantic's ValidationError), in every TIFF family;
- NGFF ``multiscales`` axes that repeat a name are refused at open;
- an OME-TIFF whose ``SizeZ`` claims far more planes than its IFDs opens with the planes
  that exist (a warning), without allocating the planes it claims;
- and what the widened fuzz exercise found: a boolean image's thumbnail, a plain zarr
  array with repeated dimension names, a broken image through ``imgio.slide``.
"""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr
from fuzzing.exercise import address_space, exercise
from fuzzing.mutate_tiff import parse_tiff

import imgio
import imgio.slide
from imgio.errors import CorruptFileError, ImgioError


def _set_short(path: Path, tag: int, value: int) -> None:
    """Rewrite the inline value of ``tag`` in the first IFD (SHORT or LONG)."""
    data = bytearray(path.read_bytes())
    tmap = parse_tiff(bytes(data))
    assert tmap is not None
    entry = next(e for e in tmap.ifds[0].entries if e.tag == tag)
    struct.pack_into("<H" if entry.type == 3 else "<I", data, entry.value_pos, value)
    path.write_bytes(bytes(data))


def _tiff(tmp_path: Path, family: str) -> Path:
    data = np.arange(3 * 16 * 24, dtype=np.uint8).reshape(3, 16, 24)
    path = tmp_path / f"{family}.tif"
    if family == "ome":
        tifffile.imwrite(path, data, ome=True, metadata={"axes": "ZYX"})
    elif family == "imagej":
        tifffile.imwrite(path, data, imagej=True, metadata={"axes": "ZYX"})
    elif family == "tiled":
        tifffile.imwrite(path, np.zeros((64, 64), np.uint8), tile=(16, 16))
    else:
        tifffile.imwrite(path, data, metadata=None, photometric="minisblack")
    return path


@pytest.mark.parametrize("family", ["plain", "ome", "imagej", "tiled"])
@pytest.mark.parametrize(("tag", "axis"), [(256, "size_x"), (257, "size_y")])
def test_ome_model_builds_or_raises_imgio_error(
    tmp_path: Path, family: str, tag: int, axis: str
) -> None:
    path = _tiff(tmp_path, family)
    _set_short(path, tag, 0)  # an image 0 pixels wide (or high): the fuzzer's ValidationError
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            img = imgio.Image(path)
        except ImgioError:
            return  # refusing at open is an answer too
        try:
            ome = img.ome_metadata
        except CorruptFileError as exc:
            assert "no valid OME description" in str(exc) and axis in str(exc)
            assert type(exc.__cause__).__name__ == "ValidationError"
        else:
            pixels = ome.images[0].pixels
            assert min(pixels.size_x, pixels.size_y) >= 1


def test_ome_model_of_an_empty_scene_names_it(tmp_path: Path) -> None:
    path = _tiff(tmp_path, "plain")
    _set_short(path, 256, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = imgio.Image(path)
        assert 0 in img.shape  # it opens (lenient): its shape says it is empty
        with pytest.raises(CorruptFileError, match=r"scene 0 .*size_x"):
            _ = img.ome_metadata


def _ngff(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "img.ome.zarr"
    imgio.write(np.zeros((2, 3, 4, 8, 8), np.uint16), path, dims="TCZYX", pyramid_levels=1)
    meta_file = next(p for p in (path / "zarr.json", path / ".zattrs") if p.exists())
    meta = json.loads(meta_file.read_text())
    attrs = meta.get("attributes", {}).get("ome", meta.get("attributes", meta))
    for axis, name in zip(attrs["multiscales"][0]["axes"], names, strict=True):
        axis["name"] = name
        axis.pop("type", None)
        axis.pop("unit", None)
    meta_file.write_text(json.dumps(meta))
    return path


def test_ngff_repeated_axis_names_refused_at_open(tmp_path: Path) -> None:
    path = _ngff(tmp_path, ["t", "t", "z", "y", "x"])
    with pytest.raises(CorruptFileError, match=r"axes: expected distinct axis names.*'t' repeated"):
        imgio.Image(path)


def test_ngff_axis_names_that_map_to_one_letter_refused(tmp_path: Path) -> None:
    path = _ngff(tmp_path, ["t", "T", "z", "y", "x"])  # both would be the T axis
    with pytest.raises(CorruptFileError, match="expected distinct axis names"):
        imgio.Image(path)


def test_ngff_distinct_axis_names_still_open(tmp_path: Path) -> None:
    img = imgio.Image(_ngff(tmp_path, ["t", "c", "z", "y", "x"]))
    assert img.dims.order == "TCZYX" and img.shape == (2, 3, 4, 8, 8)


def test_plain_zarr_repeated_dimension_names_fall_back(tmp_path: Path) -> None:
    path = tmp_path / "plain.zarr"
    arr = zarr.create_array(
        path, shape=(4, 6, 8), chunks=(4, 6, 8), dtype="u1", dimension_names=["z", "x", "x"]
    )
    arr[:] = np.arange(4 * 6 * 8, dtype="u1").reshape(4, 6, 8)
    with pytest.warns(imgio.ImgioWarning, match="not one distinct axis each"):
        img = imgio.Image(path)
    assert img.dims.Y == 6 and img.dims.X == 8
    np.testing.assert_array_equal(img.get_image_data("ZYX"), arr[:])
    exercise(path)


def _inflated_ome(tmp_path: Path, size_z: int) -> tuple[Path, np.ndarray[Any, Any]]:
    data = np.arange(3 * 64 * 48, dtype=np.uint16).reshape(3, 64, 48)
    path = tmp_path / "inflated.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "ZYX", "PhysicalSizeX": 0.5})
    xml = tifffile.tiffcomment(path)
    assert isinstance(xml, str) and 'SizeZ="3"' in xml
    tifffile.tiffcomment(path, xml.replace('SizeZ="3"', f'SizeZ="{size_z}"').encode())
    return path, data


def test_ome_tiff_claiming_far_more_planes_keeps_those_that_exist(tmp_path: Path) -> None:
    path, data = _inflated_ome(tmp_path, 100_000)
    with pytest.warns(imgio.ImgioWarning, match=r"SizeZ=100000 \(100000 planes declared, 3 stored"):
        img = imgio.Image(path)
    assert img.dims.Z == 3
    assert img.physical_pixel_sizes.X == 0.5  # the rest of the OME-XML is kept
    with address_space(1 << 30):  # 100000 planes of 6 KiB would be 586 MiB
        np.testing.assert_array_equal(img.get_image_data("ZYX"), data)
        exercise(path)
    assert img.ome_metadata.images[0].pixels.size_z == 3


def _broken_png(tmp_path: Path) -> Path:
    from PIL import Image as PILImage

    path = tmp_path / "broken.png"
    PILImage.fromarray(np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)).save(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) * 2 // 3])  # header whole, pixels cut
    return path


def test_broken_image_through_slide_is_an_openslide_error(tmp_path: Path) -> None:
    path = _broken_png(tmp_path)
    with pytest.raises(imgio.slide.OpenSlideError, match="cannot decode"):
        imgio.slide.open_slide(path)


def test_boolean_image_thumbnail(tmp_path: Path) -> None:
    path = tmp_path / "mask.tif"
    mask = np.zeros((40, 60), bool)
    mask[10:30, 20:50] = True
    tifffile.imwrite(path, mask)
    img = imgio.Image(path)
    assert img.dtype == np.bool_
    thumb = img.tiles.thumbnail(60, 40, style={"min": "min", "max": "max"})
    assert thumb[20, 35].max() > thumb[2, 2].max()


def test_standard_metadata_with_an_infinite_time_increment(tmp_path: Path) -> None:
    # found by the widened fuzzing: a LOF whose T length is 'inf' made standard_metadata
    # raise OverflowError (timedelta of infinity)
    path = tmp_path / "times.ome.tif"
    tifffile.imwrite(path, np.zeros((2, 8, 8), np.uint8), ome=True, metadata={"axes": "TYX"})
    xml = tifffile.tiffcomment(path)
    assert isinstance(xml, str)
    tifffile.tiffcomment(path, xml.replace("<Pixels ", '<Pixels TimeIncrement="INF" ').encode())
    img = imgio.Image(path)
    assert img.time_interval == float("inf")  # what the file says, kept in the light metadata
    meta = img.standard_metadata
    assert meta.timelapse and meta.timelapse_interval is None and meta.image_size_t == 2


def test_tens_of_thousands_of_channels_stay_cheap(tmp_path: Path) -> None:
    # found by the Bio-Formats fuzz family: a name declaring 65,535 channels opened, then
    # ome_types took 70 s on the model and the default thumbnail read and ranged every
    # channel. The model is refused past MAX_MODEL_CHANNELS (an imgio error, pixels still
    # read) and the default composite mixes the first MAX_DEFAULT_CHANNELS channels
    from imgio._limits import MAX_MODEL_CHANNELS
    from imgio.tiles._render import MAX_DEFAULT_CHANNELS

    data = np.zeros((MAX_MODEL_CHANNELS + 1, 4, 6), np.uint16)
    data[MAX_DEFAULT_CHANNELS:, 1:3, 2:5] = 60000  # bright only past the composited ones
    data[0, 0, 0] = 1
    path = tmp_path / "many.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "CYX"})
    img = imgio.Image(path)
    assert img.dims.C == MAX_MODEL_CHANNELS + 1
    with pytest.raises(CorruptFileError, match=f"at most {MAX_MODEL_CHANNELS}"):
        _ = img.ome_metadata
    np.testing.assert_array_equal(img.get_image_data("YX", C=MAX_MODEL_CHANNELS), data[-1])
    thumb = img.tiles.thumbnail(6, 4)
    assert thumb.shape[:2] == (4, 6) and thumb[1:3, 2:5, :3].max() == 0  # 64+ not mixed
    assert thumb[0, 0, :3].max() > 0  # channel 0 is
