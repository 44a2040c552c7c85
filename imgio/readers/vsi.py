"""Olympus cellSens ``.vsi`` slides: the pixels are in ``_<name>_/stack<N>/frame_t*.ets``.

Each ETS file beside the ``.vsi`` (in its ``_<name>_`` folder, confined to it unless
``allow_external_files=True``) is a scene named by its stack folder; its pyramid levels
are the scene's levels, its tiles (JPEG, JPEG 2000, lossless JPEG, PNG, BMP or raw) the
native chunks, decoded only where a selection covers them. The plane coordinates of the
tiles are named in cellSens' slot order as seen in its files (three coordinates: ``T``,
``Z``, ``C``; one: ``Z``; two: ``Z``, ``C``); RGB samples are ``S``. Tiles absent from
the table read as the ETS background value. The ``.vsi`` file's own metadata tree
(:mod:`._vsi_tree`, read at open: the file is metadata only) names the plane dims in
their true order (its dimension slots' kinds, when they match the ETS coordinates) and
gives each stack's name (the scene's name, as cellSens and Bio-Formats show it, e.g.
``"001 C405, C488"``), µm pixel sizes (Y, X; Z from the Z step), the Z origin, channel
names, time stamps (each time point's first plane) and the objective magnification.
The ``.vsi`` file's own TIFF pages are the slide's photos, after the stacks as
associated images named as Bio-Formats names them: the last page is the ``macro``
(``"macro image"``), the one before it the ``label`` (``"label image"``).
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .._confine import referenced
from .._location import Location
from .._threads import map_threaded
from ..dims import PhysicalPixelSizes
from ..errors import (
    CorruptFileError,
    ImgioError,
    ImgioWarning,
    SelectionError,
    UnsupportedFormatError,
)
from ._ets import EtsLayout, decode_tile, parse_ets
from ._vsi_tree import VsiStack, parse_tree, stack_metadata
from .base import STATS, ArraySource, Reader, SceneInfo, SourceBase

__all__ = ["VsiReader"]

_STACK = re.compile(r"stack(\d+)\Z")
_FRAME = re.compile(r"frame_t.*\.ets\Z", re.IGNORECASE)
PLANE_DIMS = {0: "", 1: "Z", 2: "ZC", 3: "TZC"}
#: the largest .vsi whose metadata tree is read (real ones are well under 10 MB)
MAX_TREE_BYTES = 64 << 20


def _plane_dims(n: int) -> str:
    return PLANE_DIMS.get(n, "TZC" + "QRUVW"[: n - 3])


class EtsSource(SourceBase):
    """One level of one ETS file: ``[plane dims] Y X [S]``, decoded tile by tile."""

    def __init__(
        self,
        location: Location,
        layout: EtsLayout,
        level: int,
        token: str,
        plane: str | None = None,
    ) -> None:
        self.location, self.layout, self.level = location, layout, level
        plane = plane or _plane_dims(len(layout.plane_sizes))
        self.dims = plane + "YX" + ("S" if layout.samples > 1 else "")
        h, w = layout.level_shapes[level]
        extra = (layout.samples,) if layout.samples > 1 else ()
        self.shape = (*layout.plane_sizes, h, w, *extra)
        self.dtype = np.dtype(layout.dtype).newbyteorder("=")
        self.chunks = (*(1,) * len(plane), *layout.tile, *extra)
        self.token = token
        self.where = f"{location.name} level {level}"

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        lay = self.layout
        n_plane = len(lay.plane_sizes)
        ranges = [range(*s.indices(n)) for s, n in zip(key, self.shape, strict=True)]
        out = np.full(
            tuple(len(r) for r in ranges[: n_plane + 2]) + (lay.samples,),
            lay.background,
            dtype=self.dtype,
        )
        th, tw = lay.tile
        ys, xs = ranges[n_plane], ranges[n_plane + 1]
        if out.size == 0:
            return self._finish(out, ranges)
        jobs = []
        for plane in np.ndindex(*(len(r) for r in ranges[:n_plane])):
            coords = tuple(r[i] for r, i in zip(ranges[:n_plane], plane, strict=True))
            for row in range(ys.start // th, (ys.stop - 1) // th + 1):
                for col in range(xs.start // tw, (xs.stop - 1) // tw + 1):
                    found = lay.tiles.get((self.level, *coords, row, col))
                    if found is not None:
                        jobs.append((plane, row, col, found))
        blobs = self.location.read_ranges([j[3] for j in jobs])

        def one(job: tuple[Any, bytes]) -> None:
            (plane, row, col, _), data = job
            tile = decode_tile(lay, data, f"{self.where} tile ({row}, {col})")
            y0, x0 = row * th, col * tw
            a, b = max(ys.start, y0), min(ys.stop, y0 + th)
            c, d = max(xs.start, x0), min(xs.stop, x0 + tw)
            out[(*plane, slice(a - ys.start, b - ys.start), slice(c - xs.start, d - xs.start))] = (
                tile[a - y0 : b - y0, c - x0 : d - x0]
            )

        for _ in map_threaded(one, list(zip(jobs, blobs, strict=True))):
            pass
        STATS.add(len(jobs), sum(len(b) for b in blobs))
        return self._finish(out, ranges)

    def _finish(self, out: np.ndarray[Any, Any], ranges: list[range]) -> np.ndarray[Any, Any]:
        if self.layout.samples == 1:
            return out[..., 0]
        s = ranges[-1]
        return out[..., s.start : s.stop]


class VsiReader(Reader):
    """A cellSens ``.vsi`` and the ETS tile pyramids of its ``_<name>_`` folder."""

    name = "vsi"
    suffixes: ClassVar[tuple[str, ...]] = (".vsi",)
    options = ("allow_external_files",)

    @classmethod
    def sniff_location(cls, location: Location) -> bool:
        return location.name.lower().endswith(".vsi")

    def __init__(self, location: Location, allow_external_files: bool = False) -> None:
        super().__init__(location)
        head = location.head(8)
        if head[:4] not in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
            raise UnsupportedFormatError(location.url, {"vsi": "not a TIFF-based .vsi file"})
        stem = location.name[: -len(".vsi")]
        names = _ets_files(location, f"_{stem}_")
        if not names:
            raise CorruptFileError(
                f"{location.name}: no _{stem}_/stack*/frame_t*.ets files beside it (the "
                "pixels of a .vsi slide are in its ETS files)"
            )
        self._scenes: list[SceneInfo] = []
        self._files: list[tuple[Location, EtsLayout]] = []
        self._stacks = _read_tree(location)
        self._meta: list[VsiStack | None] = []
        self._planes: list[str | None] = []
        token = location.token()
        for name in names:
            ets = referenced(
                location, name, allow_external=allow_external_files, where=location.name
            )
            layout = parse_ets(ets, f"{location.name}: {name}")
            self._files.append((ets, layout))
            folder = name.split("/")[1] if name.count("/") == 2 else name
            number = _STACK.match(folder)
            meta = self._stacks.get(int(number.group(1))) if number else None
            plane = meta.plane_dims if meta else None
            plane = plane if plane and len(plane) == len(layout.plane_sizes) else None
            self._meta.append(meta)
            self._planes.append(plane)
            src = EtsSource(ets, layout, 0, f"{token}|{name}|0", plane)
            shapes = tuple(
                EtsSource(ets, layout, lv, "", plane).shape
                for lv in range(len(layout.level_shapes))
            )
            info = SceneInfo(name=folder, dims=src.dims, shapes=shapes, dtype=src.dtype)
            self._scenes.append(_with_tree(info, meta))
        self._names = names
        self._token = token
        _unique_names(self._scenes)
        self._pages, photos = _photo_pages(location)
        self._scenes += photos

    def scenes(self) -> Sequence[SceneInfo]:
        return self._scenes

    def source(self, scene: int, level: int = 0) -> ArraySource:
        self.check_scene_level(scene, level)
        if scene >= len(self._files):  # a photo page of the .vsi itself
            assert self._pages is not None
            return self._pages.source(scene - len(self._files), level)
        ets, layout = self._files[scene]
        token = f"{self._token}|{self._names[scene]}|{level}"
        return EtsSource(ets, layout, level, token, self._planes[scene])

    def close(self) -> None:
        """Release file handles (sources reopen their own)."""
        if self._pages is not None:
            self._pages.close()
        super().close()

    def objective_power(self, scene: int) -> float | None:
        """The objective magnification the ``.vsi`` tree records for the scene's stack."""
        self.check_scene_level(scene)
        meta = self._meta[scene] if scene < len(self._meta) else None
        return meta.objective_magnification if meta else None

    @property
    def metadata(self) -> Any:
        """The ETS files and what their headers say, and each stack's tree values."""
        return {
            name: {
                "compression": lay.compression,
                "tile": lay.tile,
                "plane_sizes": lay.plane_sizes,
                "levels": lay.level_shapes,
                "origin": lay.origin,
                "vsi": dataclasses.asdict(meta) if meta else None,
            }
            for name, (_, lay), meta in zip(self._names, self._files, self._meta, strict=True)
        }


