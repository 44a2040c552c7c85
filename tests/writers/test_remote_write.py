"""Writing to S3: a real moto S3 server on loopback (tests/s3_server.py), no mocks.

OME-Zarr 0.4/0.5 and OME-TIFF are written to ``s3://`` and read back with imgio
(remote) and with zarr/tifffile through s3fs: pixel-identical (lossless codecs),
channel names and pixel sizes kept. Safe writes: an existing target is refused, a
replacement lands only on success, a failing dask block leaves no object under the
target and no partial objects. A remote sink is filled from a thread pool, and from
a worker process of a ``dask.distributed`` cluster.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import product
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr
from s3_server import S3, moto_s3, s3_filesystem

import imgio
from imgio.cli import main as cli_main

BUCKET = "out"
CHANNELS = ["DAPI", "GFP"]
SIZES = (None, 0.5, 0.25)  # Z Y X in µm


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with moto_s3(buckets=(BUCKET,)) as server:
        yield server


@pytest.fixture
def options(s3: S3) -> dict[str, Any]:
    return s3[0]


def keys(options: dict[str, Any], prefix: str = BUCKET) -> list[str]:
    """Every object key under ``prefix``, listed afresh (no listing cache)."""
    return sorted(s3_filesystem(options).find(prefix))


def partials(options: dict[str, Any]) -> list[str]:
    return [k for k in keys(options) if ".partial" in k]


def data(seed: int = 1, shape: tuple[int, ...] = (2, 301, 517)) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 4000, shape, dtype=np.uint16)
    out[1] += np.arange(shape[-1], dtype=np.uint16)[None, :]
    return out


def lazy(arr: np.ndarray[Any, Any], chunks: tuple[int, ...]) -> Any:
    """``arr`` as a dask array with ``chunks``."""
    return da.from_array(arr, chunks=chunks)  # type: ignore[no-untyped-call]


def write(arr: Any, url: str, options: dict[str, Any], **kwargs: Any) -> Any:
    kwargs.setdefault("dims", "CYX")
    return imgio.write(
        arr,
        url,
        channel_names=CHANNELS,
        physical_pixel_sizes=SIZES,
        storage_options=options,
        **kwargs,
    )


def check_imgio(url: str, options: dict[str, Any], expected: np.ndarray[Any, Any]) -> None:
    with imgio.Image(url, storage_options=options) as img:
        np.testing.assert_array_equal(img.data[0, :, 0], expected)
        assert img.channel_names == CHANNELS
        assert img.physical_pixel_sizes.Y == pytest.approx(0.5)
        assert img.physical_pixel_sizes.X == pytest.approx(0.25)


# ------------------------------------------------------------------ OME-Zarr
@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_zarr_to_s3(options: dict[str, Any], version: str) -> None:
    arr = data()
    url = f"s3://{BUCKET}/v{version}.ome.zarr"
    got = write(
        lazy(arr, chunks=(1, 128, 128)),
        url,
        options,
        chunks=128,
        shards=256 if version == "0.5" else None,
        ngff_version=version,
        pyramid_levels=3,
    )
    assert got == url
    # zarr through s3fs: pixels and NGFF metadata
    root = zarr.open_group(url, mode="r", storage_options=options)
    assert root.metadata.zarr_format == (2 if version == "0.4" else 3)
    level0 = root["0"]
    assert isinstance(level0, zarr.Array)
    np.testing.assert_array_equal(level0[0, :, 0], arr)
    attrs: Any = root.attrs.asdict() if version == "0.4" else root.attrs.asdict()["ome"]
    labels = [c["label"] for c in attrs["omero"]["channels"]]
    assert labels == CHANNELS
    assert [d["path"] for d in attrs["multiscales"][0]["datasets"]] == ["0", "1", "2"]
    # imgio, remote
    check_imgio(url, options, arr)
    assert partials(options) == []


def test_zarr_overwrite(options: dict[str, Any]) -> None:
    url = f"s3://{BUCKET}/replace.ome.zarr"
    first, second = data(2, (2, 140, 200)), data(3, (2, 100, 120))
    write(first, url, options, chunks=64, pyramid_levels=2)
    before = keys(options, f"{BUCKET}/replace.ome.zarr")
    with pytest.raises(imgio.TargetExistsError, match="overwrite=True"):
        write(second, url, options)
    assert keys(options, f"{BUCKET}/replace.ome.zarr") == before
    write(second, url, options, chunks=32, pyramid_levels=2, overwrite=True)
    check_imgio(url, options, second)
    # exactly the objects of a fresh write: no stale chunks of the old image
    write(second, f"s3://{BUCKET}/fresh.ome.zarr", options, chunks=32, pyramid_levels=2)
    fresh = [k.split("/", 2)[2] for k in keys(options, f"{BUCKET}/fresh.ome.zarr")]
    assert [k.split("/", 2)[2] for k in keys(options, f"{BUCKET}/replace.ome.zarr")] == fresh
    assert partials(options) == []


def _failing(block: np.ndarray[Any, Any], block_info: Any = None) -> np.ndarray[Any, Any]:
    if block_info is not None and block_info[0]["chunk-location"] == (1, 2, 3):
        raise RuntimeError("block (1, 2, 3) failed")
    return block


@pytest.mark.parametrize("existing", [False, True])
def test_zarr_failure_leaves_nothing(options: dict[str, Any], existing: bool) -> None:
    """A block failing mid-write: no valid image (new target) or the old one intact."""
    url = f"s3://{BUCKET}/fail-{existing}.ome.zarr"
    old = data(4, (2, 100, 120))
    if existing:
        write(old, url, options, chunks=64, pyramid_levels=2)
    before = keys(options, f"{BUCKET}/fail-{existing}.ome.zarr")
    failing = lazy(data(9, (2, 200, 256)), chunks=(1, 64, 64))
    failing = failing.map_blocks(_failing, dtype=np.uint16)
    with pytest.raises(RuntimeError, match="block"):
        write(failing, url, options, chunks=64, overwrite=existing)
    assert keys(options, f"{BUCKET}/fail-{existing}.ome.zarr") == before
    assert partials(options) == []
    if existing:
        check_imgio(url, options, old)
    else:
        assert before == []


# ------------------------------------------------------------------ OME-TIFF
def test_tiff_to_s3(options: dict[str, Any], tmp_path: Path) -> None:
    arr = data(5)
    url = f"s3://{BUCKET}/slide.ome.tif"
    write(arr, url, options, tile=128, compression="zlib", pyramid_levels=3, tmpdir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone
    with (
        s3_filesystem(options).open(f"{BUCKET}/slide.ome.tif", "rb") as f,
        tifffile.TiffFile(f) as tif,
    ):
        assert tif.is_ome
        series = tif.series[0]
        np.testing.assert_array_equal(series.asarray(), arr)
        assert len(series.levels) == 3
    check_imgio(url, options, arr)
    # refused, then replaced
    with pytest.raises(imgio.TargetExistsError):
        write(arr[:, :64], url, options)
    write(arr[:, :64], url, options, overwrite=True)
    check_imgio(url, options, arr[:, :64])
    # a failing block uploads nothing
    failing = lazy(data(), chunks=(1, 64, 64)).map_blocks(_failing, dtype=np.uint16)
    with pytest.raises(RuntimeError):
        write(failing, f"s3://{BUCKET}/broken.ome.tif", options)
    assert keys(options, f"{BUCKET}/broken.ome.tif") == []
    assert partials(options) == []


def test_image_save_and_cli(options: dict[str, Any], tmp_path: Path) -> None:
    """``Image.save`` and ``imgio convert`` with ``--storage-option``, remote in and out."""
    arr = data(6, (2, 200, 260))
    local = tmp_path / "in.ome.tif"
    imgio.write(arr, local, dims="CYX", channel_names=CHANNELS, physical_pixel_sizes=SIZES)
    with imgio.Image(local) as img:
        img.save(f"s3://{BUCKET}/saved.ome.zarr", storage_options=options)
    check_imgio(f"s3://{BUCKET}/saved.ome.zarr", options, arr)
    flags = [
        "--storage-option=endpoint_url=" + options["endpoint_url"],
        "--storage-option=key=testing",
        "--storage-option=secret=testing",
        '--storage-option=client_kwargs={"region_name": "us-east-1"}',
        "--quiet",
    ]
    src, dst = f"s3://{BUCKET}/saved.ome.zarr", f"s3://{BUCKET}/converted.ome.tif"
    assert cli_main(["convert", src, dst, *flags]) == 0
    check_imgio(dst, options, arr)
    assert cli_main(["convert", src, dst, *flags]) == 2  # exists, no --overwrite


def test_missing_filesystem_package() -> None:
    import importlib.util

    if importlib.util.find_spec("adlfs") is not None:
        pytest.skip("adlfs is installed")
    with pytest.raises(imgio.MissingDependencyError, match=r"abfs://.*pip install adlfs"):
        imgio.write(np.zeros((8, 8), np.uint8), "abfs://container/x.ome.zarr")
    with pytest.raises(imgio.MissingDependencyError, match="pip install adlfs"):
        imgio.create("abfs://container/x.ome.zarr", shape=(8, 8), dims="YX", dtype="u1")


# ---------------------------------------------------------------------- sink
def test_sink_from_threads(options: dict[str, Any]) -> None:
    url = f"s3://{BUCKET}/sink.ome.zarr"
    arr = data(7, (2, 200, 300))
    sink = imgio.create(
        url,
        shape=arr.shape,
        dims="CYX",
        dtype=arr.dtype,
        chunks=100,
        channel_names=CHANNELS,
        physical_pixel_sizes=SIZES,
        storage_options=options,
    )
    with pytest.raises(imgio.ImgioError, match=r"chunk grid \(1, 100, 100\)"):
        sink[0, 50:150, 0:100] = arr[0, 50:150, 0:100]
    assert not any(
        k.endswith((".zattrs", ".zgroup"))
        for k in keys(options, f"{BUCKET}/sink.ome.zarr")
        if k.count("/") == 2
    )
    regions = [
        (c, slice(y, y + 100), slice(x, x + 100))
        for c, y, x in product(range(2), range(0, 200, 100), range(0, 300, 100))
    ]

    def put(key: tuple[int, slice, slice]) -> None:
        sink[key] = arr[key]

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, regions))
    assert sink.close() == url
    root = zarr.open_group(url, mode="r", storage_options=options)
    level0 = root["0"]
    assert isinstance(level0, zarr.Array)
    np.testing.assert_array_equal(level0[:], arr)
    check_imgio(url, options, arr)
    assert partials(options) == []


def test_sink_abort_and_pickle(options: dict[str, Any]) -> None:
    url = f"s3://{BUCKET}/aborted.ome.zarr"
    sink = imgio.create(
        url, shape=(64, 64), dims="YX", dtype="u1", chunks=32, storage_options=options
    )
    copy = pickle.loads(pickle.dumps(sink))  # what a worker process gets
    copy[0:32, 32:64] = 7
    assert int(sink[0:32, 32:64].min()) == 7
    sink.abort()
    assert keys(options, f"{BUCKET}/aborted.ome.zarr") == []


def test_zarr_write_on_cluster(options: dict[str, Any]) -> None:
    """Chunks are written by worker processes: the store and its options pickle."""
    import distributed

    arr = data(8, (2, 128, 256))
    url = f"s3://{BUCKET}/cluster.ome.zarr"
    with (
        distributed.LocalCluster(
            n_workers=1, processes=True, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        write(lazy(arr, chunks=(1, 64, 64)), url, options, chunks=64, pyramid_levels=2)
    check_imgio(url, options, arr)
