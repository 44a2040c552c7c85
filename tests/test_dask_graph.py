"""imgio's dask optimization: chained selections decode only their tiles; results are plain.

Checked against tifffile's arrays; laziness by counting decoded tiles (``STATS``).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
import tifffile

import imgio
from imgio.arrays._pieces import Piece, piece
from imgio.readers.base import STATS

TILE = 32
CHUNKS = {"T": 1, "C": 1, "Z": 1, "Y": 64, "X": 64}  # 2 x 2 tiles per dask chunk


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray[Any, Any]]:
    """T=2, C=3, Z=2 planes of 192 x 256 uint16 in 32² zlib tiles (6 x 8 tiles a plane)."""
    path = tmp_path_factory.mktemp("graph") / "stack.ome.tif"
    data = np.random.default_rng(3).integers(0, 60000, (2, 3, 2, 192, 256), dtype=np.uint16)
    meta = {"axes": "TCZYX", "Channel": {"Name": ["DAPI", "GFP", "RFP"]}}
    tifffile.imwrite(path, data, ome=True, tile=(TILE, TILE), compression="zlib", metadata=meta)
    with tifffile.TiffFile(path) as tif:
        return path, tif.series[0].asarray()


def _decoded(compute: Any) -> tuple[Any, int]:
    STATS.reset()
    result = compute()
    return result, STATS.chunks_decoded


def test_chained_isel_decodes_only_covering_tiles(stack: tuple[Path, Any]) -> None:
    path, want = stack
    arr = imgio.Image(path, chunks=CHUNKS).xarray_dask_data
    got, n = _decoded(lambda: arr.isel(T=1, C=2, Z=0).isel(Y=slice(40, 60), X=slice(10, 20)).values)
    np.testing.assert_array_equal(got, want[1, 2, 0, 40:60, 10:20])
    assert n == 1  # rows 32..63, columns 0..31: one tile, not the 2 x 2 of its chunk
    chained = arr.sel(C="GFP").isel(T=0).isel(Z=1).isel(Y=slice(30, 70)).isel(X=slice(60, 100))
    got, n = _decoded(lambda: chained.values)
    np.testing.assert_array_equal(got, want[0, 1, 1, 30:70, 60:100])
    assert n == 3 * 3  # rows 30..69 in tile rows 0-2, columns 60..99 in tile columns 1-3
    # a chain of steps and integers on the bare dask array
    got, n = _decoded(lambda: arr.data[0][1][0][::2][5:40, 100:101].compute())
    np.testing.assert_array_equal(got, want[0, 1, 0, ::2][5:40, 100:101])
    assert n == 3  # rows 10..78 of column 100: tile rows 0, 1, 2 of tile column 3
    # lists (fancy indexing) keep dask's own handling and the right pixels
    got = arr.isel(C=[2, 0], T=1).isel(Y=slice(10, 50), X=[3, 100, 7]).values
    np.testing.assert_array_equal(got, want[1][[2, 0]][:, :, 10:50][..., [3, 100, 7]])
    # new axes (napari's writer stacks layers with x[None]) compose as well
    got, n = _decoded(lambda: arr.data[None][0, 1][None, 2, 0, 10:50, None, 40:60].compute())
    np.testing.assert_array_equal(got, want[None][0, 1][None, 2, 0, 10:50, None, 40:60])
    assert n == 2 * 2


def test_chained_selection_under_a_reduction(stack: tuple[Path, Any]) -> None:
    """Selections below other operations also reach the source as one read."""
    path, want = stack
    arr = imgio.Image(path, chunks=CHUNKS).xarray_dask_data
    region = arr.isel(T=0, Z=0).isel(Y=slice(64, 128), X=slice(0, 64))
    got, n = _decoded(lambda: region.astype("float64").mean(dim=["Y", "X"]).values)
    np.testing.assert_allclose(got, want[0, :, 0, 64:128, 0:64].mean(axis=(1, 2)))
    assert n == 3 * 4  # 2 x 2 tiles per channel


def test_multi_chunk_reads_return_plain_arrays(stack: tuple[Path, Any]) -> None:
    """Whole and multi-chunk reads equal tifffile's and are ordinary ndarrays."""
    path, want = stack
    img = imgio.Image(path, chunks=CHUNKS)
    arr = img.xarray_dask_data
    assert arr.data.npartitions > 50
    whole, n = _decoded(lambda: arr.values)
    assert type(whole) is np.ndarray and whole.flags.writeable
    np.testing.assert_array_equal(whole, want)
    assert n == 2 * 3 * 2 * 6 * 8  # every tile once
    region = arr.isel(T=1, C=0, Z=1, Y=slice(50, 150), X=slice(30, 200))
    got = region.values
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, want[1, 0, 1, 50:150, 30:200])
    both = dask.compute(arr.data[0, 0, 0, :100], arr.data[1, 2, 1, 100:])
    np.testing.assert_array_equal(both[0], want[0, 0, 0, :100])
    np.testing.assert_array_equal(both[1], want[1, 2, 1, 100:])