def _unique_names(scenes: list[SceneInfo]) -> None:
    """Stack folders stand in for names a tree lacks or repeats (scene names are unique)."""
    seen: dict[str, int] = {}
    for info in scenes:
        seen[info.name] = seen.get(info.name, 0) + 1
    for i, info in enumerate(scenes):
        if seen[info.name] > 1:
            scenes[i] = dataclasses.replace(info, name=f"{info.name} (stack {i + 1})")


def _photo_pages(location: Location) -> tuple[Reader | None, list[SceneInfo]]:
    """The ``.vsi`` file's own TIFF pages (its slide photos): a TIFF reader of them and
    their scenes, the last two named ``macro image`` / ``label image`` and associated;
    (None, []) when they cannot be read (a warning: the stacks still open)."""
    from .tiff import TiffReader  # the .vsi is a TIFF; its pages are plain ones

    try:
        pages = TiffReader(location)
    except ImgioError as exc:
        warnings.warn(
            f"{location.name}: its label and macro pages are left out: {exc}",
            ImgioWarning,
            stacklevel=4,
        )
        return None, []
    infos = list(pages.scenes())
    roles = ["macro", "label"][: len(infos)]
    for k, role in enumerate(roles):
        i = len(infos) - 1 - k
        infos[i] = dataclasses.replace(
            infos[i], name=f"{role} image", associated=role, pixel_sizes=PhysicalPixelSizes()
        )
    return pages, infos


