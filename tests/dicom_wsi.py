"""Test-side writer of DICOM WSI series (pydicom + imagecodecs), for what samples lack.

``write_level`` writes one pyramid level (or an associated image) as one or more
instances: any tile size, TILED_FULL or TILED_SPARSE with missing tiles, split into
a concatenation, with focal planes and optical paths, in any transfer syntax imgio
reads, with or without a Basic / Extended Offset Table. ``frames_of`` reads the
frames back with pydicom's own encapsulation parser, as an independent check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
from pydicom import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.filereader import dcmread
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

WSI = "1.2.840.10008.5.1.4.1.1.77.1.6"
TS = {
    "explicit": "1.2.840.10008.1.2.1",
    "explicit-ybr422": "1.2.840.10008.1.2.1",  # native YBR_FULL_422 (2:1 chroma)
    "implicit": "1.2.840.10008.1.2",
    "deflated": "1.2.840.10008.1.2.1.99",
    "jpeg": "1.2.840.10008.1.2.4.50",
    "jpeg12": "1.2.840.10008.1.2.4.51",
    "jpeg-lossless": "1.2.840.10008.1.2.4.70",
    "jpegls": "1.2.840.10008.1.2.4.80",
    "jpegls-near": "1.2.840.10008.1.2.4.81",
    "j2k-lossless": "1.2.840.10008.1.2.4.90",
    "j2k": "1.2.840.10008.1.2.4.91",
    "htj2k-lossless": "1.2.840.10008.1.2.4.201",
    "htj2k": "1.2.840.10008.1.2.4.203",
    "jpegxl-lossless": "1.2.840.10008.1.2.4.110",
    "jpegxl": "1.2.840.10008.1.2.4.112",
    "rle": "1.2.840.10008.1.2.5",
}
LOSSY = {"jpeg", "jpeg12", "jpegls-near", "j2k", "htj2k", "jpegxl"}
NATIVE = {"explicit", "explicit-ybr422", "implicit", "deflated"}


@dataclass
class Slide:
    """UIDs shared by a series' instances."""

    study: str = field(default_factory=generate_uid)
    series: str = field(default_factory=generate_uid)
    frame_of_reference: str = field(default_factory=generate_uid)
    description: str | None = None


