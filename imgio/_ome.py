"""OME-XML: a light parse at open (names, sizes, channels) and the full model on demand."""

from __future__ import annotations

import functools
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .errors import CorruptFileError, ImgioWarning

if TYPE_CHECKING:
    import numpy as np
    from ome_types import OME

    from .dims import PhysicalPixelSizes

__all__ = ["Modulo", "OmeImage", "build_ome", "parse_light", "to_micrometres", "to_seconds"]

_LENGTH = {
    "Ym": 1e30,
    "Zm": 1e27,
    "Em": 1e24,
    "Pm": 1e21,
    "Tm": 1e18,
    "Gm": 1e15,
    "Mm": 1e12,
    "km": 1e9,
    "hm": 1e8,
    "dam": 1e7,
    "m": 1e6,
    "meter": 1e6,
    "dm": 1e5,
    "cm": 1e4,
    "centimeter": 1e4,
    "mm": 1e3,
    "millimeter": 1e3,
    "µm": 1.0,
    "um": 1.0,
    "μm": 1.0,
    "micron": 1.0,
    "micrometer": 1.0,
    "nm": 1e-3,
    "nanometer": 1e-3,
    "pm": 1e-6,
    "fm": 1e-9,
    "am": 1e-12,
    "zm": 1e-15,
    "ym": 1e-18,
    "Å": 1e-4,
    "angstrom": 1e-4,
    "in": 25400.0,
    "inch": 25400.0,
    "ft": 304800.0,
    "yd": 914400.0,
    "mi": 1.609344e9,
}
_TIME = {
    "s": 1.0,
    "second": 1.0,
    "sec": 1.0,
    "ms": 1e-3,
    "millisecond": 1e-3,
    "µs": 1e-6,
    "us": 1e-6,
    "microsecond": 1e-6,
    "ns": 1e-9,
    "nanosecond": 1e-9,
    "ps": 1e-12,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}


def to_micrometres(value: Any, unit: str | None = "µm") -> float | None:
    """A length in µm, or ``None`` when missing, non-positive or in an unknown unit."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    factor = _LENGTH.get((unit or "µm").strip())
    if factor is None or not v > 0 or v != v:
        return None
    return v * factor


def to_seconds(value: Any, unit: str | None = "s") -> float | None:
    """A duration in seconds, or ``None``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    factor = _TIME.get((unit or "s").strip())
    if factor is None or not v > 0:
        return None
    return v * factor


@dataclass
class OmeImage:
    """What a light parse learns of one OME ``Image``."""

    id: str
    name: str | None
    dimension_order: str
    sizes: dict[str, int]
    type: str | None
    pixel_sizes: tuple[float | None, float | None, float | None]  # Z, Y, X µm
    time_increment: float | None
    channel_names: list[str | None] = field(default_factory=list)
    channel_colors: list[int | None] = field(default_factory=list)
    samples_per_pixel: list[int | None] = field(default_factory=list)
    # ModuloAlongZ/C/T annotations of this Image, keyed by the axis they subdivide
    modulo: dict[str, Modulo] = field(default_factory=dict)


@dataclass
class Modulo:
    """One ``ModuloAlongZ/C/T``: an extra axis of ``size`` values folded into Z, C or T."""

    along: str  # "Z", "C" or "T"
    type: str  # lifetime, lambda, angle, phase, tile, other, ...
    size: int
    labels: list[float] | list[str]
    unit: str | None = None
    type_description: str | None = None


MODULO_NAMESPACE = "openmicroscopy.org/omero/dimension/modulo"


def _modulo_along(el: ET.Element) -> Modulo | None:
    """A ``ModuloAlongX`` element: Start/Step/End or ``Label`` children."""
    a = el.attrib
    labels: list[Any] = [c.text or "" for c in el if _local(c.tag) == "Label"]
    if not labels and "Start" in a:
        try:
            start, end = float(a["Start"]), float(a.get("End", a["Start"]))
            step = float(a.get("Step", 1)) or 1.0
        except ValueError:
            return None
        n = int(round((end - start) / step)) + 1
        if not 0 < n <= 1 << 20:
            return None
        labels = [start + i * step for i in range(n)]
    if not labels:
        return None
    return Modulo(
        along=_local(el.tag)[-1],
        type=a.get("Type", "other"),
        size=len(labels),
        labels=labels,
        unit=a.get("Unit"),
        type_description=a.get("TypeDescription"),
    )


