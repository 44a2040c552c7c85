"""Hostile and broken files: a clear imgio error (cause chained) or a lenient open with a
warning; never another exception, a hang, a runaway allocation or another file's pixels.

Reproducers found by ``benchmarks.fuzz`` live in ``tests/data/bad`` with their expected
outcome in ``expected.json``; the other cases are made here from small tifffile files.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from fuzzing.exercise import exercise
from fuzzing.mutate_tiff import parse_tiff
from fuzzing.seeds import _multi_file

import imgio
from imgio import errors
from imgio._confine import referenced
from imgio._location import Location

BAD = Path(__file__).parent / "data" / "bad"
EXPECTED = json.loads((BAD / "expected.json").read_text())
REPRODUCERS = sorted(k for k in EXPECTED if not k.startswith("_"))


@pytest.mark.parametrize("name", REPRODUCERS)
def test_reproducer(name: str) -> None:
    expected = EXPECTED[name]["error"]
    if expected is None:
        exercise(BAD / name)
        return
    with pytest.raises(getattr(errors, expected)) as info:
        exercise(BAD / name)
    assert info.value.__cause__ is not None or "TIFF" in str(info.value) or name in str(info.value)


# --------------------------------------------------------------------- TIFF edits
def _set_tag(path: Path, tag: int, value: int, *, typ: int | None = None, page: int = 0) -> None:
    """Rewrite the inline value (and optionally the type) of ``tag`` in one IFD."""
    data = bytearray(path.read_bytes())
    tmap = parse_tiff(bytes(data))
    assert tmap is not None
    entry = next(e for e in tmap.ifds[page].entries if e.tag == tag)
    typ = entry.type if typ is None else typ
    struct.pack_into("<H", data, entry.pos + 2, typ)
    struct.pack_into("<H" if typ == 3 else "<I", data, entry.value_pos, value)
    path.write_bytes(bytes(data))


def _pages(tmp_path: Path, n: int = 5) -> tuple[Path, np.ndarray]:
    data = np.arange(n * 24 * 24, dtype="u1").reshape(n, 24, 24)
    path = tmp_path / "pages.tif"
    tifffile.imwrite(path, data, metadata=None)
    return path, data


@pytest.mark.parametrize(("frm", "to"), [(4, 1), (4, 0), (2, 2), (0, 0)])
def test_ifd_loop_opens_in_bounded_time(tmp_path: Path, frm: int, to: int) -> None:
    path, data = _pages(tmp_path)
    raw = bytearray(path.read_bytes())
    tmap = parse_tiff(bytes(raw))
    assert tmap is not None
    struct.pack_into("<I", raw, tmap.ifds[frm].next_pos, tmap.ifds[to].offset)
    path.write_bytes(bytes(raw))
    start = time.monotonic()
    with pytest.warns(imgio.ImgioWarning, match="broken IFD chain .*points back"):
        img = imgio.Image(path)
        pixels = img.data
    assert time.monotonic() - start < 5
    kept = frm + 1
    np.testing.assert_array_equal(pixels.reshape(-1, 24, 24), data[:kept])
    img.close()


def test_huge_samples_per_pixel_is_refused_before_allocating(tmp_path: Path) -> None:
    path = tmp_path / "spp.tif"
    tifffile.imwrite(path, np.zeros((48, 48), "u1"), metadata=None, compression="zlib")
    _set_tag(path, 277, 2**32 - 1, typ=4)  # SamplesPerPixel as LONG 2**32-1
    assert path.stat().st_size < 1000
    with pytest.raises(imgio.CorruptFileError, match="declares|decodes|corrupted TIFF"):
        imgio.Image(path).get_image_data("YX")


def test_huge_tile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tile.tif"
    tifffile.imwrite(path, np.zeros((32, 32), "u2"), tile=(16, 16), compression="zlib")
    _set_tag(path, 322, 2**30, typ=4)  # TileWidth
    with pytest.raises(imgio.CorruptFileError):
        exercise(path)


def test_empty_image_opens_and_reads_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.tif"
    tifffile.imwrite(path, np.ones((2, 2, 2), "u1"), metadata=None)
    for page in (0, 1):
        _set_tag(path, 257, 0, page=page)  # ImageLength 0
    assert tifffile.TiffFile(path).series[0].shape == (2, 0, 2)
    img = imgio.Image(path)
    assert img.dims.Y == 0 and img.dims.X == 2
    assert img.shape[-1] == 2
    assert img.data.size == 0
    img.close()


@pytest.mark.parametrize("length", [0, 2])
def test_negative_image_width_is_refused(tmp_path: Path, length: int) -> None:
    """ImageWidth typed SBYTE reads as -56: refused when the scenes are parsed (found by
    the fuzzer on a mutated GeoTIFF; with ImageLength 0 it opened and dask refused the
    chunks with a ValueError)."""
    path = tmp_path / "signed.tif"
    tifffile.imwrite(path, np.ones((2, 2), "u1"), metadata=None)
    _set_tag(path, 256, 200, typ=6)  # ImageWidth 0xC8 as a signed byte
    _set_tag(path, 257, length)
    assert tifffile.TiffFile(path).pages[0].imagewidth == -56
    with pytest.raises(imgio.CorruptFileError, match="negative size"), imgio.Image(path) as img:
        _ = img.dims  # the scenes are parsed on first use
    with pytest.raises(imgio.CorruptFileError, match="negative size"):
        exercise(path)


def test_tile_offsets_retyped_to_one_undefined_byte(tmp_path: Path) -> None:
    """TileOffsets retyped UNDEFINED of count 1 holding ``b"0"`` (tifffile's value parses
    as the integer 0, a scalar; fuzz on the SCN seed: TypeError from len()): the one tile
    is checked like any other, and offset 0 (the TIFF header) is refused."""
    path = tmp_path / "one-tile.tif"
    tifffile.imwrite(path, np.arange(256, dtype="u1").reshape(16, 16), tile=(16, 16))
    _set_tag(path, 324, ord("0"), typ=7)
    with imgio.Image(path) as img:
        assert img.dims.Y == 16 and img.dims.X == 16
        with pytest.raises(imgio.CorruptFileError, match="segment 0 of plane 0 needs bytes 0"):
            img.get_image_data("YX")


# --------------------------------------------------------------- lenient metadata
def test_svs_with_unparsable_mpp_opens_without_sizes(tmp_path: Path) -> None:
    path = tmp_path / "mpp.svs"
    rgb = np.random.default_rng(0).integers(0, 255, (64, 64, 3), "u1")
    desc = "Aperio Image Library v10.0.0\n64x64 [0,0 64x64] (32x32) RAW|AppMag = 20|MPP = 0.25e"
    tifffile.imwrite(path, rgb, tile=(32, 32), photometric="rgb", description=desc, metadata=None)
    with pytest.warns(imgio.ImgioWarning, match="pixel size"):
        img = imgio.Image(path)
        sizes = img.physical_pixel_sizes
    assert sizes.X is None
    np.testing.assert_array_equal(img.get_image_data("YXS"), tifffile.imread(path))
    img.close()


def test_imagej_channels_abc_opens_the_pixels(tmp_path: Path) -> None:
    path = tmp_path / "ij.tif"
    data = np.random.default_rng(1).integers(0, 255, (6, 16, 16), "u1")
    desc = "ImageJ=1.11a\nimages=6\nchannels=abc\nslices=3\nhyperstack=true\n"
    tifffile.imwrite(path, data, description=desc, metadata=None)
    with pytest.warns(imgio.ImgioWarning, match="imagej metadata is unusable"):
        img = imgio.Image(path)
        pixels = img.data
    np.testing.assert_array_equal(pixels.reshape(6, 16, 16), data)
    img.close()


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ('SizeX="20"', 'SizeX=""'),
        ('SizeY="16"', 'SizeY="abc"'),
        ('SizeX="20"', 'SizeX="-5"'),
        ('SizeX="20"', 'SizeX="99999999999"'),
        ('SizeZ="3"', 'SizeZ=""'),
        ('SizeC="2"', 'SizeC="x"'),
    ],
)
def test_ome_xml_with_a_bad_size_keeps_the_rest_of_its_metadata(
    tmp_path: Path, good: str, bad: str
) -> None:
    """Only the bad value is dropped (from the pages): dims, channel names, sizes stay."""
    src = tmp_path / "src.ome.tif"
    data = np.random.default_rng(2).integers(0, 255, (2, 3, 16, 20), "u1")
    meta = {"axes": "CZYX", "PhysicalSizeX": 0.5, "Channel": {"Name": ["DAPI", "GFP"]}}
    tifffile.imwrite(src, data, ome=True, metadata=meta, photometric="minisblack")
    xml = tifffile.TiffFile(src).pages.first.description
    assert good in xml
    path = tmp_path / "bad.ome.tif"
    tifffile.imwrite(
        path, data.reshape(6, 16, 20), description=xml.replace(good, bad), metadata=None
    )
    name = bad.split("=")[0]
    with pytest.warns(imgio.ImgioWarning, match=f"unusable OME-XML values {name}="):
        img = imgio.Image(path)
        pixels = img.get_image_data("CZYX")
    assert img.dims.order == "TCZYX" and (img.dims.C, img.dims.Z) == (2, 3)
    assert img.channel_names == ["DAPI", "GFP"]
    assert img.physical_pixel_sizes.X == 0.5
    np.testing.assert_array_equal(pixels, data)
    img.close()


def test_tiff_with_one_broken_series_opens_the_others(tmp_path: Path) -> None:
    """Series 1's SamplesPerPixel is 2**32-1: it is skipped (named in a warning), series 0
    and 2 open as scenes with their pixels."""
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 255, shape, "u1") for shape in ((16, 16), (24, 24), (8, 12))]
    path = tmp_path / "series.tif"
    with tifffile.TiffWriter(path) as tw:
        for a in arrays:
            tw.write(a, metadata=None)
    assert len(tifffile.TiffFile(path).series) == 3
    _set_tag(path, 277, 2**32 - 1, typ=4, page=1)
    with pytest.warns(imgio.ImgioWarning, match=r"series 1 of 3 unreadable and skipped"):
        img = imgio.Image(path)
        assert len(img.scenes) == 2
    for scene, expected in zip(range(2), (arrays[0], arrays[2]), strict=True):
        img.set_scene(scene)
        np.testing.assert_array_equal(img.get_image_data("YX"), expected)
    img.close()


def test_tiff_whose_only_series_is_broken_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "one.tif"
    tifffile.imwrite(path, np.zeros((8, 8), "u1"), metadata=None)
    _set_tag(path, 277, 2**32 - 1, typ=4)
    with pytest.raises(imgio.CorruptFileError, match="axis S declares 4294967295"):
        imgio.Image(path).scenes  # noqa: B018


# -------------------------------------------------------------- path confinement
def _point_b_at(folder: Path, name: str) -> Path:
    """The multi-file set's first file, its second plane now named ``name``."""
    first = folder / "a.ome.tif"
    xml = tifffile.TiffFile(first).pages.first.description
    xml = xml.replace('FileName="b.ome.tif"', f'FileName="{name}"')
    tifffile.imwrite(first, np.full((8, 8), 1, "u1"), description=xml, metadata=None)
    return first


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.ome.tif"
    tifffile.imwrite(secret, np.full((8, 8), 173, "u1"), metadata=None)
    return secret


