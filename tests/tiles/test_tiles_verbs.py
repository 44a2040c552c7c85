"""Tile verbs against large_image (same files) and numpy on the pixels tifffile wrote."""

from __future__ import annotations

import imagecodecs
import large_image
import numpy as np
import pytest
import tifffile

import imgio
from imgio.errors import SelectionError
from imgio.tiles import StyleError, TileSource

NUMPY = large_image.constants.TILE_FORMAT_NUMPY


def _li(path):
    return large_image.open(str(path))


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean())


def test_metadata_matches_large_image(pyramid):
    path, levels = pyramid
    ts = imgio.Image(path).tiles
    ref = _li(path).getMetadata()
    meta = ts.metadata()
    for key in ("levels", "sizeX", "sizeY", "tileWidth", "tileHeight", "bandCount", "dtype"):
        assert meta[key] == ref[key], key
    assert meta["mm_x"] == pytest.approx(0.0005)  # 0.5 µm from the resolution tags
    assert [s["width"] for s in meta["levelsStored"]] == [lv.shape[1] for lv in levels]


def test_get_tile_every_z_matches_large_image(pyramid):
    path, levels = pyramid
    ts, li = imgio.Image(path).tiles, _li(path)
    assert ts.levels == li.levels == 4
    for z in range(ts.levels):
        nx, ny = ts.geometry.tile_grid(z)
        for y in range(ny):
            for x in range(nx):
                ours = ts.get_tile(x, y, z)
                ref = li.getTile(x, y, z, numpyAllowed="always")[: ours.shape[0], : ours.shape[1]]
                stored = ts.geometry.stored_level_for_z(z)
                if stored is not None:  # a stored level: the exact stored pixels
                    lv = levels[stored]
                    want = lv[y * 256 : (y + 1) * 256, x * 256 : (x + 1) * 256]
                    np.testing.assert_array_equal(ours, want)
                    np.testing.assert_array_equal(ours, ref[..., :3])
                else:  # z=0 is made from the /4 level: area average vs large_image's resize
                    assert _mad(ours, ref[..., :3]) < 1.5


def test_missing_level_synthesised_from_next_finer(gap_pyramid, stats):
    path, levels = gap_pyramid  # stored: /1 and /4
    ts = imgio.Image(path).tiles
    z = ts.levels - 2  # the /2 level, not stored
    assert ts.geometry.stored_level_for_z(z) is None
    tile = ts.get_tile(1, 0, z)
    base = levels[0]
    want = base[0:512, 512:1024].reshape(256, 2, 256, 2, 3).mean((1, 3))
    np.testing.assert_allclose(tile, want, atol=0.5 + 1e-9)
    assert stats.chunks_decoded == 4  # the four level-0 tiles under it, nothing else


def test_get_region_output_size_matches_large_image(pyramid):
    path, levels = pyramid
    ts, li = imgio.Image(path).tiles, _li(path)
    box = {"left": 100, "top": 50, "right": 1700, "bottom": 1400}
    ref, _ = li.getRegion(region=box, output={"maxWidth": 300}, format=NUMPY)
    ours = ts.get_region(100, 50, 1700, 1400, output_width=300)
    assert ours.shape == ref[..., :3].shape == (253, 300, 3)
    assert _mad(ours, ref[..., :3]) < 2
    # full resolution: exact pixels, and width/height instead of right/bottom
    exact = ts.get_region(left=333, top=77, width=400, height=300)
    np.testing.assert_array_equal(exact, levels[0][77:377, 333:733])


def test_get_region_units_and_formats(pyramid):
    path, levels = pyramid
    ts = imgio.Image(path).tiles
    um = ts.get_region(left=50, top=25, width=100, height=50, units="um")  # 0.5 µm pixels
    np.testing.assert_array_equal(um, levels[0][50:150, 100:300])
    mm = ts.get_region(left=0.05, top=0.025, width=0.1, height=0.05, units="mm")
    np.testing.assert_array_equal(mm, levels[0][50:150, 100:300])
    frac = ts.get_region(left=0.5, top=0.5, right=0.75, bottom=0.75, units="fraction")
    np.testing.assert_array_equal(frac, levels[0][768:1152, 1024:1536])
    half = ts.get_region(0, 0, 1024, 512, scale=2)  # reads the stored /2 level as is
    np.testing.assert_array_equal(half, levels[1][:256, :512])
    png = ts.get_region(0, 0, 64, 32, format="png")
    np.testing.assert_array_equal(imagecodecs.imread(png), levels[0][:32, :64])
    tif = ts.get_region(0, 0, 64, 32, format="tiff")
    import io

    np.testing.assert_array_equal(tifffile.imread(io.BytesIO(tif)), levels[0][:32, :64])
    da = ts.get_region(0, 0, 64, 32, format="dataarray")
    assert da.dims == ("Y", "X", "S") and da.shape == (32, 64, 3)


