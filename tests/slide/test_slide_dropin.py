"""imgio.slide as a drop-in beyond openslide-python's own suite: the tile cache really
keeps decoded tiles (bounded), imgio errors are OpenSlide errors and latch, paths of
every kind, levels past the last, and the reader facts (ICC profile, TIFF tags) that
the facade reports, checked against tifffile."""

from __future__ import annotations

import ctypes
import pickle
from pathlib import Path

import numpy as np
import pytest
import tifffile
from slide_fixtures import BOXES, ICC, file_path

import imgio
import imgio.slide as islide
from imgio.readers.base import STATS
from imgio.slide.deepzoom import DeepZoomGenerator


def _decoded(slide: islide.OpenSlide, level: int = 0) -> int:
    """Native chunks decoded by one whole-level read."""
    STATS.reset()
    slide.read_region((0, 0), level, slide.level_dimensions[level])
    return STATS.chunks_decoded


def test_cache_keeps_decoded_tiles() -> None:
    with islide.OpenSlide(file_path("boxes.tiff")) as slide:
        cache = islide.OpenSlideCache(1 << 20)
        slide.set_cache(cache)
        assert _decoded(slide) == 20  # 5 x 4 tiles of 64 px
        assert _decoded(slide) == 0  # all from the cache
        assert 0 < cache._cache.nbytes <= 1 << 20
        region = np.asarray(slide.read_region((0, 0), 0, (300, 250)))
    np.testing.assert_array_equal(region[..., :3], tifffile.imread(file_path("boxes.tiff")))
    np.testing.assert_array_equal(region[..., :3], BOXES)
    assert (region[..., 3] == 255).all()


def test_cache_is_shared_and_bounded() -> None:
    cache = islide.OpenSlideCache(64 << 10)  # five 64 x 64 RGB tiles
    with (
        islide.OpenSlide(file_path("boxes.tiff")) as one,
        islide.OpenSlide(file_path("boxes.tiff")) as two,
    ):
        one.set_cache(cache)
        two.set_cache(cache)
        assert _decoded(one, 2) == 2
        assert _decoded(two, 2) == 0  # the other slide's tiles, same file
        assert _decoded(one, 0) == 20
        assert cache._cache.nbytes <= 64 << 10
        assert _decoded(one, 0) == 20  # 20 tiles never fit: decoded again
    empty = islide.OpenSlideCache(0)
    with islide.OpenSlide(file_path("boxes.tiff")) as slide:
        slide.set_cache(empty)
        assert _decoded(slide, 1) == _decoded(slide, 1) == 6
        assert empty._cache.nbytes == 0


def test_default_cache_and_bad_caches() -> None:
    with islide.OpenSlide(file_path("boxes.tiff")) as slide:
        assert _decoded(slide, 1) == 6
        assert _decoded(slide, 1) == 0  # a private cache by default, as OpenSlide
        with pytest.raises(TypeError, match="Not a cache"):
            slide.set_cache(islide.OpenSlideCache)  # type: ignore[arg-type]
    for bad in (-1, 1.5, "1", None):
        with pytest.raises(ctypes.ArgumentError):
            islide.OpenSlideCache(bad)  # type: ignore[arg-type]
    assert repr(islide.OpenSlideCache(4096)) == "OpenSlideCache(4096)"


def test_errors_are_openslide_errors_and_latch() -> None:
    slide = islide.OpenSlide(file_path("unreadable.svs"))
    with pytest.raises(islide.OpenSlideError, match=r"unreadable\.svs.*JPEG|Jpeg") as info:
        slide.read_region((0, 0), 0, (16, 16))
    assert isinstance(info.value, imgio.errors.CorruptFileError)  # and still imgio's class
    for use in (
        lambda: slide.level_count,
        lambda: slide.read_region((0, 0), 0, (4, 4)),
        lambda: slide.properties,
        lambda: slide.get_thumbnail((8, 8)),
    ):
        with pytest.raises(islide.OpenSlideError, match="JPEG|Jpeg"):
            use()
    slide.close()  # close still works after an error, as OpenSlide
    again = pickle.loads(pickle.dumps(info.value))  # e.g. back from a dask worker
    assert isinstance(again, islide.OpenSlideError)
    assert isinstance(again, imgio.errors.CorruptFileError)
    assert str(again) == str(info.value)
    with pytest.raises(islide.OpenSlideError):
        DeepZoomGenerator(islide.OpenSlide(file_path("unreadable.svs"))).get_tile(4, (0, 0))


def test_undecodable_compression() -> None:
    """OpenSlide refuses a TIFF in a compression it cannot decode with OpenSlideError;
    so does imgio.slide, and imgio.Image names the compression when it parses the file."""
    with pytest.raises(islide.OpenSlideError, match="52479"):
        islide.OpenSlide(file_path("unopenable.tiff"))
    with pytest.raises(imgio.errors.UnsupportedFormatError, match="compression 52479"):
        imgio.Image(file_path("unopenable.tiff")).dims  # noqa: B018 - the first parse


def test_path_kinds_and_bad_arguments() -> None:
    path = file_path("small.svs")
    for arg in (path, str(path), bytes(path), Path(str(path))):
        assert islide.detect_format(arg) == "aperio"
        with islide.open_slide(arg) as slide:
            assert isinstance(slide, islide.OpenSlide)
            assert slide.dimensions == (16, 16)
    for bad in (None, 3, 2.5):
        with pytest.raises(ctypes.ArgumentError) as info:
            islide.OpenSlide(bad)
        assert isinstance(info.value, imgio.ImgioError)
        with pytest.raises(ctypes.ArgumentError):
            islide.detect_format(bad)


