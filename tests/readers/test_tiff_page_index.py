"""The TIFF plane index is built plane by plane: the first read of one plane of a long
stack converts and checks only that plane's segment offsets; a page whose segments lie
outside the file fails when it is read, not at open and not for the other planes.

Pixels are checked against tifffile.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import imgio

SHAPE = (4, 2, 5, 48, 64)  # T C Z Y X: 40 pages


def _data(dtype: Any = np.uint16) -> np.ndarray[Any, Any]:
    return np.random.default_rng(5).integers(0, 4000, SHAPE).astype(dtype)


def _index(img: imgio.Image) -> Any:
    src = img.reader.source(0, 0)
    return src.planes


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_one_plane_of_an_ome_tiff_indexes_one_page(tmp_path: Path, compression: Any) -> None:
    path = tmp_path / "stack.ome.tif"
    data = _data()
    tifffile.imwrite(path, data, ome=True, compression=compression, metadata={"axes": "TCZYX"})
    with imgio.Image(path) as img:
        got = img.get_image_data("YX", T=2, C=1, Z=3)
        index = _index(img)
        assert len(index) == 40
        assert index.indexed == 1  # of 40 pages
        np.testing.assert_array_equal(got, tifffile.imread(path)[2, 1, 3])
        plane = img.xarray_dask_data.isel(T=3, C=0, Z=4).values
        np.testing.assert_array_equal(plane, data[3, 0, 4])
        assert index.indexed == 2
        np.testing.assert_array_equal(img.data, tifffile.imread(path))
        assert index.indexed == 40


def test_imagej_hyperstack_needs_no_page_index(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    data = _data().transpose(0, 2, 1, 3, 4)  # ImageJ order TZCYX
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TZCYX"})
    with imgio.Image(path) as img:
        got = img.get_image_data("YX", T=1, Z=4, C=1)
        index = _index(img)
        assert index.entries is None and index.indexed == 1  # plane i at dataoffset + i * size
        np.testing.assert_array_equal(got, tifffile.imread(path)[1, 4, 1])
        np.testing.assert_array_equal(img.get_image_data("TCZYX"), data.transpose(0, 2, 1, 3, 4))


def _point_strip_past_the_end(path: Path, page: int) -> None:
    """Make one page's (single) strip offset point past the end of the file."""
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[page].tags["StripOffsets"]
        assert tag.count == 1
        where, order = tag.valueoffset, tif.byteorder
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(where)
        fh.write(struct.pack(order + "I", size + 1000))


def test_a_bad_page_fails_when_read_and_not_before(tmp_path: Path) -> None:
    path = tmp_path / "long.tif"
    data = np.random.default_rng(1).integers(0, 255, (30, 32, 40), dtype=np.uint8)
    tifffile.imwrite(path, data, compression="zlib", metadata=None)  # 30 separate pages
    _point_strip_past_the_end(path, 17)
    img = imgio.Image(path)  # opens: the bad page is not looked at
    dims = img.dims.order
    np.testing.assert_array_equal(img.get_image_data("YX", **{d: 3 for d in dims[:1]}), data[3])
    np.testing.assert_array_equal(img.get_image_data("YX", **{d: 29 for d in dims[:1]}), data[29])
    with pytest.raises(imgio.CorruptFileError, match=r"segment 0 of plane 17 needs bytes"):
        img.get_image_data("YX", **{d: 17 for d in dims[:1]})
    with pytest.raises(imgio.CorruptFileError, match=r"plane 17"):
        img.data  # noqa: B018 - a whole read crosses the bad page
    np.testing.assert_array_equal(img.get_image_data("YX", **{d: 18 for d in dims[:1]}), data[18])
