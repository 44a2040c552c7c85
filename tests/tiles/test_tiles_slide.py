"""imgio.slide and its DeepZoomGenerator against openslide-python on the same files."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import openslide
import pytest
import tifffile
from openslide.deepzoom import DeepZoomGenerator as RefDeepZoom
from PIL import Image as PILImage

import imgio
import imgio.slide as islide
from imgio.errors import ImgioError, UnsupportedFormatError
from imgio.slide.deepzoom import DeepZoomGenerator

# JPEG tiles decode to the same bytes with openslide's libjpeg-turbo and imagecodecs'
# (both libjpeg-turbo, same IDCT): lossy files are compared exactly too; this bound is
# for resampled levels (openslide: Lanczos, or sub-pixel shifts; imgio: area averaging)
RESAMPLED_MEAN_TOLERANCE = 6.0


def _slides(shared: bool) -> list:
    from samples import SHARED

    if not shared:
        return []
    folder = SHARED / "wsi"
    return sorted(folder.glob("*.svs")) if folder.is_dir() else []


@pytest.fixture(params=["lossless", "gap", "jpeg", "svs-0", "svs-1"])
def slide_path(request, pyramid, gap_pyramid, jpeg_pyramid):
    name = request.param
    if name == "lossless":
        return pyramid[0]
    if name == "gap":
        return gap_pyramid[0]
    if name == "jpeg":
        return jpeg_pyramid
    slides = _slides(True)
    index = int(name[-1])
    if index >= len(slides):
        pytest.skip("shared whole-slide samples not found")
    return slides[index]


def test_structure_and_properties_match_openslide(slide_path):
    ours, ref = islide.OpenSlide(slide_path), openslide.OpenSlide(str(slide_path))
    assert ours.level_count == ref.level_count
    assert ours.dimensions == ref.dimensions
    assert ours.level_dimensions == ref.level_dimensions
    assert ours.level_downsamples == pytest.approx(ref.level_downsamples)
    for key in (
        islide.PROPERTY_NAME_MPP_X,
        islide.PROPERTY_NAME_MPP_Y,
        islide.PROPERTY_NAME_OBJECTIVE_POWER,
        islide.PROPERTY_NAME_VENDOR,
        "openslide.level-count",
    ):
        assert ours.properties.get(key) == ref.properties.get(key), key
    for k in range(ref.level_count):
        for what in ("width", "height", "tile-width", "tile-height"):
            key = f"openslide.level[{k}].{what}"
            assert ours.properties[key] == ref.properties[key], key
    assert {k: v.size for k, v in ours.associated_images.items()} == {
        k: v.size for k, v in ref.associated_images.items()
    }
    for name, image in ours.associated_images.items():
        assert image.mode == "RGBA"
        assert np.array_equal(np.asarray(image), np.asarray(ref.associated_images[name]))
    for ds in (0.5, 1, 1.9, 2, 2.0005, 3, 4, 4.1, 16, 1000):
        assert ours.get_best_level_for_downsample(ds) == ref.get_best_level_for_downsample(ds)


def test_read_region_pixels_equal_openslide(slide_path):
    ours, ref = islide.OpenSlide(slide_path), openslide.OpenSlide(str(slide_path))
    w, h = ref.dimensions
    for level in range(ref.level_count):
        ds = round(ref.level_downsamples[level])
        for x, y, size in (
            (0, 0, (300, 200)),
            (w // 3, h // 4, (257, 129)),
            (-37 * ds, h - 50 * ds, (120, 90)),
        ):
            x, y = x // ds * ds, y // ds * ds
            got = ours.read_region((x, y), level, size)
            want = ref.read_region((x, y), level, size)
            assert got.mode == "RGBA" and got.size == want.size
            if ref.level_downsamples[level] == ds:
                np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
            else:  # e.g. 2.0005: openslide shifts by the sub-pixel offset, imgio rounds it
                diff = np.abs(np.asarray(got, dtype=int) - np.asarray(want, dtype=int))
                assert diff.mean() < RESAMPLED_MEAN_TOLERANCE
    arr = ours.read_region((-10, -10), 0, (20, 20), as_array=True)
    assert arr.shape == (20, 20, 4) and not arr[:10, :10].any()  # transparent outside
    assert (arr[10:, 10:, 3] == 255).all()


def test_thumbnail_matches_openslide(slide_path):
    ours, ref = islide.OpenSlide(slide_path), openslide.OpenSlide(str(slide_path))
    a, b = ours.get_thumbnail((300, 300)), ref.get_thumbnail((300, 300))
    assert a.size == b.size and a.mode == b.mode == "RGB"
    diff = np.abs(np.asarray(a, dtype=np.int32) - np.asarray(b, dtype=np.int32))
    assert diff.mean() < RESAMPLED_MEAN_TOLERANCE


def test_deepzoom_matches_openslide(slide_path):
    osr = islide.OpenSlide(slide_path)
    ref_osr = openslide.OpenSlide(str(slide_path))
    big = ref_osr.dimensions[0] * ref_osr.dimensions[1] > 2**21
    for tile_size, overlap in ((254, 1),) if big else ((254, 1), (128, 0)):
        ours = DeepZoomGenerator(osr, tile_size=tile_size, overlap=overlap)
        ref = RefDeepZoom(ref_osr, tile_size=tile_size, overlap=overlap)
        assert ours.level_count == ref.level_count
        assert ours.level_tiles == ref.level_tiles
        assert ours.level_dimensions == ref.level_dimensions
        assert ours.tile_count == ref.tile_count
        assert (
            ET.fromstring(ours.get_dzi("jpeg")).attrib == ET.fromstring(ref.get_dzi("jpeg")).attrib
        )
        rng = np.random.default_rng(0)
        # every level of the test pyramids; the 4 finest of the SVS files (coarser ones
        # read the whole slide per tile, the same code path as the pyramids' coarse levels)
        first = ref.level_count - 4 if big else 0
        for level in range(first, ref.level_count):
            cols, rows = ref.level_tiles[level]
            picks = {(0, 0), (cols - 1, rows - 1)} | {
                (int(rng.integers(cols)), int(rng.integers(rows))) for _ in range(2)
            }
            native = ref.get_tile_coordinates(level, (0, 0))[1]
            exact = ref_osr.level_downsamples[native] == 2 ** (ref.level_count - 1 - level)
            for address in picks:
                assert ours.get_tile_coordinates(level, address) == ref.get_tile_coordinates(
                    level, address
                )
                assert ours.get_tile_dimensions(level, address) == ref.get_tile_dimensions(
                    level, address
                )
                got = np.asarray(ours.get_tile(level, address))
                want = np.asarray(ref.get_tile(level, address))
                assert got.shape == want.shape
                if exact:
                    np.testing.assert_array_equal(got, want)
                elif got.size >= 3 * 32 * 32:
                    assert np.abs(got.astype(int) - want).mean() < RESAMPLED_MEAN_TOLERANCE
                arr = ours.get_tile(level, address, as_array=True)
                np.testing.assert_array_equal(arr, got)


def test_svs_associated_images_have_their_own_pixel_sizes(shared_samples, tmp_path):
    path = shared_samples / "wsi" / "libvips-CMU-1-Small-Region.svs"
    img = imgio.Image(path)
    infos = img.reader.scenes()
    assert [i.associated for i in infos] == [None, "thumbnail", "label", "macro"]
    assert img.physical_pixel_sizes.X == pytest.approx(0.499)
    img.set_scene("Thumbnail")
    assert img.physical_pixel_sizes.X == pytest.approx(0.499 * 2220 / 574)  # ~1.93 µm
    assert img.physical_pixel_sizes.Y == pytest.approx(0.499 * 2967 / 768)
    for name in ("Label", "Macro"):
        img.set_scene(name)
        assert img.physical_pixel_sizes.X is None and img.physical_pixel_sizes.Y is None
    out = tmp_path / "thumb.ome.tif"
    imgio.write(imgio.Image(path), out, scenes=["Thumbnail"])
    with tifffile.TiffFile(out) as tif:
        written = re.search(r'PhysicalSizeX="([0-9.]+)"', tif.ome_metadata)
    assert written and float(written.group(1)) == pytest.approx(1.93, abs=0.001)
    ts = imgio.Image(path).tiles
    assert sorted(ts.associated_images) == ["label", "macro", "thumbnail"]
    label = ts.get_associated_image("label")
    with tifffile.TiffFile(path) as tif:
        np.testing.assert_array_equal(label, tif.series[2].asarray())


def test_other_formats_through_the_facade(fluo, tmp_path):
    path, data = fluo
    with islide.OpenSlide(path) as osr:  # a 3-channel fluorescence OME-TIFF
        assert osr.properties[islide.PROPERTY_NAME_VENDOR] == "ome-tiff"
        assert osr.properties[islide.PROPERTY_NAME_MPP_X] == "0.25"
        region = osr.read_region((0, 0), 0, (400, 300), as_array=True)
        ref = imgio.Image(path).tiles.get_region(style="auto")
        np.testing.assert_array_equal(region[..., :3], ref)
    gray = (np.arange(200 * 300) % 251).astype(np.uint8).reshape(200, 300)
    zpath = tmp_path / "gray.ome.zarr"
    imgio.write(gray, zpath, dims="YX")
    with islide.OpenSlide(zpath) as osr:
        assert osr.dimensions == (300, 200)
        assert osr.properties[islide.PROPERTY_NAME_VENDOR] == "ome-zarr"
        rgba = np.asarray(osr.read_region((10, 20), 0, (50, 40)))
        for c in range(3):
            np.testing.assert_array_equal(rgba[..., c], gray[20:60, 10:60])
        assert islide.detect_format(zpath) == "ome-zarr"


def test_errors_and_image_slide(tmp_path):
    with pytest.raises(islide.OpenSlideUnsupportedFormatError, match="missing.svs") as info:
        islide.OpenSlide(tmp_path / "missing.svs")  # openslide: "Unsupported or missing"
    assert isinstance(info.value, islide.OpenSlideError)
    assert isinstance(info.value, ImgioError)
    broken = tmp_path / "broken.svs"
    broken.write_bytes(b"II*\0" + b"\xff" * 60)
    with pytest.raises(islide.OpenSlideError, match="broken.svs") as info3:
        islide.OpenSlide(broken)
    assert not isinstance(info3.value, islide.OpenSlideUnsupportedFormatError)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(islide.OpenSlideUnsupportedFormatError, match="no reader accepts") as info2:
        islide.OpenSlide(text)
    assert isinstance(info2.value, UnsupportedFormatError)
    assert islide.detect_format(text) is None
    png = tmp_path / "plain.png"
    pixels = np.random.default_rng(1).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(png)
    slide = islide.open_slide(png)
    assert isinstance(slide, islide.ImageSlide)
    ref = openslide.ImageSlide(str(png))
    assert slide.dimensions == ref.dimensions and slide.level_count == ref.level_count
    np.testing.assert_array_equal(
        np.asarray(slide.read_region((-5, 10), 0, (30, 40))),
        np.asarray(ref.read_region((-5, 10), 0, (30, 40))),
    )
    with pytest.raises(islide.OpenSlideError, match=r"level 3 out of range \(0\.\.0\)"):
        slide.read_region((0, 0), 3, (4, 4))
    for name in dir(openslide):
        if name.startswith("PROPERTY_NAME_") and hasattr(islide, name):
            assert getattr(islide, name) == getattr(openslide, name)


def test_remote_slide_over_http(jpeg_pyramid):
    from imgio._loopback import RangeHTTPServer

    with RangeHTTPServer(jpeg_pyramid.parent) as server:
        url = f"{server.url}/{jpeg_pyramid.name}"
        remote, local = islide.OpenSlide(url), openslide.OpenSlide(str(jpeg_pyramid))
        assert remote.level_dimensions == local.level_dimensions
        np.testing.assert_array_equal(
            np.asarray(remote.read_region((700, 900), 1, (300, 200))),
            np.asarray(local.read_region((700, 900), 1, (300, 200))),
        )
        ts = remote.tiles
        server.reset()
        data = ts.get_tile(2, 3, ts.levels - 1, format="jpeg")  # passthrough: one range read
        assert data == imgio.Image(jpeg_pyramid).tiles.get_tile(2, 3, ts.levels - 1, format="jpeg")
        assert server.bytes_sent < 2 * len(data)


def test_svs_jpeg_passthrough_decodes_as_openslide(shared_samples, stats):
    import io

    path = shared_samples / "wsi" / "libvips-CMU-1-Small-Region.svs"  # RGB-coded JPEG tiles
    ts = imgio.Image(path).tiles
    stats.reset()
    data = ts.get_tile(3, 4, ts.levels - 1, format="jpeg")
    assert stats.chunks_decoded == 0
    assert data.startswith(b"\xff\xd8\xff\xee\x00\x0eAdobe")  # says: samples are RGB
    decoded = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"))  # Pillow's libjpeg
    want = openslide.OpenSlide(str(path)).read_region((720, 960), 0, (240, 240))
    np.testing.assert_array_equal(decoded, np.asarray(want)[..., :3])
