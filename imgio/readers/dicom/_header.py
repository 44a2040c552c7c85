"""One DICOM instance's header (imgio's walker's or pydicom's dataset) as plain, picklable values.

Only the dataset before the pixel data is read; what a
region read needs later (tile grid, frame positions, focal planes, optical paths,
transfer syntax, where the pixel data starts) is kept as numbers and strings, so
sources pickle without a pydicom object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import CorruptFileError
from ._positions import extended_offsets, full_positions, sparse_positions
from ._values import HeaderError
from ._values import first as _first
from ._values import number as _float
from ._values import whole as _int

__all__ = ["WSI_SOP_CLASS", "Instance", "OpticalPath", "instance_from_dataset"]

WSI_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"
#: ImageType value 3 -> imgio's name of an associated image
ASSOCIATED = {"THUMBNAIL": "thumbnail", "LABEL": "label", "OVERVIEW": "macro"}
_FLAVORS = ("VOLUME", *ASSOCIATED)
#: the Per-Frame Functional Groups Sequence (5200,9230)
_PER_FRAME = 0x52009230
#: the native (uncompressed) transfer syntaxes: implicit, explicit, deflated, big endian
_NATIVE_TS = (
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
)


@dataclass(frozen=True)
class OpticalPath:
    """One optical path (a channel): identifier, description, colour, wavelength."""

    identifier: str
    description: str | None = None
    color: int | None = None  # RGBA packed into an int
    wavelength: float | None = None  # illumination, nm
    objective_power: float | None = None
    icc_profile: bytes | None = None


@dataclass(frozen=True)
class Instance:
    """What a region read needs from one instance (no pydicom object, pickles cheaply)."""

    where: str  # the instance's file or URL (for messages and web addressing)
    sop_uid: str
    series_uid: str
    study_uid: str
    flavor: str  # VOLUME, THUMBNAIL, LABEL, OVERVIEW
    transfer_syntax: str
    tile_rows: int
    tile_cols: int
    total_rows: int
    total_cols: int
    samples: int
    photometric: str
    bits_allocated: int
    signed: bool
    planar: int
    n_frames: int
    #: per frame: 0-based row and column of the tile's top-left pixel in the total matrix
    rows: np.ndarray[Any, Any] = field(repr=False)
    cols: np.ndarray[Any, Any] = field(repr=False)
    #: per frame: focal plane (µm, NaN when unknown) and optical path identifier
    z: np.ndarray[Any, Any] = field(repr=False)
    paths: tuple[str, ...] = field(repr=False)
    path_of_frame: np.ndarray[Any, Any] = field(repr=False)  # index into ``paths``
    optical_paths: tuple[OpticalPath, ...] = ()
    spacing_mm: tuple[float, float] | None = None  # (row, column) pixel spacing
    padding: int | None = None  # Pixel Padding Value
    pixel_offset: int = -1  # file offset of the (7FE0,0010) element; -1 when unknown
    extended_offsets: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    series_description: str | None = None
    #: the parsed header, kept until :attr:`summary` is first asked for (then dropped)
    header: Any = field(default=None, repr=False, compare=False)

    @property
    def summary(self) -> dict[str, Any]:
        """Small plain values for ``metadata`` (device, specimen, acquisition, optics), made
        from the header when first asked for: a slide's metadata comes from one instance,
        so the others' are never made."""
        header = self.header  # read first: another thread may make the summary meanwhile
        found: dict[str, Any] | None = self.__dict__.get("_summary")
        if found is None:
            try:
                found = _summary(header, self.optical_paths) if header is not None else {}
            except Exception as exc:  # noqa: BLE001 - a garbled value of any kind
                raise CorruptFileError(
                    f"{self.where}: cannot read the device, specimen and acquisition values: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            object.__setattr__(self, "_summary", found)
            object.__setattr__(self, "header", None)
        return found

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with the summary made (empty when it cannot be) and without the header
        (sources pickle cheaply)."""
        try:
            self.summary  # noqa: B018 - made before the header is left out
        except CorruptFileError:
            return {**self.__dict__, "header": None, "_summary": {}}
        return dict(self.__dict__)

    @property
    def dtype(self) -> np.dtype[Any]:
        kind = "i" if self.signed else "u"
        size = 1 if self.bits_allocated <= 8 else 2 if self.bits_allocated <= 16 else 4
        return np.dtype(f"<{kind}{size}")

    @property
    def subsampled(self) -> bool:
        """Native YBR_FULL_422 frames: two pixels share one Cb and one Cr (4 values per 2)."""
        return self.photometric == "YBR_FULL_422" and self.transfer_syntax in _NATIVE_TS

    @property
    def frame_bytes(self) -> int:
        """Bytes of one native frame."""
        samples = 2 if self.subsampled and self.samples == 3 else self.samples
        return self.tile_rows * self.tile_cols * samples * self.bits_allocated // 8


def _flavor(ds: Any) -> str:
    image_type = [str(v).upper() for v in (getattr(ds, "ImageType", None) or [])]
    if isinstance(getattr(ds, "ImageType", None), str):
        image_type = [str(ds.ImageType).upper()]
    for value in image_type[2:3] + image_type:
        if value in _FLAVORS:
            return value
    return "VOLUME"


def _packed_color(path: Any) -> int | None:
    """The colour of a fluorescence path: its palette's brightest entry (CIELab is not used)."""
    lut = _first(getattr(path, "PaletteColorLookupTableSequence", None))
    if lut is None:
        return None
    rgb = []
    for name in ("Red", "Green", "Blue"):
        data = getattr(lut, f"{name}PaletteColorLookupTableData", None)
        desc = getattr(lut, f"{name}PaletteColorLookupTableDescriptor", None)
        if not data or not desc or len(desc) < 3:
            return None
        bits = 16 if int(desc[2]) > 8 else 8
        values = np.frombuffer(
            bytes(data)[: (len(data) // (bits // 8)) * (bits // 8)],
            dtype="<u2" if bits == 16 else "u1",
        )
        if values.size == 0:
            return None
        top = int(values[-1])
        rgb.append(top >> 8 if bits == 16 else top)
    return (rgb[0] << 24) | (rgb[1] << 16) | (rgb[2] << 8) | 0xFF


def _optical_paths(ds: Any) -> tuple[OpticalPath, ...]:
    out = []
    for i, item in enumerate(getattr(ds, "OpticalPathSequence", None) or ()):
        ident = str(getattr(item, "OpticalPathIdentifier", "") or i)
        icc = getattr(item, "ICCProfile", None)
        out.append(
            OpticalPath(
                identifier=ident,
                description=str(item.OpticalPathDescription)
                if getattr(item, "OpticalPathDescription", None)
                else None,
                color=_packed_color(item),
                wavelength=_float(getattr(item, "IlluminationWaveLength", None)),
                objective_power=_float(getattr(item, "ObjectiveLensPower", None)),
                icc_profile=bytes(icc) if icc else None,
            )
        )
    return tuple(out)


def _spacing(ds: Any) -> tuple[float, float] | None:
    shared = _first(getattr(ds, "SharedFunctionalGroupsSequence", None))
    measures = _first(getattr(shared, "PixelMeasuresSequence", None)) if shared else None
    spacing = getattr(measures, "PixelSpacing", None) if measures else None
    if spacing is None:
        spacing = getattr(ds, "PixelSpacing", None)
    if spacing is None or len(spacing) != 2:
        return None
    row, col = _float(spacing[0]), _float(spacing[1])
    if not row or not col or row <= 0 or col <= 0:
        return None
    return row, col


def _summary(ds: Any, paths: tuple[OpticalPath, ...]) -> dict[str, Any]:
    """Small plain values for ``metadata``: device, specimen, acquisition, optics."""
    out: dict[str, Any] = {}
    for name in (
        "Manufacturer",
        "ManufacturerModelName",
        "DeviceSerialNumber",
        "SoftwareVersions",
        "AcquisitionDateTime",
        "StudyDate",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SeriesDescription",
        "ContainerIdentifier",
        "PatientID",
        "PatientName",
        "PatientBirthDate",
        "PatientSex",
        "ReferringPhysicianName",
        "StudyID",
        "StudyTime",
        "AccessionNumber",
        "ImagedVolumeWidth",
        "ImagedVolumeHeight",
        "ImagedVolumeDepth",
    ):
        value = getattr(ds, name, None)
        if value not in (None, ""):
            out[name] = value if isinstance(value, (int, float)) else str(value)
    specimens = []
    for item in getattr(ds, "SpecimenDescriptionSequence", None) or ():
        spec: dict[str, Any] = {}
        for name in ("SpecimenIdentifier", "SpecimenUID", "SpecimenShortDescription"):
            if getattr(item, name, None):
                spec[name] = str(getattr(item, name))
        anatomy = _first(getattr(item, "PrimaryAnatomicStructureSequence", None))
        if anatomy is not None and getattr(anatomy, "CodeMeaning", None):
            spec["PrimaryAnatomicStructure"] = str(anatomy.CodeMeaning)
        specimens.append(spec)
    if specimens:
        out["Specimens"] = specimens
    shared = _first(getattr(ds, "SharedFunctionalGroupsSequence", None))
    measures = _first(getattr(shared, "PixelMeasuresSequence", None)) if shared else None
    thickness = _float(getattr(measures, "SliceThickness", None)) if measures else None
    if thickness:
        out["SliceThickness"] = thickness  # mm
    powers = [p.objective_power for p in paths if p.objective_power]
    if powers:
        out["objective_power"] = powers[0]
    icc = next((p.icc_profile for p in paths if p.icc_profile), None)
    if icc is not None:
        out["icc_profile"] = icc
    return out


def _geometry(ds: Any, max_frames: int | None) -> tuple[int, int, int, int, int, int, int]:
    """Tile rows/columns, matrix rows/columns, samples, bits and frames, checked."""
    tr, tc = _int(ds, "Rows"), _int(ds, "Columns")
    total_r = _int(ds, "TotalPixelMatrixRows", tr)
    total_c = _int(ds, "TotalPixelMatrixColumns", tc)
    samples = _int(ds, "SamplesPerPixel", 1)
    bits = _int(ds, "BitsAllocated", 8)
    n_frames = _int(ds, "NumberOfFrames", 1)
    if min(tr, tc, total_r, total_c, samples, n_frames) < 1 or bits not in (8, 16, 32):
        raise HeaderError(
            f"tiles {tr} x {tc}, matrix {total_r} x {total_c}, {samples} samples, "
            f"{bits} bits, {n_frames} frames: expected positive sizes and 8, 16 or 32 bits"
        )
    if samples not in (1, 3, 4):
        raise HeaderError(f"{samples} samples per pixel; expected 1, 3 or 4")
    if max_frames is not None and n_frames > max_frames:
        raise HeaderError(
            f"{n_frames} frames declared; the data can hold at most {max_frames} "
            "(each frame needs at least an item header)"
        )
    return tr, tc, total_r, total_c, samples, bits, n_frames


def instance_from_dataset(
    ds: Any, where: str, pixel_offset: int, max_frames: int | None = None
) -> Instance:
    """Parse a pydicom dataset (read up to, not including, the pixel data).

    Raises
    ------
    HeaderError
        A tag a whole-slide instance needs is missing or inconsistent.
    """
    meta = getattr(ds, "file_meta", None)
    ts = str(getattr(meta, "TransferSyntaxUID", "") or getattr(ds, "_ts", "") or "")
    sop_class = str(getattr(ds, "SOPClassUID", "") or "")
    if sop_class != WSI_SOP_CLASS:
        raise HeaderError(f"SOP class {sop_class or 'missing'}, not VL Whole Slide Microscopy")
    tr, tc, total_r, total_c, samples, bits, n_frames = _geometry(ds, max_frames)
    optical = _optical_paths(ds)
    paths = tuple(p.identifier for p in optical) or ("0",)
    organisation = str(getattr(ds, "DimensionOrganizationType", "") or "").upper()
    if organisation == "TILED_SPARSE" or (
        organisation != "TILED_FULL" and getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    ):
        rows, cols, z, path = sparse_positions(ds, n_frames, paths)
    else:
        rows, cols, z, path = full_positions(ds, n_frames, (tr, tc, total_r, total_c), paths)
    padding = getattr(ds, "PixelPaddingValue", None)
    ds.pop(_PER_FRAME, None)  # kept for the summary: not a Python object per frame with it
    return Instance(
        where=where,
        sop_uid=str(getattr(ds, "SOPInstanceUID", "") or where),
        series_uid=str(getattr(ds, "SeriesInstanceUID", "") or ""),
        study_uid=str(getattr(ds, "StudyInstanceUID", "") or ""),
        flavor=_flavor(ds),
        transfer_syntax=ts,
        tile_rows=tr,
        tile_cols=tc,
        total_rows=total_r,
        total_cols=total_c,
        samples=samples,
        photometric=str(getattr(ds, "PhotometricInterpretation", "") or "").upper(),
        bits_allocated=bits,
        signed=_int(ds, "PixelRepresentation", 0) == 1,
        planar=_int(ds, "PlanarConfiguration", 0),
        n_frames=n_frames,
        rows=rows,
        cols=cols,
        z=z,
        paths=paths,
        path_of_frame=path,
        optical_paths=optical,
        spacing_mm=_spacing(ds),
        padding=int(padding) if isinstance(padding, int) else None,
        pixel_offset=pixel_offset,
        extended_offsets=extended_offsets(ds),
        series_description=str(ds.SeriesDescription)
        if getattr(ds, "SeriesDescription", None)
        else None,
        header=ds,
    )