def _read_tree(location: Location) -> dict[int, VsiStack]:
    """Each stack's values from the ``.vsi`` tree ({} when it is too large to read)."""
    size = location.size
    if size > MAX_TREE_BYTES:
        warnings.warn(
            f"{location.name}: {size} bytes; its metadata tree is not read (over "
            f"{MAX_TREE_BYTES} bytes): pixel sizes and channel names are unknown",
            ImgioWarning,
            stacklevel=4,
        )
        return {}
    return stack_metadata(parse_tree(location.read_range(0, size, exact=False)))


def _with_tree(info: SceneInfo, meta: VsiStack | None) -> SceneInfo:
    """``info`` with the tree's sizes, Z origin, channel names and time stamps."""
    if meta is None:
        return info
    dims, shape = info.dims, info.shape
    z = abs(meta.z_step) if "Z" in dims and meta.z_step else None
    yx = meta.pixel_size_yx or (None, None)
    names = meta.channel_names
    if names is not None and ("C" not in dims or shape[dims.index("C")] != len(names)):
        names = None
    # a Z stack acquired downwards (negative step) has no origin + index x size coordinates:
    # its Z origin is left out (the signed step is in ``metadata``)
    upward = meta.z_step is None or meta.z_step > 0
    origin = {"Z": meta.z_start} if "Z" in dims and meta.z_start is not None and upward else {}
    stamps = (
        _stamps(meta, dims, shape) if meta.plane_dims and dims.startswith(meta.plane_dims) else None
    )
    interval = (stamps[-1] / (len(stamps) - 1)) if stamps else None
    return dataclasses.replace(
        info,
        name=meta.name or info.name,
        pixel_sizes=PhysicalPixelSizes(z, yx[0], yx[1]),
        channel_names=names,
        origin=origin,
        time_stamps=stamps,
        time_interval=interval,
    )


def _stamps(meta: VsiStack, dims: str, shape: tuple[int, ...]) -> tuple[float, ...] | None:
    """Seconds of each time point's first plane from the first (planes: first slot fastest)."""
    plane = meta.plane_dims or ""
    if "T" not in plane or shape[dims.index("T")] < 2:
        return None
    stride = 1
    for d in plane[: plane.index("T")]:
        stride *= shape[dims.index(d)]
    ms = [meta.frame_ms.get(t * stride) for t in range(shape[dims.index("T")])]
    if any(m is None for m in ms):
        return None
    rel = tuple((m - ms[0]) / 1000.0 for m in ms)  # type: ignore[operator]
    return rel if all(b > a for a, b in zip(rel, rel[1:], strict=False)) else None


def _ets_files(location: Location, folder: str) -> list[str]:
    """``<folder>/stack<N>/frame_t*.ets`` beside ``location``, stacks in number order."""
    found: list[tuple[int, str]] = []
    if location.is_local:
        base = os.path.join(os.path.dirname(location.url), folder)
        try:
            stacks = os.listdir(base)
        except OSError:
            return []
        for stack in stacks:
            m = _STACK.match(stack)
            if m is None or not os.path.isdir(os.path.join(base, stack)):
                continue
            for frame in sorted(os.listdir(os.path.join(base, stack))):
                if _FRAME.match(frame):
                    found.append((int(m.group(1)), f"{folder}/{stack}/{frame}"))
        return [name for _, name in sorted(found)]
    if location.is_http:
        raise SelectionError(
            f"{location.url}: HTTP cannot list the ETS folder of a .vsi; copy it locally "
            "or use a store that lists (s3://, gs://...)"
        )
    fs = location.fs
    base = posixpath.join(posixpath.dirname(location.fs_path), folder)
    for path in fs.glob(posixpath.join(base, "stack*", "frame_t*.ets")):
        stack, frame = path.split("/")[-2:]
        m = _STACK.match(stack)
        if m is not None:
            found.append((int(m.group(1)), f"{folder}/{stack}/{frame}"))
    return [name for _, name in sorted(found)]
