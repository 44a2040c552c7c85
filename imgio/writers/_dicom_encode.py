"""DICOM header bytes without pydicom: a keyword-addressed dataset, written as explicit VR
little endian (the file meta information and the dataset of a WSI instance, up to the
pixel data, which :mod:`~imgio.writers._dicom_file` appends).

Importing pydicom costs about a third of a second of CPU (it pulls in ``requests``), as
much as converting a small slide, and its writer walks Python objects per element; the
writer needs neither: its headers are a hundred elements of known tag and VR
(:data:`ELEMENTS`, from the DICOM standard's data dictionary, PS3.6).
"""

from __future__ import annotations

import struct
import uuid
from typing import Any, BinaryIO

from ..errors import ImgioError

__all__ = ["ELEMENTS", "Dataset", "generate_uid", "write_file_header"]

#: keyword -> (tag, VR) of every element the writer sets (PS3.6 data dictionary)
ELEMENTS: dict[str, tuple[int, str]] = {
    "FileMetaInformationGroupLength": (0x00020000, "UL"),
    "FileMetaInformationVersion": (0x00020001, "OB"),
    "MediaStorageSOPClassUID": (0x00020002, "UI"),
    "MediaStorageSOPInstanceUID": (0x00020003, "UI"),
    "TransferSyntaxUID": (0x00020010, "UI"),
    "ImplementationClassUID": (0x00020012, "UI"),
    "ImplementationVersionName": (0x00020013, "SH"),
    "SpecificCharacterSet": (0x00080005, "CS"),
    "ImageType": (0x00080008, "CS"),
    "SOPClassUID": (0x00080016, "UI"),
    "SOPInstanceUID": (0x00080018, "UI"),
    "StudyDate": (0x00080020, "DA"),
    "ContentDate": (0x00080023, "DA"),
    "AcquisitionDateTime": (0x0008002A, "DT"),
    "StudyTime": (0x00080030, "TM"),
    "ContentTime": (0x00080033, "TM"),
    "AccessionNumber": (0x00080050, "SH"),
    "Modality": (0x00080060, "CS"),
    "Manufacturer": (0x00080070, "LO"),
    "ReferringPhysicianName": (0x00080090, "PN"),
    "CodeValue": (0x00080100, "SH"),
    "CodingSchemeDesignator": (0x00080102, "SH"),
    "CodeMeaning": (0x00080104, "LO"),
    "ManufacturerModelName": (0x00081090, "LO"),
    "FrameType": (0x00089007, "CS"),
    "VolumetricProperties": (0x00089206, "CS"),
    "PatientName": (0x00100010, "PN"),
    "PatientID": (0x00100020, "LO"),
    "PatientBirthDate": (0x00100030, "DA"),
    "PatientSex": (0x00100040, "CS"),
    "SliceThickness": (0x00180050, "DS"),
    "SpacingBetweenSlices": (0x00180088, "DS"),
    "DeviceSerialNumber": (0x00181000, "LO"),
    "SoftwareVersions": (0x00181020, "LO"),
    "StudyInstanceUID": (0x0020000D, "UI"),
    "SeriesInstanceUID": (0x0020000E, "UI"),
    "StudyID": (0x00200010, "SH"),
    "SeriesNumber": (0x00200011, "IS"),
    "InstanceNumber": (0x00200013, "IS"),
    "PatientOrientation": (0x00200020, "CS"),
    "FrameOfReferenceUID": (0x00200052, "UI"),
    "PositionReferenceIndicator": (0x00201040, "LO"),
    "DimensionOrganizationUID": (0x00209164, "UI"),
    "DimensionOrganizationSequence": (0x00209221, "SQ"),
    "DimensionOrganizationType": (0x00209311, "CS"),
    "IlluminationTypeCodeSequence": (0x00220016, "SQ"),
    "SamplesPerPixel": (0x00280002, "US"),
    "PhotometricInterpretation": (0x00280004, "CS"),
    "PlanarConfiguration": (0x00280006, "US"),
    "NumberOfFrames": (0x00280008, "IS"),
    "Rows": (0x00280010, "US"),
    "Columns": (0x00280011, "US"),
    "PixelSpacing": (0x00280030, "DS"),
    "BitsAllocated": (0x00280100, "US"),
    "BitsStored": (0x00280101, "US"),
    "HighBit": (0x00280102, "US"),
    "PixelRepresentation": (0x00280103, "US"),
    "BurnedInAnnotation": (0x00280301, "CS"),
    "RescaleIntercept": (0x00281052, "DS"),
    "RescaleSlope": (0x00281053, "DS"),
    "RedPaletteColorLookupTableDescriptor": (0x00281101, "US"),
    "GreenPaletteColorLookupTableDescriptor": (0x00281102, "US"),
    "BluePaletteColorLookupTableDescriptor": (0x00281103, "US"),
    "RedPaletteColorLookupTableData": (0x00281201, "OW"),
    "GreenPaletteColorLookupTableData": (0x00281202, "OW"),
    "BluePaletteColorLookupTableData": (0x00281203, "OW"),
    "ICCProfile": (0x00282000, "OB"),
    "ColorSpace": (0x00282002, "CS"),
    "LossyImageCompression": (0x00282110, "CS"),
    "LossyImageCompressionRatio": (0x00282112, "DS"),
    "LossyImageCompressionMethod": (0x00282114, "CS"),
    "PixelMeasuresSequence": (0x00289110, "SQ"),
    "ContainerIdentifier": (0x00400512, "LO"),
    "IssuerOfTheContainerIdentifierSequence": (0x00400513, "SQ"),
    "ContainerTypeCodeSequence": (0x00400518, "SQ"),
    "SpecimenIdentifier": (0x00400551, "LO"),
    "SpecimenUID": (0x00400554, "UI"),
    "AcquisitionContextSequence": (0x00400555, "SQ"),
    "SpecimenDescriptionSequence": (0x00400560, "SQ"),
    "IssuerOfTheSpecimenIdentifierSequence": (0x00400562, "SQ"),
    "SpecimenPreparationSequence": (0x00400610, "SQ"),
    "WholeSlideMicroscopyImageFrameTypeSequence": (0x00400710, "SQ"),
    "XOffsetInSlideCoordinateSystem": (0x0040072A, "DS"),
    "YOffsetInSlideCoordinateSystem": (0x0040073A, "DS"),
    "ZOffsetInSlideCoordinateSystem": (0x0040074A, "DS"),
    "ImagedVolumeWidth": (0x00480001, "FL"),
    "ImagedVolumeHeight": (0x00480002, "FL"),
    "ImagedVolumeDepth": (0x00480003, "FL"),
    "TotalPixelMatrixColumns": (0x00480006, "UL"),
    "TotalPixelMatrixRows": (0x00480007, "UL"),
    "TotalPixelMatrixOriginSequence": (0x00480008, "SQ"),
    "SpecimenLabelInImage": (0x00480010, "CS"),
    "FocusMethod": (0x00480011, "CS"),
    "ExtendedDepthOfField": (0x00480012, "CS"),
    "ImageOrientationSlide": (0x00480102, "DS"),
    "OpticalPathSequence": (0x00480105, "SQ"),
    "OpticalPathIdentifier": (0x00480106, "SH"),
    "OpticalPathDescription": (0x00480107, "ST"),
    "IlluminationColorCodeSequence": (0x00480108, "SQ"),
    "ObjectiveLensPower": (0x00480112, "DS"),
    "PaletteColorLookupTableSequence": (0x00480120, "SQ"),
    "OpticalPathIdentificationSequence": (0x00480207, "SQ"),
    "NumberOfOpticalPaths": (0x00480302, "UL"),
    "TotalPixelMatrixFocalPlanes": (0x00480303, "UL"),
    "PresentationLUTShape": (0x20500020, "CS"),
    "LabelText": (0x22000002, "UT"),
    "BarcodeValue": (0x22000005, "LT"),
    "SharedFunctionalGroupsSequence": (0x52009229, "SQ"),
    "ExtendedOffsetTable": (0x7FE00001, "OV"),
    "ExtendedOffsetTableLengths": (0x7FE00002, "OV"),
}

