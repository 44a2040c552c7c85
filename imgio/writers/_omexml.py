"""OME-XML (2016-06 schema) for written files, built as text (importing ome_types costs ~1 s).

Planes are stored Z fastest, then C, then T (``DimensionOrder="XYZCT"``); an RGB(A)
scene is one channel of ``SamplesPerPixel`` 3 or 4 (OME counts samples in SizeC).
Tests validate the output against the schema with ``ome_types.from_xml(validate=True)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import ImgioError
from ._extra import modulo_xml
from ._input import Scene

__all__ = ["PIXEL_TYPES", "ome_xml", "pixel_type"]

NAMESPACE = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
PIXEL_TYPES = {
    "uint8": "uint8",
    "int8": "int8",
    "uint16": "uint16",
    "int16": "int16",
    "uint32": "uint32",
    "int32": "int32",
    "float32": "float",
    "float64": "double",
    "complex64": "complex",
    "complex128": "double-complex",
    "bool": "bit",
}


def pixel_type(dtype: np.dtype[Any]) -> str:
    """The OME pixel type of a numpy dtype."""
    name = np.dtype(dtype).name
    if name not in PIXEL_TYPES:
        raise ImgioError(f"OME has no pixel type for {name}; expected one of {sorted(PIXEL_TYPES)}")
    return PIXEL_TYPES[name]


def quoteattr(text: str) -> str:
    """``xml.sax.saxutils.quoteattr`` (same output), without the ~15 ms import of
    ``urllib.request`` that saxutils brings along."""
    for raw, entity in (("&", "&amp;"), (">", "&gt;"), ("<", "&lt;")):
        text = text.replace(raw, entity)
    for raw, entity in (("\n", "&#10;"), ("\r", "&#13;"), ("\t", "&#9;")):
        text = text.replace(raw, entity)
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return '"{}"'.format(text.replace('"', "&quot;"))


def _attrs(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={quoteattr(str(v))}" for k, v in values.items() if v is not None)


def _signed(color: int) -> int:
    """OME colors are RGBA packed in a signed 32-bit int."""
    color = int(color) & 0xFFFFFFFF
    return color - (1 << 32) if color >= 1 << 31 else color


def _image(i: int, scene: Scene, first_ifd: int | None) -> list[str]:
    shape = dict(zip(scene.dims, scene.data.shape, strict=True))
    samples = shape.get("S", 1)
    pixels: dict[str, Any] = {
        "ID": f"Pixels:{i}",
        "DimensionOrder": "XYZCT",
        "Type": pixel_type(scene.data.dtype),
        "SizeX": shape["X"],
        "SizeY": shape["Y"],
        "SizeZ": shape["Z"],
        "SizeC": shape["C"] * samples,
        "SizeT": shape["T"],
        "Interleaved": "true" if samples > 1 else "false",
        "BigEndian": "false",
    }
    for d, v in zip("ZYX", scene.pixel_sizes, strict=True):
        if v is not None:
            pixels[f"PhysicalSize{d}"] = repr(float(v))
            pixels[f"PhysicalSize{d}Unit"] = "µm"
    if scene.time_interval:
        pixels["TimeIncrement"] = repr(float(scene.time_interval))
        pixels["TimeIncrementUnit"] = "s"
    lines = [
        f"  <Image {_attrs({'ID': f'Image:{i}', 'Name': scene.name})}>",
        f"    <Pixels {_attrs(pixels)}>",
    ]
    colors = scene.channel_colors or [None] * shape["C"]
    for c, (name, color) in enumerate(zip(scene.channel_names, colors, strict=True)):
        channel = {
            "ID": f"Channel:{i}:{c}",
            "Name": name,
            "SamplesPerPixel": samples,
            "Color": None if color is None else _signed(color),
        }
        lines.append(f"      <Channel {_attrs(channel)}/>")
    if first_ifd is None:
        lines.append("      <MetadataOnly/>")
    else:
        planes = shape["T"] * shape["C"] * shape["Z"]
        lines.append(f'      <TiffData IFD="{first_ifd}" PlaneCount="{planes}"/>')
    lines.append("    </Pixels>")
    if scene.modulo:
        lines.append(f'    <AnnotationRef ID="Annotation:Modulo:{i}"/>')
    lines.append("  </Image>")
    return lines


def _version() -> str:
    """imgio's version (the package root is above the writers: its one source)."""
    return __version__


def ome_xml(scenes: Sequence[Scene], *, first_ifds: Sequence[int] | None = None) -> str:
    """The OME-XML document of ``scenes``; with ``first_ifds`` each Image maps its TIFF pages."""
    head = (
        f'<OME xmlns="{NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{NAMESPACE} {NAMESPACE}/ome.xsd" Creator="imgio {_version()}">'
    )
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', head]
    for i, scene in enumerate(scenes):
        lines += _image(i, scene, None if first_ifds is None else first_ifds[i])
    annotations = [
        "    " + modulo_xml(f"Annotation:Modulo:{i}", scene.modulo)
        for i, scene in enumerate(scenes)
        if scene.modulo
    ]
    if annotations:
        lines += ["  <StructuredAnnotations>", *annotations, "  </StructuredAnnotations>"]
    lines.append("</OME>")
    text = "\n".join(lines) + "\n"
    if any(scene.ome_source is not None for scene in scenes):
        from ._ome_carry import carry

        text = carry(text, scenes)
    return text
