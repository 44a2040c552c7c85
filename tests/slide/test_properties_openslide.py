"""Side by side with OpenSlide: every property OpenSlide reports, imgio.slide reports too,
with the same text, on the shared slides (and every shared TIFF OpenSlide opens),
pyvips-written pyramids and the generated fixtures; ICC profiles and pixels of
``read_region`` agree as well.

Skips when openslide-python (with its library), pyvips or the shared samples are absent.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from samples import SHARED
from slide_fixtures import file_path

import imgio.slide as islide

openslide = pytest.importorskip("openslide")

#: the shared whole-slide files and every shared TIFF (those OpenSlide opens are compared)
SHARED_SLIDES = sorted((SHARED / "wsi").glob("*.svs")) + sorted((SHARED / "tiff").glob("*.tif*"))


def _pyvips_pyramid(folder: Path, name: str, **options: object) -> Path:
    pyvips = pytest.importorskip("pyvips")
    y, x = np.mgrid[0:700, 0:900]
    rgb = np.stack([(x * 255) // 900, (y * 255) // 700, (x + y) % 256], -1).astype(np.uint8)
    path = folder / name
    pyvips.Image.new_from_array(rgb).tiffsave(
        str(path), tile=True, pyramid=True, tile_width=128, tile_height=128, **options
    )
    return path


def _slides(folder: Path) -> list[Path]:
    slides = [file_path("boxes.tiff"), file_path("small.svs")]
    slides.append(_pyvips_pyramid(folder, "vips-default.tiff", compression="jpeg"))
    # 4 pixels per mm (libvips writes its resolution per centimetre when asked)
    slides.append(
        _pyvips_pyramid(folder, "vips-4ppmm.tiff", compression="deflate", xres=4.0, yres=4.0)
    )
    slides.append(
        _pyvips_pyramid(
            folder, "vips-inch.tiff", compression="lzw", xres=40.0, yres=40.0, resunit="inch"
        )
    )
    return slides + [p for p in SHARED_SLIDES if _openslide_opens(p)]


def _openslide_opens(path: Path) -> bool:
    try:
        openslide.OpenSlide(path).close()
    except openslide.OpenSlideError:
        return False
    return True


def _mismatches(path: Path) -> dict[str, tuple[str | None, str | None]]:
    with openslide.OpenSlide(path) as ref, islide.OpenSlide(path) as ours:
        theirs, mine = dict(ref.properties), dict(ours.properties)
    return {k: (v, mine.get(k)) for k, v in theirs.items() if mine.get(k) != v}


def test_every_openslide_property(tmp_path: Path) -> None:
    """Each slide: no OpenSlide property missing from imgio.slide or different."""
    slides = _slides(tmp_path)
    if not any(p.parent.parent == SHARED for p in slides):
        pytest.skip(f"shared samples not found at {SHARED}")
    # the shared slides and TIFFs OpenSlide opens: 2 SVS, boxes, 5 generic tiled TIFFs
    assert sum(p.parent.parent == SHARED for p in slides) >= 8
    found = {str(p.name): _mismatches(p) for p in slides}
    assert found == {p.name: {} for p in slides}


def test_mpp_from_pyvips_resolution(tmp_path: Path) -> None:
    """pyvips's default resolution (1 px/mm, stored as 25.4 dpi in float32): OpenSlide
    reports 1000.0000150184934 µm; so does imgio.slide."""
    path = _pyvips_pyramid(tmp_path, "vips.tiff", compression="jpeg")
    with islide.OpenSlide(path) as slide:
        props = slide.properties
        assert props["openslide.mpp-x"] == props["openslide.mpp-y"] == "1000.0000150184934"
        assert props["tiff.ResolutionUnit"] == "inch"
        assert math.isclose(float(props["tiff.XResolution"]), 25.4, rel_tol=1e-7)


def test_subifd_pyramid_keys(tmp_path: Path) -> None:
    """A SubIFD pyramid: OpenSlide sees its first level only, imgio.slide every level;
    every key OpenSlide lists is still there, with the same text outside the levels."""
    path = _pyvips_pyramid(tmp_path, "vips-subifd.tiff", compression="deflate", subifd=True)
    with openslide.OpenSlide(path) as ref, islide.OpenSlide(path) as ours:
        theirs, mine = dict(ref.properties), dict(ours.properties)
        assert ours.level_count == 4 > ref.level_count == 1
    assert set(theirs) <= set(mine)
    differ = {k for k in theirs if theirs[k] != mine[k]}
    # the quickhash covers the smallest level: OpenSlide's is level 0 here
    assert differ == {"openslide.level-count", "openslide.quickhash-1"}


@pytest.mark.parametrize("name", ["boxes.tiff", "small.svs"])
def test_region_pixels_and_profile(name: str) -> None:
    """read_region: the same RGBA pixels as OpenSlide (lossless levels exactly, JPEG
    within decoder rounding), the same ICC bytes; the thumbnail associated image too."""
    path = file_path(name)
    with openslide.OpenSlide(path) as ref, islide.OpenSlide(path) as ours:
        assert ours.color_profile is None or (
            ours.color_profile.tobytes() == ref.color_profile.tobytes()
        )
        assert (ours.color_profile is None) == (ref.color_profile is None)
        for level in range(ref.level_count):
            # a level-0 location that falls on a pixel of the level (OpenSlide blends
            # neighbours at fractional positions)
            ds = ref.level_downsamples[level]
            location = (-4, 6) if ds in (1, 2) else (0, 0)
            args = (location, level, (40, 30))
            a, b = ref.read_region(*args), ours.read_region(*args)
            assert a.info.get("icc_profile") == b.info.get("icc_profile")
            diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
            assert diff.max() <= (0 if name.endswith(".tiff") else 3), (level, diff.max())
        for key in ref.associated_images:
            a, b = ref.associated_images[key], ours.associated_images[key]
            assert a.size == b.size
            diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
            assert diff.max() <= 3


def test_dicom_openslide_properties() -> None:
    """The DICOM fixture: OpenSlide's ``openslide.*`` properties (levels, mpp, ICC size,
    associated images...) are all there with the same text. Not yet: the ``dicom.*``
    attribute dump and ``openslide.quickhash-1`` (the DICOM reader names no properties)."""
    from slide_fixtures import dicom_fixture

    path = dicom_fixture()
    if path is None:
        pytest.skip("imgio reads no DICOM WSI")
    with openslide.OpenSlide(path) as ref, islide.OpenSlide(path) as ours:
        theirs, mine = dict(ref.properties), dict(ours.properties)
    wanted = {k: v for k, v in theirs.items() if k.startswith("openslide.")}
    wanted.pop("openslide.quickhash-1", None)
    assert {k: mine.get(k) for k in wanted} == wanted
    assert "openslide.icc-size" in wanted and "openslide.mpp-x" in wanted
