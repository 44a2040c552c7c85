"""What opening a DICOM slide does: each instance's header is walked once, and the metadata
summary (device, specimen, acquisition) is made from the one instance ``metadata`` reads,
when it is asked for; sources pickle with the summary made and without the header; a
garbled summary value is a CorruptFileError of ``metadata``, not of the open."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pydicom
import pytest

import imgio
from imgio.errors import CorruptFileError


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


def test_a_garbled_summary_value_is_a_corrupt_file_error_when_asked(tmp_path: Path) -> None:
    """The Specimen Description Sequence replaced by a US value: the slide opens and reads
    (only the summary needs it), ``metadata`` raises CorruptFileError, sources pickle."""
    out = tmp_path / "slide"
    pixels = np.full((64, 64, 3), 7, np.uint8)
    imgio.write(pixels, out, format="dicom", dims="YXS", physical_pixel_sizes=(None, 1.0, 1.0))
    path = out / "level-0.dcm"
    data = bytearray(path.read_bytes())
    at = data.index(struct.pack("<HH", 0x0040, 0x0560) + b"SQ")
    (n,) = struct.unpack_from("<I", data, at + 8)
    new = struct.pack("<HH2sHH", 0x0040, 0x0560, b"US", 2, 5)  # then a private OB filler
    new += struct.pack("<HH2sHI", 0x0041, 0x0010, b"OB", 0, 12 + n - len(new) - 12)
    data[at : at + 12 + n] = new.ljust(12 + n, b"\0")
    path.write_bytes(bytes(data))
    img = imgio.Image(out)
    assert np.all(img.reader.source(0, 0)[(slice(0, 8), slice(0, 8), slice(0, 3))] == 7)
    with pytest.raises(CorruptFileError, match="level-0.dcm.*TypeError"):
        img.reader.metadata  # noqa: B018
    again = pickle.loads(pickle.dumps(img.reader.source(0, 0)))
    assert again[(slice(0, 2), slice(0, 2), slice(0, 3))].shape == (2, 2, 3)
