"""From tifffile's series and levels to imgio dims and :class:`TiffSource` layouts."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..._limits import MAX_SEGMENT_BYTES, check_geometry
from ..._location import Location
from ...errors import CorruptFileError
from ._planes import Entry, PlaneIndex
from .source import Geometry, TiffSource, register_decoder

__all__ = ["LevelShape", "build_source", "level_shape", "page_dims", "page_geometry"]

SPARE_LETTERS = "QRVWUABDFGJKNO"
KEEP_SINGLETON = set("TCZ")


class LevelShape:
    """Dims and shape of one level, worked out from the keyframe without reading offsets."""

    def __init__(self, level: Any) -> None:
        key = level.keyframe
        self.keyframe = key
        sep, depth, length, width, contig = (int(v) for v in key.shaped)
        axes = level.get_axes(False)
        shape = tuple(int(v) for v in level.get_shape(False))
        page_size = sep * depth * length * width * contig
        total = math.prod(shape)
        if page_size == 0 or total % page_size:
            raise CorruptFileError(
                f"series shape {shape} ({axes}) is not a whole number of pages of {key.shaped}"
            )
        self.n_planes = total // page_size
        # the longest prefix of the series axes whose size product is the number of planes
        k = 0
        for i in range(len(shape) + 1):
            if "Y" in axes[i:] and "X" in axes[i:] and math.prod(shape[:i]) == self.n_planes:
                k = i
        lead_axes, lead_shape = axes[:k], shape[:k]
        page_dims = ("S" if sep > 1 else "") + ("Z" if depth > 1 else "") + "YX"
        page_dims += "S" if contig > 1 else ""
        used = set(page_dims)
        dims, keep = [], []
        for letter, n in zip(lead_axes, lead_shape, strict=True):
            if n == 1 and letter not in KEEP_SINGLETON:
                keep.append(False)
                continue
            if letter in used:
                letter = next(c for c in SPARE_LETTERS if c not in used)
            used.add(letter)
            dims.append(letter)
            keep.append(True)
        self.lead_shape = lead_shape
        self.lead_keep = keep
        self.plane_dims = "".join(dims)
        self.plane_shape = tuple(n for n, kept in zip(lead_shape, keep, strict=True) if kept)
        self.page_dims = page_dims
        self.geometry = page_geometry(key)
        check_page(key, self.geometry)
        sizes = {"Z": depth, "Y": length, "X": width}
        page_shape = tuple(
            sep
            if (d == "S" and i == 0 and page_dims[-1] != "S")
            else contig
            if d == "S"
            else sizes[d]
            for i, d in enumerate(page_dims)
        )
        self.dims = self.plane_dims + page_dims
        self.shape = self.plane_shape + page_shape
        self.dtype = np.dtype(key.dtype) if key.dtype is not None else None


def check_page(key: Any, g: Geometry) -> None:
    """Refuse page geometry no real file has before anything is allocated for it: the
    segments at one position of every separate sample plane (what a read of any window
    decodes together) may decode to at most 2 GiB when compressed, to at most the file's
    size when uncompressed (it cannot hold more)."""
    itemsize = max(1, (int(key.bitspersample or 8) + 7) // 8)
    limit = MAX_SEGMENT_BYTES
    if key.compression == 1:
        limit = max(limit, int(key.parent.filehandle.size))
    check_geometry(
        f"{key.parent.filehandle.name} page {key.index}",
        (g.sep, g.depth, g.length, g.width, g.contig),
        (max(1, g.sep), g.seg_depth, g.seg_length, g.seg_width, g.contig),
        itemsize,
        "SZYXS",
        max_chunk_bytes=limit,
    )


def page_geometry(key: Any) -> Geometry:
    """The segment grid of a page (tiles, volumetric tiles or strips)."""
    sep, depth, length, width, contig = (int(v) for v in key.shaped)
    return Geometry(
        sep=sep,
        depth=depth,
        length=length,
        width=width,
        contig=contig,
        seg_depth=int(getattr(key, "tiledepth", 1) or 1) if key.is_tiled else 1,
        seg_length=int(key.tilelength)
        if key.is_tiled
        else max(1, min(int(key.rowsperstrip or length), length)),
        seg_width=int(key.tilewidth) if key.is_tiled else width,
    )


def page_dims(key: Any) -> str:
    """Dims of one page: ``[S] [Z] Y X [S]`` (leading S for planar-separate samples)."""
    sep, depth, _, _, contig = (int(v) for v in key.shaped)
    dims = ("S" if sep > 1 else "") + ("Z" if depth > 1 else "") + "YX"
    return dims + ("S" if contig > 1 else "")


def level_shape(level: Any) -> LevelShape:
    return LevelShape(level)


def _raw_dtype(key: Any, byteorder: str) -> np.dtype[Any] | None:
    if (
        key.compression == 1
        and key.predictor == 1
        and key.fillorder == 1
        and key.bitspersample in (8, 16, 32, 64)
        and key.dtype is not None
        and key.dtype.kind in "uif"
        and not key.is_subsampled
    ):
        return np.dtype(key.dtype).newbyteorder(byteorder)  # type: ignore[no-any-return]
    return None


def build_source(
    location: Location, tif: Any, series: Any, level_index: int, scene_name: str, token: str
) -> TiffSource:
    """Extract offsets of every plane of one level and make its source."""
    level = series.levels[level_index]
    shape = LevelShape(level)
    key = shape.keyframe
    where = f"{location.name} scene {scene_name!r} level {level_index}"
    if shape.dtype is None:
        raise CorruptFileError(
            f"{where}: unsupported sample format {key.sampleformat} with {key.bitspersample} bits"
        )
    geometry = shape.geometry
    files = _LevelFiles(location, tif)
    raw = _raw_dtype(key, tif.byteorder)
    page_bytes = math.prod(key.shaped) * (raw.itemsize if raw is not None else 0)
    pages = level.pages
    # contiguous series (ImageJ, STK, shaped raw stacks): pages follow each other, not
    # all have IFDs (or tifffile parsed only the first): plane i is at dataoffset + i*size
    single = len(getattr(level, "_pages", pages)) == 1 and shape.n_planes > 1
    stacked = raw is not None and (single or len(pages) != shape.n_planes)
    if stacked and level.dataoffset is not None:
        geometry = _one_strip(geometry, where)
        planes = PlaneIndex(
            where=where,
            locations=files.locations,
            n_planes=shape.n_planes,
            n_segments=1,
            dataoffset=int(level.dataoffset),
            page_bytes=page_bytes,
        )
    else:
        if len(pages) != shape.n_planes:
            raise CorruptFileError(
                f"{where}: {len(pages)} pages for {shape.n_planes} planes of shape {key.shaped}"
            )
        # what tifffile parsed, kept as is: each plane is converted and checked when read
        entries: list[Entry] = [
            None if page is None else (files.index(page), page.dataoffsets, page.databytecounts)
            for page in pages
        ]
        # a page is read in one go only when its segments, back to back, are its row-major bytes
        planes = PlaneIndex(
            where=where,
            locations=files.locations,
            n_planes=shape.n_planes,
            n_segments=geometry.n_segments,
            entries=entries,
            contiguous_bytes=page_bytes if raw is not None and row_major(geometry) else 0,
        )
    locations = files.locations
    fidx = files.index(key)
    register_decoder(locations[fidx], int(key.offset), key)
    return TiffSource(
        locations=locations,
        dims=shape.dims,
        plane_shape=shape.plane_shape,
        geometry=geometry,
        page_dims=shape.page_dims,
        dtype=shape.dtype,
        planes=planes,
        keyframe=(fidx, int(key.offset)),
        raw_dtype=raw,
        fill=float(key.nodata or 0),
        token=f"{token}|{scene_name}|{level_index}",
        where=where,
    )


class _LevelFiles:
    """The files a level's pages live in: the TIFF itself (0), then every other file of a
    multi-file OME series in the order first met (a sibling when remote)."""

    def __init__(self, location: Location, tif: Any) -> None:
        self.tif = tif
        self.location = location
        self.locations = [location]
        self._paths: dict[str, int] = {}

    def index(self, page: Any) -> int:
        parent = page.parent
        if parent is self.tif:
            return 0
        path = parent.filehandle.path
        if path not in self._paths:
            self._paths[path] = len(self.locations)
            name = os.path.basename(path)
            local = self.location.is_local
            self.locations.append(Location(path) if local else self.location.sibling(name))
        return self._paths[path]


def _one_strip(geometry: Geometry, where: str) -> Geometry:
    """A contiguous series' page as one strip: its samples are back to back in the file."""
    if geometry.n_segments == 1:
        return geometry
    if geometry.sep > 1:
        raise CorruptFileError(f"{where}: contiguous planar-separate series are not supported")
    g = geometry
    return Geometry(g.sep, g.depth, g.length, g.width, g.contig, g.depth, g.length, g.width)