def test_optimized_and_persisted_chunks_read_one_by_one(stack: tuple[Path, Any]) -> None:
    """dask.optimize (as the writers use it) and persist keep one read per chunk."""
    path, want = stack
    x = imgio.Image(path, chunks=CHUNKS).dask_data[0, 0, 0]
    (opt,) = dask.optimize(x)
    got, n = _decoded(lambda: opt.blocks[1, 2].compute())
    np.testing.assert_array_equal(got, want[0, 0, 0, 64:128, 128:192])
    assert n == 4  # that chunk's 2 x 2 tiles, not the whole plane
    kept = x.persist()
    out = (kept + 1).compute()
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, want[0, 0, 0] + 1)
    np.testing.assert_array_equal(kept.sum().compute(), want[0, 0, 0].sum())


def test_pieces_join_without_copy_and_act_as_ndarrays() -> None:
    buffer = np.arange(24.0).reshape(4, 6)
    left, right = piece(buffer, (0, 0), (4, 2)), piece(buffer, (0, 2), (4, 4))
    assert isinstance(left, Piece)
    assert np.concatenate([left, right], axis=1) is buffer
    top = np.concatenate([piece(buffer, (0, 0), (2, 3)), piece(buffer, (0, 3), (2, 3))], axis=1)
    assert isinstance(top, Piece) and np.shares_memory(top, buffer)
    np.testing.assert_array_equal(top, buffer[:2])
    apart = np.concatenate([left, piece(buffer, (0, 4), (4, 2))], axis=1)  # not adjacent
    assert type(apart) is np.ndarray and not np.shares_memory(apart, buffer)
    np.testing.assert_array_equal(apart, buffer[:, [0, 1, 4, 5]])
    assert type(np.add(left, 1)) is np.ndarray and type(left.sum()) is not Piece
    assert type(pickle.loads(pickle.dumps(left))) is np.ndarray


def test_other_graphs_and_user_optimizations_untouched(stack: tuple[Path, Any]) -> None:
    path, want = stack
    assert imgio.Image(path).dask_data.npartitions  # imgio's optimization is installed
    plain = da.arange(100, chunks=10)
    assert int((plain[5:][10:20] * 2).sum().compute()) == int((np.arange(100)[5:][10:20] * 2).sum())
    calls: list[int] = []

    def mine(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        calls.append(1)
        from dask.array.optimization import optimize

        return optimize(dsk, keys, **kwargs)

    with dask.config.set(array_optimize=mine):
        got = imgio.Image(path, chunks=CHUNKS).dask_data[0, 0, 0, :10, :10].compute()
    assert calls and np.array_equal(got, want[0, 0, 0, :10, :10])


def test_local_compute_runs_as_one_task(stack: tuple[Path, Any]) -> None:
    """A compute made only of imgio reads reaches the local scheduler as ONE task."""
    from dask.callbacks import Callback

    path, want = stack
    arr = imgio.Image(path, chunks=CHUNKS).xarray_dask_data
    ran: list[Any] = []
    with Callback(pretask=lambda key, dsk, state: ran.append(key)):
        plane = arr.isel(T=1, C=2, Z=0).values
        assert len(ran) == 1
        whole = arr.isel(T=0, C=1).values  # 2 planes x 3 x 4 chunks, one buffer
        assert len(ran) == 2
        total = arr.isel(T=0).sum().compute()  # a reduction keeps dask's task graph
        assert len(ran) > 3
    assert type(plane) is np.ndarray and type(whole) is np.ndarray
    np.testing.assert_array_equal(plane, want[1, 2, 0])
    np.testing.assert_array_equal(whole, want[0, 1])
    assert int(total) == int(want[0].sum(dtype=np.uint64))


@pytest.mark.parametrize(
    "sel",
    [{"Z": 1}, {"Z": 0, "Y": slice(100, 900), "X": slice(300, 1400)}, {}],
    ids=["plane", "region", "whole"],
)
def test_reads_across_chunks_hold_one_copy(tmp_path: Path, sel: dict[str, Any]) -> None:
    """Chunks of Y and X (joined on inner axes) come back without a second copy: dask's
    finalize copied a lone chunk and numpy's concatenate copied joined views (3x)."""
    import tracemalloc

    path = tmp_path / "planes.ome.tif"
    data = np.random.default_rng(3).integers(0, 60000, (2, 1024, 1536), dtype=np.uint16)
    tifffile.imwrite(
        path, data, ome=True, tile=(256, 256), compression="zlib", metadata={"axes": "ZYX"}
    )
    arr = imgio.Image(path, chunks={"Z": 1, "Y": 512, "X": 512}).xarray_dask_data
    assert arr.isel(**sel).values.size  # first use: imports, decoder
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = arr.isel(**sel).values
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    want = data[tuple(sel.get(d, slice(None)) for d in "ZYX")]
    np.testing.assert_array_equal(out.squeeze(axis=(0, 1)), want)  # T and C of 1
    assert peak < 1.5 * out.nbytes
