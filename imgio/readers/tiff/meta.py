"""Physical sizes, time intervals and channel names from the many TIFF flavours."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..._ome import to_micrometres, to_seconds

__all__ = [
    "imagej_sizes",
    "resolution_sizes",
    "tiff_objective_power",
    "tiff_vendor",
    "vendor_sizes",
]

Sizes = dict[str, float]  # "Z"/"Y"/"X" in µm, "T" in seconds


def _unit_text(unit: Any) -> str | None:
    if unit is None:
        return None
    text = str(unit).strip()
    text = text.replace("\\u00B5", "µ").replace("\\u00b5", "µ").replace("u00B5", "µ")
    aliases = {
        "micron": "µm",
        "microns": "µm",
        "um": "µm",
        "μm": "µm",
        "nanometer": "nm",
        "nanometers": "nm",
        "millimeter": "mm",
        "millimeters": "mm",
        "centimeter": "cm",
        "centimeters": "cm",
        "micrometers": "µm",
        "inches": "inch",
        "A": "Å",
        "pixels": "pixel",
    }
    return aliases.get(text, aliases.get(text.lower(), text))


#: TIFF ResolutionUnit values whose XResolution is per a physical length (tifffile adds 4, 5)
_TAG_UNITS = {2: "inch", 3: "cm", 4: "mm", 5: "µm"}


def resolution_sizes(page: Any, *, unit_override: str | None = None) -> Sizes:
    """Pixel size from XResolution/YResolution (pixels per unit).

    The ResolutionUnit tag says what the resolution is per: inch, centimetre (and
    tifffile's millimetre/micrometre). ``unit_override`` (ImageJ's ``unit``) applies
    only when the tag says NONE: ImageJ writes NONE for every unit but inch and cm,
    while Fiji/SCIFIO write centimetre resolutions next to ``unit=micron``.
    Screen/print defaults (72/96/150/300/600 dpi) and inch resolutions under 1000 dpi
    are not a microscope's calibration and are skipped.
    """
    tags = page.tags
    x, y = tags.get(282), tags.get(283)
    if x is None or y is None:
        return {}
    unit = tags.get(296)
    unit_value = int(unit.value) if unit is not None else 2
    per = _TAG_UNITS.get(unit_value)
    if per is None and unit_override is not None:
        per = unit_override
    if per is None:
        return {}
    out: Sizes = {}
    for letter, tag in (("X", x), ("Y", y)):
        value = tag.value
        try:
            per_unit = value[0] / value[1] if isinstance(value, tuple) else float(value)
        except (TypeError, ZeroDivisionError, IndexError):
            continue
        if not per_unit > 0:
            continue
        length_unit = _per(per, per_unit, unit_override)
        size = to_micrometres(1.0 / per_unit, length_unit) if length_unit else None
        if size:
            out[letter] = size
    return out


def _per(tag_unit: str, per_unit: float, imagej_unit: str | None) -> str | None:
    """The length unit one resolution value is per, or None when it is no calibration."""
    if tag_unit in ("inch", "cm") and _is_default_dpi(per_unit, tag_unit):
        return None
    if tag_unit == "inch" and per_unit < 1000 and imagej_unit != "inch":
        # a low dpi is a print setting; tifffile users who set INCH by mistake next to an
        # ImageJ unit meant resolution per that unit
        return imagej_unit
    return tag_unit


def _is_default_dpi(per_unit: float, unit: str) -> bool:
    """72/96/150/300 dpi (also stored per centimetre) are software defaults, not calibration."""
    dpi = per_unit if unit == "inch" else per_unit * 2.54
    return any(abs(dpi - d) <= d * 1e-3 for d in (72.0, 96.0, 150.0, 300.0, 600.0))


def imagej_sizes(tif: Any) -> Sizes:
    """ImageJ: resolution in ``unit``, ``spacing`` for Z, ``finterval`` for T.

    ImageJ writes ``yunit=``/``zunit=`` when Y or Z have a unit of their own.
    """
    meta = tif.imagej_metadata or {}
    unit = _unit_text(meta.get("unit"))
    out: Sizes = {}
    if unit is None:  # no ImageJ unit: the TIFF tags alone (ResolutionUnit)
        out.update(resolution_sizes(tif.pages.first))
    elif unit and unit != "pixel":
        out.update(resolution_sizes(tif.pages.first, unit_override=unit))
        yunit = _unit_text(meta.get("yunit")) or unit
        if yunit != unit:
            out.pop("Y", None)
            y = resolution_sizes(tif.pages.first, unit_override=yunit).get("Y")
            if y and yunit != "pixel":
                out["Y"] = y
        z = to_micrometres(meta.get("spacing"), _unit_text(meta.get("zunit")) or unit)
        if z:
            out["Z"] = z
    t = to_seconds(meta.get("finterval"), _time_unit(meta.get("tunit")))
    if t:
        out["T"] = t
    return out


def _time_unit(unit: Any) -> str:
    text = str(unit or "s").strip().lower()
    return {"sec": "s", "seconds": "s", "msec": "ms", "min": "min", "hours": "h"}.get(text, text)


def vendor_sizes(tif: Any, series: Any) -> Sizes:
    """Sizes from whole-slide descriptions and instrument tags (SVS, LSM, FEI, STK...)."""
    out: Sizes = {}
    page = series.keyframe
    if tif.is_svs:
        match = re.search(
            r"MPP\s*=\s*([0-9.eE+-]+)", page.description or tif.pages.first.description or ""
        )
        if match:
            mpp = float(match.group(1))
            if mpp > 0:
                out["X"] = out["Y"] = mpp
        return out
    if tif.is_lsm and tif.lsm_metadata:
        meta = tif.lsm_metadata
        for d, key in (("X", "VoxelSizeX"), ("Y", "VoxelSizeY"), ("Z", "VoxelSizeZ")):
            v = to_micrometres(meta.get(key), "m")
            if v:
                out[d] = v
        t = to_seconds(meta.get("TimeIntervall"), "s")
        if t:
            out["T"] = t
        return out
    if tif.is_fei and tif.fei_metadata:
        scan = tif.fei_metadata.get("Scan", {})
        for d, key in (("X", "PixelWidth"), ("Y", "PixelHeight")):
            v = to_micrometres(scan.get(key), "m")
            if v:
                out[d] = v
        return out
    if tif.is_sem and tif.sem_metadata:
        ps = tif.sem_metadata.get("ap_image_pixel_size")
        if isinstance(ps, tuple) and len(ps) >= 3:
            v = to_micrometres(ps[1], str(ps[2]))
            if v:
                out["X"] = out["Y"] = v
        return out
    if tif.is_stk and tif.stk_metadata:
        meta = tif.stk_metadata
        unit = _unit_text(meta.get("CalibrationUnits"))
        if not unit or unit.lower() in ("pixel", "pixels"):
            return out  # uncalibrated: MetaMorph writes 1.0 "per pixel" with no unit
        for d, key in (("X", "XCalibration"), ("Y", "YCalibration"), ("Z", "ZDistance")):
            val = meta.get(key)
            if hasattr(val, "__len__") and not isinstance(val, (str, bytes)):
                val = val[0] if len(val) else None
            v = to_micrometres(val, unit)
            if v:
                out[d] = v
        return out
    if tif.is_ndpi or tif.is_scn or tif.is_philips or tif.is_bif or tif.is_qpi:
        out.update(resolution_sizes(page))
        return out
    out.update(resolution_sizes(page))
    return out


# OpenSlide's vendor names, by the suffix of a TIFF-family slide
VENDORS = {
    ".svs": "aperio",
    ".ndpi": "hamamatsu",
    ".scn": "leica",
    ".bif": "ventana",
    ".tif": "generic-tiff",
    ".tiff": "generic-tiff",
    ".ptif": "generic-tiff",
}


def tiff_vendor(suffixes: str, metadata: Any) -> str:
    """OpenSlide's vendor of a TIFF-family file from its suffixes and native metadata."""
    if suffixes.endswith((".ome.tif", ".ome.tiff", ".ome.btf")):
        return "ome-tiff"
    if isinstance(metadata, str) and metadata.startswith("Aperio"):
        return "aperio"
    for suffix, vendor in VENDORS.items():
        if suffixes.endswith(suffix):
            return vendor
    return "tiff"


def tiff_objective_power(metadata: Any) -> float | None:
    """The objective power an SVS description (``AppMag``) or NDPI tags record."""
    if isinstance(metadata, Mapping):
        for key in ("AppMag", "Magnification", "magnification", "objective_power"):
            try:
                value = float(metadata[key])
            except (KeyError, TypeError, ValueError):
                continue
            if value > 0:
                return value
    if isinstance(metadata, str):
        found = re.search(r"AppMag\s*=\s*([0-9.]+)", metadata)
        if found and float(found.group(1)) > 0:
            return float(found.group(1))
    return None