def test_thumbnail_matches_large_image_and_reads_small_level(pyramid, stats):
    path, _ = pyramid
    ts, li = imgio.Image(path).tiles, _li(path)
    ref, _ = li.getThumbnail(width=256, height=256, format=NUMPY)
    stats.reset()
    ours = ts.thumbnail(256, 256)
    assert ours.shape == ref[..., :3].shape == (192, 256, 3)
    assert _mad(ours, ref[..., :3]) < 1
    assert stats.chunks_decoded == 4  # the 512 x 384 level: 2 x 2 tiles


def test_tile_iterator_positions_match_large_image(pyramid):
    path, levels = pyramid
    ts, li = imgio.Image(path).tiles, _li(path)
    cases = [
        (None, 512, 32),
        ({"left": 10, "top": 20, "width": 1500, "height": 1000}, 300, 20),
        ({"left": 290, "top": 300, "width": 1000, "height": 700}, 300, 20),
        ({"left": 575, "top": 559, "width": 33, "height": 900}, 256, 40),
    ]
    keys = ("x", "y", "width", "height", "gx", "gy", "level_x", "level_y", "tile_overlap")
    for region, size, overlap in cases:
        kw = {"region": region} if region else {}
        ref = li.tileIterator(
            tile_size={"width": size, "height": size},
            tile_overlap={"x": overlap, "y": overlap},
            format=NUMPY,
            **kw,
        )
        want = [{k: t[k] for k in keys} for t in ref]
        got = list(ts.tile_iterator(size, overlap, **kw))
        assert [{k: t[k] for k in keys} for t in got] == want
        for t in got[:: max(1, len(got) // 5)]:
            x, y, w, h = t["x"], t["y"], t["width"], t["height"]
            np.testing.assert_array_equal(t["tile"], levels[0][y : y + h, x : x + w])


def test_tile_iterator_scaled_and_batches(pyramid):
    path, levels = pyramid
    ts = imgio.Image(path).tiles
    tiles = list(ts.tile_iterator(256, 0, scale=4))  # the stored /4 level, 512 x 384
    assert [(t["x"], t["y"]) for t in tiles] == [(0, 0), (256, 0), (0, 256), (256, 256)]
    np.testing.assert_array_equal(tiles[3]["tile"], levels[2][256:, 256:])
    batches = list(ts.tile_batches(3, 256, 0, scale=4))
    assert [b.shape for b, _ in batches] == [(3, 256, 256, 3), (1, 256, 256, 3)]
    np.testing.assert_array_equal(batches[1][0][0, :128], levels[2][256:, 256:])
    assert not batches[1][0][0, 128:].any()  # padded
    assert batches[1][1][0]["height"] == 128


def test_histogram_and_pixel(pyramid):
    path, levels = pyramid
    ts = imgio.Image(path).tiles
    hist = ts.histogram(bins=16, range=(0, 256))
    for b in range(3):
        want, _ = np.histogram(levels[2][..., b], bins=16, range=(0, 256))
        np.testing.assert_array_equal(hist[b]["hist"], want)
    full = ts.histogram(bins=8, range=(0, 256), level=0)[1]["hist"]
    np.testing.assert_array_equal(full, np.histogram(levels[0][..., 1], 8, (0, 256))[0])
    px = ts.get_pixel(1234, 567)
    assert px["bands"] == {i + 1: int(levels[0][567, 1234, i]) for i in range(3)}


def test_jpeg_tile_passthrough_decodes_nothing(jpeg_pyramid, stats):
    ts = imgio.Image(jpeg_pyramid).tiles
    z = ts.levels - 1
    stats.reset()
    data = ts.get_tile(3, 5, z, format="jpeg")
    assert stats.chunks_decoded == 0
    with tifffile.TiffFile(jpeg_pyramid) as tif:
        page = tif.pages[0]
        index = 5 * page.chunked[1] + 3
        fh = tif.filehandle
        fh.seek(page.dataoffsets[index])
        stored = fh.read(page.databytecounts[index])
        want = page.decode(stored, index, jpegtables=page.jpegtables)[0][0]
    assert stored[2:] in data  # the stored entropy-coded bytes, as they are in the file
    np.testing.assert_array_equal(imagecodecs.jpeg8_decode(data), want)
    np.testing.assert_array_equal(ts.get_tile(3, 5, z), want)
    # a synthesised level is encoded: valid JPEG of the right size
    small = ts.get_tile(0, 0, 0, format="jpeg")
    assert imagecodecs.jpeg8_decode(small).shape == (256, 256, 3)


def test_jpeg_passthrough_survives_overrides(jpeg_pyramid, stats):
    """An image opened with ``dim_order=``/``channel_names=`` still hands stored JPEG
    tiles over undecoded (the relabelling source forwards every declared fast path)."""
    plain = imgio.Image(jpeg_pyramid).tiles
    relabelled = imgio.Image(jpeg_pyramid, dim_order="YXS", channel_names=["RGB"]).tiles
    z = plain.levels - 1
    stats.reset()
    data = relabelled.get_tile(3, 5, z, format="jpeg")
    assert stats.chunks_decoded == 0
    assert data == plain.get_tile(3, 5, z, format="jpeg")


def test_thumbnail_and_region_of_big_pyramid_are_lazy(jpeg_pyramid, stats):
    img = imgio.Image(jpeg_pyramid)
    ts = img.tiles
    stats.reset()
    assert ts.thumbnail(256, 256).shape == (256, 256, 3)
    assert stats.chunks_decoded == 1  # the 256 x 256 level: one tile
    stats.reset()
    ts.get_region(1100, 1100, 1400, 1400)  # level 0: 2 x 2 tiles cover it
    assert stats.chunks_decoded == 4
    stats.reset()
    ts.get_region(0, 0, 4096, 4096, output_width=512)  # the 512 level: 2 x 2 tiles
    assert stats.chunks_decoded == 4
    stats.reset()
    html = img._repr_html_()
    assert "data:image/png;base64," in html and "imgio.Image" in html
    assert stats.chunks_decoded == 1


def test_style_composite_matches_numpy_and_large_image(fluo):
    path, data = fluo
    data = data.astype(np.float64)
    ts = imgio.Image(path).tiles
    style = {
        "bands": [
            {"frame": 0, "palette": "#ff0000", "min": 100, "max": 1500},
            {"frame": 1, "palette": ["#000", "#00ff00"], "min": 0, "max": 3000},
            {"frame": 2, "palette": "#0000ff", "min": 200, "max": 1200, "gamma": 1.0},
        ]
    }
    ours = ts.get_region(style=style)
    by_hand = np.zeros((300, 400, 3))
    for c, (lo, hi) in enumerate([(100, 1500), (0, 3000), (200, 1200)]):
        by_hand[..., c] = np.clip((data[c] - lo) / (hi - lo), 0, 1) * 255
    np.testing.assert_allclose(ours, by_hand, atol=0.51)
    ref, _ = large_image.open(str(path), style=style).getRegion(format=NUMPY)
    ref = np.clip(ref[..., :3], 0, 255)  # large_image's numpy output is float, unclamped
    assert np.abs(ours - ref).max() <= 0.51


def test_default_style_uses_channel_colours(fluo):
    path, raw_data = fluo
    data = raw_data.astype(np.float64)
    img = imgio.Image(path)
    assert img.channel_colors == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    ours = img.tiles.get_region(format="png")
    rgb = imagecodecs.imread(ours)
    by_hand = np.zeros((300, 400, 3))
    for c in range(3):
        lo, hi = np.quantile(data[c], [0.001, 0.999])
        by_hand[..., c] = np.clip((data[c] - lo) / (hi - lo), 0, 1) * 255  # lighten = max
    np.testing.assert_allclose(rgb, by_hand, atol=0.51)
    raw = img.tiles.get_region(C="B")  # numpy without a style: the raw channel
    np.testing.assert_array_equal(raw[..., 0], raw_data[1])
    frames = img.tiles.metadata()["frames"]
    assert [f["IndexC"] for f in frames] == [0, 1, 2] and frames[2]["Channel"] == "C"


def test_styles_gamma_multiply_palette_list(fluo):
    path, data = fluo
    data = data.astype(np.float64)
    ts = imgio.Image(path).tiles
    v = np.clip(data[0] / 2000.0, 0, 1)
    gamma = ts.get_region(style={"frame": 0, "min": 0, "max": 2000, "gamma": 2.0})
    np.testing.assert_allclose(gamma[..., 0], v**2 * 255, atol=0.51)
    pal = ts.get_region(
        style={"frame": 0, "min": 0, "max": 2000, "palette": ["#000", "#f00", "#ff0"]}
    )
    red = np.clip(v * 2, 0, 1) * 255
    green = np.clip(v * 2 - 1, 0, 1) * 255
    np.testing.assert_allclose(pal[..., 0], red, atol=0.51)
    np.testing.assert_allclose(pal[..., 1], green, atol=0.51)
    mul = ts.get_region(
        style={
            "bands": [
                {"frame": 0, "min": 0, "max": 2000, "palette": "white"},
                {"frame": 1, "min": 0, "max": 2000, "palette": "white", "composite": "multiply"},
            ]
        }
    )
    w0, w1 = np.rint(v * 255), np.rint(np.clip(data[1] / 2000.0, 0, 1) * 255)
    np.testing.assert_allclose(mul[..., 0], v * 255 * np.clip(data[1] / 2000.0, 0, 1), atol=0.51)
    assert w0.shape == w1.shape
    mm = ts.get_region(style={"frame": 2, "min": "min", "max": "max"})
    np.testing.assert_allclose(
        mm[..., 0], (data[2] - data[2].min()) / float(np.ptp(data[2])) * 255, atol=0.51
    )


def test_bad_input_errors_say_what_is_valid(pyramid, fluo):
    path, _ = pyramid
    ts = imgio.Image(path).tiles
    with pytest.raises(SelectionError, match=r"grid is 8 x 6 tiles \(x 0\.\.7, y 0\.\.5\)"):
        ts.get_tile(8, 0, 3)
    with pytest.raises(SelectionError, match=r"z=4 out of range: this image has levels 0\.\.3"):
        ts.get_tile(0, 0, 4)
    with pytest.raises(SelectionError, match="outside the image"):
        ts.get_region(3000, 0, 3100, 100)
    with pytest.raises(SelectionError, match="unknown units 'inch'"):
        ts.get_region(0, 0, 10, 10, units="inch")
    with pytest.raises(StyleError, match=r"unknown style key\(s\) \['colour'\]; valid keys"):
        ts.get_region(0, 0, 10, 10, style={"colour": "red"})
    with pytest.raises(StyleError, match="unknown colour or palette 'reddish'"):
        ts.get_region(0, 0, 10, 10, style={"palette": "reddish"})
    with pytest.raises(StyleError, match=r"band 5 does not exist: this image has 3 band"):
        ts.get_region(0, 0, 10, 10, style={"band": 5})
    with pytest.raises(StyleError, match="min must be a number"):
        ts.get_region(0, 0, 10, 10, style={"min": "lowest"})
    with pytest.raises(SelectionError, match="unknown format 'gif'"):
        ts.get_region(0, 0, 10, 10, format="gif")
    fts = imgio.Image(fluo[0]).tiles
    with pytest.raises(StyleError, match=r"no channel named 'D'; channels are \['A', 'B', 'C'\]"):
        fts.get_region(style={"channel": "D"})
    with pytest.raises(SelectionError, match=r"frame 3 out of range \(0\.\.2\)"):
        fts.get_region(frame=3)
    with pytest.raises(
        SelectionError, match=r"one C at a time, an index 0\.\.2 or a channel name \(A, B, C\)"
    ):
        fts.get_region(C=["A", "B"])
    calibrated = TileSource(imgio.Image(fluo[0])).get_region(0, 0, 1, 1, units="um")
    assert calibrated.shape == (4, 4, 1)  # 0.25 µm pixels
    with pytest.raises(SelectionError, match="needs the pixel size"):
        imgio.Image(_uncalibrated(path)).tiles.get_region(0, 0, 1, 1, units="um")


def _uncalibrated(path):
    out = path.with_name("uncalibrated.tif")
    if not out.exists():
        tifffile.imwrite(out, np.zeros((32, 32), np.uint8))
    return out


def test_edge_tiles_cropped_or_padded(pyramid):
    path, levels = pyramid
    ts = imgio.Image(path).tiles
    z = ts.levels - 2  # the /2 level, 1024 x 768: bottom row of tiles is 256 high, right full
    cropped = ts.get_tile(0, 0, 0)
    assert cropped.shape == (192, 256, 3)
    padded = ts.get_tile(0, 0, 0, edge="pad")
    assert padded.shape == (256, 256, 3) and not padded[192:].any()
    np.testing.assert_array_equal(padded[:192], cropped)
    red = TileSource(imgio.Image(path), edge="#ff0000").get_tile(0, 0, 0)
    assert (red[192:] == [255, 0, 0]).all()
    np.testing.assert_array_equal(ts.get_tile(3, 2, z), levels[1][512:768, 768:1024])


def test_style_clamp_and_nodata_make_transparent_pixels(fluo):
    path, data = fluo
    ts = imgio.Image(path).tiles
    out = ts.get_region(style={"frame": 0, "min": 200, "max": 1000, "clamp": False})
    assert out.shape[-1] == 4  # RGBA: values outside [min, max] are transparent
    outside = (data[0] < 200) | (data[0] > 1000)
    np.testing.assert_array_equal(out[..., 3] == 0, outside)
    value = int(data[0, 0, 0])
    out = ts.get_region(style={"frame": 0, "min": 0, "max": 4000, "nodata": value})
    np.testing.assert_array_equal(out[..., 3] == 0, data[0] == value)


def test_sorted_quantile_is_numpys_linear_quantile():
    """Auto/percentile limits are looked up in sorted samples (once per frame, not a
    partition of a million values per tile): the same numbers as ``np.quantile``."""
    from imgio.tiles._style import sorted_quantile

    rng = np.random.default_rng(3)
    for values in (
        rng.integers(0, 65535, 100_003).astype(np.uint16),
        rng.normal(size=5000).astype(np.float32),
        np.array([7], dtype=np.uint8),
        np.array([0, 255], dtype=np.uint8),
    ):
        ordered = np.sort(values)
        for q in (0.0, 0.001, 0.02, 0.5, 0.98, 0.999, 1.0):
            want = float(np.quantile(values, q))
            assert sorted_quantile(ordered, q) == pytest.approx(want, rel=1e-6, abs=1e-6)


def test_small_picture_of_a_level_too_large_to_decode_is_refused(tmp_path, monkeypatch):
    """A thumbnail or a low zoom tile decodes at most MAX_RESAMPLED_BYTES of a level (the
    fuzz found a sparse DICOM declaring 23,858,298 x 40 pixels: its thumbnail allocated
    2.7 GiB); a region read at its stored size is not limited."""
    from imgio.errors import ImgioError
    from imgio.tiles import _render

    monkeypatch.setattr(_render, "MAX_RESAMPLED_BYTES", 100_000)
    data = np.arange(400 * 500, dtype=np.uint16).reshape(400, 500)
    flat, pyr = tmp_path / "flat.tif", tmp_path / "pyramid.tif"
    tifffile.imwrite(flat, data, tile=(64, 64))
    with tifffile.TiffWriter(pyr) as tif:
        tif.write(data, tile=(64, 64), subifds=2)
        tif.write(data[::2, ::2], tile=(64, 64), subfiletype=1)
        tif.write(data[::4, ::4], tile=(64, 64), subfiletype=1)
    ts = imgio.Image(flat).tiles
    with pytest.raises(ImgioError, match=r"would decode 500 x 400 pixels of level 0"):
        ts.thumbnail(64, 64)
    with pytest.raises(ImgioError, match="no level coarse enough"):
        ts.get_tile(0, 0, 0)
    region = ts.get_region(left=0, top=0, width=500, height=400)
    np.testing.assert_array_equal(region.reshape(400, 500), data)
    # with a level of 125 x 100 (25 kB) the same thumbnail reads that level
    assert imgio.Image(pyr).tiles.thumbnail(64, 64).shape == (51, 64, 3)
