"""The streaming writers' out-of-order path: tiles stored as they complete, offsets patched.

Pyramids of odd sizes, from chunks that do not line up with tiles, checked pixel for
pixel with tifffile against an independent numpy pyramid; a failure mid-write leaves
nothing behind.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import tifffile

import imgio


def _levels(path):
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        return [level.asarray() for level in series.levels], series.axes


@pytest.mark.parametrize(
    ("shape", "chunks", "dims", "compression"),
    [
        ((203, 317), (48, 80), "YX", "zstd"),  # chunks straddle tiles both ways
        ((203, 317, 3), (70, 45, 3), "YXS", "zlib"),
        ((3, 131, 97), (1, 131, 20), "ZYX", "lzw"),  # thin column chunks, 3 planes
        ((2, 2, 150, 170), (1, 2, 33, 170), "CZYX", "none"),  # rows chunked, C per chunk
    ],
)
def test_pyramid_pixel_for_pixel(
    tmp_path, ref_halve, ref_halve_rgb, shape, chunks, dims, compression
):
    rng = np.random.default_rng(11)
    data = rng.integers(0, 60000, shape, dtype=np.uint16)
    if dims == "YXS":
        data = data.astype(np.uint8)
    out = imgio.write(
        da.from_array(data, chunks=chunks),
        tmp_path / "p.ome.tif",
        dims=dims,
        tile=32,
        pyramid_levels=5,
        compression=compression,
    )
    levels, axes = _levels(out)
    assert axes == dims and len(levels) == 5
    want = data
    for got in levels:
        np.testing.assert_array_equal(got, want)
        want = ref_halve_rgb(want) if dims == "YXS" else ref_halve(want)


def test_levels_interleaved_in_the_file(tmp_path):
    """Tiles are stored as they complete: a level-1 tile lies before the last level-0 tile."""
    data = np.random.default_rng(2).integers(0, 255, (256, 256), dtype=np.uint8)
    out = imgio.write(
        da.from_array(data, chunks=64), tmp_path / "i.ome.tif", tile=32, pyramid_levels=3
    )
    with tifffile.TiffFile(out) as tif:
        level0, level1 = (level.pages[0] for level in tif.series[0].levels[:2])
        assert min(level1.dataoffsets) < max(level0.dataoffsets)
        assert all(n > 0 for n in level0.databytecounts)
        np.testing.assert_array_equal(level0.asarray(), data)


@pytest.mark.parametrize("planes", [1, 3])
def test_uncompressed_levels_of_exactly_one_tile(tmp_path, ref_halve, planes):
    """tifffile reserves such levels itself (contiguous); their tiles go there."""
    data = np.random.default_rng(5).integers(0, 9999, (planes, 64, 64), dtype=np.uint16)
    out = imgio.write(
        da.from_array(data, chunks=(1, 24, 40)),
        tmp_path / "u.ome.tif",
        dims="ZYX",
        tile=32,
        pyramid_levels=3,
        compression="none",
    )
    levels, _ = _levels(out)
    want = data[0] if planes == 1 else data
    np.testing.assert_array_equal(levels[0], want)
    np.testing.assert_array_equal(levels[1], ref_halve(want))  # 32 x 32: one tile
    np.testing.assert_array_equal(levels[2], ref_halve(ref_halve(want)))


def test_error_mid_write_leaves_nothing(tmp_path):
    calls = []

    def fail_late(block, block_info=None):
        calls.append(1)
        if len(calls) > 5:
            raise ValueError("source broke at block 6")
        return block

    data = da.from_array(np.ones((256, 256), np.uint8), chunks=32).map_blocks(
        fail_late, dtype=np.uint8
    )
    with pytest.raises(ValueError, match="source broke at block 6"):
        imgio.write(data, tmp_path / "e.ome.tif", tile=32, pyramid_levels=3)
    assert len(calls) > 5
    assert not list(tmp_path.iterdir())


def test_ome_zarr_levels_in_one_pass(tmp_path, ref_halve):
    """OME-Zarr takes the same path: RGB samples split into channels from one computed block."""
    import zarr

    computed = []

    def record(block, block_info=None):
        computed.append(block_info[0]["chunk-location"])
        return block

    rgb = np.random.default_rng(3).integers(0, 255, (2, 150, 203, 3), dtype=np.uint8)
    data = da.from_array(rgb, chunks=(1, 40, 50, 3)).map_blocks(record, dtype=np.uint8)
    seen = []
    out = imgio.write(
        data,
        tmp_path / "z.ome.zarr",
        dims="ZYXS",
        chunks=32,
        pyramid_levels=4,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert sorted(computed) == sorted(set(computed))  # each source block computed once
    root = zarr.open_group(str(out), mode="r")
    want = np.moveaxis(rgb, -1, 0)[None]  # T C Z Y X: samples are channels
    for level in range(4):
        np.testing.assert_array_equal(np.asarray(root[str(level)][:]), want)
        want = ref_halve(want)
    assert seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == sorted(d for d, _ in seen)
