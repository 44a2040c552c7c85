"""What a source says that a DICOM header carries over (patient, study, scanner, depth).

A DICOM source's own header values (its reader's ``metadata``: patient, study, equipment,
container, slice thickness), else the OME model's (acquisition date, the microscope's
manufacturer, model and serial number, the Z pixel size as a focal plane's depth); the
container (slide) identifier falls back to the source file's name. Nothing is made up:
what no source gives is left to :mod:`~imgio.writers._dicom_dataset` (empty where the IOD
allows it).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ._dicom_dataset import FACTS

if TYPE_CHECKING:
    from ..arrays import ImageFile

__all__ = ["source_facts"]


def source_facts(file: ImageFile, scene: int) -> dict[str, Any]:
    """DICOM keywords (:data:`~imgio.writers._dicom_dataset.FACTS` and the Study Instance
    UID) with the source's values for its ``scene``."""
    facts: dict[str, Any] = {}
    meta = file.metadata
    if isinstance(meta, dict):
        for key in (*FACTS, "StudyInstanceUID"):
            value = meta.get(key)
            if value not in (None, "") and isinstance(value, (str, int, float)):
                facts[key] = value
    _ome_facts(file, scene, facts)
    stem = PurePosixPath(file.location.name).stem
    if stem:
        facts.setdefault("ContainerIdentifier", stem)
    return facts


def _ome_facts(file: ImageFile, scene: int, facts: dict[str, Any]) -> None:
    """From the source's own OME-XML (read with ElementTree: no OME model is built)."""
    import xml.etree.ElementTree as ET

    text = file.ome_xml()
    if not text:
        return
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError:
        return
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    images = root.findall(f"{ns}Image")
    if scene >= len(images):
        return
    image = images[scene]
    when = image.findtext(f"{ns}AcquisitionDate")
    if when:
        digits = "".join(ch for ch in when[:19] if ch.isdigit())
        facts.setdefault("AcquisitionDateTime", digits)
    ref = image.find(f"{ns}InstrumentRef")
    for instrument in root.findall(f"{ns}Instrument"):
        scope = instrument.find(f"{ns}Microscope")
        if ref is None or instrument.get("ID") != ref.get("ID") or scope is None:
            continue
        for key, attr in (
            ("Manufacturer", "Manufacturer"),
            ("ManufacturerModelName", "Model"),
            ("DeviceSerialNumber", "SerialNumber"),
        ):
            if scope.get(attr):
                facts.setdefault(key, scope.get(attr))
    pixels = image.find(f"{ns}Pixels")
    size_z = pixels.get("PhysicalSizeZ") if pixels is not None else None
    unit = pixels.get("PhysicalSizeZUnit", "µm") if pixels is not None else ""
    try:
        depth = float(size_z) if size_z else None
    except ValueError:
        depth = None
    if depth and depth > 0 and unit in ("µm", "um"):
        facts.setdefault("SliceThickness", depth / 1000.0)
