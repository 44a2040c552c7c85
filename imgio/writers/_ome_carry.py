"""Carry a source's OME metadata into written OME-XML, adjusted to what was written.

When the data written is an ``imgio.Image`` whose reader has OME-XML (OME-TIFF, companion
``.ome``, bioformats2raw), each written scene starts from its source ``Image`` element:
AcquisitionDate, Description, InstrumentRef, ObjectiveSettings, ImagingEnvironment,
StageLabel, the Channel attributes (wavelengths, fluor, light path, ...) and the Planes
(positions, exposures, DeltaT) are kept, while what the writer decides (sizes, pixel type,
dimension order, TiffData, pyramid) is the writer's. Top-level elements (Instrument,
Experimenter, Plate, ROI, StructuredAnnotations, ...) are kept as the source has them.

Channels are kept when the written scene has the source's channels (same count, the one
selected, or a subset matched by unique names); Planes of the kept channels when Z and T
are the source's sizes, or the one index selected of them (renumbered). Source XML in an
older schema is first upgraded by ``ome_types``. Values in ``XMLAnnotation`` keep their
own namespace (often none, ``xmlns=""``).
"""

from __future__ import annotations

import copy
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ImgioWarning

if TYPE_CHECKING:
    from ..arrays import ImageFile
    from ._input import Scene

__all__ = ["OmeSource", "carry", "source_images"]

_PLACEHOLDER = re.compile(r"Channel:\d+(:\d+)?$")
NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
Q = f"{{{NS}}}"
# Image children before Pixels, in schema order (kept from the source)
_WRITER_PIXELS = (
    "SizeX",
    "SizeY",
    "SizeZ",
    "SizeC",
    "SizeT",
    "Type",
    "DimensionOrder",
    "Interleaved",
    "BigEndian",
    "PhysicalSizeX",
    "PhysicalSizeXUnit",
    "PhysicalSizeY",
    "PhysicalSizeYUnit",
    "PhysicalSizeZ",
    "PhysicalSizeZUnit",
)


@dataclass
class OmeSource:
    """The parsed source document and the ``Image`` element a written scene comes from."""

    root: ET.Element
    image: ET.Element
    picks: dict[str, int] = field(default_factory=dict)  # dim -> source index kept (--select)


