"""A fast reader of explicit VR little endian datasets (the header of nearly every WSI instance).

pydicom builds a Python object per element and converts every value it is asked for
through its hooks; opening a slide needs a few dozen values of each instance. This walks
the bytes once with ``struct``, keeps each element's raw value, and converts only what
is asked for, by pydicom keyword (``getattr(ds, "Rows", None)`` works as on a pydicom
Dataset). Implicit VR, big endian and deflated datasets still go through pydicom.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

__all__ = ["RawDataset", "Truncated", "parse_dataset", "text_values"]

_LONG = frozenset((b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UT", b"UN", b"UC", b"UR"))
_LONG_MORE = frozenset((b"SV", b"UV"))
_TEXT = frozenset(
    (b"AE", b"AS", b"CS", b"DA", b"DT", b"LO", b"LT", b"PN", b"SH", b"ST", b"TM", b"UC", b"UI")
    + (b"UR", b"UT")
)
_ONE_TEXT = frozenset((b"LT", b"ST", b"UT", b"UR"))
_NUMBERS = {
    b"US": ("H", 2),
    b"SS": ("h", 2),
    b"UL": ("I", 4),
    b"SL": ("i", 4),
    b"FL": ("f", 4),
    b"FD": ("d", 8),
    b"SV": ("q", 8),
    b"UV": ("Q", 8),
}
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
#: deepest sequence nesting accepted (WSI headers nest four or five deep)
MAX_DEPTH = 16

_HEAD = struct.Struct("<HH2sH")
_U32 = struct.Struct("<I")


class Truncated(Exception):
    """The dataset runs past the bytes given (read more, or the file is cut)."""


class DatasetError(ValueError):
    """The bytes are no valid explicit VR little endian dataset."""


#: the tags of the keywords the reader asks for (PS3.6): found without importing pydicom,
#: whose import costs about a third of a second of CPU (any other keyword is looked up there)
KNOWN_TAGS: dict[str, int] = {
    "TransferSyntaxUID": 0x00020010,
    "ImageType": 0x00080008,
    "SOPClassUID": 0x00080016,
    "SOPInstanceUID": 0x00080018,
    "StudyDate": 0x00080020,
    "AcquisitionDateTime": 0x0008002A,
    "StudyTime": 0x00080030,
    "AccessionNumber": 0x00080050,
    "Manufacturer": 0x00080070,
    "ReferringPhysicianName": 0x00080090,
    "CodeValue": 0x00080100,
    "CodeMeaning": 0x00080104,
    "SeriesDescription": 0x0008103E,
    "ManufacturerModelName": 0x00081090,
    "PrimaryAnatomicStructureSequence": 0x00082228,
    "PatientName": 0x00100010,
    "PatientID": 0x00100020,
    "PatientBirthDate": 0x00100030,
    "PatientSex": 0x00100040,
    "SliceThickness": 0x00180050,
    "SpacingBetweenSlices": 0x00180088,
    "DeviceSerialNumber": 0x00181000,
    "SoftwareVersions": 0x00181020,
    "StudyInstanceUID": 0x0020000D,
    "SeriesInstanceUID": 0x0020000E,
    "StudyID": 0x00200010,
    "InConcatenationNumber": 0x00209162,
    "ConcatenationFrameOffsetNumber": 0x00209228,
    "DimensionOrganizationType": 0x00209311,
    "IlluminationWaveLength": 0x00220055,
    "SamplesPerPixel": 0x00280002,
    "PhotometricInterpretation": 0x00280004,
    "PlanarConfiguration": 0x00280006,
    "NumberOfFrames": 0x00280008,
    "Rows": 0x00280010,
    "Columns": 0x00280011,
    "PixelSpacing": 0x00280030,
    "BitsAllocated": 0x00280100,
    "PixelRepresentation": 0x00280103,
    "PixelPaddingValue": 0x00280120,
    "RedPaletteColorLookupTableDescriptor": 0x00281101,
    "GreenPaletteColorLookupTableDescriptor": 0x00281102,
    "BluePaletteColorLookupTableDescriptor": 0x00281103,
    "RedPaletteColorLookupTableData": 0x00281201,
    "GreenPaletteColorLookupTableData": 0x00281202,
    "BluePaletteColorLookupTableData": 0x00281203,
    "ICCProfile": 0x00282000,
    "PixelMeasuresSequence": 0x00289110,
    "ContainerIdentifier": 0x00400512,
    "SpecimenIdentifier": 0x00400551,
    "SpecimenUID": 0x00400554,
    "SpecimenDescriptionSequence": 0x00400560,
    "SpecimenShortDescription": 0x00400600,
    "XOffsetInSlideCoordinateSystem": 0x0040072A,
    "YOffsetInSlideCoordinateSystem": 0x0040073A,
    "ZOffsetInSlideCoordinateSystem": 0x0040074A,
    "ImagedVolumeWidth": 0x00480001,
    "ImagedVolumeHeight": 0x00480002,
    "ImagedVolumeDepth": 0x00480003,
    "TotalPixelMatrixColumns": 0x00480006,
    "TotalPixelMatrixRows": 0x00480007,
    "OpticalPathSequence": 0x00480105,
    "OpticalPathIdentifier": 0x00480106,
    "OpticalPathDescription": 0x00480107,
    "ObjectiveLensPower": 0x00480112,
    "PaletteColorLookupTableSequence": 0x00480120,
    "OpticalPathIdentificationSequence": 0x00480207,
    "PlanePositionSlideSequence": 0x0048021A,
    "ColumnPositionInTotalImagePixelMatrix": 0x0048021E,
    "RowPositionInTotalImagePixelMatrix": 0x0048021F,
    "TotalPixelMatrixFocalPlanes": 0x00480303,
    "SharedFunctionalGroupsSequence": 0x52009229,
    "PerFrameFunctionalGroupsSequence": 0x52009230,
    "ExtendedOffsetTable": 0x7FE00001,
    "ExtendedOffsetTableLengths": 0x7FE00002,
}


@lru_cache(maxsize=1024)
def _tag(keyword: str) -> int | None:
    known = KNOWN_TAGS.get(keyword)
    if known is not None:
        return known
    from pydicom.datadict import tag_for_keyword

    tag: int | None = tag_for_keyword(keyword)
    return tag


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _number(text: str, vr: bytes) -> Any:
    try:
        value = float(text)
        if vr == b"IS":
            return int(value) if value.is_integer() else text
        return value
    except ValueError:
        return text


def text_values(vr: bytes, raw: bytes) -> list[str]:
    """A text element's values as stored (padding dropped; one value for LT, ST, UT, UR)."""
    text = _text(bytes(raw)).rstrip("\0 ")
    if not text:
        return []
    if vr in _ONE_TEXT:
        return [text]
    return [p.strip(" \0") for p in text.split("\\")]


