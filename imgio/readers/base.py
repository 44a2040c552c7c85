"""The reader contract: a :class:`Reader` per format, an :class:`ArraySource` per (scene, level).

Readers never import dask: :mod:`imgio.arrays._lazy` is the only code that turns sources
into dask arrays and DataArrays.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from .._ome import build_ome
from ..dims import PhysicalPixelSizes

if TYPE_CHECKING:
    from ome_types import OME

    from .._location import Location

__all__ = ["ArraySource", "ChunkRefs", "Reader", "SceneInfo", "SourceBase", "STATS"]


class _Stats:
    """Process-wide counters of decoded native chunks (tests check laziness with them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.chunks_decoded = 0
        self.bytes_read = 0

    def add(self, chunks: int, nbytes: int) -> None:
        with self._lock:
            self.chunks_decoded += chunks
            self.bytes_read += nbytes

    def reset(self) -> None:
        with self._lock:
            self.chunks_decoded = 0
            self.bytes_read = 0


STATS = _Stats()


@runtime_checkable
class ArraySource(Protocol):
    """One (scene, level) of a file: pickles, holds no open handle.

    Every source declares the optional fast paths too (:class:`SourceBase` gives the
    defaults); callers use them directly, and every wrapping source forwards them.
    """

    dims: str  # native order, e.g. "TCZYX" or "YXS"
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    chunks: tuple[int, ...]  # native grid: tile edge for Y/X, 1 for plane axes
    token: str  # location + mtime/etag + scene + level
    strided_out: bool  # read_into also fills a transposed (strided) view of ``out``

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        """Decode the native chunks covering ``key`` (step-1 slices, one per dim)."""
        ...

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """Decode ``key`` straight into ``out``; False (``out`` untouched) when it can't."""
        ...

    def raw_tile(self, index: tuple[int, ...], format: str = "jpeg") -> bytes | None:
        """The stored bytes of native chunk ``index`` when they already are ``format``."""
        ...


class SourceBase:
    """Defaults of the optional :class:`ArraySource` capabilities: no fast path.

    A source overrides what it can do better: ``read_into`` (decode into the caller's
    array, no temporary; with ``strided_out = True`` also into a transposed view) and
    ``raw_tile`` (hand a stored chunk over undecoded, e.g. a JPEG tile to a tile server).
    """

    strided_out: bool = False

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """Decode ``key`` straight into ``out``; False (``out`` untouched) when it can't."""
        return False

    def raw_tile(self, index: tuple[int, ...], format: str = "jpeg") -> bytes | None:
        """The stored bytes of native chunk ``index`` when they already are ``format``."""
        return None


@dataclass(frozen=True)
class SceneInfo:
    """What is known of one scene without reading pixels."""

    name: str
    dims: str  # native dims of every level
    shapes: tuple[tuple[int, ...], ...]  # one shape per level, level 0 first
    dtype: np.dtype[Any]
    channel_names: tuple[str, ...] | None = None
    channel_colors: tuple[int | None, ...] | None = None  # RGBA packed into an int
    pixel_sizes: PhysicalPixelSizes = PhysicalPixelSizes()
    time_interval: float | None = None  # seconds
    # when each time point was acquired: seconds from the scene's first, one per T index
    # (used as the T coordinates instead of multiples of ``time_interval``)
    time_stamps: tuple[float, ...] | None = None
    origin: Mapping[str, float] = field(default_factory=dict)  # µm for Z/Y/X, s for T
    level_scales: tuple[Mapping[str, float], ...] | None = None  # explicit per-level sizes
    level_origins: tuple[Mapping[str, float], ...] | None = None  # explicit per-level origins
    # a whole-slide file's associated image ("label", "macro", "thumbnail", ...); None for
    # ordinary scenes. Associated images are never scene 0 and carry their own pixel sizes.
    associated: str | None = None
    # labels of extra dims, e.g. the lifetimes of an OME ModuloAlongC axis ``H``
    extra_coords: Mapping[str, tuple[Any, ...]] | None = None
    # an HCS plate's field: the (row, column) index of its well in the plate's grid
    well: tuple[int, int] | None = None
    # a label image: per label value, its ``rgba`` colour (0-255) and named properties
    label_table: Mapping[int, Mapping[str, Any]] | None = None

    @property
    def n_levels(self) -> int:
        return len(self.shapes)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.shapes[0]


@dataclass(frozen=True)
class ChunkRefs:
    """One (scene, level) as a Zarr v2 array whose chunks are byte ranges of files.

    ``shape`` and ``chunks`` follow the source's native dims. ``dtype`` carries the stored
    byte order. ``compressor`` and ``filters`` are numcodecs configurations (imagecodecs'
    ``imagecodecs_*`` ids included) that decode one stored chunk into ``chunks`` values.
    ``refs`` maps a chunk index to ``(file index, offset, length)`` in ``files`` or to the
    chunk's stored bytes themselves (kept inline); a chunk not listed reads as
    ``fill_value``.
    """

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype[Any]
    compressor: Mapping[str, Any] | None
    filters: tuple[Mapping[str, Any], ...]
    fill_value: int | float
    files: tuple[Location, ...]
    refs: Mapping[tuple[int, ...], tuple[int, int, int] | bytes]


class Reader(ABC):
    """One file format. Subclasses read structure only in ``__init__``."""

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None  # pip extra that brings the decoder
    # keyword options this reader's constructor accepts (``Image(path, **options)`` passes
    # only these; e.g. ``reconstruct_mosaic`` for formats with mosaic tiles)
    options: ClassVar[tuple[str, ...]] = ()
    # remote addresses this reader recognises by ``sniff_location`` alone are opened by it
    # without an existence check or head read (a DICOMweb series URL is no object)
    by_address: ClassVar[bool] = False

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """Decide from the first 4 KiB whether this reader understands the file."""
        return False

    @classmethod
    def sniff_location(cls, location: Location) -> bool:
        """Decide from a location (directories such as Zarr stores have no head bytes)."""
        return False

    def __init__(self, location: Location) -> None:
        self.location = location

    @abstractmethod
    def scenes(self) -> Sequence[SceneInfo]:
        """Every scene: name, dims, level shapes, dtype, channels, µm sizes."""

    def check_scene_level(self, scene: int, level: int = 0) -> None:
        """Raise :class:`~imgio.errors.SelectionError` unless ``(scene, level)`` exists."""
        from ..errors import SelectionError

        infos = self.scenes()
        if not 0 <= scene < len(infos):
            raise SelectionError(f"scene {scene} out of range (0..{len(infos) - 1})")
        if not 0 <= level < infos[scene].n_levels:
            raise SelectionError(
                f"level {level} out of range for scene {infos[scene].name!r} "
                f"(0..{infos[scene].n_levels - 1})"
            )

    @abstractmethod
    def source(self, scene: int, level: int = 0) -> ArraySource:
        """The array source of one scene and level."""

    @property
    def metadata(self) -> Any:
        """The native metadata of the file (format specific)."""
        return None

    def ome_xml(self) -> str | None:
        """The file's own OME-XML text, when it has one."""
        return None

    @cached_property
    def ome_metadata(self) -> OME:
        """An ``ome_types.OME`` model, built on first access, never during open."""
        return build_ome(self.ome_xml(), self.scenes())

    def mosaic_tile_positions(self, scene: int) -> Sequence[tuple[int, int]] | None:
        """Level-0 (Y, X) pixel position of each ``M`` tile of ``scene``, or None.

        Formats with tile-scan mosaics report where each tile sits in the reconstructed
        mosaic; every other format has no ``M`` tiles.
        """
        return None

    def chunk_refs(self, scene: int, level: int = 0) -> ChunkRefs:
        """The native chunks of ``(scene, level)`` as byte ranges with their codec.

        Formats whose chunks are byte ranges that a numcodecs codec decodes alone override
        this (it backs :func:`imgio.references`).

        Raises
        ------
        NotByteRangesError
            This format (or this file's codec or layout) has no such description.
        """
        from ..errors import NotByteRangesError

        raise NotByteRangesError(
            f"{self.location.url}: the {self.name} reader cannot describe its chunks as byte "
            "ranges of the file"
        )

    # ------------------------------------------------ what a slide user asks
    def icc_profile(self, scene: int) -> bytes | None:
        """The ICC colour profile stored with ``scene``'s pixels, or None."""
        return None

    def stored_tile(self, scene: int, level: int = 0) -> tuple[int, int] | None:
        """``(height, width)`` of the tiles a level is stored in, not cut by the image
        edge (a 100 x 40 image in 256 px tiles: ``(256, 256)``); None when unknown."""
        return None

    def named_properties(self, scene: int) -> Mapping[str, str]:
        """The file's own metadata of ``scene`` as flat text, named by namespace.

        Whole-slide tools' names: ``tiff.ImageDescription``, ``tiff.XResolution``,
        ``aperio.AppMag``...; ``openslide.quickhash-1`` where the format defines it.
        Formats without such fields report nothing.
        """
        return {}

    def vendor(self) -> str:
        """Who made the file, as OpenSlide names vendors (default: the reader's name)."""
        return self.name

    def objective_power(self, scene: int) -> float | None:
        """The objective magnification of ``scene``, when the file records it.

        The default reads ``NominalMagnification`` from the file's OME-XML (the
        objective of the scene's ``Image`` where it names one, else the first).
        """
        from .._ome import nominal_magnification

        xml = self.ome_xml()
        return nominal_magnification(xml, scene) if xml else None

    @property
    def unwrapped(self) -> Reader:
        """The format's own reader (a wrapper such as the overrides returns its inner one)."""
        return self

    def close(self) -> None:
        """Release file handles (sources reopen their own)."""
        self.location.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location.url!r}>"
