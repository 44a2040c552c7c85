"""Zeiss CZI reader: imgio's own ZISRAW parser, subblocks decoded by imagecodecs.

Opening reads the file header, the subblock directory, the attachment directory
and the metadata XML, nothing else. Each scene (``S``) is a scene; tile-scan mosaics
are reconstructed lazily (tiles placed at their stage positions; a region decodes
only the tiles it covers) or, with ``reconstruct_mosaic=False``, kept on an ``M``
axis; slide-scanner pyramid subblocks make the lower resolution levels. RGB pixel
types (BGR in the file) come out as ``S`` in RGB order.

Why not a CZI library: pylibCZIrw and aicspylibczi (libCZI) read whole planes or
mosaics through their own file access, so they cannot read remote URLs through
fsspec, do not pickle, and decode on their own threads; czifile for Python 3.11 is
the 2019 release without zstd. Parsing the container takes a few hundred lines and
gives imgio's laziness, pickling, remote byte-range reads and error messages; the
codecs (JPEG XR, zstd, JPEG, LZW) come from imagecodecs, a core dependency.
"""

from __future__ import annotations

import math
import struct
import threading
import warnings
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from ..._limits import check_geometry
from ..._location import Location
from ...dims import PhysicalPixelSizes
from ...errors import CorruptFileError, ImgioWarning, UnsupportedFormatError
from ..base import ChunkRefs, Reader, SceneInfo
from ._directory import SceneLayout, scene_layouts
from ._format import (
    COMPRESSIONS,
    MAGIC,
    PIXEL_TYPES,
    Directory,
    metadata_xml_span,
    read_attachment_data,
    read_attachments,
    read_directory,
    read_file_header,
)
from ._meta import (
    CziMeta,
    light_document,
    light_parses,
    parse_meta,
    parse_timestamps,
    time_interval,
)
from ._source import CziSource

__all__ = ["CziReader", "CziSource"]

XML_TAIL = 1 << 16  # bytes of the metadata document read to find its Information section