def _modulo_annotations(root: ET.Element) -> dict[str, dict[str, Modulo]]:
    """Annotation ID -> {axis: Modulo} for every modulo XMLAnnotation of the document."""
    out: dict[str, dict[str, Modulo]] = {}
    for sa in root:
        if _local(sa.tag) != "StructuredAnnotations":
            continue
        for ann in sa:
            if not ann.attrib.get("Namespace", "").endswith("modulo"):
                continue
            found = {}
            for el in ann.iter():
                if _local(el.tag).startswith("ModuloAlong") and _local(el.tag)[-1] in "ZCT":
                    mod = _modulo_along(el)
                    if mod is not None:
                        found[mod.along] = mod
            out[ann.attrib.get("ID", "")] = found
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_light(xml: str) -> list[OmeImage]:
    """Parse only Image/Pixels/Channel attributes; never raises, warns on trouble."""
    try:
        root = ET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    except ET.ParseError as exc:
        # common damage: stray bytes after the root element, bad characters
        cleaned = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", xml)
        ends = list(re.finditer(r"</(?:[A-Za-z_][\w.-]*:)?OME\s*>", cleaned))
        try:
            root = ET.fromstring(cleaned[: ends[-1].end()] if ends else cleaned)
        except ET.ParseError:
            warnings.warn(
                f"OME-XML is not well-formed ({exc}); metadata ignored", ImgioWarning, stacklevel=3
            )
            return []
    images = []
    modulos = _modulo_annotations(root)
    for image in root:
        if _local(image.tag) != "Image":
            continue
        modulo: dict[str, Modulo] = {}
        for ref in image:
            if _local(ref.tag) == "AnnotationRef":
                modulo.update(modulos.get(ref.attrib.get("ID", ""), {}))
        pixels = next((c for c in image if _local(c.tag) == "Pixels"), None)
        if pixels is None:
            continue
        a = pixels.attrib
        sizes = {}
        for d in "XYZCT":
            try:
                sizes[d] = int(a.get(f"Size{d}", "1"))
            except ValueError:
                sizes[d] = 1
        names, colors, spp = [], [], []
        for ch in pixels:
            if _local(ch.tag) != "Channel":
                continue
            names.append(ch.attrib.get("Name"))
            color = ch.attrib.get("Color")
            try:
                colors.append(int(color) & 0xFFFFFFFF if color is not None else None)
            except ValueError:
                colors.append(None)
            try:
                spp.append(
                    int(ch.attrib["SamplesPerPixel"]) if "SamplesPerPixel" in ch.attrib else None
                )
            except ValueError:
                spp.append(None)
        images.append(
            OmeImage(
                id=image.attrib.get("ID", ""),
                name=image.attrib.get("Name"),
                dimension_order=a.get("DimensionOrder", "XYZCT"),
                sizes=sizes,
                type=a.get("Type"),
                pixel_sizes=tuple(  # type: ignore[arg-type]
                    to_micrometres(a.get(f"PhysicalSize{d}"), a.get(f"PhysicalSize{d}Unit", "µm"))
                    for d in "ZYX"
                ),
                time_increment=to_seconds(a.get("TimeIncrement"), a.get("TimeIncrementUnit", "s")),
                channel_names=names,
                channel_colors=colors,
                samples_per_pixel=spp,
                modulo=modulo,
            )
        )
    return images


class SceneLike(Protocol):
    """What :func:`build_ome` reads of a scene (``imgio.readers.base.SceneInfo`` has it)."""

    @property
    def name(self) -> str: ...
    @property
    def dims(self) -> str: ...
    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def channel_names(self) -> tuple[str, ...] | None: ...
    @property
    def pixel_sizes(self) -> PhysicalPixelSizes: ...
    @property
    def time_interval(self) -> float | None: ...


def build_ome(xml: str | None, scenes: Sequence[SceneLike]) -> OME:
    """The full ``ome_types.OME`` model: from the file's OME-XML when valid, else assembled
    from its scenes."""
    from ome_types import from_xml, model

    _check_channels(scenes)
    if xml:
        try:
            return from_xml(xml, validate=False)
        except Exception as exc:  # noqa: BLE001 - any parse failure falls back to assembly
            warnings.warn(
                f"the OME-XML could not be parsed into a model ({type(exc).__name__}: {exc}); "
                "assembled one from what is known",
                ImgioWarning,
                stacklevel=2,
            )
    ome = model.OME(creator="imgio")
    for i, info in enumerate(scenes):
        try:
            ome.images.append(_assembled_image(model, i, info))
        except ValueError as exc:  # pydantic's ValidationError: a size of 0, a bad value
            raise CorruptFileError(
                f"scene {i} ({info.name!r}, shape {info.shapes[0]} {info.dims}) has no valid "
                f"OME description: {str(exc).splitlines()[0]}; "
                + "; ".join(" ".join(line.split()) for line in str(exc).splitlines()[1:3])
            ) from exc
    return ome


