"""JPEG 2000 tiles pass through a DICOM conversion: an SVS (Aperio 33005) or TIFF (34712)
whose tiles are JPEG 2000 codestreams becomes level-0 frames byte for byte, in the JPEG
2000 transfer syntax, with the Photometric Interpretation the codestream's own colour
transform means (YBR_ICT / YBR_RCT, or RGB without one). Pixels are checked with tifffile
(the source), OpenSlide 4 and wsidicom (the output); dciodvfy checks the IOD.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
import tifffile
from pydicom.encaps import generate_frames
from samples import SHARED

import imgio

J2K_SVS = SHARED / "wsi" / "histolab-tcga-cr-7395-01a-01-ts1.svs"  # Aperio 33005, J2K/KDU Q=70


def _frames(path: Path) -> tuple[pydicom.Dataset, list[bytes]]:
    ds = pydicom.dcmread(path)
    return ds, list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))


def _stored_tiles(path: Path) -> list[bytes]:
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        fh = tif.filehandle
        out = []
        for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True):
            fh.seek(offset)
            out.append(fh.read(count))
    return out


def _same_codestreams(frames: list[bytes], tiles: list[bytes]) -> None:
    """Each frame is its stored tile (a DICOM fragment may carry one padding byte)."""
    assert len(frames) == len(tiles)
    for i, (frame, tile) in enumerate(zip(frames, tiles, strict=True)):
        assert frame[: len(tile)] == tile and len(frame) - len(tile) <= 1, i


def _methods(ds: pydicom.Dataset) -> list[str]:
    value = ds.LossyImageCompressionMethod
    return [value] if isinstance(value, str) else list(value)


def _errors(path: Path) -> list[str]:
    out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in out.stderr.splitlines() if line.startswith("Error")]


@pytest.fixture(scope="module")
def j2k_tiff(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A 300 x 500 RGB TIFF of 128 x 128 JPEG 2000 tiles (34712), 0.5 µm pixels."""
    y, x = np.mgrid[:300, :500]
    rgb = np.stack([(x * 255) // 500, (y * 255) // 300, (x + y) // 4], -1).astype(np.uint8)
    path = tmp_path_factory.mktemp("j2k") / "j2k.tif"
    tifffile.imwrite(
        path,
        rgb,
        tile=(128, 128),
        compression="jpeg2000",
        photometric="rgb",
        resolution=(20000.0, 20000.0),
        resolutionunit="CENTIMETER",
    )
    return path, tifffile.imread(path)


def test_j2k_tiles_become_frames(j2k_tiff: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, pixels = j2k_tiff
    out = imgio.write(imgio.Image(path), tmp_path / "out", format="dicom")
    level0 = out / "level-0.dcm"
    ds, frames = _frames(level0)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.91"
    assert ds.PhotometricInterpretation in ("YBR_ICT", "YBR_RCT", "RGB")
    assert _methods(ds) == ["ISO_15444_1"]
    _same_codestreams(frames, _stored_tiles(path))
    assert np.array_equal(np.asarray(imgio.Image(out).data)[0, 0, 0], pixels)
    # the levels made here are JPEG (the default codec: faster than JPEG 2000 to code)
    lower, _ = _frames(out / "level-1.dcm")
    assert lower.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
    assert _methods(lower) == ["ISO_15444_1", "ISO_10918_1"]
    openslide = pytest.importorskip("openslide")
    with openslide.OpenSlide(level0) as osr:
        theirs = np.asarray(osr.read_region((0, 0), 0, (500, 300)))[..., :3]
    assert np.array_equal(theirs, pixels)
    wsidicom = pytest.importorskip("wsidicom")
    with wsidicom.WsiDicom.open(out) as wsi:
        theirs = np.asarray(wsi.read_region((0, 0), 0, (500, 300)).convert("RGB"))
    assert np.array_equal(theirs, pixels)
    if shutil.which("dciodvfy"):
        assert [_errors(f) for f in sorted(out.glob("*.dcm"))] == [[]] * len(list(out.glob("*")))


def test_asking_for_jpeg_re_encodes(j2k_tiff: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, pixels = j2k_tiff
    out = imgio.write(imgio.Image(path), tmp_path / "out", format="dicom", compression="jpeg")
    ds, _ = _frames(out / "level-0.dcm")
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
    # pixels were JPEG 2000 before JPEG: both lossy steps are declared
    assert _methods(ds) == ["ISO_15444_1", "ISO_10918_1"]
    got = np.asarray(imgio.Image(out).data)[0, 0, 0]
    assert np.abs(got.astype(int) - pixels.astype(int)).mean() < 3


@pytest.mark.skipif(not J2K_SVS.is_file(), reason=f"{J2K_SVS} absent")
def test_aperio_j2k_svs_passes_through(tmp_path: Path) -> None:
    """The shared Aperio SVS (33005: RGB tiles; the codestreams carry the ICT), level 0
    alone (copied without decoding); pixels of a region crossing tiles compared."""
    with pytest.warns(imgio.ImgioWarning, match="has no pixel size"):  # the SVS has no MPP
        out = imgio.write(imgio.Image(J2K_SVS), tmp_path / "out", format="dicom", pyramid_levels=1)
    ds, frames = _frames(out / "level-0.dcm")
    assert ds.PhotometricInterpretation == "YBR_ICT"
    _same_codestreams(frames, _stored_tiles(J2K_SVS))
    region = (slice(1000, 1500), slice(2000, 2600))
    ours = np.asarray(imgio.Image(out).get_image_data("YXS", Y=region[0], X=region[1]))
    zarr = pytest.importorskip("zarr")
    with tifffile.TiffFile(J2K_SVS) as tif:  # tifffile decodes only the tiles the region needs
        want = zarr.open(tif.pages[0].aszarr(), mode="r")[region]
    assert np.array_equal(ours, want)
    openslide = pytest.importorskip("openslide")
    with openslide.OpenSlide(J2K_SVS) as svs, openslide.OpenSlide(out / "level-0.dcm") as dcm:
        a = np.asarray(svs.read_region((2000, 1000), 0, (600, 500)))
        assert np.array_equal(np.asarray(dcm.read_region((2000, 1000), 0, (600, 500))), a)
    assert np.array_equal(ours, a[..., :3])