class CziReader(Reader):
    """Zeiss CZI (ZISRAW): scenes, T/C/Z, mosaics, pyramids; every codec ZEN writes."""

    name = "czi"
    suffixes = (".czi",)
    extra = "czi"
    options = ("reconstruct_mosaic",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def __init__(self, location: Location, *, reconstruct_mosaic: bool = True) -> None:
        super().__init__(location)
        self.reconstruct_mosaic = reconstruct_mosaic
        self._lock = threading.Lock()
        self._sources: dict[tuple[int, int], CziSource] = {}
        head = location.head(16)
        if not head.startswith(MAGIC):
            raise UnsupportedFormatError(location.url, {"czi": f"not a CZI file ({head[:10]!r})"})
        try:
            self._header = read_file_header(location)
            if self._header.file_part != 0:
                raise ValueError(
                    f"this is part {self._header.file_part} of a multi-file CZI; open part 0"
                )
            self._dir = read_directory(location, self._header.directory_position)
            self._layouts = scene_layouts(self._dir, mosaic=reconstruct_mosaic)
            for lay in self._layouts:  # a flipped dimension size must not size coordinates
                for level in range(len(lay.levels)):
                    shape = lay.shape(level)
                    whole = [max(1, n) for n in shape]
                    check_geometry(location.url, shape, whole, 1, lay.dims, max_chunk_bytes=2**63)
            self._xml_span = metadata_xml_span(location, self._header.metadata_position)
            self._attachments = read_attachments(
                location, self._header.attachment_directory_position
            )
            self._extent = self._segment_extents()
            _check_sizes(self._dir, self._extent)
        except CorruptFileError:
            raise
        except (ValueError, KeyError, IndexError, OverflowError, struct.error) as exc:
            raise CorruptFileError(f"{location.url}: corrupted CZI structure: {exc}") from exc
        unknown = sorted(set(np.unique(self._dir.compression).tolist()) - set(COMPRESSIONS))
        if unknown:
            raise UnsupportedFormatError(
                location.url, {"czi": f"subblock compression {unknown} is not supported"}
            )
        self._token = location.token()

    def _segment_extents(self) -> np.ndarray[Any, Any]:
        """Bytes from each subblock's segment start to the next segment (or the file end)."""
        pos = self._dir.position
        size = self.location.size
        if (pos < 0).any() or (pos >= size).any():
            i = int(np.flatnonzero((pos < 0) | (pos >= size))[0])
            raise ValueError(f"subblock {i} at offset {int(pos[i])} outside the file ({size})")
        h = self._header
        others = [h.directory_position, h.metadata_position, h.attachment_directory_position]
        marks = np.unique(np.r_[pos, [p for p in others if p > 0], size])
        nxt = marks[np.searchsorted(marks, pos, side="right")]
        return np.asarray(nxt - pos, dtype=np.int64)

    # ---------------------------------------------------------------- metadata
    @cached_property
    def metadata(self) -> str:
        """The CZI metadata XML document."""
        return self._xml.decode("utf-8", errors="replace")

    @cached_property
    def _xml(self) -> bytes:
        offset, size = self._xml_span
        return self.location.read_range(offset, size) if size else b""

    @cached_property
    def _meta(self) -> CziMeta:
        """Channels, colours, scaling, scenes: from the document's last 64 KiB when its
        ``Information`` section lies there (ZEN writes it last), else the whole document."""
        offset, size = self._xml_span
        if size > XML_TAIL:
            tail = self.location.read_range(offset + size - XML_TAIL, XML_TAIL)
            light = light_document(tail, tail=True)
            if light is not None and light_parses(light):
                return parse_meta(light, self.location.name, light=True)
        return parse_meta(self._xml, self.location.name)

    @cached_property
    def _times(self) -> list[float]:
        """Seconds of each time point: the metadata's offsets, else the CZTIMS attachment."""
        times = self._meta.time_offsets
        if not times:
            stamps = [a for a in self._attachments if a.content_type == "CZTIMS"]
            if stamps:
                try:
                    times = parse_timestamps(read_attachment_data(self.location, stamps[0]))
                except (ValueError, struct.error, CorruptFileError) as exc:
                    warnings.warn(
                        f"{self.location.name}: unreadable time stamps ({exc}); ignored",
                        ImgioWarning,
                        stacklevel=4,
                    )
        return [float(t) for t in times]

    def _time_stamps(self, lay: SceneLayout) -> tuple[float, ...] | None:
        """A scene's time points in seconds from its first, when the file has one per T."""
        n_t = lay.plane_shape[lay.plane_dims.index("T")]
        t0 = int(lay.plane_origin.get("T", 0))
        times = self._times[t0 : t0 + n_t]
        if n_t < 2 or len(times) != n_t or not all(math.isfinite(t) for t in times):
            return None
        return tuple(t - times[0] for t in times)

    @cached_property
    def _scenes(self) -> list[SceneInfo]:
        names: list[str] = []
        return [self._scene_info(i, lay, names) for i, lay in enumerate(self._layouts)]

    def scenes(self) -> Sequence[SceneInfo]:
        return self._scenes

    def _scene_info(self, i: int, lay: SceneLayout, names: list[str]) -> SceneInfo:
        meta = self._meta
        name = meta.scene_names.get(lay.index) or f"Image:{i}"
        if name in names:
            name = f"{name} ({i})"
        names.append(name)
        n_c = lay.plane_shape[lay.plane_dims.index("C")]
        c0 = lay.plane_origin["C"]
        channel_names = channel_colors = None
        if len(meta.channel_names) >= c0 + n_c:
            picked = meta.channel_names[c0 : c0 + n_c]
            channel_names = tuple(n or f"Channel:{i}:{c}" for c, n in enumerate(picked))
            channel_colors = tuple(meta.channel_colors[c0 : c0 + n_c])
        elif meta.channel_names:
            warnings.warn(
                f"{self.location.name}: {len(meta.channel_names)} channels in the metadata for "
                f"{n_c} in the subblocks of scene {name!r}; channel names ignored",
                ImgioWarning,
                stacklevel=4,
            )
        sizes = meta.scaling_um
        t_interval = None
        if lay.plane_shape[lay.plane_dims.index("T")] > 1:
            t_interval = time_interval(self._times)
        return SceneInfo(
            name=name,
            dims=lay.dims,
            shapes=tuple(lay.shape(level) for level in range(len(lay.levels))),
            dtype=lay.dtype,
            channel_names=channel_names,
            channel_colors=channel_colors,
            pixel_sizes=PhysicalPixelSizes(sizes.get("Z"), sizes.get("Y"), sizes.get("X")),
            time_interval=t_interval,
            time_stamps=self._time_stamps(lay),
        )

    def mosaic_tile_positions(self, scene: int) -> Sequence[tuple[int, int]] | None:
        self.check_scene_level(scene, 0)
        return self._layouts[scene].tile_positions

    # ------------------------------------------------------------------ pixels
    def chunk_refs(self, scene: int, level: int = 0) -> ChunkRefs:
        """Uncompressed or zstd subblocks on a regular grid as byte ranges (else refused)."""
        from ._refs import subblock_refs

        return subblock_refs(self.source(scene, level))

    def source(self, scene: int, level: int = 0) -> CziSource:
        self.check_scene_level(scene, level)
        with self._lock:
            src = self._sources.get((scene, level))
            if src is None:
                src = CziSource(
                    self.location,
                    self._layouts[scene],
                    level,
                    position=self._dir.position,
                    extent=self._extent,
                    compression=self._dir.compression,
                    token=self._token,
                    where=f"{self.location.url}: scene {self.scenes()[scene].name!r} level {level}",
                )
                self._sources[(scene, level)] = src
        return src


TILE_BYTES_FREE = 64 << 20  # a subblock this large needs no proof from its compressed size


def _check_sizes(d: Directory, extent: np.ndarray[Any, Any]) -> None:
    """Refuse subblocks whose pixels cannot come from the bytes they occupy.

    Uncompressed pixels must fit before the next segment; compressed ones may expand
    at most 4096-fold (beyond 64 MiB per subblock), so a flipped size field never
    makes a read allocate what the file cannot fill.
    """
    table = np.zeros(max(PIXEL_TYPES) + 1, np.int64)
    for code, (dtype, samples) in PIXEL_TYPES.items():
        table[code] = np.dtype(dtype).itemsize * samples
    per_pixel = table[d.pixel_type]
    need = d.column("X", "stored") * d.column("Y", "stored") * per_pixel
    raw = d.compression == 0
    bad = (raw & (need > extent)) | (~raw & (need > np.maximum(extent * 4096, TILE_BYTES_FREE)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"subblock {i} at offset {int(d.position[i])} claims {int(need[i])} bytes of "
            f"pixels in a segment of {int(extent[i])} bytes"
        )
