"""OME companion files: an OME-XML document (``.companion.ome``/``.ome``) whose
``TiffData`` elements place the planes of BinaryOnly OME-TIFF files.

Open the companion file itself, or the folder that holds exactly one companion.
Each OME ``Image`` is a scene with one level (SubIFD pyramids of the referenced
files are not followed). Planes are mapped from ``FirstZ/FirstC/FirstT``, ``IFD``
and ``PlaneCount``; planes no ``TiffData`` covers read as zeros (with a warning).
The pixels come from the TIFF pages, so their samples (RGB) are kept as ``S`` even
when the XML's ``SizeC`` does not count them.
"""

from __future__ import annotations

import math
import os
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._confine import referenced
from ..._limits import MAX_GRID
from ..._location import Location
from ..._ome import OmeImage, parse_light
from ...dims import PhysicalPixelSizes
from ...errors import (
    CorruptFileError,
    ImgioWarning,
    MissingFileError,
    SelectionError,
    UnsupportedFormatError,
)
from ..base import Reader, SceneInfo
from ._errors import tiff_errors
from ._ifds import guard_pages
from .series import (
    _contiguous,
    _raw_dtype,
    _validate,
    check_page,
    page_dims,
    page_geometry,
    row_major,
)
from .source import TiffSource, register_decoder

__all__ = ["CompanionReader"]

COMPANION_SUFFIXES = (".companion.ome", ".ome")


# the OME root element, with a namespace prefix or not (``<OME ...>``, ``<ome:OME ...>``)
_OME_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?OME[\s>/]")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _int(attrib: dict[str, str], key: str, default: int | None) -> int | None:
    text = attrib.get(key)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        return default


@dataclass
class _TiffData:
    file: str
    ifd: int
    plane_count: int | None
    first: dict[str, int]


def _tiff_data(pixels: ET.Element) -> list[_TiffData]:
    out = []
    for td in pixels:
        if _local(td.tag) != "TiffData":
            continue
        uuid = next((c for c in td if _local(c.tag) == "UUID"), None)
        name = uuid.attrib.get("FileName") if uuid is not None else None
        if not name:
            continue  # a TiffData of "this file": a companion has no pixels of its own
        count = _int(td.attrib, "PlaneCount", None)
        ifd = _int(td.attrib, "IFD", None)
        if count is None and ifd is not None:
            count = 1  # the schema: IFD given without PlaneCount means one plane
        first = {d: _int(td.attrib, f"First{d}", 0) or 0 for d in "ZCT"}
        out.append(_TiffData(name, ifd or 0, count, first))
    return out


