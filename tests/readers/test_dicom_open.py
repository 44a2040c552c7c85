"""What opening a DICOM slide does: each instance's header is walked once, and the metadata
summary (device, specimen, acquisition) is made from the one instance ``metadata`` reads,
when it is asked for; sources pickle with the summary made and without the header."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pydicom
import pytest

import imgio


@pytest.fixture(scope="module")
def slide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    y, x = np.mgrid[:300, :400]
    rgb = np.stack([x % 256, y % 256, (x + y) // 3 % 256], -1).astype(np.uint8)
    out = tmp_path_factory.mktemp("dicom-open") / "slide"
    imgio.write(
        rgb, out, format="dicom", dims="YXS", tile=64, pyramid_levels=3,
        physical_pixel_sizes=(None, 0.5, 0.5),
    )  # fmt: skip
    return out


def test_the_summary_comes_from_level_0_when_asked(slide: Path) -> None:
    reader = imgio.Image(slide).reader
    levels = [reader.instance(0, k) for k in range(3)]
    assert all(inst.header is not None for inst in levels)  # nothing made at open
    want = pydicom.dcmread(slide / "level-0.dcm", stop_before_pixels=True)
    meta = reader.metadata
    assert meta["SeriesInstanceUID"] == want.SeriesInstanceUID
    assert meta["Manufacturer"] == want.Manufacturer
    assert meta["ImagedVolumeWidth"] == pytest.approx(want.ImagedVolumeWidth)
    assert levels[0].header is None  # made, and the header let go
    assert levels[1].header is not None and levels[2].header is not None


def test_a_pickled_source_carries_the_summary_not_the_header(slide: Path) -> None:
    img = imgio.Image(slide)
    src = img.reader.source(0, 1)
    again = pickle.loads(pickle.dumps(src))
    inst = next(iter(again._stores.values())).inst
    assert inst.header is None
    assert inst.summary["SeriesInstanceUID"] == img.reader.metadata["SeriesInstanceUID"]
    key = (slice(10, 100), slice(20, 150), slice(0, 3))
    assert np.array_equal(again[key], src[key])
