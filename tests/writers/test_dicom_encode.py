"""The DICOM writer's own header encoder (no pydicom): what it writes, pydicom reads back
value for value (numbers, text, UIDs, bytes, nested sequences, the file meta group and its
length); what it cannot write is refused; writing and reading an instance do not import
pydicom."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from imgio.errors import ImgioError
from imgio.writers._dicom_encode import Dataset, generate_uid, write_file_header


def _sample() -> Dataset:
    meta = Dataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.6"
    meta.MediaStorageSOPInstanceUID = "1.2.3"  # odd length: padded with a NUL
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    meta.ImplementationClassUID = "1.2.3.4"
    meta.ImplementationVersionName = "IMGIO_X"
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.Rows, ds.Columns = 240, 256  # set out of tag order: written in tag order
    ds.ImageType = ["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"]
    ds.PatientName = "Müller^Anna"  # UTF-8, odd byte length: padded with a space
    ds.NumberOfFrames = 7
    ds.PixelSpacing = [0.00025, 1 / 3]
    ds.ImagedVolumeWidth = 1.5
    ds.TotalPixelMatrixRows = 100000
    ds.BarcodeValue = "a\\b"  # LT: one value, the backslash is text
    ds.ICCProfile = b"\x01\x02\x03"
    ds.RedPaletteColorLookupTableDescriptor = [0, 0, 16]
    ds.ExtendedOffsetTable = (2**40).to_bytes(8, "little")
    ds.IssuerOfTheContainerIdentifierSequence = []
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "1", "DCM", "x"
    path = Dataset()
    path.OpticalPathIdentifier = "1"
    path.IlluminationColorCodeSequence = [code]
    ds.OpticalPathSequence = [path, path]
    return ds


def test_pydicom_reads_back_every_value() -> None:
    buf = io.BytesIO()
    write_file_header(buf, _sample())
    data = buf.getvalue()
    assert data[128:132] == b"DICM" and len(data) % 2 == 0
    got = pydicom.dcmread(io.BytesIO(data))
    meta = got.file_meta
    assert meta.FileMetaInformationVersion == b"\x00\x01"
    assert meta.MediaStorageSOPInstanceUID == "1.2.3"
    assert meta.ImplementationVersionName == "IMGIO_X"
    end = 132 + 12 + meta.FileMetaInformationGroupLength  # the group length is right
    assert data[end : end + 4] == b"\x08\x00\x05\x00"  # (0008,0005) follows the group
    assert (got.Rows, got.Columns, got.NumberOfFrames) == (240, 256, 7)
    assert list(got.ImageType) == ["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"]
    assert str(got.PatientName) == "Müller^Anna"
    assert [float(v) for v in got.PixelSpacing] == pytest.approx([0.00025, 1 / 3])
    assert all(len(str(v)) <= 16 for v in got.PixelSpacing)
    assert got.ImagedVolumeWidth == 1.5 and got.TotalPixelMatrixRows == 100000
    assert got.BarcodeValue == "a\\b"
    assert got.ICCProfile[:3] == b"\x01\x02\x03"
    assert list(got.RedPaletteColorLookupTableDescriptor) == [0, 0, 16]
    assert int.from_bytes(got.ExtendedOffsetTable, "little") == 2**40
    assert len(got.IssuerOfTheContainerIdentifierSequence) == 0
    paths = got.OpticalPathSequence
    assert len(paths) == 2
    assert paths[1].IlluminationColorCodeSequence[0].CodeMeaning == "x"
    tags = [int(e.tag) for e in got]
    assert tags == sorted(tags)


def test_unknown_keywords_and_oversized_values_are_refused() -> None:
    ds = Dataset()
    with pytest.raises(ImgioError, match="NoSuchKeyword"):
        ds.NoSuchKeyword = 1
    ds.PatientID = "x" * 70000  # LO has a 2-byte length
    with pytest.raises(ImgioError, match="PatientID"):
        ds.encode()
    with pytest.raises(ImgioError, match="file meta"):
        write_file_header(io.BytesIO(), Dataset())


def test_new_uids_are_valid_and_unique() -> None:
    uids = {generate_uid() for _ in range(100)}
    assert len(uids) == 100
    assert all(re.fullmatch(r"2\.25\.(0|[1-9][0-9]*)", u) and len(u) <= 64 for u in uids)


#: a child process writes an instance (the writer's header and frame file, as ``write``
#: does) and reads it back with the reader; neither may import pydicom (the layers above,
#: dask and xarray, are left out: importing them would make this test slow, not stronger)
_CHILD = """
import sys
from pathlib import Path
import numpy as np
from imgio._location import Location
from imgio.readers.dicom import DicomReader
from imgio.writers._dicom_dataset import Instance, SeriesIds, instance_header
from imgio.writers._dicom_file import Frames
out = Path(sys.argv[1])
out.mkdir()
pixels = (np.arange(16 * 16 * 3) % 251).astype(np.uint8).reshape(16, 16, 3)
inst = Instance("VOLUME", 1, (16, 16), (16, 16), 3, 8, "RGB", "1.2.840.10008.1.2.1",
                spacing_mm=(0.0005, 0.0005))
frames = Frames(out / ".spill", 1)
frames.put(0, pixels.tobytes())
frames.assemble(out / "level-0.dcm", instance_header(SeriesIds.generate(), inst),
                encapsulated=False)
reader = DicomReader(Location(str(out)))
assert (reader.source(0, 0)[(slice(0, 16), slice(0, 16), slice(0, 3))] == pixels).all()
assert reader.metadata["Manufacturer"] == "imgio"
assert "pydicom" not in sys.modules, "pydicom was imported"
"""


def test_writing_and_reading_an_instance_does_not_import_pydicom(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-800:]
    ds = pydicom.dcmread(out / "level-0.dcm")
    want = (np.arange(16 * 16 * 3) % 251).astype(np.uint8).reshape(16, 16, 3)
    assert np.array_equal(ds.pixel_array, want)
    assert [float(v) for v in ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
            .PixelSpacing] == [0.0005, 0.0005]  # fmt: skip
