"""CZI and common images over HTTP (fsspec byte ranges) and on a LocalCluster."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import imagecodecs
import numpy as np
import pytest
from _servers import RangeHTTPServer
from czi_writer import Sub, metadata_xml, write_czi
from PIL import Image as PILImage

import imgio
from imgio.dask_utils import cluster_and_client

RNG = np.random.default_rng(3)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("formats")
    tiles = RNG.integers(0, 9000, (4, 64, 64), dtype=np.uint16)
    subs = [
        Sub(t, x=64 * (m % 2), y=64 * (m // 2), dims={"C": 0, "M": m}, compression="zstd0")
        for m, t in enumerate(tiles)
    ]
    write_czi(root / "m.czi", subs, xml=metadata_xml([("DAPI", "#FF0000FF")], {"X": 5e-7}))
    full = np.block([[tiles[0], tiles[1]], [tiles[2], tiles[3]]])
    png = RNG.integers(0, 255, (30, 40, 4), dtype=np.uint8)
    (root / "a.png").write_bytes(imagecodecs.png_encode(png))
    gif = [RNG.integers(0, 255, (12, 16, 3), dtype=np.uint8) for _ in range(3)]
    ims = [PILImage.fromarray(f) for f in gif]
    ims[0].save(root / "a.gif", save_all=True, append_images=ims[1:])
    return {"root": root, "czi": full, "png": png}


@pytest.fixture(scope="module")
def http(files: dict[str, Any]) -> Iterator[RangeHTTPServer]:
    with RangeHTTPServer(files["root"]) as server:
        yield server


def test_czi_over_http_reads_covering_subblocks(
    files: dict[str, Any], http: RangeHTTPServer
) -> None:
    local = imgio.Image(files["root"] / "m.czi")
    http.reset()
    remote = imgio.Image(f"{http.url}/m.czi")
    opened = http.bytes_sent
    size = (files["root"] / "m.czi").stat().st_size
    # the registry's 4 KiB head, then header, directory and metadata segments: no tiles
    assert opened < 4096 + 2048 < size / 4
    assert remote.dims == local.dims and remote.channel_names == ["DAPI"]
    http.reset()
    corner = remote.get_image_data("YX", Y=slice(0, 10), X=slice(70, 80))
    np.testing.assert_array_equal(corner, files["czi"][:10, 70:80])
    assert http.bytes_sent < 64 * 64 * 2 + 1024  # one compressed tile's segment
    np.testing.assert_array_equal(remote.get_image_data("YX"), files["czi"])


def test_images_over_http(files: dict[str, Any], http: RangeHTTPServer) -> None:
    png = imgio.Image(f"{http.url}/a.png")
    np.testing.assert_array_equal(png.get_image_data("YXS"), files["png"])
    gif = imgio.Image(f"{http.url}/a.gif")
    assert gif.dims.T == 3


def test_local_cluster_compute(files: dict[str, Any]) -> None:
    czi = imgio.Image(files["root"] / "m.czi").xarray_dask_data
    png = imgio.Image(files["root"] / "a.png").xarray_dask_data
    with cluster_and_client(
        n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
    ) as client:
        total, alpha = client.compute([czi.sum(), png.isel(S=3).max()], sync=True)
    assert int(total) == int(files["czi"].astype(np.int64).sum())
    assert int(alpha) == int(files["png"][..., 3].max())
