"""Imaris .ims reading against h5py (the data sets as stored) and the arrays they were written from.

``tests/ims_writer.py`` writes Imaris 5.5 files the way Imaris does (text attributes as
arrays of one-byte strings, data sets padded to whole chunks, odd level sizes); h5py is
the independent reader. Laziness is proved on the wire: a region of level 0 read over
HTTP fetches about the bytes of the HDF5 chunks it covers (their addresses from h5py's
chunk index), not the level.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from ims_writer import chars, write_ims

import imgio
from imgio.errors import CorruptFileError, ImgioError, ImgioWarning, UnsupportedFormatError
from imgio.readers.base import STATS

NAMES = ("DAPI", "GFP")
TIMES = ("2024-03-01 10:00:00.000", "2024-03-01 10:00:01.250", "2024-03-01 10:00:04.000")


def _levels(l0: np.ndarray, n: int) -> list[np.ndarray]:
    out = [l0]
    for _ in range(1, n):
        out.append(np.ascontiguousarray(out[-1][..., ::2, ::2]))
    return out


@pytest.fixture(scope="module")
def levels() -> list[np.ndarray]:
    rng = np.random.default_rng(18)
    return _levels(rng.integers(0, 60000, (3, 2, 11, 37, 45), dtype=np.uint16), 3)


@pytest.fixture(scope="module")
def thumb() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 255, (24, 30, 4), dtype=np.uint8)


@pytest.fixture(scope="module")
def ims(levels: list[np.ndarray], thumb: np.ndarray, tmp_path_factory: Any) -> Path:
    return write_ims(
        tmp_path_factory.mktemp("ims") / "cells.ims",
        levels,
        chunks=(4, 16, 16),
        extent_min=(5.0, -2.0, 1.0),
        voxel=(0.25, 0.25, 1.5),
        names=NAMES,
        colors=("0 0 1", "0 1 0"),
        ranges=("100 2000", "0 4095.5"),
        times=TIMES,
        thumbnail=thumb,
    )


def _stored(path: Path, r: int, t: int, c: int) -> np.ndarray:
    with h5py.File(path) as f:
        return np.asarray(f[f"DataSet/ResolutionLevel {r}/TimePoint {t}/Channel {c}/Data"])


def test_levels_crop_the_padding(ims: Path, levels: list[np.ndarray]) -> None:
    img = imgio.Image(ims)
    assert img.reader.name == "imaris" and img.scenes == ("test image", "thumbnail")
    assert img.resolution_levels == (0, 1, 2)
    for r, want in enumerate(levels):
        img.set_resolution_level(r)
        assert img.shape == want.shape
        got = img.data
        np.testing.assert_array_equal(got, want)
        stored = _stored(ims, r, 2, 1)  # padded to whole chunks
        assert stored.shape != want.shape[2:]
        z, y, x = want.shape[2:]
        np.testing.assert_array_equal(got[2, 1], stored[:z, :y, :x])


def test_metadata(ims: Path) -> None:
    img = imgio.Image(ims)
    assert img.channel_names == list(NAMES)
    assert img.channel_colors == [(0, 0, 255), (0, 255, 0)]
    assert tuple(img.physical_pixel_sizes) == pytest.approx((1.5, 0.25, 0.25))
    xr = img.xarray_dask_data
    np.testing.assert_allclose(xr.coords["T"].values, [0.0, 1.25, 4.0])
    assert float(xr.coords["X"][0]) == pytest.approx(5.0)  # ExtMin is the origin
    assert float(xr.coords["Y"][0]) == pytest.approx(-2.0)
    assert img.metadata["display_ranges"] == [(100.0, 2000.0), (0.0, 4095.5)]
    assert img.metadata["DataSetInfo"]["Image"]["Unit"] == "um"
    img.set_resolution_level(1)  # the same extent at every level
    assert img.physical_pixel_sizes.X == pytest.approx(0.25 * 45 / 23)


def test_display_ranges_are_the_contrast_limits(ims: Path) -> None:
    from imgio._display import contrast_limits

    img = imgio.Image(ims)
    limits = contrast_limits(img.metadata, 0, img.dtype, img.xarray_dask_data)
    assert limits == [(100.0, 2000.0), (0.0, 4095.5)]


def test_thumbnail_is_associated(ims: Path, thumb: np.ndarray) -> None:
    img = imgio.Image(ims)
    assert img.reader.scenes()[1].associated == "thumbnail"
    img.set_scene("thumbnail")
    np.testing.assert_array_equal(img.get_image_data("YXS"), thumb)


def test_region_reads_covering_chunks_only(ims: Path, levels: list[np.ndarray], stats: Any) -> None:
    img = imgio.Image(ims)
    assert STATS.bytes_read == 0  # opening reads no pixels
    region = img.get_image_dask_data("ZYX", T=1, C=0)[2:6, 5:20, 17:30].compute()
    np.testing.assert_array_equal(region, levels[0][1, 0, 2:6, 5:20, 17:30])
    # Z 2:6 -> chunks 0-1 (edge 4), Y 5:20 -> 0-1, X 17:30 -> 1 (edge 16): 4 chunks
    assert STATS.chunks_decoded == 4


def _chunk_extents(path: Path, level: int, t: int, c: int, key: tuple[slice, ...]) -> list[int]:
    """Stored sizes of the chunks of a data set that ``key`` covers (h5py's chunk index)."""
    with h5py.File(path) as f:
        ds = f[f"DataSet/ResolutionLevel {level}/TimePoint {t}/Channel {c}/Data"]
        edges = ds.chunks
        out = []
        for i in range(ds.id.get_num_chunks()):
            info = ds.id.get_chunk_info(i)
            if all(
                k.start < o + e and o < k.stop
                for k, o, e in zip(key, info.chunk_offset, edges, strict=True)
            ):
                out.append(info.size)
        return out


def test_remote_reads_only_covering_chunks(tmp_path: Path) -> None:
    from _servers import RangeHTTPServer

    rng = np.random.default_rng(5)
    big = rng.integers(0, 60000, (1, 1, 16, 256, 256), dtype=np.uint16)
    path = write_ims(tmp_path / "big.ims", [big], chunks=(8, 64, 64))
    key = (slice(0, 8), slice(64, 128), slice(64, 192))  # 2 chunks of 128
    covering = _chunk_extents(path, 0, 0, 0, key)
    assert len(covering) == 2
    with RangeHTTPServer(tmp_path) as http:
        img = imgio.Image(f"{http.url}/big.ims")
        np.testing.assert_array_equal(img.data, big)  # remote = local
        http.reset()
        region = img.get_image_dask_data("ZYX")[key].compute()
        np.testing.assert_array_equal(region, big[0, 0][key])
        sent = sum(r.body_bytes for r in http.requests if r.method == "GET")
    assert sum(covering) <= sent < sum(covering) + 64 * 1024  # chunk bytes + index reads
    assert sent < path.stat().st_size // 8


def test_pickles_without_a_handle(ims: Path, levels: list[np.ndarray]) -> None:
    img = imgio.Image(ims)
    img.set_resolution_level(1)
    lazy = img.xarray_dask_data.isel(Z=slice(3, 7))
    again = pickle.loads(pickle.dumps(lazy))
    np.testing.assert_array_equal(again.values, levels[1][:, :, 3:7])
    src = img.reader.source(0, 2)
    copy = pickle.loads(pickle.dumps(src))
    full = tuple(slice(0, n) for n in copy.shape)
    np.testing.assert_array_equal(copy[full], levels[2])


def test_missing_info_falls_back_to_the_data_sets(tmp_path: Path) -> None:
    """Imaris' minimal file has no X/Y/Z, Channel or TimeInfo: sizes from ImageSize attrs."""
    vol = np.arange(2 * 20 * 24, dtype=np.uint8).reshape(1, 1, 2, 20, 24)
    path = write_ims(tmp_path / "min.ims", [vol])
    with h5py.File(path, "a") as f:
        del f["DataSetInfo/TimeInfo"], f["DataSetInfo/Channel 0"]
        for d in "XYZ":
            del f["DataSetInfo/Image"].attrs[d]
        f["DataSetInfo/Image"].attrs["Unit"] = chars("nm")
    img = imgio.Image(path)
    np.testing.assert_array_equal(img.data, vol)
    assert img.channel_names == ["Channel:0"]
    assert img.physical_pixel_sizes.X == pytest.approx(0.2e-3)


def test_bad_structure(tmp_path: Path, levels: list[np.ndarray]) -> None:
    small = [lv[:, :, :2, :8, :8] for lv in levels[:1]]
    not_ims = tmp_path / "plain.ims"
    with h5py.File(not_ims, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(UnsupportedFormatError, match="without a DataSet group"):
        imgio.Image(not_ims)
    garbage = tmp_path / "garbage.ims"
    garbage.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(600))
    with pytest.raises(ImgioError, match="not a readable HDF5 file"):
        imgio.Image(garbage)
    flat = write_ims(tmp_path / "flat.ims", small)
    with h5py.File(flat, "a") as f:
        del f["DataSet/ResolutionLevel 0/TimePoint 0/Channel 0/Data"]
        f["DataSet/ResolutionLevel 0/TimePoint 0/Channel 0/Data"] = np.zeros((8, 8))
    with pytest.raises(CorruptFileError, match="not a 3-d data set"):
        imgio.Image(flat)
    gone = write_ims(tmp_path / "gone.ims", small)
    with h5py.File(gone, "a") as f:
        del f["DataSet/ResolutionLevel 0/TimePoint 2/Channel 1/Data"]
    img = imgio.Image(gone)
    with pytest.raises(CorruptFileError, match="TimePoint 2/Channel 1/Data is missing"):
        img.get_image_data("ZYX", T=2, C=1)
    oversize = write_ims(tmp_path / "over.ims", small)
    with h5py.File(oversize, "a") as f:
        f["DataSet/ResolutionLevel 0/TimePoint 0/Channel 0"].attrs["ImageSizeX"] = chars("999")
    with pytest.warns(ImgioWarning, match="declares an image of"):
        img = imgio.Image(oversize)
    assert img.dims.X == 8


def test_errors_are_imgio_errors_for_truncated_files(ims: Path, tmp_path: Path) -> None:
    data = ims.read_bytes()
    for cut in (100, len(data) // 3, len(data) - 500):
        bad = tmp_path / f"cut{cut}.ims"
        bad.write_bytes(data[:cut])
        with warnings.catch_warnings(), pytest.raises(ImgioError):
            warnings.simplefilter("ignore")
            imgio.Image(bad).data  # noqa: B018
