"""The Bio-Formats fallback reader against Bio-Formats' own Java API, on ``*.fake`` files.

Bio-Formats' fake format makes an image of any shape from an empty file named
``img&sizeZ=5&sizeC=3&sizeT=2.fake``: every plane is a ramp along X (value ``x`` modulo
the type's range) below its first rows. Pixels are compared with that pattern and with
``openBytes`` of the same plane called directly through JPype. One JVM serves the module
(a process can start only one); its start is slow, so the tests are few.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import imgio
from imgio.readers import bioformats as bf

pytestmark = pytest.mark.skipif(not bf.available(), reason="imgio[bioformats] not installed")


@pytest.fixture(scope="module")
def jvm() -> Any:
    return bf._jvm()


def fake(folder: Path, **sizes: Any) -> Path:
    name = "img" + "".join(f"&{k}={v}" for k, v in sizes.items()) + ".fake"
    path = folder / name
    path.touch()
    return path


def java_plane(jvm: Any, path: Path, series: int, z: int, c: int, t: int) -> np.ndarray:
    """One plane read through Bio-Formats' Java API directly (the reference)."""
    reader = jvm.JClass("loci.formats.ImageReader")()
    reader.setId(str(path))
    reader.setSeries(series)
    raw = bytes(reader.openBytes(reader.getIndex(z, c, t)))
    dtype = {1: "u1", 3: "u2", 6: "f4"}[int(reader.getPixelType())]
    dtype = np.dtype(dtype).newbyteorder("<" if reader.isLittleEndian() else ">")
    shape = [int(reader.getSizeY()), int(reader.getSizeX())]
    rgb = int(reader.getRGBChannelCount())
    interleaved = bool(reader.isInterleaved())
    reader.close()
    data = np.frombuffer(raw, dtype)
    if rgb > 1:
        if interleaved:
            return data.reshape(*shape, rgb)
        return data.reshape(rgb, *shape).transpose(1, 2, 0)
    return data.reshape(shape)


def test_fake_shapes_against_java(jvm: Any, tmp_path: Path) -> None:
    path = fake(tmp_path, sizeZ=5, sizeC=3, sizeT=2, sizeX=300, sizeY=200)
    img = imgio.Image(path)  # the fallback: no built-in reader claims .fake
    assert img.reader.name == "bioformats"
    assert img.dims.order == "TCZYX" and img.shape == (2, 3, 5, 200, 300)
    assert img.dtype == np.uint8
    for t, c, z in [(0, 0, 0), (1, 2, 4), (0, 1, 3)]:
        got = img.get_image_data("YX", T=t, C=c, Z=z)
        np.testing.assert_array_equal(got, java_plane(jvm, path, 0, z, c, t))
        np.testing.assert_array_equal(got[20:], np.broadcast_to(np.arange(300) % 256, (180, 300)))
    region = img.get_image_data("CZYX", T=1, Y=slice(30, 90), X=slice(250, 290))
    np.testing.assert_array_equal(region[2, 4], java_plane(jvm, path, 0, 4, 2, 1)[30:90, 250:290])
    assert "<OME" in img.metadata and img.ome_metadata.images[0].pixels.size_z == 5


def test_series_types_rgb_and_pickle(jvm: Any, tmp_path: Path) -> None:
    path = fake(tmp_path, series=2, pixelType="uint16", sizeX=64, sizeY=48, sizeC=2)
    img = imgio.Image(path)
    assert len(img.scenes) == 2 and img.dtype == np.uint16
    img.set_scene(1)
    np.testing.assert_array_equal(img.get_image_data("YX", C=1), java_plane(jvm, path, 1, 0, 1, 0))
    lazy = pickle.loads(pickle.dumps(img.get_xarray_dask_data(scene=1)))
    np.testing.assert_array_equal(
        lazy.isel(T=0, C=1, Z=0).values, java_plane(jvm, path, 1, 0, 1, 0)
    )
    rgb = fake(tmp_path, sizeC=3, rgb=3, sizeX=40, sizeY=30)
    img = imgio.Image(rgb)
    assert img.dims.order.endswith("S") and img.shape[-1] == 3
    np.testing.assert_array_equal(img.get_image_data("YXS"), java_plane(jvm, rgb, 0, 0, 0, 0))


def test_forced_on_a_tiff_and_refusals(jvm: Any, tmp_path: Path) -> None:
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
    jvm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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


def test_java_exception_while_describing_a_series_is_an_imgio_error(
    jvm: Any, tmp_path: Path
) -> None:
    """Fuzz reproducer: a 3-pixel-wide fake pyramid makes Bio-Formats' optimal tile size
    divide by zero (java.lang.ArithmeticException escaped from the reader's open)."""
    path = tmp_path / "pyramid&sizeX=3&sizeY=768&resolutions=3&resolutionScale=2.fake"
    path.touch()
    with pytest.raises(imgio.errors.CorruptFileError, match="ArithmeticException"):
        imgio.Image(path, reader="bioformats")