def _check_channels(scenes: Sequence[SceneLike]) -> None:
    """Refuse a model no real image needs before building it (see :data:`MAX_MODEL_CHANNELS`)."""
    from ._limits import MAX_MODEL_CHANNELS

    for i, info in enumerate(scenes):  # per image: a plate's wells may add up to more
        channels = dict(zip(info.dims, info.shapes[0], strict=False)).get("C", 1)
        if channels > MAX_MODEL_CHANNELS:
            raise CorruptFileError(
                f"scene {i} ({info.name!r}) has {channels} channels; imgio builds OME models "
                f"of images with at most {MAX_MODEL_CHANNELS} (its pixels read as usual)"
            )


def _assembled_image(model: Any, i: int, info: SceneLike) -> Any:
    """One scene's OME ``Image`` (pydantic validates it: a size of 0 is refused)."""
    sizes = dict(zip(info.dims, info.shapes[0], strict=True))
    samples = sizes.get("S", 1)
    n_channels = sizes.get("C", 1)
    channels = [
        model.Channel(
            id=f"Channel:{i}:{c}",
            name=(
                xml_text(info.channel_names[c])
                if info.channel_names and c < len(info.channel_names)
                else None
            ),
            samples_per_pixel=samples,
        )
        for c in range(n_channels)
    ]
    kwargs: dict[str, Any] = {}
    for d, v in zip("ZYX", info.pixel_sizes, strict=True):
        if v:
            kwargs[f"physical_size_{d.lower()}"] = v
    if info.time_interval:
        kwargs["time_increment"] = info.time_interval
    pixel_type = _pixel_type(info.dtype.name)
    pixels = model.Pixels(
        id=f"Pixels:{i}",
        dimension_order=model.Pixels_DimensionOrder.XYZCT,
        size_x=sizes.get("X", 1),
        size_y=sizes.get("Y", 1),
        size_z=sizes.get("Z", 1),
        size_c=n_channels * samples,
        size_t=sizes.get("T", 1),
        type=model.PixelType(pixel_type),
        channels=channels,
        metadata_only=model.MetadataOnly(),
        **kwargs,
    )
    return model.Image(id=f"Image:{i}", name=xml_text(info.name), pixels=pixels)


@functools.cache
def _not_xml() -> re.Pattern[str]:  # compiled on first use: a few ms every start-up otherwise
    return re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: str | None) -> str | None:
    """``value`` without the characters XML cannot hold (control characters, NUL: a name
    read from a damaged header), so the model's ``to_xml`` cannot fail on it."""
    return None if value is None else _not_xml().sub("", str(value))


def _pixel_type(name: str) -> str:
    return {
        "bool": "bit",
        "float32": "float",
        "float64": "double",
        "complex64": "complex",
        "complex128": "double-complex",
    }.get(
        name, name if name in {"int8", "int16", "int32", "uint8", "uint16", "uint32"} else "double"
    )


def nominal_magnification(xml: str, scene: int = 0) -> float | None:
    """``NominalMagnification`` of the objective of OME ``Image`` ``scene`` (its
    ``ObjectiveSettings``), else of the first objective that has one; never raises.
    """
    try:
        root = ET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    except ET.ParseError:
        found = re.search(r'NominalMagnification\s*=\s*"([0-9.]+)"', xml)
        return _positive(found.group(1)) if found else None
    powers: dict[str, float | None] = {}
    for el in root.iter():
        if _local(el.tag) == "Objective" and "NominalMagnification" in el.attrib:
            powers[el.attrib.get("ID", "")] = _positive(el.attrib["NominalMagnification"])
    images = [el for el in root if _local(el.tag) == "Image"]
    if 0 <= scene < len(images):
        for el in images[scene]:
            if _local(el.tag) == "ObjectiveSettings" and powers.get(el.attrib.get("ID", "")):
                return powers[el.attrib["ID"]]
    return next((p for p in powers.values() if p), None)


def _positive(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 and value == value else None
