"""OpenSlide's ``dicom.*`` properties of an instance, and its ``openslide.quickhash-1``.

OpenSlide 4 lists every element of the level-0 instance's file meta information and
dataset (not the Per-Frame Functional Groups, group lengths, private or binary
elements): ``dicom.<Keyword>`` for one value, ``dicom.<Keyword>[i]`` for each of several,
``dicom.<Sequence>[i].<Keyword>`` inside sequences. Text (DS and IS included) is given as
stored, integers in decimal, floats as ``%.17g`` and an attribute tag as its group and
element numbers. quickhash-1 is the SHA-256 of the Series Instance UID and its NUL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from ._fastds import RawDataset, text_values

__all__ = ["flatten", "quickhash1", "elements_of"]

_BINARY = frozenset(("OB", "OW", "OF", "OD", "OL", "OV", "UN"))
_FLOATS = frozenset(("FL", "FD"))
_INTEGERS = frozenset(("US", "SS", "UL", "SL", "SV", "UV"))
_PER_FRAME = 0x52009230


def quickhash1(series_uid: str) -> str:
    """OpenSlide's quickhash-1 of a DICOM slide."""
    return hashlib.sha256(series_uid.encode("ascii", "replace") + b"\0").hexdigest()


def elements_of(ds: Any) -> Iterator[tuple[int, str, Any]]:
    """``(tag, VR, value)`` of a dataset, imgio's walker's (text kept raw) or pydicom's."""
    if isinstance(ds, RawDataset):
        yield from ds.elements(raw=True)
        return
    for elem in ds:
        yield int(elem.tag), str(elem.VR), elem.value


def _texts(vr: str, value: Any) -> list[str]:
    if vr in _BINARY or value is None:
        return []
    if isinstance(value, bytes):  # imgio's walker: a text element's raw bytes
        return text_values(vr.encode(), value) or [""]  # an empty text is one empty value
    from pydicom.multival import MultiValue

    values = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    if vr == "AT":
        return [str(int(v) >> 16 if i == 0 else int(v) & 0xFFFF) for v in values for i in (0, 1)]
    if vr in _FLOATS:
        return [format(float(v), ".17g") for v in values]
    if vr in _INTEGERS:
        return [str(int(v)) for v in values]
    return [str(v) for v in values]


def flatten(elements: Iterable[tuple[int, str, Any]], prefix: str, out: dict[str, str]) -> None:
    """Add OpenSlide's properties of ``elements`` under ``prefix`` to ``out``."""
    from pydicom.datadict import keyword_for_tag

    for tag, vr, value in elements:
        if tag & 0xFFFF == 0 or tag == _PER_FRAME or tag >= 0x7FE00010 or (tag >> 16) % 2:
            continue
        keyword = keyword_for_tag(tag)
        if not keyword:
            continue
        name = f"{prefix}.{keyword}"
        if vr == "SQ":
            for i, item in enumerate(value or ()):
                flatten(elements_of(item), f"{name}[{i}]", out)
            continue
        texts = _texts(vr, value)
        if len(texts) == 1:
            out[name] = texts[0]
        else:
            out.update((f"{name}[{i}]", t) for i, t in enumerate(texts))