#: VRs whose explicit VR header has a 4-byte length (PS3.5 7.1.2)
_LONG = frozenset(("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"))
_BINARY = frozenset(("OB", "OD", "OF", "OL", "OV", "OW", "UN"))
_NUMBERS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
#: text VRs that hold one value (a backslash is no separator)
_ONE_TEXT = frozenset(("LT", "ST", "UT", "UR"))
#: UIDs of implementation classes and new instances: "2.25." and a UUID (PS3.5 B.2)
IMPLEMENTATION_UID = "2.25." + str(uuid.uuid5(uuid.NAMESPACE_URL, "imgio:dicom-writer").int)


def generate_uid() -> str:
    """A new UID: ``2.25.`` and a random UUID as a decimal number (PS3.5 B.2)."""
    return "2.25." + str(uuid.uuid4().int)


def _number_text(value: Any, vr: str) -> str:
    if vr == "IS" or isinstance(value, (int, str)):
        return str(int(value)) if vr == "IS" else str(value)
    text = f"{float(value):.10g}"
    while len(text) > 16:  # a DS value is 16 characters at most
        text = f"{float(value):.{max(1, len(text) - 8)}g}"
    return text


def _value(vr: str, value: Any) -> bytes:
    """The value field of an element (padded to an even length)."""
    if vr in _BINARY:
        data = bytes(value)
        return data + b"\0" * (len(data) & 1)
    if vr in _NUMBERS:
        values = value if isinstance(value, (list, tuple)) else [value]
        return struct.pack(f"<{len(values)}{_NUMBERS[vr]}", *values)
    values = value if isinstance(value, (list, tuple)) else [value]
    if vr in ("DS", "IS"):
        values = [_number_text(v, vr) for v in values]
    if vr in _ONE_TEXT:
        text = str(values[0]) if values else ""
    else:
        text = "\\".join(str(v) for v in values)
    data = text.encode("utf-8")  # the headers name ISO_IR 192 (UTF-8)
    return data + (b"\0" if vr == "UI" else b" ") * (len(data) & 1)