class CompanionReader(Reader):
    """An OME companion XML plus the BinaryOnly OME-TIFF files it references."""

    name = "ome-companion"
    suffixes = COMPANION_SUFFIXES

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return text.startswith(b"<") and _OME_ROOT.search(head) is not None

    @classmethod
    def sniff_location(cls, location: Location) -> bool:
        return location.is_local and location.isdir() and len(_companions_in(location)) == 1

    options = ("allow_external_files",)

    def __init__(self, location: Location, allow_external_files: bool = False) -> None:
        self._allow_external = allow_external_files
        if location.isdir():
            found = _companions_in(location)
            if len(found) != 1:
                raise UnsupportedFormatError(
                    location.url,
                    {
                        self.name: "expected one companion (*.companion.ome or *.ome) in the "
                        f"folder, found {found}"
                    },
                )
            location = location.child(found[0])
        super().__init__(location)
        raw = location.read_range(0, location.size)
        self._xml = raw.decode("utf-8", errors="replace")
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as exc:
            raise UnsupportedFormatError(
                location.url, {self.name: f"not well-formed XML ({exc})"}
            ) from exc
        if _local(root.tag) != "OME":
            raise UnsupportedFormatError(
                location.url, {self.name: f"root element is {root.tag!r}, not OME"}
            )
        pixels = []
        for element in root:
            if _local(element.tag) == "Image":
                p = next((c for c in element if _local(c.tag) == "Pixels"), None)
                if p is not None:
                    pixels.append(p)
        self._tiff_data = [_tiff_data(p) for p in pixels]
        if not any(self._tiff_data):
            raise UnsupportedFormatError(
                location.url,
                {self.name: "OME-XML without TiffData naming TIFF files (not a companion)"},
            )
        self._images: list[OmeImage] = parse_light(self._xml)
        self._token = location.token()
        self._sources: dict[int, TiffSource] = {}
        self._scenes: list[SceneInfo] = []
        names: set[str] = set()
        for index, (image, tds) in enumerate(zip(self._images, self._tiff_data, strict=True)):
            with tiff_errors(location.url, f"image {index}"):
                info, source = self._build(index, image, tds)
            if info.name in names:
                info = SceneInfo(**{**info.__dict__, "name": f"{info.name} ({index})"})
            names.add(info.name)
            self._scenes.append(info)
            self._sources[index] = source

    # ---------------------------------------------------------------- layout
    def _build(
        self, index: int, image: OmeImage, tds: list[_TiffData]
    ) -> tuple[SceneInfo, TiffSource]:
        where = f"{self.location.name} image {index}"
        order = image.dimension_order.upper()
        if sorted(order) != sorted("XYZCT") or not order.startswith("XY"):
            raise CorruptFileError(f"{where}: invalid DimensionOrder {image.dimension_order!r}")
        plane_axes = order[2:][::-1]  # slowest first, e.g. XYZCT -> "TCZ"
        sizes = {d: max(1, image.sizes.get(d, 1)) for d in "ZCT"}
        files = _Files.open(self, where, tds)
        key = files.key
        samples = int(key.shaped[0]) * int(key.shaped[4])
        if samples > 1 and sizes["C"] % samples == 0 and sizes["C"] >= samples:
            sizes["C"] //= samples  # SizeC counts the samples of RGB planes
        plane_shape = tuple(sizes[d] for d in plane_axes)
        n_planes = math.prod(plane_shape)
        if n_planes > MAX_GRID:
            raise CorruptFileError(
                f"{where}: Size{plane_axes} = {plane_shape} declares {n_planes} planes; "
                f"expected at most {MAX_GRID}"
            )
        geometry = page_geometry(key)
        planes = _place_planes(where, tds, files, plane_axes, plane_shape)
        _validate(where, planes, files.locations, geometry.n_segments)
        raw = _raw_dtype(key, files.byteorder)
        if raw is not None and row_major(geometry):
            nbytes = math.prod(int(v) for v in key.shaped) * raw.itemsize
            planes = [
                (p[0], p[1], p[2], _contiguous(p[1], p[2], nbytes)) if p is not None else None
                for p in planes
            ]
        dims = plane_axes + page_dims(key)
        name = image.name or f"Image:{index}"
        source = TiffSource(
            locations=files.locations,
            dims=dims,
            plane_shape=plane_shape,
            geometry=geometry,
            page_dims=page_dims(key),
            dtype=np.dtype(key.dtype),
            planes=planes,
            keyframe=(files.key_file, int(key.offset)),
            raw_dtype=raw,
            fill=0.0,
            token=f"{self._token}|{name}|0",
            where=f"{self.location.name} scene {name!r} level 0",
        )
        return _scene_info(image, index, name, sizes["C"], source), source

    # --------------------------------------------------------------- contract
    def scenes(self) -> Sequence[SceneInfo]:
        return self._scenes

    def source(self, scene: int, level: int = 0) -> TiffSource:
        if not 0 <= scene < len(self._scenes):
            raise SelectionError(f"scene {scene} out of range (0..{len(self._scenes) - 1})")
        if level != 0:
            raise SelectionError(f"level {level} out of range for scene {scene} (0..0)")
        return self._sources[scene]

    def ome_xml(self) -> str | None:
        return self._xml

    @property
    def metadata(self) -> Any:
        """The companion's OME-XML text."""
        return self._xml


@dataclass
class _PageInfo:
    """What the layout needs of one IFD (no tifffile objects kept)."""

    shaped: tuple[int, ...]
    dtype: Any
    compression: int
    offsets: np.ndarray[Any, Any]
    counts: np.ndarray[Any, Any]

    @classmethod
    def of(cls, page: Any) -> _PageInfo:
        return cls(
            tuple(int(v) for v in page.shaped),
            page.dtype,
            int(page.compression),
            np.asarray(page.dataoffsets, dtype=np.int64),
            np.asarray(page.databytecounts, dtype=np.int64),
        )


def _companions_in(location: Location) -> list[str]:
    try:
        names = sorted(os.listdir(location.url))
    except OSError:
        return []
    return [n for n in names if n.lower().endswith(COMPANION_SUFFIXES)]


Plane = tuple[int, "np.ndarray[Any, Any]", "np.ndarray[Any, Any]", bool]


