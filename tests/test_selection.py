"""Out-of-range selections: empty slices raise with the valid range, edge slices clip as numpy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import imgio


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray[Any, Any]]:
    """CZYX uint8 with Y = 5 (the reported case), written by tifffile."""
    path = tmp_path_factory.mktemp("sel") / "small.ome.tif"
    data = np.arange(2 * 3 * 5 * 7, dtype=np.uint8).reshape(2, 3, 5, 7)
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "CZYX"})
    return path, data


EMPTY = [
    {"Y": slice(100, 200)},  # the reported case: Y = 5
    {"Y": slice(5, None)},
    {"X": slice(-100, -50)},
    {"Z": slice(2, 1)},
    {"Y": range(7, 9)},
]


HOW = [
    "get_image_data",
    "get_image_dask_data",
    "imread",
    "imread_dask",
    "imread_xarray",
    "imread_xarray_dask",
]


def _readers(path: Path) -> dict[str, Any]:
    img = imgio.Image(path)
    return {
        "get_image_data": lambda **s: img.get_image_data("ZYX", C=0, **s),
        "get_image_dask_data": lambda **s: img.get_image_dask_data("ZYX", C=0, **s),
        "imread": lambda **s: imgio.imread(path, T=0, C=0, **s),
        "imread_dask": lambda **s: imgio.imread_dask(path, T=0, C=0, **s),
        "imread_xarray": lambda **s: imgio.imread_xarray(path, T=0, C=0, **s).values,
        "imread_xarray_dask": lambda **s: imgio.imread_xarray_dask(path, T=0, C=0, **s).values,
    }


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("selection", EMPTY, ids=[str(s) for s in EMPTY])
def test_empty_slice_raises_with_range(
    small: tuple[Path, np.ndarray[Any, Any]], how: str, selection: dict[str, Any]
) -> None:
    path, data = small
    (d,) = selection
    n = data.shape["CZYX".index(d)]
    read = _readers(path)[how]
    with pytest.raises(
        imgio.SelectionError, match=rf"{d}=.* selects nothing; {d} has {n} values \(0\.\.{n - 1}\)"
    ):
        read(**selection)


def test_reported_reproducer(small: tuple[Path, np.ndarray[Any, Any]]) -> None:
    path, _ = small
    img = imgio.Image(path)
    with pytest.raises(imgio.SelectionError, match=r"Y=slice\(100, 200\) selects nothing"):
        img.get_image_data("ZYX", C=0, T=0, Y=slice(100, 200))


@pytest.mark.parametrize("how", HOW)
def test_edge_slices_clip_like_numpy(small: tuple[Path, np.ndarray[Any, Any]], how: str) -> None:
    path, data = small
    read = _readers(path)[how]
    for sel, want in (
        ({"Y": slice(3, 200)}, data[0, :, 3:200]),
        ({"X": slice(-100, 2)}, data[0, :, :, -100:2]),
        ({"Z": slice(1, 99), "Y": slice(None, 2)}, data[0, 1:99, :2]),
        ({"Y": slice(0, 5, 2)}, data[0, :, 0:5:2]),
    ):
        got = np.asarray(read(**sel))
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)