class Dataset:
    """Elements set by keyword (``ds.Rows = 256``), kept by tag; sequences are lists of
    :class:`Dataset`. ``file_meta`` is the file meta information (another Dataset)."""

    def __init__(self) -> None:
        object.__setattr__(self, "_elems", {})
        object.__setattr__(self, "file_meta", None)

    def __setattr__(self, keyword: str, value: Any) -> None:
        if keyword == "file_meta":
            object.__setattr__(self, keyword, value)
            return
        found = ELEMENTS.get(keyword)
        if found is None:
            raise ImgioError(f"the DICOM writer has no element {keyword!r} in its dictionary")
        self._elems[found[0]] = (keyword, found[1], value)

    def __getattr__(self, keyword: str) -> Any:
        found = ELEMENTS.get(keyword)
        elems = self.__dict__["_elems"]
        if found is None or found[0] not in elems:
            raise AttributeError(keyword)
        return elems[found[0]][2]

    def __contains__(self, keyword: str) -> bool:
        found = ELEMENTS.get(keyword)
        return found is not None and found[0] in self._elems

    def encode(self) -> bytes:
        """The elements in tag order, explicit VR little endian."""
        out = []
        for tag in sorted(self._elems):
            keyword, vr, value = self._elems[tag]
            if vr == "SQ":
                items = [item.encode() for item in value]
                data = b"".join(
                    struct.pack("<HHI", 0xFFFE, 0xE000, len(item)) + item for item in items
                )
            else:
                data = _value(vr, value)
            head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode("ascii")
            if vr in _LONG:
                out.append(head + struct.pack("<HI", 0, len(data)) + data)
            elif len(data) > 0xFFFF:
                raise ImgioError(f"{keyword}: {len(data)} bytes; a {vr} value holds 65535")
            else:
                out.append(head + struct.pack("<H", len(data)) + data)
        return b"".join(out)


def write_file_header(out: BinaryIO, ds: Dataset) -> None:
    """Preamble, ``DICM``, the file meta information (``ds.file_meta``, with its group
    length and version added) and the dataset, all explicit VR little endian."""
    meta = ds.file_meta
    if meta is None:
        raise ImgioError("a DICOM file needs its file meta information (ds.file_meta)")
    meta.FileMetaInformationVersion = b"\x00\x01"
    body = meta.encode()
    group = Dataset()
    group.FileMetaInformationGroupLength = len(body)
    out.write(b"\0" * 128 + b"DICM" + group.encode() + body + ds.encode())
