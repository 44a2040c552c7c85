"""OME-TIFF output checked with tifffile, ome_types (schema) and bioio's OME-TIFF plugin."""

from __future__ import annotations

import threading

import dask.array as da
import numpy as np
import pytest
import tifffile
import xarray as xr
from ome_types import from_xml

import imgio
from imgio.errors import ImgioError


def test_levels_match_independent_pyramid(tmp_path, cyx, ref_halve):
    out = imgio.write(
        cyx,
        tmp_path / "a.ome.tif",
        dims="CYX",
        tile=128,
        pyramid_levels=4,
        physical_pixel_sizes=(None, 0.25, 0.5),
        channel_names=["DAPI", "GFP"],
    )
    with tifffile.TiffFile(out) as tif:
        assert tif.is_ome
        assert len(tif.series) == 1
        series = tif.series[0]
        assert series.axes == "CYX"
        assert len(series.levels) == 4
        want = cyx
        for level in series.levels:
            assert level.shape == want.shape
            np.testing.assert_array_equal(level.asarray(), want)
            want = ref_halve(want)
        page = series.pages[0]
        assert page.is_tiled and (page.tilelength, page.tilewidth) == (128, 128)
        assert page.compression == tifffile.COMPRESSION.ZSTD
        ome = from_xml(tif.ome_metadata, validate=True)
    pixels = ome.images[0].pixels
    assert [c.name for c in pixels.channels] == ["DAPI", "GFP"]
    assert (pixels.physical_size_x, pixels.physical_size_y) == (0.5, 0.25)
    assert pixels.physical_size_x_unit.value == "µm"
    assert (pixels.size_c, pixels.size_y, pixels.size_x) == (2, 301, 517)


def test_rgb_jpeg_and_auto_levels(tmp_path, rgb, ref_halve_rgb):
    out = imgio.write(rgb, tmp_path / "rgb.ome.tiff", tile=64, compression="jpeg", quality=95)
    with tifffile.TiffFile(out) as tif:
        series = tif.series[0]
        assert series.axes == "YXS"
        # auto: 410 -> 205 -> 103 -> 52 (<= one 64 tile)
        assert [lvl.shape for lvl in series.levels] == [
            (300, 410, 3),
            (150, 205, 3),
            (75, 103, 3),
            (38, 52, 3),
        ]
        got = series.levels[1].asarray().astype(int)
        assert np.abs(got - ref_halve_rgb(rgb)).mean() < 3
        ome = from_xml(tif.ome_metadata, validate=True)
    ch = ome.images[0].pixels.channels
    assert len(ch) == 1 and ch[0].samples_per_pixel == 3


@pytest.mark.parametrize("compression", ["none", "zlib", "zstd", "lzw", "jpeg2000", "jpegxl"])
def test_lossless_codecs_round_trip(tmp_path, compression):
    data = np.random.default_rng(1).integers(0, 255, (3, 70, 90), dtype=np.uint8)
    out = imgio.write(
        data,
        tmp_path / f"{compression}.ome.tif",
        dims="ZYX",
        tile=32,
        pyramid_levels=2,
        compression=compression,
    )  # jpeg2000/jpegxl default to lossless
    with tifffile.TiffFile(out) as tif:
        np.testing.assert_array_equal(tif.series[0].asarray(), data)
        assert tif.series[0].axes == "ZYX"


def test_planes_and_scenes(tmp_path, ref_halve):
    a = np.arange(2 * 3 * 2 * 40 * 50, dtype=np.uint16).reshape(2, 3, 2, 40, 50)
    b = np.full((60, 70), 9, dtype=np.float32)
    out = imgio.write(
        [
            xr.DataArray(a, dims=list("TCZYX"), name="first"),
            xr.DataArray(b, dims=["Y", "X"], name="second"),
        ],
        tmp_path / "two.ome.tif",
        tile=16,
        pyramid_levels=2,
    )
    with tifffile.TiffFile(out) as tif:
        assert [s.name for s in tif.series] == ["first", "second"]
        assert tif.series[0].axes == "TCZYX"
        np.testing.assert_array_equal(tif.series[0].asarray(), a)
        np.testing.assert_array_equal(tif.series[0].levels[1].asarray(), ref_halve(a))
        np.testing.assert_array_equal(tif.series[1].asarray(), b)
        from_xml(tif.ome_metadata, validate=True)


def test_streams_each_block_once(tmp_path):
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def record(block, block_info=None):
        (y0, _), (x0, _) = block_info[0]["array-location"][-2:]
        with lock:
            seen.append((y0, x0))
        return block

    base = da.from_array(
        np.random.default_rng(0).integers(0, 100, (256, 192), dtype=np.uint8), chunks=(64, 96)
    )
    data = base.map_blocks(record, dtype=np.uint8)
    imgio.write(data, tmp_path / "s.ome.tif", dims="YX", tile=32, pyramid_levels=3)
    # every block computed once (no level is recomputed from the source)
    assert sorted(seen) == sorted({(y, x) for y in range(0, 256, 64) for x in range(0, 192, 96)})
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "s.ome.tif"), base.compute())


