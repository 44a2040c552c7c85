"""imgio graphs on a real ``LocalCluster`` of two worker processes.

One cluster serves the module (start-up dominates the runtime). Checks: per-channel
reductions over every level of a multi-level OME-TIFF equal numpy on tifffile's
data; the tasks ran in both worker processes; a remote (HTTP) read graph runs on
the workers, which fetch their own byte ranges; ``imgio.write`` to OME-Zarr with
the client active writes a store that zarr reads back equal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distributed
import numpy as np
import pytest
import tifffile
from _servers import RangeHTTPServer

import imgio
from imgio._threads import decode_threads
from imgio.dask_utils import cluster_and_client

# what one header request may read beyond the bytes tifffile asks for: set here, not
# taken from imgio, so that a bigger read-ahead in imgio fails these tests
OVER_READ = (16 << 10) + 4096

SHAPE = (3, 1024, 768)  # C Y X
TILE = 128
LEVELS = 3
CHUNKS = {"Y": 256, "X": 256}  # many small tasks, so both workers get some
PLANE = ["T", "Z", "Y", "X"]


def write_pyramid(path: Path) -> list[np.ndarray[Any, Any]]:
    rng = np.random.default_rng(7)
    base = rng.integers(0, 60000, SHAPE, dtype=np.uint16)
    base[1] //= 3  # channels differ
    levels = [base]
    for _ in range(1, LEVELS):
        levels.append(levels[-1][:, ::2, ::2].copy())
    opts: dict[str, Any] = {
        "tile": (TILE, TILE),
        "compression": "zlib",
        "photometric": "minisblack",
    }
    with tifffile.TiffWriter(path, ome=True) as tw:
        meta = {
            "axes": "CYX",
            "PhysicalSizeX": 0.5,
            "PhysicalSizeY": 0.5,
            "Channel": {"Name": ["a", "b", "c"]},
        }
        tw.write(base, subifds=LEVELS - 1, metadata=meta, **opts)
        for lv in levels[1:]:
            tw.write(lv, subfiletype=1, **opts)
    return levels


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray[Any, Any]]]:
    path = tmp_path_factory.mktemp("cluster") / "pyramid.ome.tif"
    write_pyramid(path)
    with tifffile.TiffFile(path) as tif:  # the reference is tifffile's own read
        levels = [lv.asarray() for lv in tif.series[0].levels]
    return path, levels


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with cluster_and_client(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def _workers_used(client: Any, compute: Any) -> set[str]:
    with distributed.get_task_stream(client) as ts:
        compute()
    return {t["worker"] for t in ts.data}


def test_reduction_over_every_level(client: Any, pyramid: tuple[Path, list[Any]]) -> None:
    path, levels = pyramid
    img = imgio.Image(path, chunks=CHUNKS)
    assert img.resolution_levels == tuple(range(LEVELS))
    for lvl, want in enumerate(levels):
        data = img.get_xarray_dask_data(level=lvl)
        assert data.data.npartitions > 1 or lvl == LEVELS - 1
        result: dict[str, Any] = {}

        def run(data: Any = data, result: dict[str, Any] = result) -> None:
            futures = client.compute([data.mean(dim=PLANE), data.max(dim=PLANE)])
            result["mean"], result["max"] = client.gather(futures)

        workers = _workers_used(client, run)
        np.testing.assert_allclose(result["mean"], want.mean(axis=(1, 2)), rtol=1e-12)
        np.testing.assert_array_equal(result["max"], want.max(axis=(1, 2)))
        assert list(result["mean"].coords["C"].values) == ["a", "b", "c"]
        if lvl == 0:
            assert len(workers) == 2, f"tasks ran on {workers}"


def test_graph_runs_in_worker_processes(client: Any, pyramid: tuple[Path, list[Any]]) -> None:
    """Sources pickle and reopen the file in each worker process (not the client's)."""
    path, levels = pyramid
    img = imgio.Image(path, chunks=CHUNKS)
    pids = set(client.run(os.getpid).values())
    assert os.getpid() not in pids and len(pids) == 2
    region = img.get_image_dask_data("CYX", Y=slice(100, 700), X=slice(50, 650))
    np.testing.assert_array_equal(client.compute(region).result(), levels[0][:, 100:700, 50:650])


def test_remote_graph_on_workers(client: Any, pyramid: tuple[Path, list[Any]]) -> None:
    """Workers fetch byte ranges from an HTTP server themselves."""
    path, levels = pyramid
    with RangeHTTPServer(path.parent) as http:
        img = imgio.Image(f"{http.url}/{path.name}", chunks=CHUNKS)
        http.reset()
        total = client.compute(img.get_xarray_dask_data(level=1).sum(dim=["Y", "X"])).result()
        want = levels[1].sum(axis=(1, 2), dtype=np.uint64)
        np.testing.assert_array_equal(total.values.ravel(), want)
        with tifffile.TiffFile(path) as tif:
            tiles = sorted(
                (int(o), int(o) + int(n))
                for p in tif.series[0].levels[1].pages
                for o, n in zip(p.aspage().dataoffsets, p.aspage().databytecounts, strict=True)
            )
        fetched = [r.range for r in http.requests if r.method == "GET"]
        # every tile exactly once, as its own byte range
        assert sorted(r for r in fetched if r in set(tiles)) == tiles
        others = [r for r in http.requests if r.method == "GET" and r.range not in set(tiles)]
        # the rest: each worker's decoding threads parse the keyframe IFD (about four
        # read-ahead blocks per parse; at most one parse per decode thread of each worker)
        parses = 2 * decode_threads()
        assert sum(r.body_bytes for r in others) <= parses * 4 * OVER_READ


def test_write_ome_zarr_with_client(
    client: Any, pyramid: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    import zarr

    path, levels = pyramid
    target = tmp_path / "x.ome.zarr"
    with imgio.Image(path, chunks=CHUNKS) as img:
        workers = _workers_used(client, lambda: imgio.write(img, target))
    assert workers, "the write did not go through the cluster"
    root = zarr.open_group(str(target), mode="r")
    attrs = root.attrs.asdict()
    multiscales = (attrs.get("ome") or attrs)["multiscales"]
    first = root[multiscales[0]["datasets"][0]["path"]]
    np.testing.assert_array_equal(np.asarray(first[:]).reshape(levels[0].shape), levels[0])
    back = imgio.Image(target)
    assert back.channel_names == ["a", "b", "c"]
    assert back.physical_pixel_sizes.X == pytest.approx(0.5)


def test_xarray_engine_on_workers(client: Any, pyramid: tuple[Path, list[Any]]) -> None:
    """engine="imgio" with dask chunks: the backend array pickles to the workers."""
    import xarray as xr

    from imgio.xarray_backend import ImgioBackendEntrypoint

    path, levels = pyramid
    tree = xr.open_datatree(path, engine=ImgioBackendEntrypoint, chunks={})
    (scene,) = tree.children
    for lvl, want in enumerate(levels):
        image = tree[f"{scene}/level_{lvl}"]["image"]
        got = client.compute(image.max(dim=PLANE)).result()
        np.testing.assert_array_equal(got.values, want.max(axis=(1, 2)))


def test_connect_to_existing_scheduler(client: Any) -> None:
    with cluster_and_client(client.scheduler.address) as other:
        assert other.submit(sum, [1, 2, 3]).result() == 6
        assert set(other.scheduler_info()["workers"]) == set(client.scheduler_info()["workers"])
    assert other.status == "closed"
    assert client.status == "running"  # the scheduler and its workers live on
    with pytest.raises(TypeError, match="LocalCluster"):
        with cluster_and_client(client.scheduler.address, n_workers=3):
            pass


def test_local_cluster_closed_on_exit() -> None:
    with cluster_and_client(n_workers=1, processes=False, dashboard_address=":0") as c:
        cluster = c.cluster
        assert c.submit(pow, 2, 5).result() == 32
    assert c.status == "closed"
    assert cluster.status.name == "closed"


def test_missing_distributed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(imgio.MissingDependencyError, match=r'pip install "imgio\[distributed\]"'):
        with cluster_and_client():
            pass


# ---------------------------------------------------------------- instrument formats
def test_nd2_on_cluster(client: Any) -> None:
    """ND2 frames read in the worker processes (sources pickle without handles)."""
    import nd2
    from samples import DATA

    path = DATA / "arcadia-example-zstack.nd2"
    img = imgio.Image(path, chunks={"Z": 1})
    with nd2.ND2File(path) as f:
        want = f.asarray()
    data = img.xarray_dask_data
    assert data.data.npartitions == 11
    workers = _workers_used(client, lambda: client.compute(data.max(dim=["Y", "X"])).result())
    assert len(workers) == 2
    got = client.compute(data.max(dim=["Y", "X"])).result()
    np.testing.assert_array_equal(got.values.ravel(), want.max(axis=(1, 2)))


def test_lif_tiles_and_mosaic_on_cluster(client: Any) -> None:
    """LIF tiles (M axis) and the reconstructed mosaic computed on the workers."""
    import readlif.reader
    from samples import DATA

    path = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"
    tiles = imgio.Image(path, reconstruct_mosaic=False, chunks={"M": 1, "T": 1})
    ref = readlif.reader.LifFile(str(path)).get_image(0)
    sums = client.compute(tiles.xarray_dask_data.sum(dim=["Y", "X"])).result()
    for m in range(4):
        want = np.asarray(ref.get_plane((1, 2), 1, {3: 2, 4: 1, 10: m})).sum()
        assert sums.isel(M=m, T=1, C=1, Z=2).item() == want
    mosaic = imgio.Image(path)
    region = mosaic.xarray_dask_data.isel(Y=slice(20, 90), X=slice(10, 60))
    np.testing.assert_array_equal(client.compute(region.data).result(), region.values)


def test_chained_selection_on_workers(client: Any, pyramid: tuple[Path, list[Any]]) -> None:
    """A chained selection's graph reads each output chunk on a worker (no shared buffer)."""
    path, levels = pyramid
    arr = imgio.Image(path, chunks=CHUNKS).xarray_dask_data
    region = arr.isel(T=0, Z=0).sel(C="b").isel(Y=slice(200, 900), X=slice(100, 700))
    got: dict[str, Any] = {}
    workers = _workers_used(client, lambda: got.update(v=client.compute(region.data).result()))
    assert len(workers) == 2, f"tasks ran on {workers}"
    np.testing.assert_array_equal(got["v"], levels[0][1, 200:900, 100:700])


def test_oib_and_xlif_on_cluster(client: Any, tmp_path: Path) -> None:
    """Olympus OIB planes and LAS X XLIF frame files read in the worker processes."""
    import liffile
    from oif_writer import write_oib
    from samples import DATA
    from xlif_writer import write_xlif

    planes = np.random.default_rng(5).integers(0, 4000, (2, 2, 3, 40, 48), dtype=np.uint16)
    oib = imgio.Image(
        write_oib(tmp_path / "cells.oib", planes, dyes=("DAPI", "GFP")),
        chunks={"T": 1, "C": 1, "Z": 1},
    )
    data = oib.xarray_dask_data
    assert data.data.npartitions == 12  # T x C x Z planes, each read on a worker
    got = client.compute(data.max(dim=["Y", "X"])).result()
    np.testing.assert_array_equal(got.values, planes.max(axis=(3, 4)))

    lif = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"
    xlif = write_xlif(lif, tmp_path / "project", kind="tif", name="B")
    img = imgio.Image(xlif, reconstruct_mosaic=False, chunks={"M": 1})
    with liffile.LifFile(lif) as f:
        want = f.images[0].asarray()
    sums = client.compute(img.xarray_dask_data.sum(dim=["Y", "X"])).result()
    assert int(sums.values.sum()) == int(want.astype(np.int64).sum())


def test_imaris_and_deltavision_on_workers(client: Any, tmp_path: Path) -> None:
    """Imaris (h5py opened in each worker) and DeltaVision (byte ranges) graphs run on the
    workers and equal numpy on the written arrays."""
    from dv_writer import write_dv
    from ims_writer import write_ims

    rng = np.random.default_rng(18)
    data = rng.integers(0, 4000, (2, 2, 6, 96, 80), dtype=np.uint16)
    ims = write_ims(tmp_path / "c.ims", [data, np.ascontiguousarray(data[..., ::2, ::2])])
    dv = write_dv(tmp_path / "c.dv", data, sequence=1, times=(0.0, 1.0))
    for path in (ims, dv):
        lazy = imgio.Image(path).get_xarray_dask_data(level=0).chunk({"Z": 1, "Y": 48})
        sums = lazy.sum(dim=PLANE)
        used = _workers_used(client, lambda s=sums: s.compute())
        assert len(used) == 2, f"{path.name}: tasks ran on {used}"
        np.testing.assert_array_equal(sums.compute().values, data.sum(axis=(0, 2, 3, 4)))