@dataclass
class _Files:
    """The TIFF files a companion Image references: their locations, their pages (IFDs
    read once) and the key page every plane must match."""

    names: list[str]
    locations: list[Location]
    pages: dict[str, list[Any]]
    byteorder: str
    key: Any
    key_file: int

    @classmethod
    def open(cls, reader: CompanionReader, where: str, tds: list[_TiffData]) -> _Files:
        import tifffile

        names = list(dict.fromkeys(td.file for td in tds))
        locations: list[Location] = []
        pages: dict[str, list[Any]] = {}
        byteorders = set()
        key: Any = None
        for name in names:
            loc = referenced(
                reader.location, name, allow_external=reader._allow_external, where=where
            )
            if not loc.exists():
                raise MissingFileError(
                    f"{where}: TiffData names {name!r}, which is not beside the companion"
                )
            with (
                tiff_errors(where, f"cannot read {name}"),
                loc.open() as fh,
                tifffile.TiffFile(fh, name=name, _useframes=False) as tif,
            ):
                guard_pages(tif, f"{where}: {name}")
                tiff_pages = list(tif.pages)
                byteorders.add(tif.byteorder)
                pages[name] = [_PageInfo.of(p) for p in tiff_pages]
                if key is None:
                    first_td = next(td for td in tds if td.file == name)
                    key = tiff_pages[min(first_td.ifd, len(tiff_pages) - 1)]
                    check_page(key, page_geometry(key))
                    key_file = len(locations)
                    register_decoder(loc, int(key.offset), key)
            locations.append(loc)
        if len(byteorders) != 1:
            raise CorruptFileError(f"{where}: the TIFF files differ in byte order")
        return cls(names, locations, pages, byteorders.pop(), key, key_file)


def _place_planes(
    where: str,
    tds: list[_TiffData],
    files: _Files,
    plane_axes: str,
    plane_shape: tuple[int, ...],
) -> list[Plane | None]:
    """Each plane's (file, offsets, counts, contiguous) from the TiffData, in C order of
    ``plane_axes``; planes no TiffData covers are None (warned: they read as 0)."""
    key = files.key
    shape_key = tuple(int(v) for v in key.shaped)
    n_planes = math.prod(plane_shape)
    planes: list[Plane | None] = [None] * n_planes
    for td in tds:
        fidx = files.names.index(td.file)
        pages = files.pages[td.file]
        count = td.plane_count if td.plane_count is not None else len(pages) - td.ifd
        first = [td.first[d] for d in plane_axes]
        if any(not 0 <= f < n for f, n in zip(first, plane_shape, strict=True)):
            warnings.warn(
                f"{where}: TiffData First{td.first} outside the image; ignored",
                ImgioWarning,
                stacklevel=5,
            )
            continue
        start = int(np.ravel_multi_index(first, plane_shape))
        for k in range(count):
            p, ifd = start + k, td.ifd + k
            if p >= n_planes or ifd >= len(pages):
                warnings.warn(
                    f"{where}: TiffData of {td.file} runs past the image or the file "
                    f"(plane {p} of {n_planes}, IFD {ifd} of {len(pages)}); "
                    "the rest is ignored",
                    ImgioWarning,
                    stacklevel=5,
                )
                break
            page = pages[ifd]
            if (
                page.shaped != shape_key
                or page.dtype != key.dtype
                or page.compression != key.compression
            ):
                raise CorruptFileError(
                    f"{where}: IFD {ifd} of {td.file} is {page.shaped} {page.dtype} "
                    "compression "
                    f"{page.compression}, unlike the first plane ({shape_key} {key.dtype})"
                )
            planes[p] = (fidx, page.offsets, page.counts, False)
    missing = sum(p is None for p in planes)
    if missing == n_planes:
        raise CorruptFileError(f"{where}: no TiffData places any plane")
    if missing:
        warnings.warn(
            f"{where}: {missing} of {n_planes} planes have no TiffData; they read as 0",
            ImgioWarning,
            stacklevel=5,
        )
    return planes


def _scene_info(
    image: OmeImage, index: int, name: str, n_channels: int, source: TiffSource
) -> SceneInfo:
    """The scene of a companion Image: its channel names and colours (when there is one
    per channel), pixel sizes and time increment."""
    channel_names = channel_colors = None
    if image.channel_names and len(image.channel_names) == n_channels:
        channel_names = tuple(
            n or f"Channel:{index}:{c}" for c, n in enumerate(image.channel_names)
        )
        if len(image.channel_colors) == n_channels:
            channel_colors = tuple(image.channel_colors)
    return SceneInfo(
        name=name,
        dims=source.dims,
        shapes=(source.shape,),
        dtype=source.dtype,
        channel_names=channel_names,
        channel_colors=channel_colors,
        pixel_sizes=PhysicalPixelSizes(*image.pixel_sizes),
        time_interval=image.time_increment,
    )