def encode(tile: np.ndarray, syntax: str) -> bytes:
    """One frame in a transfer syntax (native ones as raw little-endian bytes)."""
    rgb = tile.ndim == 3
    if syntax == "explicit-ybr422":  # Y0 Y1 Cb Cr per pixel pair (chroma of the pair averaged)
        from pydicom.pixels import convert_color_space

        ycc = convert_color_space(tile, "RGB", "YBR_FULL").astype(np.uint16)
        pairs = ycc.reshape(tile.shape[0], tile.shape[1] // 2, 2, 3)
        out = np.empty((tile.shape[0], tile.shape[1] // 2, 4), np.uint8)
        out[..., :2] = pairs[..., 0]
        out[..., 2:] = (pairs[..., 0, 1:] + pairs[..., 1, 1:] + 1) // 2
        return out.tobytes()
    if syntax in NATIVE:
        return np.ascontiguousarray(tile).astype(tile.dtype.newbyteorder("<")).tobytes()
    if syntax == "jpeg":
        return bytes(imagecodecs.jpeg8_encode(tile, level=90))
    if syntax == "jpeg12":
        return bytes(imagecodecs.jpeg8_encode(tile, level=90, bitspersample=12))
    if syntax == "jpeg-lossless":
        return bytes(imagecodecs.ljpeg_encode(tile))
    if syntax == "jpegls":
        return bytes(imagecodecs.jpegls_encode(tile))
    if syntax == "jpegls-near":
        return bytes(imagecodecs.jpegls_encode(tile, level=2))
    if syntax in ("j2k-lossless", "j2k"):
        lossless = syntax == "j2k-lossless"
        return bytes(
            imagecodecs.jpeg2k_encode(
                tile,
                level=0 if lossless else 30,
                codecformat=imagecodecs.JPEG2K.CODEC.J2K,
                reversible=lossless,
                mct=rgb,
            )
        )
    if syntax in ("htj2k-lossless", "htj2k"):
        lossless = syntax == "htj2k-lossless"
        return bytes(
            imagecodecs.htj2k_encode(tile, level=0 if lossless else 40, reversible=lossless)
        )
    if syntax in ("jpegxl-lossless", "jpegxl"):
        if syntax == "jpegxl-lossless":
            return bytes(imagecodecs.jpegxl_encode(tile, lossless=True))
        return bytes(imagecodecs.jpegxl_encode(tile, distance=1.0))
    if syntax == "rle":
        from pydicom.pixels.encoders import RLELosslessEncoder

        rgb = tile.ndim == 3
        return bytes(
            RLELosslessEncoder.encode(
                np.ascontiguousarray(tile),
                encoding_plugin="pydicom",
                rows=tile.shape[0],
                columns=tile.shape[1],
                samples_per_pixel=3 if rgb else 1,
                bits_allocated=tile.dtype.itemsize * 8,
                bits_stored=tile.dtype.itemsize * 8,
                pixel_representation=0,
                photometric_interpretation="RGB" if rgb else "MONOCHROME2",
                number_of_frames=1,
                planar_configuration=0,
            )
        )
    raise ValueError(syntax)


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _optical_path(
    ident: str,
    description: str | None,
    color: Sequence[int] | None,
    power: float | None,
    icc: bytes | None,
) -> Dataset:
    path = Dataset()
    path.OpticalPathIdentifier = ident
    if description:
        path.OpticalPathDescription = description
    path.IlluminationTypeCodeSequence = [_code("111744", "DCM", "Brightfield illumination")]
    if color is None:
        path.IlluminationColorCodeSequence = [_code("414298005", "SCT", "Full Spectrum")]
    else:
        lut = Dataset()
        for name, v in zip(("Red", "Green", "Blue"), color, strict=True):
            setattr(lut, f"{name}PaletteColorLookupTableDescriptor", [256, 0, 8])
            setattr(
                lut,
                f"{name}PaletteColorLookupTableData",
                np.linspace(0, v, 256).astype(np.uint8).tobytes(),
            )
        path.PaletteColorLookupTableSequence = [lut]
    if power:
        path.ObjectiveLensPower = power
    if icc:
        path.ICCProfile = icc
    return path


def _base(
    slide: Slide,
    syntax: str,
    flavor: str,
    image: np.ndarray,
    tile: tuple[int, int],
    spacing_mm: float,
    n_planes: int,
    n_paths: int,
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = WSI
    # pydicom 3.0 knows no JPEG XL UID: saved as HTJ2K's (same length), patched after
    ds.file_meta.TransferSyntaxUID = TS["htj2k-lossless"] if "jpegxl" in syntax else TS[syntax]
    ds.SOPClassUID = WSI
    ds.StudyInstanceUID, ds.SeriesInstanceUID = slide.study, slide.series
    ds.FrameOfReferenceUID = slide.frame_of_reference
    if slide.description:
        ds.SeriesDescription = slide.description
    ds.Modality = "SM"
    ds.PatientID, ds.PatientName = "imgio-test", "Test^Slide"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.SeriesNumber = "20260101", "120000", "1", 1
    ds.ImagedVolumeWidth = image.shape[3] * spacing_mm
    ds.ImagedVolumeHeight = image.shape[2] * spacing_mm
    ds.ImagedVolumeDepth = 0.001
    ds.Manufacturer = "imgio tests"
    ds.AcquisitionDateTime = "20260102030405"
    ds.ImageType = ["ORIGINAL", "PRIMARY", flavor, "NONE"]
    ds.Rows, ds.Columns = tile
    ds.TotalPixelMatrixRows, ds.TotalPixelMatrixColumns = image.shape[2:4]
    rgb = image.ndim == 5
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = (
        ("YBR_FULL_422" if syntax in ("jpeg", "jpeg12", "explicit-ybr422") else "RGB")
        if rgb
        else "MONOCHROME2"
    )
    if rgb:
        ds.PlanarConfiguration = 0
    bits = image.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = 12 if syntax == "jpeg12" else bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.TotalPixelMatrixFocalPlanes = n_planes
    ds.NumberOfOpticalPaths = n_paths
    measures = Dataset()
    measures.PixelSpacing = [spacing_mm, spacing_mm]
    measures.SliceThickness = 0.001
    measures.SpacingBetweenSlices = 0.0005
    shared = Dataset()
    shared.PixelMeasuresSequence = [measures]
    ds.SharedFunctionalGroupsSequence = [shared]
    return ds


def write_level(
    folder: Path,
    image: np.ndarray,
    tile: tuple[int, int],
    *,
    slide: Slide,
    syntax: str = "explicit",
    flavor: str = "VOLUME",
    spacing_mm: float = 0.00025,
    sparse: bool = False,
    missing: Sequence[tuple[int, int, int, int]] = (),
    parts: int = 1,
    offsets: str = "basic",  # "basic", "none", "extended"
    z_um: Sequence[float] | None = None,
    paths: Sequence[tuple[str, str | None, Sequence[int] | None]] = (("1", None, None),),
    objective_power: float | None = 20.0,
    icc: bytes | None = None,
    name: str = "level",
    at: Sequence[tuple[int, int]] | None = None,
) -> list[Path]:
    """Write ``image`` (C, Z, Y, X[, S]) as instances; ``missing`` (c, z, ty, tx) tiles are left
    out (TILED_SPARSE only); ``at`` (row, column) pixel spots, on the tile grid or not, make the
    frames crops of plane (0, 0) there instead (TILED_SPARSE). Returns the files written."""
    nc, nz, rows, cols = image.shape[:4]
    tr, tc = tile
    gy, gx = math.ceil(rows / tr), math.ceil(cols / tc)
    z_um = list(z_um) if z_um is not None else [0.0] * nz
    frames, positions = [], []
    spots = [
        (c, z, ty * tr, tx * tc)
        for c in range(nc)
        for z in range(nz)
        for ty in range(gy)
        for tx in range(gx)
        if (c, z, ty, tx) not in missing
    ]
    if at is not None:  # frames anywhere (TILED_SPARSE): crops of plane (0, 0) at pixel spots
        spots = [(0, 0, y, x) for y, x in at]
    for c, z, y, x in spots:
        block = np.zeros((tr, tc) + image.shape[4:], image.dtype)
        part = image[c, z, y : y + tr, x : x + tc]
        block[: part.shape[0], : part.shape[1]] = part
        frames.append(encode(block, syntax))
        positions.append((c, z, y, x))
    per = math.ceil(len(frames) / parts)
    concat_uid, source_uid = generate_uid(), generate_uid()
    written = []
    for p in range(parts):
        chunk = frames[p * per : (p + 1) * per]
        ds = _base(slide, syntax, flavor, image, tile, spacing_mm, nz, nc)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = p + 1
        ds.DimensionOrganizationType = "TILED_SPARSE" if sparse else "TILED_FULL"
        ds.OpticalPathSequence = [
            _optical_path(i, d, col, objective_power, icc) for i, d, col in paths
        ]
        if parts > 1:
            ds.ConcatenationUID = concat_uid
            ds.SOPInstanceUIDOfConcatenationSource = source_uid
            ds.InConcatenationNumber = p + 1
            ds.InConcatenationTotalNumber = parts
            ds.ConcatenationFrameOffsetNumber = p * per
        if sparse:
            groups = []
            for c, z, y, x in positions[p * per : (p + 1) * per]:
                item, pos, op = Dataset(), Dataset(), Dataset()
                pos.RowPositionInTotalImagePixelMatrix = y + 1
                pos.ColumnPositionInTotalImagePixelMatrix = x + 1
                pos.XOffsetInSlideCoordinateSystem = 0.0
                pos.YOffsetInSlideCoordinateSystem = 0.0
                pos.ZOffsetInSlideCoordinateSystem = z_um[z]
                item.PlanePositionSlideSequence = [pos]
                op.OpticalPathIdentifier = paths[c][0]
                item.OpticalPathIdentificationSequence = [op]
                groups.append(item)
            ds.PerFrameFunctionalGroupsSequence = DicomSequence(groups)
        else:
            pos = Dataset()
            pos.ZOffsetInSlideCoordinateSystem = z_um[0]
            ds.SharedFunctionalGroupsSequence[0].PlanePositionSlideSequence = [pos]
        ds.NumberOfFrames = len(chunk)
        if syntax in NATIVE:
            ds.PixelData = b"".join(chunk)
        elif offsets == "extended":
            data, eot, lengths = encapsulate_extended(chunk)
            ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = data, eot, lengths
        else:
            ds.PixelData = encapsulate(chunk, has_bot=offsets == "basic")
        if syntax not in NATIVE:
            ds["PixelData"].VR = "OB"
            ds["PixelData"].is_undefined_length = True
        ds.LossyImageCompression = "01" if syntax in LOSSY else "00"
        path = folder / f"{name}-{p}.dcm"
        ds.save_as(path, enforce_file_format=True, implicit_vr=syntax == "implicit")
        if "jpegxl" in syntax:
            raw = path.read_bytes()
            at = raw.index(TS["htj2k-lossless"].encode(), 132)
            path.write_bytes(raw[:at] + TS[syntax].encode() + raw[at + len(TS[syntax]) :])
        written.append(path)
    return written


def frames_of(path: Path) -> tuple[Dataset, list[bytes]]:
    """A file's dataset and its frames' stored bytes, by pydicom's own parser."""
    ds = dcmread(path)
    n = int(ds.get("NumberOfFrames", 1))
    if ds.file_meta.TransferSyntaxUID in (TS["explicit"], TS["implicit"], TS["deflated"]):
        samples = 2 if ds.PhotometricInterpretation == "YBR_FULL_422" else ds.SamplesPerPixel
        size = ds.Rows * ds.Columns * samples * ds.BitsAllocated // 8
        return ds, [ds.PixelData[i * size : (i + 1) * size] for i in range(n)]
    return ds, list(generate_frames(ds.PixelData, number_of_frames=n))


def pyramid(
    seed: int,
    shape: tuple[int, int],
    rgb: bool = True,
    dtype: Any = np.uint8,
    nc: int = 1,
    nz: int = 1,
) -> np.ndarray:
    """Smooth random content (compresses like tissue), shape (C, Z, Y, X[, S])."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    base = (np.sin(y / 7.0) + np.cos(x / 11.0)) * 60 + 128
    top = np.iinfo(dtype).max
    out = []
    for c in range(nc):
        planes = []
        for z in range(nz):
            chans = [
                base + 40 * np.sin((x + 13 * k + 5 * c + 3 * z) / 9.0)
                for k in range(3 if rgb else 1)
            ]
            arr = np.stack(chans, -1) if rgb else chans[0]
            arr = arr * (top / 255.0) + rng.normal(0, 2, arr.shape) * (top / 255.0)
            planes.append(np.clip(arr, 0, top).astype(dtype))
        out.append(np.stack(planes))
    return np.stack(out)


def shrink(image: np.ndarray, factor: float) -> np.ndarray:
    """A lower level at any ratio (nearest neighbour)."""
    rows, cols = image.shape[2:4]
    ys = (np.arange(max(1, int(rows / factor))) * factor).astype(int)
    xs = (np.arange(max(1, int(cols / factor))) * factor).astype(int)
    return np.ascontiguousarray(image[:, :, ys][:, :, :, xs])
