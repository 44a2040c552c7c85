"""The DICOM writer's header carries the source's own values, invents none: patient,
study, scanner and section depth of a DICOM source come over (read back with pydicom);
an OME-TIFF's Z pixel size becomes the focal plane's depth; a bare array leaves the type-2
patient and study attributes empty. dciodvfy finds no error in any of them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from samples import DATA

import imgio

CARRIED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "AcquisitionDateTime",
    "Manufacturer",
    "ManufacturerModelName",
    "DeviceSerialNumber",
    "ContainerIdentifier",
    "ImagedVolumeDepth",
)


def _rgb() -> np.ndarray:
    y, x = np.mgrid[:200, :260]
    return np.stack([x % 256, y % 256, (x + y) // 2], -1).astype(np.uint8)


def _check_iod(folder: Path) -> None:
    if shutil.which("dciodvfy") is None:
        return
    for path in sorted(folder.glob("*.dcm")):
        out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
        assert [x for x in out.stderr.splitlines() if x.startswith("Error")] == [], path.name


def _thickness(ds: pydicom.Dataset) -> float:
    return float(ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SliceThickness)


def test_a_dicom_source_s_patient_study_and_scanner_come_over(tmp_path: Path) -> None:
    source = DATA / "dicom" / "sm_image" / "highdicom-sm_image.dcm"
    want = pydicom.dcmread(source, stop_before_pixels=True)
    out = imgio.write(imgio.Image(source), tmp_path / "out", format="dicom")
    got = pydicom.dcmread(out / "level-0.dcm", stop_before_pixels=True)
    assert {k: got.get(k) for k in CARRIED} == {k: want.get(k) for k in CARRIED}
    assert got.SeriesInstanceUID != want.SeriesInstanceUID  # a new series of the same study
    assert _thickness(got) == _thickness(want)
    assert want.SoftwareVersions in list(got.SoftwareVersions)
    _check_iod(out)


def test_an_ome_tiff_z_size_is_the_focal_depth(tmp_path: Path) -> None:
    src = imgio.write(
        _rgb(), tmp_path / "src.ome.tif", dims="YXS", physical_pixel_sizes=(2.5, 0.5, 0.5)
    )
    out = imgio.write(imgio.Image(src), tmp_path / "out", format="dicom")
    ds = pydicom.dcmread(out / "level-0.dcm", stop_before_pixels=True)
    assert _thickness(ds) == pytest.approx(0.0025)  # mm
    assert float(ds.ImagedVolumeDepth) == pytest.approx(2.5)  # µm
    assert ds.ContainerIdentifier == "src.ome"  # the source file, not a made-up name
    _check_iod(out)


def test_a_bare_array_leaves_patient_and_study_empty(tmp_path: Path) -> None:
    out = imgio.write(
        _rgb(), tmp_path / "out", format="dicom", physical_pixel_sizes=(None, 0.5, 0.5)
    )
    ds = pydicom.dcmread(out / "level-0.dcm", stop_before_pixels=True)
    for key in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate"):
        assert ds.get(key) in ("", None), key
    assert ds.Manufacturer == "imgio"  # the equipment that made the instance
    assert "Unknown" not in str(ds)
    _check_iod(out)
