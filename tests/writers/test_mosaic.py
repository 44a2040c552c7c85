"""Mosaics: grid placement, spacing, overlap, ragged sizes, laziness, streaming write."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import tifffile

import imgio
from imgio.errors import ImgioError


def _tiles(n):
    rng = np.random.default_rng(3)
    sizes = [(30, 40), (25, 40), (30, 35), (20, 20), (30, 40)]
    return [rng.integers(1, 255, sizes[i % len(sizes)], dtype=np.uint8) for i in range(n)]


def _reference(items, across, spacing, overlap, background):
    """Each cell is a rectangle one step wide/tall (size + spacing - overlap, the last: size)."""
    rows = [items[i : i + across] for i in range(0, len(items), across)]
    heights = [max(t.shape[0] for t in row) for row in rows]
    widths = [
        max(rows[r][c].shape[1] for r in range(len(rows)) if c < len(rows[r]))
        for c in range(across)
    ]
    steps_y = [h + spacing - overlap for h in heights[:-1]] + heights[-1:]
    steps_x = [w + spacing - overlap for w in widths[:-1]] + widths[-1:]
    ys, xs = np.cumsum([0] + steps_y), np.cumsum([0] + steps_x)
    out = np.full((ys[-1], xs[-1]), background, np.uint8)
    for r, row in enumerate(rows):
        for c, t in enumerate(row):
            part = t[: steps_y[r], : steps_x[c]]
            out[ys[r] : ys[r] + part.shape[0], xs[c] : xs[c] + part.shape[1]] = part
    return out


@pytest.mark.parametrize(("spacing", "overlap"), [(0, 0), (5, 0), (0, 6), (3, 8)])
def test_grid_matches_reference(spacing, overlap):
    items = _tiles(5)
    got = imgio.mosaic(items, across=2, spacing=spacing, overlap=overlap, background=7, dims="YX")
    assert got.dims == ("T", "C", "Z", "Y", "X")
    np.testing.assert_array_equal(got.values[0, 0, 0], _reference(items, 2, spacing, overlap, 7))


def test_lazy_and_streamed(tmp_path):
    def explode(block):
        raise AssertionError("pixels read while building the mosaic")

    lazy = [
        da.zeros((64, 64), dtype=np.uint8, chunks=64).map_blocks(
            explode, meta=np.empty((0, 0), np.uint8)
        )
        for _ in range(6)
    ]
    joined = imgio.mosaic(lazy, across=3, dims="YX")
    assert joined.shape[-2:] == (128, 192)
    items = [np.full((64, 64), i, np.uint8) for i in range(6)]
    out = imgio.write(
        imgio.mosaic([da.from_array(t) for t in items], across=3, dims="YX"),
        tmp_path / "m.ome.tif",
        tile=32,
    )
    got = tifffile.imread(out)
    np.testing.assert_array_equal(got, np.block([items[:3], items[3:]]))


def test_rgb_metadata_from_first_item():
    import xarray as xr

    first = xr.DataArray(
        np.zeros((2, 10, 12), np.uint16),
        dims=list("CYX"),
        coords={"C": ["a", "b"], "Y": np.arange(10) * 0.5, "X": np.arange(12) * 0.5},
    )
    joined = imgio.mosaic([first, np.ones((2, 10, 12), np.uint16)], across=2, dims="CYX")
    assert list(joined.coords["C"].values) == ["a", "b"]
    assert joined.attrs["pixel_sizes"] == (None, 0.5, 0.5)
    assert joined.shape == (1, 2, 1, 10, 24)


def test_mismatch_errors():
    with pytest.raises(ImgioError, match="non-YX sizes"):
        imgio.mosaic(
            [np.zeros((2, 5, 5), np.uint8), np.zeros((3, 5, 5), np.uint8)], across=2, dims="CYX"
        )
    with pytest.raises(ImgioError, match="at least one"):
        imgio.mosaic([], across=2)
    with pytest.raises(ImgioError, match="overlap"):
        imgio.mosaic([np.zeros((5, 5), np.uint8)] * 2, across=2, overlap=5, dims="YX")
