"""Sources and dask arrays pickle without file handles and compute in other processes."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pytest
import tifffile

import imgio


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray[Any, Any]]]:
    """A tiled, compressed C=2 OME-TIFF with two SubIFD levels; tifffile's arrays per level."""
    path = tmp_path_factory.mktemp("dist") / "pyr.ome.tif"
    rng = np.random.default_rng(11)
    base = rng.integers(0, 60000, (2, 256, 192), dtype=np.uint16)
    with tifffile.TiffWriter(path, ome=True) as tw:
        tw.write(base, tile=(64, 64), compression="zlib", subifds=1, metadata={"axes": "CYX"})
        tw.write(base[:, ::2, ::2], tile=(64, 64), compression="zlib", subfiletype=1)
    with tifffile.TiffFile(path) as tif:
        levels = [level.asarray() for level in tif.series[0].levels]
    return path, levels


def _digest(arr: np.ndarray[Any, Any]) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_pickled_array_computes_in_a_new_process(
    pyramid: tuple[Path, list[Any]], dumps: Any, tmp_path: Path
) -> None:
    path, levels = pyramid
    img = imgio.Image(path)
    lazy = img.get_xarray_dask_data(level=0)[0, 1, 0, 30:200, 10:150]  # T C Z Y X
    blob = tmp_path / "array.pkl"
    blob.write_bytes(dumps(lazy))
    src = tmp_path / "source.pkl"
    source = img.reader.source(0, 1)
    assert source.dims.replace("T", "").replace("Z", "") == "CYX"  # singletons only besides C, Y, X
    src.write_bytes(dumps(source))
    code = (
        "import hashlib, pickle, sys, numpy as np\n"
        "a = pickle.load(open(sys.argv[1], 'rb')).values\n"
        "s = pickle.load(open(sys.argv[2], 'rb'))\n"
        "b = s[tuple(slice(0, n) for n in s.shape)]\n"
        "print(hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest())\n"
        "print(hashlib.sha256(np.ascontiguousarray(b).tobytes()).hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(blob), str(src)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out == [_digest(levels[0][1, 30:200, 10:150]), _digest(levels[1])]


def test_local_cluster(pyramid: tuple[Path, list[Any]]) -> None:
    import distributed

    path, levels = pyramid
    img = imgio.Image(path, chunks={"Y": 64, "X": 64})
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        region = img.get_xarray_dask_data(level=0).isel(Y=slice(50, 220), X=slice(7, 180))
        got = client.compute(region.data).result()
        np.testing.assert_array_equal(got[0, :, 0], levels[0][:, 50:220, 7:180])
        level1 = img.get_xarray_dask_data(level=1)
        total = client.compute(level1.data.astype(np.int64).sum(axis=(-1, -2))).result()
        np.testing.assert_array_equal(total.ravel(), levels[1].astype(np.int64).sum(axis=(-1, -2)))
        # the work ran in the worker processes
        assert len(client.run(lambda: 1)) == 2


def test_decoders_rebuild_in_a_new_process(tmp_path: Path) -> None:
    """Each codec's keyframe decoder is rebuilt from its IFD offset in a fresh process."""
    rng = np.random.default_rng(12)
    rgb = (np.indices((80, 96)).sum(0)[..., None] * [1, 2, 3] % 256).astype(np.uint8)
    cases: dict[str, tuple[np.ndarray[Any, Any], dict[str, Any]]] = {
        "jpeg.tif": (rgb, {"compression": "jpeg", "photometric": "rgb", "tile": (32, 32)}),
        "ycbcr.tif": (
            rgb,
            {
                "compression": "jpeg",
                "photometric": "ycbcr",
                "subsampling": (2, 2),
                "tile": (32, 32),
            },
        ),
        "j2k.tif": (rgb, {"compression": "jpeg2000", "photometric": "rgb", "tile": (32, 32)}),
        "bits12.tif": (rng.integers(0, 4096, (50, 40), dtype=np.uint16), {"bitspersample": 12}),
        "floatpred.tif": (
            rng.standard_normal((50, 40)).astype(np.float32),
            {"compression": "zlib", "predictor": 3, "tile": (16, 16)},
        ),
        "bigendian.tif": (
            rng.integers(0, 60000, (50, 40), dtype=np.uint16),
            {"byteorder": ">", "compression": "lzw", "predictor": True},
        ),
    }
    arrays = []
    for name, (data, options) in cases.items():
        tifffile.imwrite(tmp_path / name, data, **options)
        arrays.append(
            imgio.Image(tmp_path / name).xarray_dask_data.isel(Y=slice(5, 45), X=slice(3, 37))
        )
        with tifffile.TiffFile(tmp_path / name) as tif:
            cases[name] = (tif.asarray()[5:45, 3:37], options)
    blob = tmp_path / "arrays.pkl"
    blob.write_bytes(cloudpickle.dumps(arrays))
    code = (
        "import hashlib, pickle, sys, numpy as np\n"
        "for a in pickle.load(open(sys.argv[1], 'rb')):\n"
        "    v = np.squeeze(a.values)\n"
        "    print(hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(blob)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out == [_digest(want.astype(want.dtype.newbyteorder("="))) for want, _ in cases.values()]
