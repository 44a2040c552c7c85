"""The OME model of a DICOM slide: imgio's assembled scenes plus the instrument (objective
power, manufacturer, model) and the acquisition date, as OME-XML text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..._ome import build_ome, xml_text
from ..base import SceneInfo

__all__ = ["slide_ome_xml"]


def _when(text: Any) -> datetime | None:
    """A DICOM DT (``YYYYMMDDHHMMSS[.ffffff]``) as a datetime, or None."""
    digits = str(text or "").split(".")[0].split("+")[0].split("-")[0]
    for fmt in ("%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d"):
        try:
            return datetime.strptime(digits, fmt)
        except ValueError:
            continue
    return None


def _text(value: Any) -> str | None:
    return None if value is None else xml_text(str(value))


def slide_ome_xml(scenes: Sequence[SceneInfo], meta: Mapping[str, Any]) -> str:
    """OME-XML for the scenes, with an Instrument carrying the objective when known."""
    from ome_types import model, to_xml

    ome = build_ome(None, scenes)
    power = meta.get("objective_power")
    # text from the file loses the characters XML cannot hold (a NUL in a damaged header)
    microscope = model.Microscope(
        manufacturer=_text(meta.get("Manufacturer")),
        model=_text(meta.get("ManufacturerModelName")),
    )
    objectives = [model.Objective(id="Objective:0:0", nominal_magnification=float(power or 0))]
    instrument = model.Instrument(
        id="Instrument:0", microscope=microscope, objectives=objectives if power else []
    )
    ome.instruments.append(instrument)
    when = _when(meta.get("AcquisitionDateTime"))
    for image in ome.images:
        image.instrument_ref = model.InstrumentRef(id=instrument.id)
        if power:
            image.objective_settings = model.ObjectiveSettings(id="Objective:0:0")
        if when is not None:
            image.acquisition_date = when
        if meta.get("SeriesDescription"):
            image.description = xml_text(str(meta["SeriesDescription"]))
    return str(to_xml(ome))
