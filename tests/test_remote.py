"""Remote reads through fsspec against real servers on loopback.

A tiled pyramidal OME-TIFF (written by tifffile) and OME-Zarr stores (written with
zarr directly, NGFF metadata by hand) are served by

- :class:`_servers.RangeHTTPServer` (HTTP/1.1 with ``Range``; counts body bytes),
- a moto S3 server behind :class:`_servers.CountingProxy` (counts bytes on the wire).

Checks: pixels equal tifffile's/zarr's at every level, dims and metadata equal the
local read, and a region read transfers at most 1.2 x the bytes of the covering
tiles or chunks (headers are counted separately, at open).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr
from _servers import RangeHTTPServer
from s3_server import S3, moto_s3, s3_filesystem

import imgio

# what one header request may read beyond the bytes tifffile asks for: set here, not
# taken from imgio, so that a bigger read-ahead in imgio fails these tests
OVER_READ = (16 << 10) + 4096

SEED = 20261124
TILE = 128
SHAPE = (2, 1000, 900)  # C Y X; edges not multiples of the tile on purpose
LEVELS = 3
SIZE_UM = 0.25
CHANNELS = ["DAPI", "GFP"]
SLACK = 1.2  # allowed over-fetch of a region read


# ------------------------------------------------------------------- files
def pixels(shape: tuple[int, ...], seed: int) -> np.ndarray[Any, Any]:
    """Noisy, compressible uint16 pixels."""
    rng = np.random.default_rng(seed)
    smooth = (np.indices(shape).sum(axis=0) * 3) % 4000
    return (smooth + rng.integers(0, 200, shape)).astype(np.uint16)


def write_ome_tiff(path: Path) -> list[np.ndarray[Any, Any]]:
    base = pixels(SHAPE, SEED)
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
            "PhysicalSizeX": SIZE_UM,
            "PhysicalSizeY": SIZE_UM,
            "Channel": {"Name": CHANNELS},
        }
        tw.write(base, subifds=LEVELS - 1, metadata=meta, **opts)
        for lv in levels[1:]:
            tw.write(lv, subfiletype=1, **opts)
    return levels


def _ngff_multiscale(version: str, n: int) -> dict[str, Any]:
    axes = [{"name": "c", "type": "channel"}] + [
        {"name": a, "type": "space", "unit": "micrometer"} for a in "yx"
    ]
    datasets = [
        {
            "path": str(i),
            "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, SIZE_UM * 2**i, SIZE_UM * 2**i]}
            ],
        }
        for i in range(n)
    ]
    return {"version": version, "name": "img", "axes": axes, "datasets": datasets}


OMERO = {
    "channels": [
        {"label": c, "color": col, "window": {"start": 0, "end": 4200}}
        for c, col in zip(CHANNELS, ["0000FF", "00FF00"], strict=True)
    ]
}


def write_ome_zarr(path: Path, version: str) -> list[np.ndarray[Any, Any]]:
    """NGFF 0.4 (zarr v2, zlib) or 0.5 (zarr v3, sharded, zstd)."""
    base = pixels(SHAPE, SEED + 1)
    levels = [base]
    for _ in range(1, LEVELS):
        levels.append(levels[-1][:, ::2, ::2].copy())
    fmt = 2 if version == "0.4" else 3
    root = zarr.open_group(str(path), mode="w", zarr_format=fmt)
    for i, lv in enumerate(levels):
        if fmt == 2:
            from numcodecs import Zlib

            arr = root.create_array(
                str(i),
                shape=lv.shape,
                dtype=lv.dtype,
                chunks=(1, TILE, TILE),
                compressors=[Zlib(level=1)],
                chunk_key_encoding={"name": "v2", "separator": "/"},
            )
        else:
            arr = root.create_array(
                str(i),
                shape=lv.shape,
                dtype=lv.dtype,
                chunks=(1, TILE, TILE),
                shards=(1, 4 * TILE, 4 * TILE),
            )
        arr[...] = lv
    if fmt == 2:
        root.attrs.update({"multiscales": [_ngff_multiscale("0.4", LEVELS)], "omero": OMERO})
    else:
        multiscales = [_ngff_multiscale("0.5", LEVELS)]
        root.attrs.update({"ome": {"version": "0.5", "multiscales": multiscales, "omero": OMERO}})
    return levels


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("remote")
    out: dict[str, Any] = {"root": root}
    out["tiff"] = write_ome_tiff(root / "slide.ome.tif")
    out["zarr04"] = write_ome_zarr(root / "v04.ome.zarr", "0.4")
    out["zarr05"] = write_ome_zarr(root / "v05.ome.zarr", "0.5")
    return out


# ------------------------------------------------------------------ servers
@pytest.fixture(scope="module")
def http(files: dict[str, Any]) -> Iterator[RangeHTTPServer]:
    with RangeHTTPServer(files["root"]) as server:
        yield server


@pytest.fixture(scope="module")
def s3(files: dict[str, Any]) -> Iterator[S3]:
    """A moto S3 server (bucket ``imgio``, the files uploaded), behind a byte-counting proxy."""
    with moto_s3(buckets=("imgio",)) as (options, proxy):
        fs = s3_filesystem(options)
        root: Path = files["root"]
        fs.put(str(root / "slide.ome.tif"), "imgio/slide.ome.tif")
        for name in ("v04.ome.zarr", "v05.ome.zarr"):
            fs.put(str(root / name), f"imgio/{name}", recursive=True)
        yield options, proxy


# ----------------------------------------------------------------- helpers
def windows(shape: tuple[int, int], n: int, seed: int) -> list[tuple[slice, slice]]:
    """Seeded random small windows (a few tiles) inside a Y X shape."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h = int(rng.integers(1, min(shape[0], 2 * TILE) + 1))
        w = int(rng.integers(1, min(shape[1], 2 * TILE) + 1))
        y = int(rng.integers(0, shape[0] - h + 1))
        x = int(rng.integers(0, shape[1] - w + 1))
        out.append((slice(y, y + h), slice(x, x + w)))
    return out


