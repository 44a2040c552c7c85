"""Side by side with OpenSlide 4 on DICOM slides: every property OpenSlide reports (its
``dicom.*`` elements of the level-0 instance and ``openslide.quickhash-1`` included),
imgio.slide reports with the same text.

Slides: highdicom's sample (tests/data), series written by ``tests/dicom_wsi.py`` (a JPEG
pyramid with a label, a sparse uncompressed level with an ICC profile) and by imgio's own
DICOM writer. Skips when openslide-python (with OpenSlide 4) is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dicom_wsi import Slide, pyramid, shrink, write_level
from samples import DATA

import imgio
import imgio.slide as islide

openslide = pytest.importorskip("openslide")


def _slides(folder: Path) -> dict[str, Path]:
    out = {"highdicom": DATA / "dicom" / "sm_image" / "highdicom-sm_image.dcm"}
    slide, image = Slide(), pyramid(3, (300, 400))
    jpeg = folder / "jpeg"
    jpeg.mkdir()
    out["jpeg-pyramid"] = write_level(jpeg, image, (128, 128), slide=slide, syntax="jpeg")[0]
    write_level(jpeg, shrink(image, 2), (128, 128), slide=slide, syntax="jpeg", name="L1")
    write_level(jpeg, pyramid(4, (40, 60)), (40, 60), slide=slide, flavor="LABEL", name="lab")
    sparse = folder / "sparse"
    sparse.mkdir()
    out["sparse-icc"] = write_level(
        sparse, image, (128, 128), slide=Slide(), sparse=True, missing=[(0, 0, 0, 1)], icc=b"i" * 99
    )[0]
    imgio.write(imgio.Image(jpeg), folder / "ours", format="dicom")
    out["imgio-writer"] = sorted((folder / "ours").rglob("*.dcm"))[0]
    return out


def test_every_openslide_property_of_dicom_slides(tmp_path: Path) -> None:
    counts = {}
    for name, path in _slides(tmp_path).items():
        with openslide.OpenSlide(path) as ref:
            theirs = dict(ref.properties)
        mine = dict(islide.OpenSlide(path).properties)
        assert {k: (v, mine.get(k)) for k, v in theirs.items() if mine.get(k) != v} == {}, name
        assert sorted(set(mine) - set(theirs)) == [], name  # nor more
        counts[name] = sum(k.startswith("dicom.") for k in theirs)
    # nested sequences, multi-valued text, floats and tags: highdicom's sample has 259 keys
    assert counts["highdicom"] > 250 and min(counts.values()) > 50
