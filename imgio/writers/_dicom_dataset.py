"""The header of each instance of a DICOM WSI series (VL Whole Slide Microscopy Image IOD).

One :class:`SeriesIds` per series: study, series, frame of reference and dimension
organization UIDs shared by its instances. :func:`instance_header` gives the dataset
(:mod:`~imgio.writers._dicom_encode`) of one instance (every module the IOD requires, the
pixel data left out: that is appended by :mod:`~imgio.writers._dicom_file`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from ._dicom_encode import IMPLEMENTATION_UID, Dataset, generate_uid

__all__ = ["Instance", "SeriesIds", "instance_header"]

WSM_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"


def _version() -> str:
    """imgio's version (the wings do not import the package root: its one source)."""
    return __version__


#: an sRGB profile is required for colour images (Optical Path Module, ICC Profile 1C)
_SRGB: list[bytes] = []
#: Slice Thickness and Imaged Volume Depth (type 1C) need a value above zero: with no
#: depth from the source (its Z pixel size, its DICOM header) a focal plane is 1 µm deep
NOMINAL_THICKNESS_MM = 0.001
#: the source's own values the header carries over (DICOM keywords; from a DICOM source's
#: header, the OME model's instrument and acquisition date, the source's Z pixel size)
FACTS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "StudyDate",
    "StudyTime",
    "AcquisitionDateTime",
    "Manufacturer",
    "ManufacturerModelName",
    "DeviceSerialNumber",
    "SoftwareVersions",
    "ContainerIdentifier",
    "SliceThickness",  # mm, one focal plane's depth
)


@dataclass(frozen=True)
class SeriesIds:
    """UIDs shared by every instance of one series."""

    study: str
    series: str
    frame_of_reference: str
    dimension_organization: str
    specimen: str
    when: datetime.datetime
    #: what the source says (keywords of :data:`FACTS`, text or numbers)
    facts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def generate(cls, study: str | None = None, facts: dict[str, Any] | None = None) -> SeriesIds:
        """New UIDs (:func:`~imgio.writers._dicom_encode.generate_uid`); ``study`` joins an
        existing study (else the source's Study Instance UID in ``facts``, else a new one)."""
        facts = dict(facts or {})
        return cls(
            study or str(facts.pop("StudyInstanceUID", "") or "") or generate_uid(),
            generate_uid(),
            generate_uid(),
            generate_uid(),
            generate_uid(),
            datetime.datetime.now(),
            {k: v for k, v in facts.items() if k in FACTS and v not in (None, "")},
        )


