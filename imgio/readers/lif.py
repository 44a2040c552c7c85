"""Leica LIF / LOF reader: liffile parses the XML and the memory blocks, imgio reads pixels.

Every image of the project is a scene, named by its path in the project tree. Pixels
in a LIF memory block are an uncompressed C-ordered array, so a region read is a set
of byte ranges (:class:`~imgio.readers._rawplanes.RawPlaneSource`): lazy, on the decode
pool, remote through fsspec and picklable, with no liffile handle in the graph.
Tile scans are reconstructed from the tiles' stage positions
(:class:`~imgio.readers._tilescan.MosaicSource`) unless ``reconstruct_mosaic=False``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._limits import MAX_EXTENT, BoundedFile
from .._location import Location
from ..dims import PhysicalPixelSizes
from ..errors import (
    CorruptFileError,
    ImgioWarning,
    NotByteRangesError,
    SelectionError,
    UnsupportedFormatError,
    require,
)
from ._rawplanes import PARSE_ERRORS, RawPlaneSource
from ._tilescan import MosaicSource
from .base import ArraySource, ChunkRefs, Reader, SceneInfo

__all__ = ["LifReader"]

#: liffile's dimension codes -> imgio letters (emission lambda E, excitation lambda W)
DIM_LETTERS = {"λ": "E", "Λ": "W", "?": "Q"}
#: LUT names LAS X writes -> packed RGBA
LUT_COLORS = {
    "red": 0xFF0000FF,
    "green": 0x00FF00FF,
    "blue": 0x0000FFFF,
    "cyan": 0x00FFFFFF,
    "magenta": 0xFF00FFFF,
    "yellow": 0xFFFF00FF,
    "gray": 0xFFFFFFFF,
    "grey": 0xFFFFFFFF,
}
# liffile's errors on malformed files (plus its asserts and divisions by a zero bytes-inc)
_PARSE_ERRORS = (*PARSE_ERRORS, ZeroDivisionError, AssertionError)


@dataclass(frozen=True)
class _Layout:
    """Where one image's pixels are and how they are ordered (picklable, no handles)."""

    info: SceneInfo
    dims: str  # native, M included for tile scans
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    offset: int
    nbytes: int
    row_stride: int
    bgr: bool
    block: str
    positions: tuple[tuple[int, int], ...] | None  # tile scans: (Y, X) of each tile