def row_major(g: Geometry) -> bool:
    """Whether a page's segments, back to back, are its row-major bytes.

    True for strips and full-width tiles without padding between sample planes; never
    for narrower tiles (their bytes are tile by tile, not row by row).
    """
    return g.seg_width == g.width and g.depth == 1 and (g.sep == 1 or g.length % g.seg_length == 0)


def _contiguous(offsets: np.ndarray[Any, Any], counts: np.ndarray[Any, Any], nbytes: int) -> bool:
    if len(offsets) == 1:
        return bool(counts[0] >= nbytes)
    return bool(np.all(offsets[1:] == offsets[:-1] + counts[:-1]) and int(counts.sum()) >= nbytes)


def _validate(
    where: str,
    planes: list[tuple[int, np.ndarray[Any, Any], np.ndarray[Any, Any], bool] | None],
    locations: list[Location],
    n_seg: int,
) -> None:
    """Every segment must exist and lie inside its file: catches corrupt files at open."""
    for i, plane in enumerate(planes):
        if plane is None:
            continue
        fidx, offsets, counts, _ = plane
        if len(offsets) != n_seg or len(counts) != n_seg:
            raise CorruptFileError(
                f"{where}: plane {i} has {len(offsets)} segment offsets and {len(counts)} byte "
                f"counts, expected {n_seg}"
            )
    by_file: dict[int, list[int]] = {}
    for i, plane in enumerate(planes):
        if plane is not None:
            by_file.setdefault(plane[0], []).append(i)
    for fidx, ids in by_file.items():
        offsets = np.concatenate([planes[i][1] for i in ids])  # type: ignore[index]
        counts = np.concatenate([planes[i][2] for i in ids])  # type: ignore[index]
        ends = offsets + counts
        size = locations[fidx].size
        bad = np.flatnonzero((counts > 0) & ((offsets <= 0) | (ends > size)))
        if bad.size:
            j = int(bad[0])
            plane_id = ids[j // n_seg] if n_seg else 0
            raise CorruptFileError(
                f"{where}: segment {j % max(n_seg, 1)} of plane {plane_id} needs bytes "
                f"{int(offsets[j])}..{int(ends[j])}, but {locations[fidx].name} has {size} bytes"
            )
