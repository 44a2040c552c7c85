"""MRC and DeltaVision against mrcfile and mrc (tlambert03), and the arrays written.

MRC files are written by mrcfile (volumes, image stacks, volume stacks, every mode imgio
reads); DeltaVision files by the ``mrc`` library (no extended header) and by
``tests/dv_writer.py`` (extended header with time stamps and wavelengths, the three
section orders, both byte orders), read independently with ``mrc.DVFile``.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import Any

import mrc
import mrcfile
import numpy as np
import pytest
from dv_writer import DV_SEQUENCES, write_dv

import imgio
from imgio.errors import CorruptFileError, UnsupportedFormatError
from imgio.readers.base import STATS


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(11).integers(0, 4000, (3, 2, 4, 20, 30), dtype=np.uint16)


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("sequence", [0, 1, 2])
def test_dv_orders(data: np.ndarray, tmp_path: Path, sequence: int, byteorder: str) -> None:
    path = write_dv(
        tmp_path / "cells.dv",
        data,
        sequence=sequence,
        waves=(525, 610),
        excitation=(488, 561),
        times=(0.0, 1.5, 3.25),
        byteorder=byteorder,
    )
    img = imgio.Image(path)
    assert img.reader.name == "deltavision" and img.dims.order == "TCZYX"
    np.testing.assert_array_equal(img.data, data)
    with mrc.DVFile(path) as ref:  # the mrc library's section order, moved to T C Z
        order = ref.axes[:3]
        assert order == DV_SEQUENCES[sequence]
        want = np.moveaxis(ref.asarray(squeeze=False), [0, 1, 2], [order.index(d) for d in "TCZ"])
        np.testing.assert_array_equal(img.data, want)
        assert tuple(img.physical_pixel_sizes) == pytest.approx(ref.voxel_size[::-1])
    assert img.channel_names == ["488/525", "561/610"]  # as bioio-dv names them
    np.testing.assert_allclose(img.xarray_dask_data.coords["T"].values, [0.0, 1.5, 3.25])
    assert tuple(img.physical_pixel_sizes) == (0.3, 0.1, 0.1)  # float32 shown as written


def test_dv_from_the_mrc_library(tmp_path: Path) -> None:
    """mrc writes no extended header: names are the main header's wavelengths."""
    arr = np.random.default_rng(2).random((2, 3, 16, 24), dtype=np.float32)  # T Z Y X
    path = tmp_path / "lib.dv"
    meta = {"dx": 0.065, "dy": 0.065, "dz": 0.2, "wave0": 525}
    mrc.save(arr, str(path), zAxisOrder="t,z", metadata=meta)
    with mrc.DVFile(path) as ref:
        axes, ref_data = ref.axes, ref.asarray(squeeze=False)
    img = imgio.Image(path)
    want = np.moveaxis(ref_data, [0, 1, 2], [axes[:3].index(d) for d in "TCZ"])
    np.testing.assert_array_equal(img.data, want)
    np.testing.assert_array_equal(img.get_image_data("TZYX"), arr)
    assert img.channel_names == ["525"]
    assert tuple(img.physical_pixel_sizes) == pytest.approx((0.2, 0.065, 0.065))


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32", "uint16", "float16"])
def test_mrc_modes(tmp_path: Path, dtype: str) -> None:
    arr = (np.random.default_rng(3).random((5, 16, 24)) * 100).astype(dtype)
    path = tmp_path / "vol.mrc"
    with mrcfile.new(path) as m:
        m.set_data(arr)
        m.voxel_size = (2.5, 1.5, 1.0)  # Å, X Y Z
    img = imgio.Image(path)
    assert img.reader.name == "mrc" and img.dims.order == "TCZYX"
    with mrcfile.open(path) as ref:
        np.testing.assert_array_equal(img.get_image_data("ZYX"), ref.data)
        assert ref.data.dtype == img.dtype
    assert tuple(img.physical_pixel_sizes) == pytest.approx((1.0e-4, 1.5e-4, 2.5e-4))


def test_mrc_stacks(tmp_path: Path) -> None:
    vols = np.arange(2 * 3 * 8 * 8, dtype=np.float32).reshape(2, 3, 8, 8)
    with mrcfile.new(tmp_path / "vols.mrcs") as m:
        m.set_data(vols)  # a stack of volumes: space group 401
    img = imgio.Image(tmp_path / "vols.mrcs")
    assert (img.dims.T, img.dims.Z) == (2, 3)
    np.testing.assert_array_equal(img.get_image_data("TZYX"), vols)
    tilts = np.arange(3 * 8 * 8, dtype=np.int16).reshape(3, 8, 8)
    with mrcfile.new(tmp_path / "tilt.st") as m:
        m.set_data(tilts)
        m.set_image_stack()
    img = imgio.Image(tmp_path / "tilt.st")
    np.testing.assert_array_equal(img.get_image_data("ZYX"), tilts)
    one = np.arange(8 * 9, dtype=np.uint16).reshape(8, 9)
    with mrcfile.new(tmp_path / "one.mrc") as m:
        m.set_data(one)
    np.testing.assert_array_equal(imgio.imread(tmp_path / "one.mrc")[0, 0, 0], one)