def test_bioio_reads_it(tmp_path, cyx):
    import bioio
    import bioio_ome_tiff as plugin

    out = imgio.write(
        cyx,
        tmp_path / "b.ome.tif",
        dims="CYX",
        channel_names=["a", "b"],
        physical_pixel_sizes=(None, 0.3, 0.3),
        tile=64,
    )
    img = bioio.BioImage(out, reader=plugin.Reader)
    assert img.dims.order == "TCZYX" and img.shape == (1, 2, 1, 301, 517)
    assert img.channel_names == ["a", "b"]
    assert img.physical_pixel_sizes.X == pytest.approx(0.3)
    np.testing.assert_array_equal(img.get_image_data("CYX"), cyx)


def test_bigtiff_when_asked(tmp_path):
    out = imgio.write(np.zeros((64, 64), np.uint8), tmp_path / "big.ome.tif", tile=32, bigtiff=True)
    with tifffile.TiffFile(out) as tif:
        assert tif.is_bigtiff
    with tifffile.TiffFile(
        imgio.write(np.zeros((64, 64), np.uint8), tmp_path / "small.ome.tif")
    ) as tif:
        assert not tif.is_bigtiff


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"compression": "snappy"}, "expected one of"),
        ({"compression": "jpeg"}, "uint8"),
        ({"compression": "jpeg", "dims": "YXS", "data": np.zeros((32, 32, 4), np.uint8)}, "1 or 3"),
        ({"tile": 100}, "multiples of 16"),
        ({"pyramid_levels": 0}, "expected >= 1"),
        ({"downsample": "max"}, "expected one of"),
        ({"chunks": 64}, "OME-Zarr option"),
    ],
)
def test_bad_options(tmp_path, kwargs, match):
    options = {"dims": "CYX", **kwargs}
    data = options.pop("data", np.zeros((2, 40, 40), np.uint16))
    with pytest.raises(ImgioError, match=match):
        imgio.write(data, tmp_path / "x.ome.tif", **options)
    assert not list(tmp_path.iterdir())


def test_more_than_three_extra_dims_rejected(tmp_path):
    data = np.zeros((2, 2, 2, 2, 20, 20), np.uint8)
    with pytest.raises(ImgioError, match=r"extra dims \['A', 'E', 'H', 'P'\].*at most three"):
        imgio.write(data, tmp_path / "m.ome.tif", dims="AEHPYX")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("rgb_data", "rows", "segment"),
    [
        (False, 32, 1),
        (False, 32, 2881),
        (True, 32, 1),
        (False, (32, 43), 1),
        (True, (32, 96, 32, 32, 40), 1),
    ],
)
def test_wide_bands_in_segments(
    tmp_path, monkeypatch, ref_halve, ref_halve_rgb, rgb_data, rows, segment
):
    """Chunks computed a few at a time, tiles straddling chunks wait for them: same pixels."""
    import imgio.writers._stream as stream

    # 1: every chunk is its own group; 2881: three chunks of a 32-row chunk row per group
    monkeypatch.setattr(stream, "GROUP_BYTES", segment)
    rng = np.random.default_rng(7)
    height = sum(rows) if isinstance(rows, tuple) else 75
    shape = (height, 203, 3) if rgb_data else (height, 203)
    data = rng.integers(0, 255, shape, dtype=np.uint8)
    # tile-high rows (or a last band taller than a tile), odd widths that straddle tiles
    chunks = (rows, 45, 3) if rgb_data else (rows, 45)
    out = imgio.write(
        da.from_array(data, chunks=chunks),
        tmp_path / "w.ome.tif",
        dims="YXS" if rgb_data else "YX",
        tile=32,
        pyramid_levels=4,
        compression="zlib",
    )
    halve = ref_halve_rgb if rgb_data else ref_halve
    with tifffile.TiffFile(out) as tif:
        want = data
        for level in tif.series[0].levels:
            np.testing.assert_array_equal(level.asarray(), want)
            want = halve(want)


@pytest.mark.parametrize("size", [1e-30, 1e-12, 1e30])
def test_pixel_sizes_past_a_tiff_rational_stay_in_the_ome_xml(tmp_path, size):
    """A fuzzed MRC header gave a pixel size whose pixels-per-cm no TIFF RATIONAL holds:
    the resolution tags are not derived from it, the OME-XML keeps the size (before: a
    tifffile ValueError from the writer)."""
    path = imgio.write(
        np.zeros((8, 8), np.uint8), tmp_path / "x.ome.tif", physical_pixel_sizes=(None, size, size)
    )
    assert imgio.Image(path).physical_pixel_sizes.X == pytest.approx(size)
    with tifffile.TiffFile(path) as tif:  # tifffile's placeholder, not a derived value
        assert tif.pages[0].tags["XResolution"].value == (1, 1)