class LifReader(Reader):
    """Leica LIF and LOF files (LAS X), lazily, through byte ranges."""

    name = "lif"
    suffixes = (".lif", ".lof")
    extra = "lif"
    options = ("reconstruct_mosaic",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return len(head) > 8 and head[:4] == b"\x70\x00\x00\x00" and head[8] == 0x2A

    def __init__(self, location: Location, *, reconstruct_mosaic: bool = True) -> None:
        super().__init__(location)
        liffile: Any = require("liffile", extra="lif")
        self.reconstruct_mosaic = reconstruct_mosaic
        self._sources: dict[int, ArraySource] = {}
        if not self.sniff(location.head(16)):
            raise UnsupportedFormatError(location.url, {"lif": "no LIF/LOF header"})
        # reads clamped to the file: liffile reads a block id by its declared length
        fh = BoundedFile(location.open(), location.size, location.url)
        try:
            with warnings.catch_warnings(record=True) as seen:  # liffile's are dropped
                warnings.simplefilter("always")
                lif = liffile.LifFile(fh, squeeze=True)
                images = list(lif.images)
                # where the XML text is (read again on access of ``metadata``)
                xml_at = getattr(lif, "_xml_header", None)
                self._xml_range = tuple(xml_at) if isinstance(xml_at, tuple) else None
                self._xml = None if self._xml_range else str(lif.xml_header())
                self._layouts = self._describe(images)
        except (*_PARSE_ERRORS, liffile.LifFileError) as exc:
            raise CorruptFileError(f"{location.url}: corrupted LIF structure: {exc}") from exc
        finally:
            fh.close()
        for found in seen:  # ours go to the caller, through the caller's filters
            if issubclass(found.category, ImgioWarning):
                warnings.warn(found.message, stacklevel=3)
        if not self._layouts:
            raise CorruptFileError(f"{location.url}: the LIF file holds no readable image")
        self._token = location.token()

    def _describe(self, images: Sequence[Any]) -> list[_Layout]:
        out: list[_Layout] = []
        for image in images:
            try:
                layout = _layout(image, self.reconstruct_mosaic)
            except _SkipImage as why:
                warnings.warn(
                    f"{self.location.url}: image {image.path!r} skipped: {why}",
                    ImgioWarning,
                    stacklevel=4,
                )
                continue
            out.append(layout)
        return out

    # ------------------------------------------------------------------ contract
    def scenes(self) -> Sequence[SceneInfo]:
        return [layout.info for layout in self._layouts]

    @property
    def metadata(self) -> Any:
        """The LIF project's XML header (text), read on access."""
        if self._xml is None and self._xml_range is not None:
            offset, nbytes = self._xml_range
            self._xml = self.location.read_range(int(offset), int(nbytes)).decode("utf-16-le")
        return self._xml

    def mosaic_tile_positions(self, scene: int) -> Sequence[tuple[int, int]] | None:
        layout = self._layout_of(scene)
        if layout.positions is None or self.reconstruct_mosaic:
            return None
        return list(layout.positions)

    def _layout_of(self, scene: int) -> _Layout:
        if not 0 <= scene < len(self._layouts):
            raise SelectionError(f"scene {scene} out of range (0..{len(self._layouts) - 1})")
        return self._layouts[scene]

    def source(self, scene: int, level: int = 0) -> ArraySource:
        layout = self._layout_of(scene)
        if level != 0:
            raise SelectionError(f"LIF scenes have one resolution level; got level {level}")
        found = self._sources.get(scene)
        if found is None:
            found = self._sources[scene] = self._new_source(scene, layout)
        return found

    def chunk_refs(self, scene: int, level: int = 0) -> ChunkRefs:
        """The planes of an image as byte ranges of its memory block (uncompressed)."""
        src = self.source(scene, level)
        if not isinstance(src, RawPlaneSource):
            raise NotByteRangesError(
                f"{self.location.url}: scene {scene} is a tile-scan mosaic assembled from "
                "overlapping tiles, not stored as chunks; pass reconstruct_mosaic=False to "
                "describe its tiles (dim M)"
            )
        return src.chunk_refs()

    def _new_source(self, scene: int, layout: _Layout) -> ArraySource:
        where = f"{self.location.url}: image {layout.info.name!r} (memory block {layout.block!r})"
        token = f"{self._token}|lif|{scene}"
        if layout.offset + layout.nbytes > self.location.size:
            raise CorruptFileError(
                f"{where}: expected {layout.nbytes} bytes at offset {layout.offset}, "
                f"file ends at {self.location.size}"
            )
        tiles = _raw_source(self.location, layout, token, where)
        if layout.positions is not None and self.reconstruct_mosaic:
            return MosaicSource(tiles, layout.positions, f"{token}|mosaic")
        return tiles


class _SkipImage(Exception):
    """An image imgio cannot present (FLIM histograms, mixed channel types, external frames)."""


def _raw_source(location: Location, layout: _Layout, token: str, where: str) -> RawPlaneSource:
    dims, shape = layout.dims, layout.shape
    tail = 2 if dims.endswith("S") else 1  # in-row dims: X (and S)
    n_plane = len(dims) - tail - 1
    plane_bytes = math.prod(shape[n_plane:-tail] or (1,)) * layout.row_stride
    return RawPlaneSource(
        location=location,
        dims=dims,
        shape=shape,
        dtype=layout.dtype,
        n_plane_dims=n_plane,
        offsets=(layout.offset, plane_bytes),
        row_stride=layout.row_stride,
        reverse_last=layout.bgr,
        token=token,
        where=where,
    )


@dataclass(frozen=True)
class _Geometry:
    """An image's dims, shape and C-ordered byte layout, from its XML description."""

    dims: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    row_stride: int  # bytes from one row to the next (stride-aligned RGB rows are padded)
    nbytes: int  # bytes of the whole stored image


def _geometry(image: Any) -> _Geometry:
    """The layout liffile parsed for ``image``, or raise :class:`_SkipImage`."""
    try:
        sizes = dict(image.sizes)
        dtype = np.dtype(image.dtype)
    except (ValueError, ZeroDivisionError, AssertionError) as exc:
        raise _SkipImage(str(exc)) from exc
    letters = [str(DIM_LETTERS.get(k, k)) for k in sizes]
    if any(len(d) != 1 for d in letters) or len(set(letters)) != len(letters):
        raise _SkipImage(f"dimensions {list(sizes)} have no one-letter names")
    dims = "".join(letters)
    shape = tuple(int(n) for n in sizes.values())
    stored = getattr(image, "_shape_stored", None) or shape
    if "X" not in dims or dims.index("X") != len(dims) - (2 if dims.endswith("S") else 1):
        raise _SkipImage(f"unexpected dimension order {dims}")
    row_stride = math.prod(stored[dims.index("X") :]) * dtype.itemsize
    nbytes = math.prod(stored) * dtype.itemsize
    if len(dims) == 1 or (dims.endswith("S") and len(dims) == 2):  # a single line: one row
        dims, shape = "Y" + dims, (1, *shape)
    return _Geometry(dims, shape, dtype, row_stride, nbytes)


def _layout(image: Any, reconstruct: bool) -> _Layout:
    """Describe one liffile image, or raise :class:`_SkipImage`."""
    if type(image).__name__ != "LifImage":
        raise _SkipImage(f"{type(image).__name__} data are not an image")
    try:
        block = image.memory_block
    except KeyError as exc:
        raise CorruptFileError(
            f"image {image.path!r}: its memory block {exc} is missing or its header is damaged"
        ) from exc
    if block.frames or block.offset < 0:
        raise _SkipImage("pixels stored in external files")
    geo = _geometry(image)
    if geo.nbytes > block.size:
        raise _SkipImage(f"memory block holds {block.size} bytes, image needs {geo.nbytes}")
    positions = _tile_positions(image, geo.dims, geo.shape)
    info = _scene_info(image, geo.dims, geo.shape, geo.dtype, positions if reconstruct else None)
    return _Layout(
        info=info,
        dims=geo.dims,
        shape=geo.shape,
        dtype=geo.dtype,
        offset=int(block.offset),
        nbytes=geo.nbytes,
        row_stride=geo.row_stride,
        bgr=bool(getattr(image, "_is_bgr", False)),
        block=str(block.id),
        positions=positions,
    )


def _tile_positions(
    image: Any, dims: str, shape: tuple[int, ...]
) -> tuple[tuple[int, int], ...] | None:
    """Each tile's (Y, X) in pixels from its stage position (field grid if positions are absent)."""
    if "M" not in dims or "Y" not in dims:
        return None
    try:
        tilescan = image.tilescan
    except (ValueError, OverflowError, KeyError, TypeError) as exc:
        warnings.warn(
            f"image {image.path!r}: unreadable tile positions ({exc}); tiles kept along M",
            ImgioWarning,
            stacklevel=5,
        )
        return None
    n = shape[dims.index("M")]
    if tilescan is None or len(tilescan.tiles) != n:
        return None
    tiles = tilescan.tiles
    th, tw = shape[dims.index("Y")], shape[dims.index("X")]
    size_y, size_x = _pixel_size_m(image, "Y"), _pixel_size_m(image, "X")
    ys, xs = tiles["pos_y"].astype(float), tiles["pos_x"].astype(float)
    if size_y and size_x and (np.ptp(ys) > 0 or np.ptp(xs) > 0):
        ys, xs = ys / size_y, xs / size_x
    else:  # no stage positions: the field grid, tiles edge to edge
        ys, xs = tiles["field_y"] * float(th), tiles["field_x"] * float(tw)
    if tilescan.flip_y:
        ys = -ys
    if tilescan.flip_x:
        xs = -xs
    if tilescan.swap_xy:
        ys, xs = xs, ys
    span = max(np.ptp(ys), np.ptp(xs)) if len(ys) else 0.0
    if not (np.isfinite(ys).all() and np.isfinite(xs).all() and span <= MAX_EXTENT):
        warnings.warn(
            f"image {image.path!r}: tile positions not finite or {span} pixels apart; "
            "tiles kept along M",
            ImgioWarning,
            stacklevel=5,
        )
        return None
    ys = np.rint(ys - ys.min()).astype(int)
    xs = np.rint(xs - xs.min()).astype(int)
    return tuple((int(y), int(x)) for y, x in zip(ys, xs, strict=True))


def _dimension(image: Any, label: str) -> Any:
    for dim in image._dimensions:
        if dim.label == label:
            return dim
    return None


def _pixel_size_m(image: Any, label: str) -> float | None:
    """Size of one pixel along a spatial dim in metres (None when unknown)."""
    dim = _dimension(image, label)
    if dim is None or dim.number_elements < 2 or dim.unit != "m" or not dim.length:
        return None
    return abs(float(dim.length)) / (int(dim.number_elements) - 1)


def _scene_info(
    image: Any,
    dims: str,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    positions: tuple[tuple[int, int], ...] | None,
) -> SceneInfo:
    sizes = {d: _pixel_size_m(image, d) for d in "ZYX"}
    um = {d: (s * 1e6 if s else None) for d, s in sizes.items()}
    origin: dict[str, float] = {}
    for d in "ZYX":
        dim = _dimension(image, d)
        if dim is not None and dim.unit == "m" and um[d]:
            origin[d] = float(dim.origin) * 1e6
    interval = None
    t = _dimension(image, "T")
    if t is not None and t.number_elements > 1 and t.length:
        interval = abs(float(t.length)) / (t.number_elements - 1)
    names, colors = _channels(image, shape[dims.index("C")] if "C" in dims else 1)
    if positions is not None:  # the reconstructed mosaic: no M, Y/X cover every tile
        from ._tilescan import mosaic_shape

        m, y, x = dims.index("M"), dims.index("Y"), dims.index("X")
        height, width = mosaic_shape((shape[y], shape[x]), positions)
        grown = [height if i == y else width if i == x else n for i, n in enumerate(shape)]
        shape = tuple(n for i, n in enumerate(grown) if i != m)
        dims = dims.replace("M", "")
        origin.pop("Y", None)
        origin.pop("X", None)
    return SceneInfo(
        name=str(image.path),
        extra_coords=_axis_coords(image, dims, shape) or None,
        dims=dims,
        shapes=(shape,),
        dtype=dtype,
        channel_names=names,
        channel_colors=colors,
        pixel_sizes=PhysicalPixelSizes(um["Z"], um["Y"], um["X"]),
        time_interval=interval,
        origin=origin,
    )


def _axis_coords(image: Any, dims: str, shape: tuple[int, ...]) -> dict[str, tuple[float, ...]]:
    """Wavelengths (nm) of the lambda sweeps E/W, and Z positions (µm) when Z runs downwards.

    LAS X stores a Z stack scanned downwards with a negative length; the planes stay in
    file order (as LAS X, bioio-lif and readlif show them), the pixel size is positive and
    the Z coordinates descend from the origin, so the direction is kept.
    """
    out: dict[str, tuple[float, ...]] = {}
    for label, letter, scale, digits in (
        ("λ", "E", 1e9, 3),
        ("Λ", "W", 1e9, 3),
        ("Z", "Z", 1e6, 6),
    ):
        dim = _dimension(image, label)
        if dim is None or letter not in dims or dim.unit != "m" or dim.number_elements < 2:
            continue
        n = shape[dims.index(letter)]
        step = float(dim.length) / (int(dim.number_elements) - 1)
        if n != dim.number_elements or (letter == "Z" and step >= 0) or not math.isfinite(step):
            continue
        out[letter] = tuple(round((float(dim.origin) + k * step) * scale, digits) for k in range(n))
    return out


def _channels(image: Any, n: int) -> tuple[tuple[str, ...] | None, tuple[int | None, ...] | None]:
    """Channel names (LAS X LUT names, as bioio-lif gives them) and their colours."""
    channels = list(image._channels)
    if len(channels) != n or n == 0 or "S" in image.sizes:
        return None, None
    names = tuple(str(c.lut_name or f"Channel:{i}") for i, c in enumerate(channels))
    colors = tuple(LUT_COLORS.get(str(c.lut_name).lower()) for c in channels)
    return names, colors
