"""The growing tile sink (``imgio.new``) against large_image's own sink and numpy.

large_image's vips sink (``large_image.new()`` with ``large-image-source-vips``) is the
reference for positions, overlaps (later wins) and masks on RGB tiles; its zarr sink,
which holds frame axes, pins zarr<3 and cannot be installed beside imgio, so frames are
checked against arrays assembled with numpy. Every target is read back by an
independent reader (tifffile, zarr, zarr's ZipStore) and by imgio.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr

import imgio
from imgio import ImgioError, TargetExistsError

RNG = np.random.default_rng(42)


def _rgb_tiles() -> list[tuple[np.ndarray[Any, Any], int, int, np.ndarray[Any, Any] | None]]:
    """Overlapping RGB tiles of odd sizes, some masked, spread over several chunks."""
    out = []
    for i, (x, y, h, w) in enumerate(
        [(0, 0, 300, 260), (200, 150, 280, 330), (480, 40, 250, 200), (100, 390, 210, 500)]
    ):
        tile = RNG.integers(0, 255, (h, w, 3), dtype=np.uint8)
        mask = RNG.random((h, w)) > 0.4 if i % 2 else None
        out.append((tile, x, y, mask))
    return out


def _expected_rgb(tiles: list[Any]) -> np.ndarray[Any, Any]:
    height = max(y + t.shape[0] for t, _, y, _ in tiles)
    width = max(x + t.shape[1] for t, x, _, _ in tiles)
    out = np.zeros((height, width, 3), np.uint8)
    for tile, x, y, mask in tiles:
        view = out[y : y + tile.shape[0], x : x + tile.shape[1]]
        view[mask if mask is not None else ...] = tile[mask if mask is not None else ...]
    return out


def test_same_image_as_large_image_sink(tmp_path: Path, ref_halve: Any) -> None:
    import large_image

    tiles = _rgb_tiles()
    ref = large_image.new()
    with imgio.new(chunk_size=128) as sink:
        for tile, x, y, mask in tiles:
            ref.addTile(tile.copy(), x, y, mask=mask)
            sink.add_tile(tile, x, y, mask=mask)
        ref.write(str(tmp_path / "li.tiff"), lossy=False)
        out = sink.write(tmp_path / "imgio.ome.tif", compression="zlib", tile=128)
    want = tifffile.imread(tmp_path / "li.tiff")[..., :3]  # large_image adds an alpha band
    np.testing.assert_array_equal(want, _expected_rgb(tiles))  # the semantics we match
    with tifffile.TiffFile(out) as tif:
        levels = [lv.asarray() for lv in tif.series[0].levels]
    np.testing.assert_array_equal(levels[0], want)
    assert len(levels) > 1  # the pyramid, built at the end: 2 x 2 means of level 0
    np.testing.assert_array_equal(
        levels[1], np.moveaxis(ref_halve(np.moveaxis(want, -1, 0)), 0, -1)
    )
    np.testing.assert_array_equal(imgio.imread(out, T=0, C=0, Z=0), want)


def _frame_tiles() -> tuple[list[dict[str, Any]], np.ndarray[Any, Any]]:
    """uint16 tiles over T=2, C=2, Z=3 (Z values in mm), with their numpy assembly."""
    want = np.zeros((2, 2, 3, 300, 410), np.uint16)
    calls = []
    for t in range(2):
        for c in range(2):
            for z in range(3):
                for y, x, h, w in [(0, 0, 200, 250), (150, 200, 150, 210)]:
                    tile = RNG.integers(0, 60000, (h, w), dtype=np.uint16)
                    want[t, c, z, y : y + h, x : x + w] = tile
                    calls.append(
                        {
                            "tile": tile,
                            "x": x,
                            "y": y,
                            "time": t,
                            "c": c,
                            "z": z,
                            "z_value": 0.002 * z,
                            "z_unit": "mm",
                        }
                    )
    return calls, want


TARGETS = [
    ("f.ome.tif", {}),
    ("f.ome.zarr", {"ngff_version": "0.4"}),
    ("f.ome.zarr", {"ngff_version": "0.5"}),
    ("f.ome.zarr.zip", {"ngff_version": "0.5"}),
]


@pytest.fixture(scope="module")
def frame_sink() -> Any:
    calls, want = _frame_tiles()
    sink = imgio.new(channel_names=["DAPI", "GFP"], physical_pixel_sizes=0.25, chunk_size=128)
    for call in calls:
        sink.add_tile(**call)
    yield sink, want
    sink.close()


@pytest.mark.parametrize(("name", "options"), TARGETS, ids=[f"{n}-{o}" for n, o in TARGETS])
def test_frames_to_every_target(
    frame_sink: Any, tmp_path: Path, name: str, options: dict[str, Any]
) -> None:
    sink, want = frame_sink
    out = sink.write(tmp_path / name, pyramid_levels=2, **options)
    assert out == tmp_path / name and [p.name for p in tmp_path.iterdir()] == [name]
    if name.endswith(".tif"):
        got = tifffile.imread(out)  # TCZYX
    else:
        store = zarr.storage.ZipStore(out, mode="r") if name.endswith(".zip") else str(out)
        group = zarr.open_group(store, mode="r")
        got = group["0"][:]
        assert group["1"].shape == (2, 2, 3, 150, 205)
    np.testing.assert_array_equal(got, want)
    img = imgio.Image(out)
    assert img.channel_names == ["DAPI", "GFP"]
    assert img.physical_pixel_sizes == (pytest.approx(2.0), 0.25, 0.25)  # 0.002 mm = 2 µm
    assert img.resolution_levels == (0, 1)
    np.testing.assert_array_equal(img.get_image_data("TCZYX"), want)


def _add(sink: Any, tile: np.ndarray[Any, Any], x: int, y: int, z: int) -> int:
    sink.add_tile(tile, x, y, z=z)
    return os.getpid()


def _grid(
    n: int = 6, size: int = 100
) -> tuple[list[tuple[Any, int, int, int]], np.ndarray[Any, Any]]:
    """Tiles of a 2-plane image in a grid that straddles chunk edges, and the image."""
    want = np.zeros((2, n * size, n * size), np.uint8)
    jobs = []
    for z in range(2):
        for i in range(n):
            for j in range(n):
                tile = RNG.integers(0, 255, (size, size), dtype=np.uint8)
                want[z, i * size : (i + 1) * size, j * size : (j + 1) * size] = tile
                jobs.append((tile, j * size, i * size, z))
    return jobs, want


def test_tiles_from_threads_and_spawned_processes(tmp_path: Path) -> None:
    jobs, want = _grid()
    with imgio.new(chunk_size=64) as sink:
        assert pickle.loads(pickle.dumps(sink)).folder == sink.folder
        half = len(jobs) // 2
        with ThreadPoolExecutor(4) as threads:
            list(threads.map(lambda job: _add(sink, *job), jobs[:half]))
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            pids = set(pool.starmap(_add, [(sink, *job) for job in jobs[half:]]))
        assert pids and os.getpid() not in pids
        out = sink.write(tmp_path / "p.ome.zarr")
    np.testing.assert_array_equal(zarr.open_group(str(out), mode="r")["0"][0, 0], want)
    assert not sink.folder.exists()  # close() removed the spilled chunks


def test_tiles_from_dask_workers(tmp_path: Path) -> None:
    import distributed

    jobs, want = _grid(4, 120)
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        imgio.new(chunk_size=128) as sink,
    ):
        workers = set(client.run(os.getpid).values())
        futures = [client.submit(_add, sink, *job, pure=False) for job in jobs]
        pids = set(client.gather(futures))
        assert pids <= workers and os.getpid() not in pids
        out = sink.write(tmp_path / "d.ome.tif", tile=128)  # the graph runs on the workers too
    np.testing.assert_array_equal(tifffile.imread(out), want)  # Z Y X


def test_axes_bands_and_extra_axes(tmp_path: Path) -> None:
    with imgio.new() as sink:
        stack = RNG.integers(0, 255, (3, 40, 50), dtype=np.uint8)
        sink.add_tile(stack, 10, 5, axes="zyx", t=1)  # a whole Z stack at once
        sink.add_tile(stack[0], 0, 0, p=2)  # an extra axis: one scene per index
        data = sink.to_xarray()
        assert dict(data.sizes) == {"P": 3, "T": 2, "C": 1, "Z": 3, "Y": 45, "X": 60}
        np.testing.assert_array_equal(data.sel(P=0, T=1, C=0).values[:, 5:, 10:], stack)
        np.testing.assert_array_equal(data.sel(P=2, T=0, C=0, Z=0).values[:40, :50], stack[0])
        out = sink.write(tmp_path / "x.ome.tif")
        assert imgio.Image(out).scenes == ("P=0", "P=1", "P=2")
    with imgio.new() as sink:  # five bands are five channels
        bands = RNG.integers(0, 4000, (30, 20, 5), dtype=np.uint16)
        sink.add_tile(bands, 3, 4)
        out = sink.write(tmp_path / "b.ome.zarr")
    np.testing.assert_array_equal(
        zarr.open_group(str(out))["0"][0, :, 0, 4:, 3:], bands.transpose(2, 0, 1)
    )


def test_overwrite_and_atomic_target(tmp_path: Path) -> None:
    target = tmp_path / "o.ome.tif"
    target.write_bytes(b"old")
    with imgio.new() as sink:
        sink.add_tile(np.ones((8, 8), np.uint8), 4, 4)
        with pytest.raises(TargetExistsError, match="overwrite=True"):
            sink.write(target)
        assert target.read_bytes() == b"old"
        sink.write(target, overwrite=True)
    assert tifffile.imread(target).shape == (12, 12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.ome.tif"]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.add_tile(np.ones((4, 4, 3), np.uint16), 0, 0), "dtype uint16: expected uint8"),
        (lambda s: s.add_tile(np.ones((4, 4, 4), np.uint8), 0, 0), "4 band.*expected 3"),
        (lambda s: s.add_tile(np.ones((4, 4), np.uint8), 0, 0), "1 band.*expected 3"),
        (lambda s: s.add_tile(np.ones((4, 4, 3), np.uint8), -1, 0), "x=-1: expected a pixel"),
        (lambda s: s.add_tile(np.ones((4, 4, 3), np.uint8), 0, 0, z=-2), "z=-2: expected an index"),
        (lambda s: s.add_tile(np.ones((4, 4, 3), np.uint8), 2**31, 0), "below 2\\*\\*31"),
        (lambda s: s.add_tile(np.ones((4, 4, 3), np.uint8), 0, 0, zz=1), "unknown axis 'zz'"),
        (lambda s: s.add_tile(np.ones((4, 4, 3), np.uint8), 0, 0, s=1), "unknown axis 's'"),
        (lambda s: s.add_tile(np.ones((4, 4, 3), np.uint8), mask=np.ones((3, 4))), "mask of shape"),
        (lambda s: s.add_tile(np.ones((2, 4, 4, 3), np.uint8)), "name its axes"),
        (lambda s: s.add_tile(np.ones((4, 4, 3), np.uint8), z=1, z_unit="parsec"), "length unit"),
    ],
)
def test_bad_tiles(call: Any, match: str) -> None:
    with imgio.new() as sink:
        sink.add_tile(np.zeros((4, 4, 3), np.uint8), 0, 0)
        with pytest.raises(ImgioError, match=match):
            call(sink)


def test_bad_sink_use(tmp_path: Path) -> None:
    with pytest.raises(ImgioError, match="dtype uint8: expected uint16"):
        imgio.new(dtype="uint16").add_tile(np.ones((2, 2), np.uint8))
    with imgio.new() as sink, pytest.raises(ImgioError, match="holds no tiles"):
        sink.write(tmp_path / "e.ome.tif")
    sink = imgio.new(channel_names=["a", "b"])
    sink.add_tile(np.ones((2, 2), np.uint8))
    with pytest.raises(ImgioError, match="expected 1 names"):
        sink.write(tmp_path / "n.ome.tif")
    sink.close()
    with pytest.raises(ImgioError, match="is closed"):
        sink.add_tile(np.ones((2, 2), np.uint8))
    assert list(tmp_path.iterdir()) == []