def convert(vr: bytes, raw: Any) -> Any:
    """An element's value as pydicom gives it: numbers, text (lists when multi-valued),
    bytes, or a list of :class:`RawDataset` for a sequence. Empty values are None."""
    if vr == b"SQ":
        return raw
    if vr == b"AT":  # (group, element) pairs
        halves = struct.unpack_from(f"<{len(raw) // 4 * 2}H", raw)
        tags = [g << 16 | e for g, e in zip(halves[::2], halves[1::2], strict=True)]
        return None if not tags else tags[0] if len(tags) == 1 else tags
    found = _NUMBERS.get(vr)
    if found is not None:
        code, size = found
        count = len(raw) // size
        if count == 0:
            return None
        values = struct.unpack_from(f"<{count}{code}", raw)
        return values[0] if count == 1 else list(values)
    if vr in _TEXT or vr in (b"IS", b"DS"):
        parts = text_values(vr, raw) or [""]
        if vr in _ONE_TEXT:
            return parts[0]
        if vr in (b"IS", b"DS"):
            if parts == [""]:
                return None
            nums = [_number(p, vr) for p in parts]
            return nums[0] if len(nums) == 1 else nums
        return parts[0] if len(parts) == 1 else parts
    return bytes(raw)


#: keyword -> tag (None: no such keyword), filled as keywords are asked for
_TAGS: dict[str, int | None] = {}