def test_closed_slide_refuses_everything() -> None:
    slide = islide.OpenSlide(file_path("boxes.tiff"))
    dz = DeepZoomGenerator(slide)
    tiles = slide.tiles
    slide.close()
    for use in (
        lambda: dz.get_tile(8, (0, 0)),
        lambda: slide.get_thumbnail((10, 10)),
        lambda: slide.associated_images,
        lambda: slide.set_cache(islide.OpenSlideCache(10)),
        lambda: slide.image,
    ):
        with pytest.raises(ctypes.ArgumentError, match="closed"):
            use()
    assert tiles is not None


@pytest.mark.parametrize("level", [4, 9, -1])
def test_levels_past_the_last_are_transparent(level: int) -> None:
    with islide.OpenSlide(file_path("boxes.tiff")) as slide:
        region = slide.read_region((10, 10), level, (30, 20))
        array = slide.read_region((10, 10), level, (30, 20), as_array=True)
    assert region.size == (30, 20) and region.mode == "RGBA"
    assert not np.asarray(region).any() and array.shape == (20, 30, 4) and not array.any()
    assert region.info["icc_profile"] == ICC


def test_reader_facts_against_tifffile() -> None:
    """The TIFF reader's ICC profile and tags are the file's (tifffile's view)."""
    with tifffile.TiffFile(file_path("boxes.tiff")) as tif:
        page = tif.pages.first
        icc = page.tags[34675].value
        xres = page.tags[282].value
    with imgio.Image(file_path("boxes.tiff")) as img:
        assert img.reader.icc_profile(0) == icc == ICC
        props = img.reader.named_properties(0)
    assert float(props["tiff.XResolution"]) == xres[0] / xres[1]
    assert props["tiff.ResolutionUnit"] == "centimeter"
    with imgio.Image(file_path("small.svs")) as img:
        assert img.reader.icc_profile(0) is None
        props = img.reader.named_properties(0)
    assert props["aperio.AppMag"] == "20" and props["aperio.MPP"] == "0.4990"
    assert props["tiff.ImageDescription"].startswith("Aperio Image Library")
    with islide.OpenSlide(file_path("small.svs")) as slide:
        assert slide.properties["openslide.mpp-x"] == "0.499"
        assert slide.properties["openslide.objective-power"] == "20"


def test_image_slide_profile_and_close() -> None:
    """ImageSlide: the PNG's ICC profile on regions and tiles; ValueError after close()."""
    slide = islide.ImageSlide(file_path("boxes.png"))
    assert slide.color_profile is not None
    assert slide.color_profile.profile.device_class == "mntr"
    region = slide.read_region((290, 240), 0, (20, 20))
    assert region.info["icc_profile"] == ICC
    np.testing.assert_array_equal(np.asarray(region)[:10, :10, :3], BOXES[240:, 290:])
    assert not np.asarray(region)[10:, 10:].any()
    slide.close()
    with pytest.raises(ValueError, match="closed") as info:
        slide.read_region((0, 0), 0, (4, 4))
    assert isinstance(info.value, imgio.ImgioError)


def test_public_names_match_openslide() -> None:
    """Every class, constant and function openslide-python exports, imgio.slide has."""
    openslide = pytest.importorskip("openslide")
    prefixes = ("PROPERTY_NAME_", "OpenSlide", "ImageSlide", "AbstractSlide", "open_slide")
    names = [n for n in dir(openslide) if n.startswith(prefixes)]
    assert len(names) >= 20
    assert [n for n in names if not hasattr(islide, n)] == []
    for name in ("OpenSlideError", "OpenSlideUnsupportedFormatError", "OpenSlideVersionError"):
        assert issubclass(getattr(islide, name), islide.OpenSlideError)
    assert islide.PROPERTY_NAME_BARCODE == openslide.PROPERTY_NAME_BARCODE


def test_image_slide_png_chunk_length_past_the_file(tmp_path: Path) -> None:
    """Fuzz reproducer: an IDAT length of 2**32 - 1 made Pillow's ``read`` allocate 4 GiB
    inside ``ImageSlide``; the file is read through a wrapper that stops at its end (a
    MemoryError under the 1 GiB cap before)."""
    from fuzzing.exercise import address_space
    from PIL import Image as PILImage

    path = tmp_path / "rgba.png"
    PILImage.fromarray(np.zeros((20, 30, 4), np.uint8)).save(path)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"IDAT") - 4
    raw[at : at + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(raw))
    with address_space(1 << 30):
        slide = islide.ImageSlide(path)  # the pixels were all in the file: it reads
    assert slide.dimensions == (30, 20)
    region = np.asarray(slide.read_region((0, 0), 0, (30, 20)))
    np.testing.assert_array_equal(region, np.zeros((20, 30, 4), np.uint8))


def test_thumbnail_of_grey_with_alpha(tmp_path: Path) -> None:
    """A grey + alpha slide (large_image's small_la.tiff is one): the thumbnail is the grey
    composited on white, in R, G and B (it raised PIL's "Invalid mode" before)."""
    rng = np.random.default_rng(3)
    la = rng.integers(0, 256, (32, 48, 2), dtype=np.uint8)
    path = tmp_path / "la.tif"
    tifffile.imwrite(path, la, photometric="minisblack", extrasamples=["unassalpha"], tile=(16, 16))
    with islide.open_slide(path) as slide:
        thumb = slide.get_thumbnail((48, 48))
    assert thumb.mode == "RGB" and thumb.size == (48, 32)
    grey, alpha = tifffile.imread(path)[..., 0] / 1.0, tifffile.imread(path)[..., 1] / 255
    want = np.rint(grey * alpha + 255 * (1 - alpha))
    got = np.asarray(thumb).astype(float)
    for band in range(3):
        assert np.abs(got[..., band] - want).max() <= 1
