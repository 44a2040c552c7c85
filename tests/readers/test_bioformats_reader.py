"""The Bio-Formats fallback reader against Bio-Formats' own Java API, on ``*.fake`` files.

Bio-Formats' fake format makes an image of any shape from an empty file named
``img&sizeZ=5&sizeC=3&sizeT=2.fake``: every plane is a ramp along X (value ``x`` modulo
the type's range) below its first rows. Pixels are compared with that pattern and with
``openBytes`` of the same plane called directly through JPype in a child process
(``bf_reference``; one JVM for the module's references). imgio's reader runs Bio-Formats
in its worker process, one per test process: its start is slow, so the tests are few.
"""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from bf_reference import java_planes
from fuzzing.mutate_fake import REPRODUCERS

import imgio
from imgio.readers import bioformats as bf

pytestmark = pytest.mark.skipif(not bf.available(), reason="imgio[bioformats] not installed")


def fake(folder: Path, **sizes: Any) -> Path:
    name = "img" + "".join(f"&{k}={v}" for k, v in sizes.items()) + ".fake"
    path = folder / name
    path.touch()
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The module's fake files and their reference planes, keyed ``(name, series, z, c, t)``."""
    folder = tmp_path_factory.mktemp("bf")
    made = {
        "stack": fake(folder, sizeZ=5, sizeC=3, sizeT=2, sizeX=300, sizeY=200),
        "series": fake(folder, series=2, pixelType="uint16", sizeX=64, sizeY=48, sizeC=2),
        "rgb": fake(folder, sizeC=3, rgb=3, sizeX=40, sizeY=30),
        "narrow": folder / "pyramid&sizeX=3&sizeY=768&resolutions=3&resolutionScale=2.fake",
    }
    made["narrow"].touch()
    asked = [
        ("stack", 0, 0, 0, 0),
        ("stack", 0, 4, 2, 1),
        ("stack", 0, 3, 1, 0),
        ("series", 1, 0, 1, 0),
        ("rgb", 0, 0, 0, 0),
        ("narrow", 0, 0, 0, 0),
    ]
    planes = java_planes([(made[n], *rest) for n, *rest in asked], folder)
    return {**made, "ref": dict(zip(asked, planes, strict=True))}


def test_fake_shapes_against_java(files: dict[str, Any]) -> None:
    path, ref = files["stack"], files["ref"]
    img = imgio.Image(path)  # the fallback: no built-in reader claims .fake
    assert img.reader.name == "bioformats"
    assert img.dims.order == "TCZYX" and img.shape == (2, 3, 5, 200, 300)
    assert img.dtype == np.uint8
    for t, c, z in [(0, 0, 0), (1, 2, 4), (0, 1, 3)]:
        got = img.get_image_data("YX", T=t, C=c, Z=z)
        np.testing.assert_array_equal(got, ref[("stack", 0, z, c, t)])
        np.testing.assert_array_equal(got[20:], np.broadcast_to(np.arange(300) % 256, (180, 300)))
    region = img.get_image_data("CZYX", T=1, Y=slice(30, 90), X=slice(250, 290))
    np.testing.assert_array_equal(region[2, 4], ref[("stack", 0, 4, 2, 1)][30:90, 250:290])
    assert "<OME" in img.metadata and img.ome_metadata.images[0].pixels.size_z == 5
    # threads (dask's threaded scheduler) read in parallel through the one worker
    src = img.reader.source(0)
    keys = [
        (slice(t, t + 1), slice(c, c + 1), slice(z, z + 1), slice(0, 200), slice(0, 300))
        for t in range(2)
        for c in range(3)
        for z in range(5)
    ]
    with ThreadPoolExecutor(4) as pool:
        got = dict(zip([(k[0].start, k[1].start, k[2].start) for k in keys],
                       pool.map(src.__getitem__, keys), strict=True))  # fmt: skip
    for (t, c, z), want in [((1, 2, 4), "stack"), ((0, 1, 3), "stack"), ((0, 0, 0), "stack")]:
        np.testing.assert_array_equal(got[t, c, z][0, 0, 0], ref[(want, 0, z, c, t)])
    assert all(np.array_equal(p[0, 0, 0, 20:], got[0, 0, 0][0, 0, 0, 20:]) for p in got.values())


def test_series_types_rgb_and_pickle(files: dict[str, Any]) -> None:
    path, ref = files["series"], files["ref"]
    img = imgio.Image(path)
    assert len(img.scenes) == 2 and img.dtype == np.uint16
    img.set_scene(1)
    np.testing.assert_array_equal(img.get_image_data("YX", C=1), ref[("series", 1, 0, 1, 0)])
    lazy = pickle.loads(pickle.dumps(img.get_xarray_dask_data(scene=1)))
    np.testing.assert_array_equal(lazy.isel(T=0, C=1, Z=0).values, ref[("series", 1, 0, 1, 0)])
    img = imgio.Image(files["rgb"])
    assert img.dims.order.endswith("S") and img.shape[-1] == 3
    np.testing.assert_array_equal(img.get_image_data("YXS"), ref[("rgb", 0, 0, 0, 0)])


