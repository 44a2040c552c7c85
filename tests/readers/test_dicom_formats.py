"""DICOM WSI layouts the first reader lacked: native YBR_FULL_422 and off-grid sparse frames.

Both are checked against pydicom's own ``pixel_array`` (an independent decoder): the
YBR_FULL_422 frames expanded and converted by pydicom, the off-grid frames placed by hand
at their Row/Column Position In Total Image Pixel Matrix, in frame order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_wsi import Slide, pyramid, write_level

import imgio

#: off-grid spots (row, column) in a 100 x 130 matrix of 40 x 50 frames: overlapping,
#: crossing tile boundaries, one running past the bottom edge, one past the right edge
SPOTS = [(0, 0), (30, 45), (65, 100), (10, 90), (70, 3), (50, 84), (0, 120)]


def placed_by_hand(path: Path, shape: tuple[int, ...], background: int) -> np.ndarray:
    """pydicom's decoded frames pasted at their per-frame positions, later frames on top."""
    ds = pydicom.dcmread(path)
    px = ds.pixel_array
    out = np.full(shape, background, px.dtype)
    for frame, group in zip(px, ds.PerFrameFunctionalGroupsSequence, strict=True):
        pos = group.PlanePositionSlideSequence[0]
        y = int(pos.RowPositionInTotalImagePixelMatrix) - 1
        x = int(pos.ColumnPositionInTotalImagePixelMatrix) - 1
        h, w = min(frame.shape[0], shape[0] - y), min(frame.shape[1], shape[1] - x)
        out[y : y + h, x : x + w] = frame[:h, :w]
    return out


@pytest.mark.parametrize("rgb", [True, False], ids=["rgb", "grey16"])
def test_off_grid_sparse_frames_are_placed_by_position(tmp_path: Path, rgb: bool) -> None:
    image = pyramid(5, (100, 130), rgb=rgb, dtype=np.uint8 if rgb else np.uint16)
    (path,) = write_level(tmp_path, image, (40, 50), slide=Slide(), sparse=True, at=SPOTS)
    want = placed_by_hand(path, image.shape[2:], 255 if rgb else 0)
    assert (want == (255 if rgb else 0)).any()  # a gap no frame covers reads as background
    img = imgio.Image(tmp_path)
    got = np.asarray(img.data).reshape(want.shape)
    assert np.array_equal(got, want)
    # a region cutting frames and tiles, and a dask read chunked on the tile grid
    order = "YXS" if rgb else "YX"
    region = np.asarray(img.get_image_data(order, Y=slice(33, 77), X=slice(47, 121)))
    assert np.array_equal(region, want[33:77, 47:121])
    assert np.array_equal(np.asarray(img.dask_data.compute()).reshape(want.shape), want)


def test_off_grid_jpeg_frames(tmp_path: Path) -> None:
    image = pyramid(6, (100, 130))
    (path,) = write_level(
        tmp_path, image, (40, 50), slide=Slide(), sparse=True, at=SPOTS, syntax="jpeg"
    )
    want = placed_by_hand(path, image.shape[2:], 255)
    got = np.asarray(imgio.Image(tmp_path).data).reshape(want.shape)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 2  # libjpeg-turbo vs pydicom


def test_native_ybr_full_422_is_expanded_as_pydicom_does(tmp_path: Path) -> None:
    image = pyramid(3, (70, 96))
    files = write_level(tmp_path, image, (32, 48), slide=Slide(), syntax="explicit-ybr422")
    ds = pydicom.dcmread(files[0])
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    assert len(ds.PixelData) == 6 * 32 * 48 * 2  # two bytes a pixel: chroma halved
    px = ds.pixel_array  # pydicom: chroma repeated over each pair, then YCbCr -> RGB
    want = np.zeros((96, 96, 3), np.uint8)
    for i, frame in enumerate(px):
        want[(i // 2) * 32 : (i // 2 + 1) * 32, (i % 2) * 48 : (i % 2 + 1) * 48] = frame
    img = imgio.Image(tmp_path)
    assert img.dims.order == "TCZYXS" and img.shape[-1] == 3
    got = np.asarray(img.data).reshape(70, 96, 3)
    assert np.array_equal(got, want[:70])
    assert np.abs(got.astype(int) - image[0, 0].astype(int)).mean() < 3  # the picture survives


def _same(fast: object, ref: pydicom.Dataset, where: str) -> int:
    """Every element of ``ref`` (pydicom) has the same value in ``fast``; returns the count."""
    n = 0
    for elem in ref:
        if elem.tag == 0x7FE00010 or not elem.keyword:
            continue
        got = getattr(fast, elem.keyword, None)
        if elem.VR == "SQ":
            assert len(got) == len(elem.value), f"{where}.{elem.keyword}"
            pairs = zip(got, elem.value, strict=True)
            n += sum(_same(a, b, f"{where}.{elem.keyword}") for a, b in pairs)
            continue
        want = elem.value
        if elem.VR in ("OB", "OW", "UN", "OF", "OD", "OL", "OV"):
            want = bytes(want)
        elif elem.VM > 1:
            want = list(want)
        if want in ("", None) or want == []:
            assert got in ("", None), f"{where}.{elem.keyword}"
        else:
            assert got == want, f"{where}.{elem.keyword}: {got!r} != {want!r}"
        n += 1
    return n


def test_fast_header_walker_equals_pydicom(tmp_path: Path) -> None:
    """imgio's explicit VR walker gives pydicom's value for every element of real and written
    headers (nested sequences, multi-valued numbers and text, bytes, ICC profiles)."""
    from samples import DATA

    from imgio.readers.dicom._fastds import parse_dataset
    from imgio.readers.dicom._open import _meta

    image = pyramid(7, (60, 70), nc=2)
    paths = [("A", "first", (255, 0, 0)), ("B", None, None)]
    written = write_level(tmp_path, image, (32, 32), slide=Slide(), sparse=True, paths=paths)
    files = written + sorted((DATA / "dicom").glob("*/*.dcm"))
    total = 0
    for path in files:
        data = path.read_bytes()
        ref = pydicom.dcmread(path, stop_before_pixels=True)
        if ref.file_meta.TransferSyntaxUID.is_implicit_VR:
            continue
        fast, at = parse_dataset(data, _meta(data, str(path))[1])
        if "PixelData" in pydicom.dcmread(path):
            assert data[at : at + 4] == b"\xe0\x7f\x10\x00"
        total += _same(fast, ref, path.name)
    assert total > 200


def test_tiled_full_without_all_its_frames_is_corrupt(tmp_path: Path) -> None:
    """TILED_FULL leaves no tile out: an instance (no concatenation) with fewer frames than
    its tile matrix is refused at open (a fuzzed 16-million-column matrix of 25 frames
    otherwise sent every reader of the level through millions of empty tiles)."""
    from imgio.errors import CorruptFileError

    image = pyramid(8, (64, 96))
    (path,) = write_level(tmp_path, image, (32, 32), slide=Slide(), missing=[(0, 0, 1, 2)])
    with pytest.raises(CorruptFileError, match=r"TILED_FULL with 5 frames .* needs 6"):
        imgio.Image(path)