def tile_bytes(tif_path: Path, level: int, channels: range, ys: slice, xs: slice) -> int:
    """Stored bytes of the tiles covering a window, from tifffile's own offsets."""
    total = 0
    with tifffile.TiffFile(tif_path) as tif:
        pages = tif.series[0].levels[level].pages
        for c in channels:
            page = pages[c].aspage()
            across = math.ceil(page.imagewidth / page.tilewidth)
            for ty in range(ys.start // page.tilelength, (ys.stop - 1) // page.tilelength + 1):
                for tx in range(xs.start // page.tilewidth, (xs.stop - 1) // page.tilewidth + 1):
                    total += int(page.databytecounts[ty * across + tx])
    return total


def chunk_bytes(store: Path, level: int, channels: range, ys: slice, xs: slice) -> int:
    """Stored bytes of the chunks covering a window (v2 chunk files, v3 inner chunks)."""
    arr = zarr.open_array(str(store / str(level)), mode="r")
    total = 0
    for c in channels:
        for ty in range(ys.start // TILE, (ys.stop - 1) // TILE + 1):
            for tx in range(xs.start // TILE, (xs.stop - 1) // TILE + 1):
                if arr.metadata.zarr_format == 2:
                    total += os.path.getsize(store / str(level) / str(c) / str(ty) / str(tx))
                else:
                    total += _inner_chunk_nbytes(store / str(level), (c, ty, tx))
    return total


def _inner_chunk_nbytes(array_dir: Path, chunk: tuple[int, int, int]) -> int:
    """Length of one inner chunk from its shard's index (little-endian uint64 pairs + crc32c)."""
    per = (1, 4, 4)
    shard = tuple(i // p for i, p in zip(chunk, per, strict=True))
    inner = tuple(i % p for i, p in zip(chunk, per, strict=True))
    raw = (array_dir / "c" / "/".join(str(s) for s in shard)).read_bytes()
    n = math.prod(per)
    index = np.frombuffer(raw[-(16 * n + 4) : -4], dtype="<u8").reshape(n, 2)
    k = np.ravel_multi_index(inner, per)
    return int(index[k, 1])


def shard_index_bytes(ys: slice, xs: slice, channels: range) -> int:
    """Index bytes of the shards a window touches (read once per shard)."""
    n_shards = len(channels) * (
        ((ys.stop - 1) // (4 * TILE) - ys.start // (4 * TILE) + 1)
        * ((xs.stop - 1) // (4 * TILE) - xs.start // (4 * TILE) + 1)
    )
    return n_shards * (16 * 16 + 4)


def assert_same_structure(remote: imgio.Image, local: imgio.Image) -> None:
    assert remote.scenes == local.scenes
    assert remote.dims.order == local.dims.order
    assert remote.shape == local.shape
    assert remote.dtype == local.dtype
    assert remote.resolution_levels == local.resolution_levels == tuple(range(LEVELS))
    assert remote.channel_names == local.channel_names == CHANNELS
    assert remote.physical_pixel_sizes == local.physical_pixel_sizes
    assert remote.physical_pixel_sizes.X == pytest.approx(SIZE_UM)
    for lvl in remote.resolution_levels:
        a = remote.get_xarray_dask_data(level=lvl)
        b = local.get_xarray_dask_data(level=lvl)
        assert a.dims == b.dims and a.shape == b.shape
        for d in ("C", "Y", "X"):
            np.testing.assert_array_equal(a.coords[d].values, b.coords[d].values)


def assert_every_level(img: imgio.Image, levels: list[np.ndarray[Any, Any]]) -> None:
    for lvl, want in enumerate(levels):
        got = img.get_image_data("CYX", level=lvl)
        np.testing.assert_array_equal(got, want)
        lazy = img.get_xarray_dask_data(level=lvl).data[0, :, 0, 5:77, 100:300].compute()
        np.testing.assert_array_equal(lazy, want[:, 5:77, 100:300])


# ----------------------------------------------------------------- OME-TIFF
def test_tiff_http_pixels_and_metadata(files: dict[str, Any], http: RangeHTTPServer) -> None:
    with (
        imgio.Image(f"{http.url}/slide.ome.tif") as remote,
        imgio.Image(files["root"] / "slide.ome.tif") as local,
    ):
        assert remote.reader.name == "tiff"
        assert_same_structure(remote, local)
        assert remote.metadata == local.metadata  # the OME-XML text
        assert_every_level(remote, files["tiff"])


def test_tiff_http_open_reads_headers_only(files: dict[str, Any], http: RangeHTTPServer) -> None:
    path = files["root"] / "slide.ome.tif"
    http.reset()
    img = imgio.Image(f"{http.url}/slide.ome.tif")
    for lvl in img.resolution_levels:
        img.source(level=lvl)  # every level's tile offsets
    served = http.requests
    assert all(r.status in (200, 206) for r in served)
    assert all(r.method == "HEAD" or r.range is not None for r in served), "a whole-file GET"
    # each request reads at most one IFD's worth plus the read-ahead block
    ifd_bytes = 0
    with tifffile.TiffFile(path) as tif:
        pages = [p.aspage() for lv in tif.series[0].levels for p in lv.pages]
        ifd_bytes = sum(16 * len(p.tags) + sum(t.valuebytecount for t in p.tags) for p in pages)
    gets = [r for r in served if r.method == "GET"]
    assert http.bytes_sent <= ifd_bytes + len(gets) * OVER_READ
    assert http.bytes_sent < path.stat().st_size / 10
    img.close()


@pytest.mark.parametrize("level", range(LEVELS))
def test_tiff_http_region_fetches_covering_tiles(
    files: dict[str, Any], http: RangeHTTPServer, level: int
) -> None:
    path = files["root"] / "slide.ome.tif"
    want = files["tiff"][level]
    with imgio.Image(f"{http.url}/slide.ome.tif") as img:
        img.source(level=level)  # open and parse first: headers are not the region's cost
        for i, (ys, xs) in enumerate(windows(want.shape[1:], 4, SEED + level)):
            channels = range(i % 2, i % 2 + 1) if i % 2 else range(2)
            http.reset()
            got = img.get_image_data("CYX", level=level, C=list(channels), Y=ys, X=xs)
            np.testing.assert_array_equal(got, want[channels.start : channels.stop, ys, xs])
            need = tile_bytes(path, level, channels, ys, xs)
            sent = http.bytes_sent
            assert need <= sent <= SLACK * need, (ys, xs, need, sent)
            assert all(r.status == 206 for r in http.requests)


def test_tiff_s3(files: dict[str, Any], s3: S3) -> None:
    options, proxy = s3
    path = files["root"] / "slide.ome.tif"
    with (
        imgio.Image("s3://imgio/slide.ome.tif", storage_options=options) as remote,
        imgio.Image(path) as local,
    ):
        assert_same_structure(remote, local)
        assert_every_level(remote, files["tiff"])
        ys, xs = slice(300, 520), slice(130, 400)
        proxy.reset()
        got = remote.get_image_data("CYX", level=0, Y=ys, X=xs)
        np.testing.assert_array_equal(got, files["tiff"][0][:, ys, xs])
        need = tile_bytes(path, 0, range(2), ys, xs)
        # on the wire: tile bodies plus S3's response headers (well under 20 %)
        assert need <= proxy.to_client <= SLACK * need


def test_imread_with_storage_options(files: dict[str, Any], s3: S3) -> None:
    options, _ = s3
    got = imgio.imread("s3://imgio/slide.ome.tif", storage_options=options, level=1, C=1)
    np.testing.assert_array_equal(got.squeeze(), files["tiff"][1][1])


def test_missing_remote_files(http: RangeHTTPServer, s3: S3) -> None:
    options, _ = s3
    with pytest.raises(imgio.MissingFileError):
        imgio.Image(f"{http.url}/nope.ome.tif")
    with pytest.raises(imgio.MissingFileError):
        imgio.Image("s3://imgio/nope.ome.tif", storage_options=options)


def test_remote_sources_pickle(files: dict[str, Any], http: RangeHTTPServer) -> None:
    """A source travels as its URL and layout and reads in a fresh process state."""
    import pickle

    with imgio.Image(f"{http.url}/slide.ome.tif") as img:
        src = pickle.loads(pickle.dumps(img.source(level=1)))
    got = np.asarray(src[(slice(0, 1), slice(0, 1), slice(0, 1), slice(10, 140), slice(20, 260))])
    np.testing.assert_array_equal(got.squeeze(), files["tiff"][1][0, 10:140, 20:260])


# ----------------------------------------------------------------- OME-Zarr
@pytest.mark.parametrize("name", ["v04", "v05"])
def test_zarr_http(files: dict[str, Any], http: RangeHTTPServer, name: str) -> None:
    store = files["root"] / f"{name}.ome.zarr"
    want = files[name.replace("v", "zarr")]
    with imgio.Image(f"{http.url}/{name}.ome.zarr") as remote, imgio.Image(store) as local:
        assert remote.reader.name == local.reader.name
        assert_same_structure(remote, local)
        assert_every_level(remote, want)
        for level in range(LEVELS):
            remote.source(level=level)
            for ys, xs in windows(want[level].shape[1:], 3, SEED + 7 * level):
                http.reset()
                got = remote.get_image_data("CYX", level=level, C=[1], Y=ys, X=xs)
                np.testing.assert_array_equal(got, want[level][1:2, ys, xs])
                need = chunk_bytes(store, level, range(1, 2), ys, xs)
                index = shard_index_bytes(ys, xs, range(1, 2)) if name == "v05" else 0
                sent = http.bytes_sent
                assert need <= sent <= SLACK * need + index, (level, ys, xs, need, index, sent)


@pytest.mark.parametrize("name", ["v04", "v05"])
def test_zarr_s3(files: dict[str, Any], s3: S3, name: str) -> None:
    options, proxy = s3
    store = files["root"] / f"{name}.ome.zarr"
    want = files[name.replace("v", "zarr")]
    with (
        imgio.Image(f"s3://imgio/{name}.ome.zarr", storage_options=options) as remote,
        imgio.Image(store) as local,
    ):
        assert_same_structure(remote, local)
        assert_every_level(remote, want)
        ys, xs = slice(200, 460), slice(250, 500)
        remote.source(level=0)
        proxy.reset()
        got = remote.get_image_data("CYX", level=0, Y=ys, X=xs)
        np.testing.assert_array_equal(got, want[0][:, ys, xs])
        need = chunk_bytes(store, 0, range(2), ys, xs)
        index = shard_index_bytes(ys, xs, range(2)) if name == "v05" else 0
        assert need <= proxy.to_client <= SLACK * need + index


def test_servers_are_real(files: dict[str, Any], http: RangeHTTPServer) -> None:
    """The counting server answers ranges exactly (the byte checks above rely on it)."""
    import fsspec

    fs = fsspec.filesystem("http", skip_instance_cache=True)
    http.reset()
    data = fs.cat_file(f"{http.url}/slide.ome.tif", start=100, end=1100)
    assert data == (files["root"] / "slide.ome.tif").read_bytes()[100:1100]
    assert http.bytes_sent == 1000 and http.requests[-1].status == 206


def test_missing_filesystem_package() -> None:
    import importlib.util

    if importlib.util.find_spec("adlfs") is not None:
        pytest.skip("adlfs is installed")
    with pytest.raises(imgio.MissingDependencyError, match=r"abfs://.*adlfs.*pip install"):
        imgio.Image("abfs://container/slide.ome.tif")
