"""Synthetic Leica LAS X exported projects (XLEF / XLCF / XLIF + LOF or image files).

No public sample exists, so the tests build projects from a LIF image the way LAS X
exports them (Leica Image File Formats, version 3.2): the XLIF is the LIF image's
``Element`` (its ``Data/Image`` description) with a ``Memory`` element naming the
files that hold the pixels, as byte spans of the image's C-ordered memory block.
XML files are UTF-16 with an XML declaration, as LAS X writes them.
"""

from __future__ import annotations

import copy
import struct
from pathlib import Path
from xml.etree import ElementTree

import imagecodecs
import liffile
import numpy as np
import tifffile

__all__ = ["lof_from_lif", "write_lof", "write_xlef", "write_xlif", "write_xml"]


def write_xml(path: Path, root: ElementTree.Element) -> Path:
    """An LMS XML file: UTF-16-LE with an XML declaration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ElementTree.tostring(root, encoding="unicode")
    path.write_bytes(f'<?xml version="1.0" encoding="utf-16"?>{text}'.encode("utf-16-le"))
    return path


def _header(element: ElementTree.Element) -> ElementTree.Element:
    root = ElementTree.Element("LMSDataContainerHeader", Version="2")
    root.append(element)
    return root


def write_lof(path: Path, element: ElementTree.Element, pixels: bytes) -> Path:
    """A LAS X object file: magic, one memory block, then the image's XML."""
    xml = ElementTree.tostring(_header(element), encoding="unicode")
    magic = "LMS_Object_File"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IIBI", 0x70, 2 * len(magic) + 5, 0x2A, len(magic)))
        fh.write(magic.encode("utf-16-le"))
        fh.write(struct.pack("<BIBI", 0x2A, 2, 0x2A, 2))
        fh.write(struct.pack("<BQ", 0x2A, len(pixels)) + pixels)
        fh.write(struct.pack("<IIBI", 0x70, 2 * len(xml) + 5, 0x2A, len(xml)))
        fh.write(xml.encode("utf-16-le"))
    return path


def lof_from_lif(lif_path: Path, out: Path, index: int = 0) -> Path:
    """Image ``index`` of a LIF as a LAS X object file (LOF), its whole memory block and XML."""
    with liffile.LifFile(lif_path) as lif:
        image = lif.images[index]
        return write_lof(out, copy.deepcopy(image.xml_element), image.memory_block.read())


def _image(lif_path: Path, index: int) -> tuple[ElementTree.Element, bytes, tuple[int, int]]:
    """A LIF image's Element (no Memory/Children), its pixels and its (rows, row bytes)."""
    with liffile.LifFile(lif_path) as lif:
        image = lif.images[index]
        pixels = image.memory_block.read()[: np.prod(image.shape) * image.dtype.itemsize]
        element = copy.deepcopy(image.xml_element)
        plane = (image.sizes["Y"], image.sizes["X"] * image.dtype.itemsize)
    for tag in ("Memory", "Children"):
        for child in element.findall(tag):
            element.remove(child)
    return element, pixels, plane


def write_xlif(
    lif_path: Path, folder: Path, *, index: int = 0, kind: str = "lof", name: str | None = None
) -> Path:
    """Image ``index`` of a LIF as ``folder/NAME.xlif`` with its pixels in files beside it.

    ``kind``: ``"lof"`` (one LOF file), ``"tif"``/``"png"`` (one file per Y/X plane),
    ``"pages"`` (one multi-page TIFF).
    """
    element, pixels, (rows, row_bytes) = _image(lif_path, index)
    name = name or element.get("Name", "image")
    element.set("Name", name)
    folder.mkdir(parents=True, exist_ok=True)
    memory = ElementTree.SubElement(
        element, "Memory", Size=str(len(pixels)), MemoryBlockID=f"MemBlock_{name}"
    )
    plane_bytes = rows * row_bytes
    planes = [pixels[i : i + plane_bytes] for i in range(0, len(pixels), plane_bytes)]
    dtype = np.dtype(f"u{_itemsize(element)}")
    arrays = [np.frombuffer(p, dtype).reshape(rows, -1) for p in planes]
    if kind == "lof":
        write_lof(folder / f"{name}.lof", copy.deepcopy(element), pixels)
        _frame(memory, f"{name}.lof", 0, len(pixels))
    elif kind == "pages":
        tifffile.imwrite(folder / f"{name}.tif", np.stack(arrays))
        _frame(memory, f"{name}.tif", 0, len(pixels))
    else:
        for i, arr in enumerate(arrays):
            file = f"{name}_{i:04d}.{kind}"
            if kind == "tif":
                tifffile.imwrite(folder / file, arr)
            else:
                (folder / file).write_bytes(imagecodecs.png_encode(arr))
            _frame(memory, f".\\{file}", i * plane_bytes, plane_bytes)
    return write_xml(folder / f"{name}.xlif", _header(element))


def _itemsize(element: ElementTree.Element) -> int:
    channel = element.find("./Data/Image/ImageDescription/Channels/ChannelDescription")
    assert channel is not None
    return (int(channel.get("Resolution", "8")) + 7) // 8


def _frame(memory: ElementTree.Element, file: str, offset: int, size: int) -> None:
    ElementTree.SubElement(memory, "Frame", File=file, Offset=str(offset), Size=str(size), UUID="")


def write_xlef(path: Path, children: list[str], *, kind: str = "Experiment") -> Path:
    """An XLEF (``kind="Experiment"``) or XLCF (``"Collection"``) naming ``children``
    (paths relative to ``path``'s folder, written with backslashes as LAS X does)."""
    element = ElementTree.Element("Element", Name=path.stem, UniqueID="0")
    data = ElementTree.SubElement(element, "Data")
    ElementTree.SubElement(data, kind)
    ElementTree.SubElement(element, "Memory", Size="0", MemoryBlockID="")
    refs = ElementTree.SubElement(element, "Children")
    for child in children:
        ElementTree.SubElement(
            refs, "Reference", Name=Path(child).stem, File=".\\" + child.replace("/", "\\"), UUID=""
        )
    return write_xml(path, _header(element))