def _parse(xml: str) -> ET.Element | None:
    """The source document in the 2016-06 schema: as it is when it already is (fast), else
    upgraded by ``ome_types`` (older schemas; slow on large documents)."""
    try:
        root = ET.fromstring(xml.encode("utf-8"))
        if root.tag == f"{Q}OME":
            return root
        from ome_types import from_xml, to_xml

        root = ET.fromstring(to_xml(from_xml(xml, validate=False)).encode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - any failure: write without the source's
        warnings.warn(
            f"the source OME-XML could not be read into the 2016-06 model "
            f"({type(exc).__name__}: {exc}); its metadata is not carried",
            ImgioWarning,
            stacklevel=4,
        )
        return None
    return root if root.tag == f"{Q}OME" else None


def source_images(file: ImageFile, picked: Sequence[int]) -> list[OmeSource | None]:
    """For each picked scene of an opened file, its source OME ``Image`` element (or None)."""
    xml = file.ome_xml()
    root = _parse(xml) if xml else None
    if root is None:
        return [None] * len(picked)
    elements = root.findall(f"{Q}Image")
    names = list(file.scene_names)
    out: list[OmeSource | None] = []
    for i in picked:
        found = None
        if len(elements) == len(names):
            found = elements[i]
        else:
            named = [e for e in elements if e.get("Name") == names[i]]
            found = named[0] if len(named) == 1 else None
        out.append(None if found is None else OmeSource(root, found))
    return out


def _channel_map(
    src: ET.Element, ours: list[ET.Element], picks: dict[str, int]
) -> list[int] | None:
    """Source channel index of each written channel: the one selected, the same count in
    order, or a subset matched by unique names; ``None`` when they cannot be matched."""
    theirs = src.findall(f"{Q}Channel")
    if "C" in picks:
        index = [picks["C"]]
    elif len(theirs) == len(ours):
        index = list(range(len(ours)))
    else:
        names = [c.get("Name") for c in theirs]
        wanted = [o.get("Name") for o in ours]
        if any(n is None or names.count(n) != 1 for n in wanted):
            return None
        index = [names.index(n) for n in wanted]
    if len(index) != len(ours) or not all(0 <= i < len(theirs) for i in index):
        return None
    return index


def _channels(src: ET.Element, ours: list[ET.Element], index: list[int]) -> list[ET.Element]:
    """The source Channels at ``index``, with our ID and samples (and a name we know)."""
    theirs = src.findall(f"{Q}Channel")
    out = []
    for mine, i in zip(ours, index, strict=True):
        their = theirs[i]
        merged = copy.deepcopy(their)
        for key in ("ID", "SamplesPerPixel"):
            if mine.get(key) is not None:
                merged.set(key, str(mine.get(key)))
        name = mine.get("Name")
        if name is not None and (their.get("Name") is not None or not _PLACEHOLDER.match(name)):
            merged.set("Name", name)  # a name the source lacked is not invented here
        # Color: the source OME-XML's, or none (a display colour such as an OME-Zarr's
        # omero default is not written back into the OME record)
        out.append(merged)
    return out


def _planes(
    src: ET.Element, mine: ET.Element, index: list[int], picks: dict[str, int]
) -> list[ET.Element]:
    """Source Planes of what was written: the kept channels and the selected Z/T, renumbered;
    none when Z or T sizes no longer match the source's."""
    for d in "ZT":
        theirs = 1 if d in picks else int(src.get(f"Size{d}", "1"))
        if int(mine.get(f"Size{d}", "1")) != theirs:
            return []
    out = []
    for plane in src.findall(f"{Q}Plane"):
        at = {d: int(plane.get(f"The{d}", "0")) for d in "ZCT"}
        if at["C"] not in index or any(at[d] != picks[d] for d in "ZT" if d in picks):
            continue
        kept = copy.deepcopy(plane)
        kept.set("TheC", str(index.index(at["C"])))
        for d in "ZT":
            if d in picks:
                kept.set(f"The{d}", "0")
        out.append(kept)
    return out


def _pixels(src: ET.Element, mine: ET.Element, picks: dict[str, int]) -> ET.Element:
    merged = ET.Element(f"{Q}Pixels")
    for key, value in src.attrib.items():
        if key in _WRITER_PIXELS or (key == "SignificantBits" and _type_changed(src, mine)):
            continue
        merged.set(key, value)
    for key, value in mine.attrib.items():
        merged.set(key, value)
    merged.set("ID", src.get("ID", mine.get("ID", "")))
    ours = mine.findall(f"{Q}Channel")
    index = _channel_map(src, ours, picks)
    merged.extend(ours if index is None else _channels(src, ours, index))
    merged.extend(e for e in mine if e.tag in (f"{Q}TiffData", f"{Q}MetadataOnly"))
    if index is not None:
        merged.extend(_planes(src, mine, index, picks))
    return merged


def _type_changed(src: ET.Element, mine: ET.Element) -> bool:
    return src.get("Type") != mine.get("Type")


def _modulo_ids(root: ET.Element) -> set[str]:
    """IDs of the source's Modulo annotations: the writer writes its own for what it wrote."""
    return {
        a.get("ID", "")
        for a in root.iter(f"{Q}XMLAnnotation")
        if a.get("Namespace", "").endswith("modulo")
    }


def _image(source: OmeSource, mine: ET.Element) -> ET.Element:
    out = ET.Element(f"{Q}Image", dict(source.image.attrib))
    dropped = _modulo_ids(source.root)
    if mine.get("Name") is not None:
        out.set("Name", str(mine.get("Name")))
    mine_pixels = mine.find(f"{Q}Pixels")
    assert mine_pixels is not None
    for child in source.image:
        if child.tag == f"{Q}Pixels":
            out.append(_pixels(child, mine_pixels, source.picks))
        elif child.tag == f"{Q}AnnotationRef" and child.get("ID") in dropped:
            continue
        else:
            out.append(copy.deepcopy(child))
    refs = [e for e in mine if e.tag == f"{Q}AnnotationRef"]  # our Modulo: tifffile reads
    first = next((k for k, e in enumerate(out) if e.tag == f"{Q}AnnotationRef"), len(out))
    for k, ref in enumerate(refs):  # the first AnnotationRef only, so ours go first
        out.insert(first + k, ref)
    return out


def carry(xml: str, scenes: Sequence[Scene]) -> str:
    """Our OME-XML document merged with the scenes' source OME metadata."""
    ours = ET.fromstring(xml.encode("utf-8"))
    sources = [getattr(s, "ome_source", None) for s in scenes]
    roots = {id(s.root): s.root for s in sources if s is not None}
    if len(roots) != 1:
        return xml
    (root,) = roots.values()
    doc = ET.Element(f"{Q}OME", {k: v for k, v in root.attrib.items() if k != "UUID"})
    doc.set("Creator", ours.get("Creator", "imgio"))
    our_images = ours.findall(f"{Q}Image")
    images = [
        mine if src is None else _image(src, mine)
        for src, mine in zip(sources, our_images, strict=True)
    ]
    before: list[ET.Element] = []
    after: list[ET.Element] = []
    seen_image = False
    for child in root:
        if child.tag == f"{Q}Image":
            seen_image = True
        elif child.tag in (f"{Q}BinaryOnly",):
            continue
        elif child.tag == f"{Q}StructuredAnnotations":
            sa = copy.deepcopy(child)
            for ann in [a for a in sa if a.get("ID") in _modulo_ids(root)]:
                sa.remove(ann)
            if len(sa):
                after.append(sa)
        else:
            (after if seen_image else before).append(copy.deepcopy(child))
    our_sa = ours.find(f"{Q}StructuredAnnotations")
    if our_sa is not None:
        sa = next((e for e in after if e.tag == f"{Q}StructuredAnnotations"), None)
        if sa is None:
            after.insert(0, our_sa)
        else:
            sa.extend(list(our_sa))
    after.sort(key=lambda e: e.tag != f"{Q}StructuredAnnotations")  # SA before ROI
    doc.extend([*before, *images, *after])
    ET.indent(doc, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _serialize(doc) + "\n"


def _serialize(doc: ET.Element) -> str:
    """The document with OME as default namespace; XMLAnnotation values (often in no
    namespace, ``xmlns=""``) are serialized on their own and put back in place."""
    fragments = []
    ET.register_namespace("", NS)
    for value in doc.iter(f"{Q}Value"):
        for child in list(value):
            text = ET.tostring(child, encoding="unicode")
            if not child.tag.startswith("{"):
                name = child.tag
                text = text.replace(f"<{name}", f'<{name} xmlns=""', 1)
            elif child.tag.startswith(Q):  # in the document's default namespace: no prefix
                # (Bio-Formats finds Modulo elements by their plain name, never "ns0:...")
                text = text.replace(f' xmlns="{NS}"', "", 1)
            value.remove(child)
            fragments.append(text)
            value.text = (value.text or "") + f"IMGIO-FRAGMENT-{len(fragments) - 1}-END"
    out = ET.tostring(doc, encoding="unicode")
    for k, text in enumerate(fragments):
        out = out.replace(f"IMGIO-FRAGMENT-{k}-END", text, 1)
    return out
