"""HCS plates written to S3 (a real moto server on loopback, tests/s3_server.py): read back
by imgio, zarr (through s3fs) and ome-zarr-py; a failed write leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import zarr
from ome_zarr.format import FormatV04, FormatV05
from ome_zarr.io import parse_url
from ome_zarr.reader import Plate, Reader
from s3_server import S3, moto_s3, s3_filesystem
from zarr.storage import FsspecStore

import imgio

BUCKET = "plates"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with moto_s3(buckets=(BUCKET,)) as server:
        yield server


def _field(seed: int) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).integers(0, 4000, (2, 40, 50), dtype=np.uint16)


WELLS = {"A/1": [_field(0), _field(1)], "B/2": [_field(2)]}


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_plate_to_s3(s3: S3, version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    options, _ = s3
    url = f"s3://{BUCKET}/v{version}.ome.zarr"
    out = imgio.write_plate(
        url,
        WELLS,
        name="remote screen",
        dims="CYX",
        channel_names=["DAPI", "GFP"],
        physical_pixel_sizes=(None, 0.65, 0.65),
        ngff_version=version,
        chunks=32,
        storage_options=options,
    )
    assert out == url
    keys = s3_filesystem(options).find(f"{BUCKET}/v{version}.ome.zarr")
    assert not [k for k in keys if ".partial" in k]
    # zarr through s3fs: plate metadata and pixels
    store = FsspecStore.from_url(url, storage_options=options, read_only=True)
    root = zarr.open_group(store, mode="r")
    attrs = dict(root.attrs) if version == "0.4" else root.attrs["ome"]
    assert [w["path"] for w in attrs["plate"]["wells"]] == ["A/1", "B/2"]
    assert attrs["plate"]["name"] == "remote screen"
    np.testing.assert_array_equal(root["A/1/1/0"][...][0, :, 0], _field(1))
    np.testing.assert_array_equal(root["B/2/0/0"][...][0, :, 0], _field(2))
    # ome-zarr-py by URL: a plate whose stitched image holds each field 0 (it opens the
    # wells by URL without storage options, so the endpoint comes from the environment)
    monkeypatch.setenv("AWS_ENDPOINT_URL", options["endpoint_url"])
    fmt = FormatV04() if version == "0.4" else FormatV05()
    location = parse_url(url, fmt=fmt)
    assert location is not None
    node = next(iter(Reader(location)()))
    assert any(isinstance(s, Plate) for s in node.specs)
    stitched = np.asarray(node.data[0])
    assert stitched.shape[-2:] == (80, 100)  # 2 rows x 40, 2 columns x 50
    np.testing.assert_array_equal(stitched[0, :, 0, 40:80, 50:100], _field(2))
    # imgio, remote: one scene per field, with names and sizes
    with imgio.Image(url, storage_options=options) as img:
        assert img.scenes == ("A/1/0", "A/1/1", "B/2/0")
        img.set_scene("A/1/1")
        assert img.channel_names == ["DAPI", "GFP"]
        assert tuple(img.physical_pixel_sizes) == (None, 0.65, 0.65)
        np.testing.assert_array_equal(img.get_image_data("CYX"), _field(1))


def test_failed_remote_plate_leaves_nothing(s3: S3) -> None:
    options, _ = s3
    url = f"s3://{BUCKET}/broken.ome.zarr"
    bad = {"A/1": [_field(0)], "B/1": [np.zeros((3, 40, 50), np.uint16)]}  # 3 channels, 2 names
    with pytest.raises(imgio.ImgioError):
        imgio.write_plate(
            url, bad, dims="CYX", channel_names=["DAPI", "GFP"], storage_options=options
        )
    assert s3_filesystem(options).find(f"{BUCKET}/broken.ome.zarr") == []
    imgio.write_plate(url, WELLS, dims="CYX", storage_options=options)
    with pytest.raises(imgio.TargetExistsError):
        imgio.write_plate(url, WELLS, dims="CYX", storage_options=options)
