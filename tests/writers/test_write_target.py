"""Safe writes: temp name then rename, existing targets, failures leave nothing behind."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr

import imgio
from imgio.errors import TargetExistsError


def _failing(after_rows: int, exc: type[BaseException]) -> da.Array:
    def fill(block, block_info=None):
        if block_info is not None and block_info[0]["array-location"][0][0] >= after_rows:
            raise exc("boom")
        return block + 1

    return da.zeros((512, 256), dtype=np.uint8, chunks=(64, 128)).map_blocks(fill, dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".ome.tif", ".ome.zarr"])
@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failure_midway_leaves_nothing(tmp_path, suffix, exc):
    target = tmp_path / f"x{suffix}"
    with pytest.raises(exc):
        imgio.write(
            _failing(256, exc),
            target,
            dims="YX",
            pyramid_levels=2,
            **({"tile": 64} if suffix == ".ome.tif" else {"chunks": 64}),
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".ome.tif", ".ome.zarr"])
def test_failure_keeps_the_old_target(tmp_path, suffix):
    target = tmp_path / f"x{suffix}"
    imgio.write(np.full((64, 64), 3, np.uint8), target)
    with pytest.raises(RuntimeError):
        imgio.write(_failing(128, RuntimeError), target, dims="YX", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    old = (
        tifffile.imread(target)
        if suffix == ".ome.tif"
        else zarr.open_group(str(target), mode="r")["0"][0, 0, 0]
    )
    assert (np.asarray(old) == 3).all()


@pytest.mark.parametrize("suffix", [".ome.tif", ".ome.zarr"])
def test_existing_target_needs_overwrite(tmp_path, suffix):
    target = tmp_path / f"x{suffix}"
    imgio.write(np.zeros((32, 32), np.uint8), target)
    with pytest.raises(TargetExistsError, match="overwrite=True"):
        imgio.write(np.ones((32, 32), np.uint8), target)
    with pytest.raises(FileExistsError):  # also the builtin callers catch
        imgio.write(np.ones((32, 32), np.uint8), target)
    imgio.write(np.ones((32, 32), np.uint8), target, overwrite=True)
    got = (
        tifffile.imread(target)
        if suffix == ".ome.tif"
        else zarr.open_group(str(target), mode="r")["0"][0, 0, 0]
    )
    assert (np.asarray(got) == 1).all()
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_unknown_suffix(tmp_path):
    with pytest.raises(imgio.ImgioError, match=r"\.ome\.tif"):
        imgio.write(np.zeros((8, 8), np.uint8), tmp_path / "x.png")