class RawDataset:
    """Elements by tag, raw; values converted when asked for by keyword (``ds.Rows``),
    once (the converted value is kept: callers must not change it)."""

    __slots__ = ("_elems", "_values", "file_meta")

    def __init__(self, elems: dict[int, tuple[bytes, Any]]) -> None:
        self._elems = elems
        self._values: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        values = self._values
        if name in values:
            return values[name]
        tag = _TAGS.get(name, -1)
        if tag == -1:
            tag = _TAGS[name] = None if name[:1] == "_" else _tag(name)
        found = self._elems.get(tag) if tag is not None else None
        if found is None:
            raise AttributeError(name)
        value = values[name] = convert(*found)
        return value

    def __contains__(self, keyword: str) -> bool:
        tag = _tag(keyword)
        return tag is not None and tag in self._elems

    def pop(self, tag: int, default: Any = None) -> Any:
        """Drop an element (by tag, as pydicom's ``Dataset.pop``); its raw value, or ``default``."""
        for name in [n for n in self._values if _TAGS.get(n) == tag]:
            del self._values[name]
        return self._elems.pop(tag, default)

    def elements(self, raw: bool = False) -> Iterator[tuple[int, str, Any]]:
        """``(tag, VR, value)`` of every element, in file order (with ``raw``, text
        elements, DS and IS included, give their stored bytes)."""
        for tag, (vr, value) in self._elems.items():
            keep = raw and (vr in _TEXT or vr in (b"IS", b"DS"))
            yield tag, vr.decode("ascii", "replace"), value if keep else convert(vr, value)


def _walk(
    data: bytes, pos: int, end: int | None, depth: int
) -> tuple[dict[int, tuple[bytes, Any]], int]:
    """Elements from ``pos`` to ``end`` (an item's end), or to an item delimiter
    (``end`` None inside an item of undefined length; ``depth`` 0: to the pixel data)."""
    elems: dict[int, tuple[bytes, Any]] = {}
    n = len(data)
    while end is None or pos < end:
        if pos + 8 > n:
            if depth == 0 and pos == n:  # the end of the bytes, between two elements
                return elems, pos
            raise Truncated
        group, elem, vr, short = _HEAD.unpack_from(data, pos)
        tag = group << 16 | elem
        if depth == 0 and tag >= _PIXEL_DATA:
            return elems, pos
        if tag == _ITEM_END and end is None and depth > 0:
            return elems, pos + 8
        if group == 0xFFFE:
            raise DatasetError(f"item tag ({group:04X},{elem:04X}) among the elements at {pos}")
        if vr in _LONG or vr in _LONG_MORE:
            if pos + 12 > n:
                raise Truncated
            (length,) = _U32.unpack_from(data, pos + 8)
            start = pos + 12
        elif len(vr) == 2 and vr.isalpha() and vr.isupper():
            length, start = short, pos + 8
        else:
            raise DatasetError(f"element ({group:04X},{elem:04X}) at {pos} has no valid VR: {vr!r}")
        if vr == b"SQ" or (vr == b"UN" and length == _UNDEFINED):
            items, pos = _items(data, start, length, depth + 1)
            elems[tag] = (b"SQ", items)
            continue
        if length == _UNDEFINED:
            raise DatasetError(f"element ({group:04X},{elem:04X}) at {pos}: undefined length")
        pos = start + length
        if pos > n:
            raise Truncated
        elems[tag] = (vr, data[start:pos])
    if pos != end:
        raise DatasetError(f"an element crosses the end of its item at {end}")
    return elems, pos


def _items(data: bytes, pos: int, length: int, depth: int) -> tuple[list[RawDataset], int]:
    """The items of a sequence whose value starts at ``pos``."""
    if depth > MAX_DEPTH:
        raise DatasetError(f"sequences nested deeper than {MAX_DEPTH} at {pos}")
    end = None if length == _UNDEFINED else pos + length
    if end is not None and end > len(data):
        raise Truncated
    out: list[RawDataset] = []
    while end is None or pos < end:
        if pos + 8 > len(data):
            raise Truncated
        (tag,) = _U32.unpack_from(data, pos)
        tag = (tag & 0xFFFF) << 16 | tag >> 16
        (size,) = _U32.unpack_from(data, pos + 4)
        if tag == _SEQ_END:
            return out, pos + 8
        if tag != _ITEM:
            raise DatasetError(f"expected an item (FFFE,E000) at {pos}, found {tag:08X}")
        if size == _UNDEFINED:
            elems, pos = _walk(data, pos + 8, None, depth)
        else:
            if pos + 8 + size > len(data):
                raise Truncated
            elems, pos = _walk(data, pos + 8, pos + 8 + size, depth)
        out.append(RawDataset(elems))
    if pos != end:
        raise DatasetError(f"an item crosses the end of its sequence at {end}")
    return out, pos


def parse_dataset(data: bytes, start: int) -> tuple[RawDataset, int]:
    """The dataset from ``start`` to the pixel data, and where the pixel data element starts.

    Raises
    ------
    Truncated
        ``data`` ends before the pixel data (read more; at the end of the file there is none).
    DatasetError
        The bytes are not a valid explicit VR little endian dataset.
    """
    elems, pos = _walk(data, start, None, 0)
    return RawDataset(elems), pos