def test_multi_file_ome_tiff_inside_its_folder_opens(tmp_path: Path) -> None:
    first = _multi_file(tmp_path / "set") / "a.ome.tif"
    assert imgio.Image(first).get_image_data("ZYX")[:, 0, 0].tolist() == [1, 2]


@pytest.mark.parametrize("kind", ["relative", "absolute", "symlink", "proc"])
def test_multi_file_ome_tiff_outside_its_folder_is_refused(
    tmp_path: Path, outside: Path, kind: str
) -> None:
    folder = _multi_file(tmp_path / "set")
    name = {
        "relative": "../secret.ome.tif",
        "absolute": str(outside),
        "symlink": "link.ome.tif",
        "proc": "/proc/self/mem",
    }[kind]
    if kind == "symlink":
        (folder / "link.ome.tif").symlink_to(outside)
    first = _point_b_at(folder, name)
    with pytest.raises(imgio.ExternalFileError, match="outside the folder"):
        imgio.Image(first)
    if kind != "proc":
        img = imgio.Image(first, allow_external_files=True)
        assert img.get_image_data("ZYX")[:, 0, 0].tolist() == [1, 173]
        img.close()


def test_companion_naming_a_file_outside_is_refused(tmp_path: Path, outside: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    tifffile.imwrite(folder / "p0.ome.tif", np.full((8, 8), 1, "u1"))
    xml = (BAD.parent / "omemodel-set-1-meta-companion").glob("*companion.ome")
    text = next(iter(xml)).read_text()
    assert "FileName=" in text
    import re

    text = re.sub(r'FileName="[^"]*"', 'FileName="../secret.ome.tif"', text)
    companion = folder / "set.companion.ome"
    companion.write_text(text)
    with pytest.raises(imgio.ExternalFileError, match="secret.ome.tif"):
        imgio.Image(companion)


@pytest.mark.parametrize(
    "name", ["../other/x.ome.tif", "/etc/passwd", "http://elsewhere.org/x.tif", "a/../../x.tif"]
)
def test_remote_references_stay_under_the_base_url(name: str) -> None:
    base = Location("http://127.0.0.1:9/data/set/a.ome.tif")
    with pytest.raises(imgio.ExternalFileError, match="base URL"):
        referenced(base, name, allow_external=False, where="a.ome.tif")
    assert referenced(base, "b.ome.tif", allow_external=False, where="").url.endswith(
        "/data/set/b.ome.tif"
    )


# --------------------------------------------------------------------- OME-Zarr
def _store(tmp_path: Path) -> Path:
    path = tmp_path / "img.ome.zarr"
    data = np.arange(2 * 32 * 32, dtype="u1").reshape(2, 32, 32)
    imgio.write(data, path, dims="CYX", chunks=16, ngff_version="0.5", pyramid_levels=1)
    return path


def _edit(doc: Path, change: object) -> None:
    meta = json.loads(doc.read_text())
    change(meta)  # type: ignore[operator]
    doc.write_text(json.dumps(meta))


ZARR_EDITS = {
    "format as string": ("zarr.json", lambda m: m.update(zarr_format="3")),
    "negative shape": ("0/zarr.json", lambda m: m.update(shape=[1, 2, 1, -1, 32])),
    "float shape": ("0/zarr.json", lambda m: m.update(shape=[1, 2, 1, 1.5, 32])),
    "huge shape": ("0/zarr.json", lambda m: m.update(shape=[1, 2, 1, 2**62, 2**62])),
    "huge channel count": ("0/zarr.json", lambda m: m.update(shape=[1, 2**62, 1, 32, 32])),
    "unknown codec": ("0/zarr.json", lambda m: m.update(codecs=[{"name": "no_such"}])),
    "dataset path ..": (
        "zarr.json",
        lambda m: m["attributes"]["ome"]["multiscales"][0]["datasets"][0].update(path=".."),
    ),
    "absolute dataset path": (
        "zarr.json",
        lambda m: m["attributes"]["ome"]["multiscales"][0]["datasets"][0].update(path="/etc"),
    ),
}


@pytest.mark.parametrize("edit", list(ZARR_EDITS))
def test_broken_zarr_metadata_is_a_corrupt_file_error(tmp_path: Path, edit: str) -> None:
    store = _store(tmp_path)
    doc, change = ZARR_EDITS[edit]
    _edit(store / doc, change)
    with pytest.raises(imgio.CorruptFileError) as info:
        exercise(store)
    assert str(store) in str(info.value)


@pytest.mark.parametrize("text", ["[" * 5000, "null", "[1, 2, 3]", '{"zarr_format": 3,'])
def test_broken_zarr_documents(tmp_path: Path, text: str) -> None:
    store = _store(tmp_path)
    (store / "0" / "zarr.json").write_text(text)
    with pytest.raises(imgio.CorruptFileError):
        exercise(store)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_truncated_blosc_chunk_is_refused_before_decoding(tmp_path: Path, zarr_format: int) -> None:
    """A cut Blosc chunk (the fuzzer's cut of a real store's first chunk): numcodecs'
    decoder trusted the frame's declared size and read past the buffer (SIGSEGV now and
    then); the frame is now checked first and the read is a CorruptFileError."""
    import zarr
    from numcodecs import Blosc
    from zarr.codecs import BloscCodec

    data = np.arange(64 * 64, dtype="f8").reshape(64, 64)
    path = tmp_path / "blosc.zarr"
    kw = {"compressors": Blosc("lz4") if zarr_format == 2 else BloscCodec(cname="lz4")}
    arr = zarr.create_array(
        path, shape=data.shape, chunks=(32, 32), dtype="f8", zarr_format=zarr_format, **kw
    )
    arr[:] = data
    chunk = path / ("0.0" if zarr_format == 2 else "c/0/0")
    raw = chunk.read_bytes()
    assert int.from_bytes(raw[12:16], "little") == len(raw)  # a whole frame
    chunk.write_bytes(raw[: len(raw) // 2])
    with imgio.Image(path) as img:
        np.testing.assert_array_equal(img.get_image_data("YX", Y=slice(32, 64)), data[32:])
        with pytest.raises(imgio.CorruptFileError, match="blosc decompression: the frame declares"):
            img.get_image_data("YX", Y=slice(0, 8), X=slice(0, 8))


def test_corrupt_chunk_is_named(tmp_path: Path) -> None:
    store = _store(tmp_path)
    chunk = store / "0" / "c" / "0" / "1" / "0" / "0" / "1"  # T C Z Y X
    assert chunk.is_file()
    chunk.write_bytes(b"\x28\xb5\x2f\xfd" + b"garbage" * 4)
    img = imgio.Image(store)
    assert img.get_image_data("YX", C=0).shape == (32, 32)  # other chunks still read
    with pytest.raises(imgio.CorruptFileError, match=r"chunk \(0, 1, 0, 0, 1\)"):
        img.get_image_data("YX", C=1)


# ---------------------------------------------------------------------- writers
def test_stale_partials_of_dead_writers_are_removed(tmp_path: Path) -> None:
    from imgio.writers._target import _HOST

    target = tmp_path / "out.ome.tif"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(dead.stdout)
    stale = tmp_path / f".out.ome.tif.{_HOST}-{pid}-0123456789ab.partial"
    stale.write_bytes(b"half a file")
    stale_dir = tmp_path / f".out.ome.tif.{_HOST}-{pid}-ba9876543210.partial"
    stale_dir.mkdir()
    live = tmp_path / f".out.ome.tif.{_HOST}-{os.getpid()}-aaaaaaaaaaaa.partial"
    live.write_bytes(b"being written")
    other_host = tmp_path / f".out.ome.tif.otherhost-{pid}-bbbbbbbbbbbb.partial"
    other_host.write_bytes(b"someone else's")
    imgio.write(np.zeros((8, 8), "u1"), target, dims="YX")
    assert not stale.exists() and not stale_dir.exists()
    assert live.exists() and other_host.exists()
    assert target.is_file()


def test_unwritable_target_is_a_write_error_naming_it() -> None:
    target = "/proc/imgio-test.ome.tif"
    with pytest.raises(imgio.WriteError, match="imgio-test.ome.tif") as info:
        imgio.write(np.zeros((8, 8), "u1"), target, dims="YX")
    assert isinstance(info.value, OSError) and info.value.errno is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not Path(target).exists()


def test_unwritable_sink_target_is_a_write_error_naming_it() -> None:
    """``imgio.create`` (the incremental OME-Zarr sink) refuses the same way as ``write``."""
    target = "/proc/imgio-sink-test.ome.zarr"
    with pytest.raises(imgio.WriteError, match="imgio-sink-test.ome.zarr") as info:
        imgio.create(target, shape=(8, 8), dims="YX", dtype="uint8")
    assert isinstance(info.value, OSError) and info.value.errno is not None