def test_planes_are_byte_ranges(data: np.ndarray, tmp_path: Path, stats: Any) -> None:
    from _servers import RangeHTTPServer

    path = write_dv(tmp_path / "cells.dv", data, sequence=1, waves=(525, 610))
    img = imgio.Image(path)
    assert STATS.bytes_read == 0
    np.testing.assert_array_equal(img.get_image_data("YX", T=2, C=1, Z=3), data[2, 1, 3])
    assert STATS.chunks_decoded == 1 and STATS.bytes_read == 20 * 30 * 2
    lazy = img.xarray_dask_data.isel(Z=slice(1, 3), Y=slice(4, 9))
    again = pickle.loads(pickle.dumps(lazy))
    np.testing.assert_array_equal(again.values, data[:, :, 1:3, 4:9])
    with RangeHTTPServer(tmp_path) as http:
        remote = imgio.Image(f"{http.url}/cells.dv")
        np.testing.assert_array_equal(remote.data, data)  # remote = local
        http.reset()
        rows = remote.get_image_dask_data("YX", T=1, C=0, Z=2)[5:10].compute()
        np.testing.assert_array_equal(rows, data[1, 0, 2, 5:10])
        gets = [r for r in http.requests if r.method == "GET"]
        assert sum(r.body_bytes for r in gets) == 5 * 30 * 2  # the five rows, nothing else


def test_known_by_signature(data: np.ndarray, tmp_path: Path) -> None:
    """The DeltaVision id and MRC2014's 'MAP ' pick the reader whatever the suffix."""
    dv = write_dv(tmp_path / "cells.dv", data)
    (tmp_path / "cells.bin").write_bytes(dv.read_bytes())
    assert imgio.Image(tmp_path / "cells.bin").reader.name == "deltavision"
    (tmp_path / "vol.raw").write_bytes(_mrc_bytes(tmp_path))
    assert imgio.Image(tmp_path / "vol.raw").reader.name == "mrc"


def test_sub_angstrom_sampling_converts(tmp_path: Path) -> None:
    """A sampling far finer than any TIFF resolution tag holds still writes an OME-TIFF
    (the size goes to the OME-XML only)."""
    with mrcfile.new(tmp_path / "fine.mrc") as m:
        m.set_data(np.zeros((2, 8, 8), np.int16))
        m.voxel_size = 0.001  # Å: 1e-7 µm
    img = imgio.Image(tmp_path / "fine.mrc")
    assert img.physical_pixel_sizes.X == pytest.approx(1e-7)
    imgio.write(img, tmp_path / "fine.ome.tif")
    back = imgio.Image(tmp_path / "fine.ome.tif")
    assert back.physical_pixel_sizes.X == pytest.approx(1e-7)


def _mrc_bytes(tmp_path: Path) -> bytes:
    with mrcfile.new(tmp_path / "v.mrc") as m:
        m.set_data(np.zeros((2, 4, 4), np.int16))
    return (tmp_path / "v.mrc").read_bytes()


def test_bad_headers(tmp_path: Path) -> None:
    good = _mrc_bytes(tmp_path)
    bad = tmp_path / "bad.mrc"
    bad.write_bytes(good[:700])
    with pytest.raises(CorruptFileError, match="1024-byte MRC/DeltaVision header"):
        imgio.Image(bad)
    bad.write_bytes(good[:-5])
    with pytest.raises(CorruptFileError, match="declares 2 sections of 4 x 4 int16"):
        imgio.Image(bad)
    for offset, value, match in (
        (12, 3, "mode 3 \\(complex int16\\) is not supported"),
        (12, 77, "pixel mode 77"),
        (0, -4, "nx = -4"),
        (8, 2**30, "sections = 1073741824"),
        (92, -1, "extended header of -1 bytes"),
    ):
        buf = bytearray(good)
        struct.pack_into("<i", buf, offset, value)
        bad.write_bytes(bytes(buf))
        error = UnsupportedFormatError if value == 3 else CorruptFileError
        with pytest.raises(error, match=match):
            imgio.Image(bad, reader="mrc")
    dv = write_dv(tmp_path / "x.dv", np.zeros((2, 2, 1, 4, 4), np.uint16))
    buf = bytearray(dv.read_bytes())
    struct.pack_into("<h", buf, 180, 3)  # 3 time points for 4 sections
    dv.write_bytes(bytes(buf))
    with pytest.raises(CorruptFileError, match="expected a multiple of 6"):
        imgio.Image(dv)