@dataclass
class Instance:
    """What one instance holds: the plan its header is made from."""

    kind: str  # "VOLUME", "LABEL", "OVERVIEW"
    number: int  # Instance Number (1-based)
    size: tuple[int, int]  # total pixel matrix rows, columns
    tile: tuple[int, int]  # frame rows, columns
    samples: int
    bits: int  # 8 or 16
    photometric: str
    syntax: str  # transfer syntax UID
    lossy: list[str] = field(default_factory=list)  # Lossy Image Compression Methods
    derived: bool = False  # a level computed from level 0
    focal_planes: int = 1
    optical_paths: Sequence[str] = ("1",)  # descriptions (channel names)
    colors: Sequence[int | None] | None = None  # RGBA packed into an int, per path
    spacing_mm: tuple[float, float] | None = None  # rows, columns
    imaged_mm: tuple[float, float] | None = None  # height, width of the slide area imaged
    z_spacing_mm: float | None = None
    z_origin_um: float = 0.0
    container: str = "imgio"
    icc_profile: bytes | None = None
    objective_power: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. Extended Offset Table

    @property
    def frames(self) -> int:
        per_plane = -(-self.size[0] // self.tile[0]) * -(-self.size[1] // self.tile[1])
        return per_plane * self.focal_planes * len(self.optical_paths)


def _code(value: str, scheme: str, meaning: str) -> Any:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def srgb_profile() -> bytes | None:
    """An sRGB ICC profile (Pillow's), or None without Pillow."""
    if not _SRGB:
        try:
            from PIL import ImageCms
        except ImportError:
            return None
        _SRGB.append(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    return _SRGB[0]


def instance_header(ids: SeriesIds, inst: Instance) -> Any:
    """The dataset (with file meta) of one instance, pixel data left out."""
    uid = generate_uid()
    meta = Dataset()
    meta.MediaStorageSOPClassUID = WSM_SOP_CLASS
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = inst.syntax
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"IMGIO_{_version()}"[:16]
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = _image_type(inst)
    ds.SOPClassUID, ds.SOPInstanceUID = WSM_SOP_CLASS, uid
    _patient_study_series(ds, ids, inst)
    _equipment(ds, ids)
    _specimen(ds, ids, inst)
    _pixels(ds, inst)
    _whole_slide(ds, ids, inst)
    _functional_groups(ds, ids, inst)
    _optical_paths(ds, inst)
    for key, value in inst.extra.items():
        setattr(ds, key, value)
    return ds


def _image_type(inst: Instance) -> list[str]:
    if inst.derived:
        return ["DERIVED", "PRIMARY", inst.kind, "RESAMPLED"]
    return ["ORIGINAL", "PRIMARY", inst.kind, "NONE"]


def _patient_study_series(ds: Any, ids: SeriesIds, inst: Instance) -> None:
    """Patient and study: the source's values, else empty (type 2). The study date is the
    acquisition's when known; the content date is when these pixels were made (now); the
    acquisition (type 1) is the source's, else the content's (pixels made here from data
    that carries no acquisition time)."""
    facts = ids.facts
    for key in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
        setattr(ds, key, str(facts.get(key, "")))
    for key in ("ReferringPhysicianName", "StudyID", "AccessionNumber"):
        setattr(ds, key, str(facts.get(key, "")))
    acquired = str(facts.get("AcquisitionDateTime", ""))
    ds.StudyInstanceUID = ids.study
    ds.StudyDate = str(facts.get("StudyDate", acquired[:8]))
    ds.StudyTime = str(facts.get("StudyTime", acquired[8:14] if len(acquired) >= 14 else ""))
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "SM", ids.series, 1
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = ids.frame_of_reference, "SLIDE_CORNER"
    ds.InstanceNumber = inst.number
    ds.ContentDate, ds.ContentTime = ids.when.strftime("%Y%m%d"), ids.when.strftime("%H%M%S.%f")
    ds.AcquisitionDateTime = acquired or ids.when.strftime("%Y%m%d%H%M%S.%f")
    ds.PatientOrientation = ""


def _equipment(ds: Any, ids: SeriesIds) -> None:
    """The scanner's name, model and serial number from the source; where the source names
    none, the equipment that made these instances: imgio (its version as serial number)."""
    facts = ids.facts
    ds.Manufacturer = str(facts.get("Manufacturer", "imgio"))[:64]
    ds.ManufacturerModelName = str(facts.get("ManufacturerModelName", "imgio"))[:64]
    ds.DeviceSerialNumber = str(facts.get("DeviceSerialNumber", _version()))[:64]
    versions = [str(facts["SoftwareVersions"])[:64]] if "SoftwareVersions" in facts else []
    ds.SoftwareVersions = [*versions, f"imgio {_version()}"[:64]]


def _specimen(ds: Any, ids: SeriesIds, inst: Instance) -> None:
    ds.ContainerIdentifier = str(ids.facts.get("ContainerIdentifier", inst.container))[:64] or "1"
    ds.IssuerOfTheContainerIdentifierSequence = []
    ds.ContainerTypeCodeSequence = [_code("433466003", "SCT", "Microscope slide")]
    specimen = Dataset()
    specimen.SpecimenIdentifier = ds.ContainerIdentifier
    specimen.SpecimenUID = ids.specimen
    specimen.IssuerOfTheSpecimenIdentifierSequence = []
    specimen.SpecimenPreparationSequence = []
    ds.SpecimenDescriptionSequence = [specimen]
    ds.AcquisitionContextSequence = []


def _pixels(ds: Any, inst: Instance) -> None:
    ds.Rows, ds.Columns = inst.tile
    ds.SamplesPerPixel = inst.samples
    ds.PhotometricInterpretation = inst.photometric
    if inst.samples > 1:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = inst.bits
    ds.HighBit = inst.bits - 1
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = inst.frames
    ds.TotalPixelMatrixRows, ds.TotalPixelMatrixColumns = inst.size
    ds.TotalPixelMatrixFocalPlanes = inst.focal_planes
    ds.NumberOfOpticalPaths = len(inst.optical_paths)
    if not inst.lossy:
        ds.LossyImageCompression = "00"
    else:
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = inst.lossy
    ds.BurnedInAnnotation = "YES" if inst.kind == "LABEL" else "NO"
    if inst.kind == "LABEL":  # Slide Label module: type 2, not known from pixels
        ds.BarcodeValue, ds.LabelText = "", ""
    ds.SpecimenLabelInImage = "YES" if inst.kind in ("LABEL", "OVERVIEW") else "NO"
    if ds.PhotometricInterpretation == "MONOCHROME2":
        ds.PresentationLUTShape = "IDENTITY"
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1


def _whole_slide(ds: Any, ids: SeriesIds, inst: Instance) -> None:
    ds.DimensionOrganizationType = "TILED_FULL"
    org = Dataset()
    org.DimensionOrganizationUID = ids.dimension_organization
    ds.DimensionOrganizationSequence = [org]
    origin = Dataset()
    origin.XOffsetInSlideCoordinateSystem = 0
    origin.YOffsetInSlideCoordinateSystem = 0
    if inst.z_origin_um:
        origin.ZOffsetInSlideCoordinateSystem = round(inst.z_origin_um, 6)
    ds.TotalPixelMatrixOriginSequence = [origin]
    ds.ImageOrientationSlide = [0, -1, 0, -1, 0, 0]
    ds.VolumetricProperties = "VOLUME"
    ds.FocusMethod = "AUTO"
    ds.ExtendedDepthOfField = "NO"
    if inst.imaged_mm is not None:
        ds.ImagedVolumeWidth = float(inst.imaged_mm[1])  # mm
        ds.ImagedVolumeHeight = float(inst.imaged_mm[0])
        ds.ImagedVolumeDepth = float(_thickness_mm(inst, ids) * 1000 * inst.focal_planes)  # µm


def _thickness_mm(inst: Instance, ids: SeriesIds | None = None) -> float:
    """Each focal plane's depth: the Z spacing, else the source's (its Slice Thickness, its
    Z pixel size), else (unknown, but the IOD requires a non-zero value) a nominal
    :data:`NOMINAL_THICKNESS_MM`."""
    known = ids.facts.get("SliceThickness") if ids is not None else None
    return inst.z_spacing_mm or (float(known) if known else NOMINAL_THICKNESS_MM)


def _ds(value: float) -> str:
    """A DS value (16 characters at most) for ``value``."""
    text = f"{value:.10g}"
    while len(text) > 16:
        text = f"{value:.{max(1, len(text) - 8)}g}"
    return text


def _functional_groups(ds: Any, ids: SeriesIds, inst: Instance) -> None:
    shared = Dataset()
    measures = Dataset()
    if inst.spacing_mm is not None:
        measures.PixelSpacing = [_ds(inst.spacing_mm[0]), _ds(inst.spacing_mm[1])]
    measures.SliceThickness = _ds(_thickness_mm(inst, ids))
    if inst.focal_planes > 1 and inst.z_spacing_mm:
        measures.SpacingBetweenSlices = _ds(inst.z_spacing_mm)
    shared.PixelMeasuresSequence = [measures]
    frame_type = Dataset()
    frame_type.FrameType = _image_type(inst)
    shared.WholeSlideMicroscopyImageFrameTypeSequence = [frame_type]
    if len(inst.optical_paths) == 1:
        path = Dataset()
        path.OpticalPathIdentifier = "1"
        shared.OpticalPathIdentificationSequence = [path]
    ds.SharedFunctionalGroupsSequence = [shared]


def _optical_paths(ds: Any, inst: Instance) -> None:
    color = inst.samples == 3
    items = []
    for i, name in enumerate(inst.optical_paths):
        item = Dataset()
        item.OpticalPathIdentifier = str(i + 1)
        item.OpticalPathDescription = str(name)[:1024]
        if inst.objective_power:
            item.ObjectiveLensPower = _ds(inst.objective_power)
        if color:
            item.IlluminationTypeCodeSequence = [_code("111744", "DCM", "Brightfield illumination")]
            item.IlluminationColorCodeSequence = [_code("414298005", "SCT", "Full Spectrum")]
            icc = inst.icc_profile or srgb_profile()
            if icc is not None:
                item.ICCProfile = icc
                item.ColorSpace = "SRGB" if inst.icc_profile is None else ""
        else:
            item.IlluminationTypeCodeSequence = [
                _code("111743", "DCM", "Epifluorescence illumination")
            ]
            item.IlluminationColorCodeSequence = [_code("414298005", "SCT", "Full Spectrum")]
            rgba = None if inst.colors is None else inst.colors[i]
            if rgba is not None:  # the channel's colour, as a black-to-colour palette
                item.PaletteColorLookupTableSequence = [_palette(rgba, inst.bits)]
                icc = srgb_profile()  # required with a palette, as for colour images
                if icc is not None:
                    item.ICCProfile, item.ColorSpace = icc, "SRGB"
        items.append(item)
    ds.OpticalPathSequence = items


def _palette(rgba: int, bits: int) -> Any:
    """A Palette Color Lookup Table from black (0) to the channel's colour (the largest value)."""
    import numpy as np

    n = 1 << bits
    ramp = np.linspace(0.0, 1.0, n)
    out = Dataset()
    descriptor = [n & 0xFFFF, 0, 16]  # 65536 entries are written as 0
    for k, name in enumerate(("Red", "Green", "Blue")):
        value = (rgba >> (24 - 8 * k)) & 0xFF
        table = np.round(ramp * value * 257).astype("<u2")
        setattr(out, f"{name}PaletteColorLookupTableDescriptor", descriptor)
        setattr(out, f"{name}PaletteColorLookupTableData", table.tobytes())
    return out