def test_a_big_window_is_read_in_bounded_requests(
    files: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window over MAX_REQUEST_BYTES is read in pieces (strips, then columns), each
    within the bound, and put together exactly."""
    monkeypatch.setattr(bf, "MAX_REQUEST_BYTES", 5000)  # a 200 x 300 plane: 60000 bytes
    asked: list[tuple[int, int, int, int]] = []
    real_read = bf._bfclient.read

    def spy(path: str, series: int, level: int, planes: Any, window: Any) -> Any:
        asked.append(window)
        return real_read(path, series, level, planes, window)

    monkeypatch.setattr(bf._bfclient, "read", spy)
    img = imgio.Image(files["stack"])
    got = img.get_image_data("ZYX", T=1, C=2)
    np.testing.assert_array_equal(got[4], files["ref"][("stack", 0, 4, 2, 1)])
    assert len(asked) > 10 and all(w * h <= 5000 for _, _, w, h in asked)
    img = imgio.Image(files["rgb"])
    monkeypatch.setattr(bf, "MAX_REQUEST_BYTES", 100)  # 33 RGB pixels: columns too
    np.testing.assert_array_equal(img.get_image_data("YXS"), files["ref"][("rgb", 0, 0, 0, 0)])
    assert max(w * h * 3 for _, _, w, h in asked[-5:]) <= 100


def test_forced_on_a_tiff_and_refusals(tmp_path: Path) -> None:
    data = np.random.default_rng(1).integers(0, 65535, (3, 40, 50), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", data, photometric="minisblack")
    assert imgio.Image(tmp_path / "a.tif").reader.name == "tiff"  # built-ins first
    img = imgio.Image(tmp_path / "a.tif", reader="bioformats")
    got = img.reader.source(0).__getitem__((slice(0, 1),) * 3 + (slice(0, 40), slice(0, 50)))
    assert got.shape[-2:] == (40, 50)
    np.testing.assert_array_equal(np.asarray(img.data).reshape(data.shape), data)
    junk = tmp_path / "notes.xyz123"
    junk.write_bytes(b"\x00\x01 not an image")
    with pytest.raises(imgio.UnsupportedFormatError, match="bioformats: "):
        imgio.Image(junk)
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\0" + b"\xff" * 16)  # a built-in suffix: no fallback
    with pytest.raises(imgio.ImgioError, match="tiff"):
        imgio.Image(broken)


def test_remote_through_a_bounded_local_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An HTTP file with reader="bioformats" is copied once into the cache and read from
    it; a source pickled to a process without the copy makes its own; the size bound holds."""
    from _servers import RangeHTTPServer

    data = np.random.default_rng(2).integers(0, 65535, (2, 30, 40), dtype=np.uint16)
    served = tmp_path / "served"
    served.mkdir()
    tifffile.imwrite(served / "r.tif", data, photometric="minisblack")
    monkeypatch.setenv("IMGIO_CACHE", str(tmp_path / "cache"))
    with RangeHTTPServer(served) as http:
        url = f"{http.url}/r.tif"
        img = imgio.Image(url, reader="bioformats")
        copies = list((tmp_path / "cache" / "bioformats").glob("*/r.tif"))
        assert len(copies) == 1 and copies[0].read_bytes() == (served / "r.tif").read_bytes()
        np.testing.assert_array_equal(np.asarray(img.data).reshape(data.shape), data)
        src = pickle.loads(pickle.dumps(img.reader.source(0)))
        img.reader.close()
        copies[0].unlink()  # a worker on another machine: no copy there
        whole = tuple(slice(0, n) for n in src.shape)
        np.testing.assert_array_equal(src[whole].reshape(data.shape), data)
        assert copies[0].is_file()
        monkeypatch.setenv("IMGIO_BIOFORMATS_MAX_COPY", "1000")
        with pytest.raises(imgio.UnsupportedFormatError, match="over the bound of 1000"):
            imgio.Image(f"{http.url}/r.tif?again", reader="bioformats")


def test_a_pyramid_halved_to_nothing_keeps_its_readable_levels(files: dict[str, Any]) -> None:
    """Fuzz reproducer: a 3-pixel-wide fake pyramid makes Bio-Formats' optimal tile size
    divide by zero (java.lang.ArithmeticException escaped from the reader's open) at its
    0-pixel-wide third level: the levels before it open and read."""
    img = imgio.Image(files["narrow"], reader="bioformats")
    assert img.resolution_level_dims == {0: (1, 1, 1, 768, 3), 1: (1, 1, 1, 384, 1)}
    np.testing.assert_array_equal(img.get_image_data("YX"), files["ref"][("narrow", 0, 0, 0, 0)])
    img.set_resolution_level(1)
    assert img.get_image_data("YX").shape == (384, 1)


@pytest.mark.parametrize(
    "name", [n for n, what in REPRODUCERS.items() if what in ("refused", "opens")]
)
def test_fuzz_reproducers(name: str, tmp_path: Path) -> None:
    """The bioformats fuzz runs' memory failures (a 64 GiB array for a 2**31 pixel axis),
    Java exceptions and hangs that the geometry check now refuses at open, at once (those
    that hang in Bio-Formats itself meet the deadline: tests/readers/test_bioformats_worker.py
    and ``benchmarks.fuzz_jvm``, which replays them all)."""
    path = tmp_path / name
    path.touch()
    if REPRODUCERS[name] == "refused":
        with pytest.raises(imgio.errors.CorruptFileError, match="expected at most 67108864"):
            imgio.Image(path, reader="bioformats")
        return
    img = imgio.Image(path, reader="bioformats")
    assert img.resolution_level_dims == {0: (1, 1, 1, 768, 3), 1: (1, 1, 1, 384, 1)}
    np.testing.assert_array_equal(img.get_image_data("YX")[20:], [[0, 1, 2]] * 748)
