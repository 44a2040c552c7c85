"""Leica LAS X exported projects: XLEF (experiment), XLCF (collection), XLIF (image).

These are XML files. An XLEF or XLCF lists its children (``Children/Reference
File=...``: more XLCF/XLIF files); an XLIF describes one image as in a LIF file and
says where its pixels are (``Memory`` frames): one LOF file, or one TIFF/JPEG/PNG/BMP
file per plane. Every image of the project is a scene named by its path in the
project tree, as for LIF. Every referenced file is resolved against the folder of the
file the user opened and confined to it (:mod:`imgio._confine`; opt out with
``allow_external_files=True``), so a project cannot pull pixels from elsewhere.
liffile parses each XLIF's XML (never its references: imgio resolves those); pixels of
a LOF are byte ranges, those of image files are decoded plane by plane, lazily.
"""

from __future__ import annotations

import io
import math
import os
import posixpath
import warnings
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from .._confine import referenced
from .._location import Location
from ..errors import (
    CorruptFileError,
    ImgioWarning,
    MissingFileError,
    UnsupportedFormatError,
    require,
)
from ._frames import FramePlaneSource
from ._rawplanes import PARSE_ERRORS
from ._tilescan import MosaicSource
from .base import ArraySource, Reader, SceneInfo
from .lif import (
    _geometry,
    _layout,
    _raw_source,
    _scene_info,
    _SkipImage,
    _tile_positions,
)

__all__ = ["XlifReader"]

#: deepest nesting of XLEF/XLCF references followed
MAX_DEPTH = 8
#: largest XML file read (bytes)
MAX_XML = 64 << 20
#: image files a frame may be stored in
FRAME_SUFFIXES = (".tif", ".tiff", ".jpg", ".jpeg", ".png", ".bmp")


def _is_lms_xml(head: bytes) -> bool:
    """An XML file (UTF-8 or UTF-16, with or without BOM) whose root is LAS X's container."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16"
    elif head[1:2] == b"\0":
        codec = "utf-16-le"
    elif head[:1] == b"\0":
        codec = "utf-16-be"
    else:
        codec = "utf-8"
    cut = head if codec == "utf-8" else head[: len(head) // 2 * 2]
    text = cut.decode(codec, errors="ignore")
    return text.lstrip("\ufeff \t\r\n").startswith("<") and "<LMSDataContainerHeader" in text


class XlifReader(Reader):
    """Leica XLEF / XLCF / XLIF projects; pixels from the LOF or image files they name."""

    name = "xlif"
    suffixes = (".xlif", ".xlef", ".xlcf")
    extra = "lif"
    options = ("reconstruct_mosaic", "allow_external_files")

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return len(head) > 16 and _is_lms_xml(head)

    def __init__(
        self,
        location: Location,
        *,
        reconstruct_mosaic: bool = True,
        allow_external_files: bool = False,
    ) -> None:
        super().__init__(location)
        self._liffile: Any = require("liffile", extra="lif")
        self.reconstruct_mosaic = reconstruct_mosaic
        self._allow_external = allow_external_files
        self._token = location.token()
        self._scenes: list[tuple[SceneInfo, Any]] = []  # (info, how to build the source)
        self._sources: dict[int, ArraySource] = {}
        if not _is_lms_xml(location.head(4096)):
            raise UnsupportedFormatError(location.url, {"xlif": "no LAS X XML header"})
        self._visit("", location.name, [], 0, set())
        if not self._scenes:
            raise CorruptFileError(f"{location.url}: the Leica project holds no readable image")

    # ---------------------------------------------------------------- project tree
    def _resolve(self, rel: str, where: str) -> Location:
        return referenced(self.location, rel, allow_external=self._allow_external, where=where)

    def _resolve_files(self, names: list[str], where: str) -> dict[str, Location]:
        """Many frame files at once: a local folder is listed and confined once, and only
        its symlinks are resolved one by one (thousands of planes open in milliseconds).
        Remote files are not checked here (a request each): a missing one fails its read."""
        if not self.location.is_local or self._allow_external:
            return {n: self._resolve(n, where) for n in names}
        root = os.path.dirname(os.path.realpath(self.location.url))
        out: dict[str, Location] = {}
        by_folder: dict[str, list[str]] = {}
        for n in names:
            by_folder.setdefault(posixpath.dirname(n), []).append(n)
        for folder, group in by_folder.items():
            real = os.path.realpath(os.path.join(root, folder))
            try:
                inside = os.path.commonpath([root, real]) == root
                listed = {e.name: e.is_symlink() for e in os.scandir(real)} if inside else {}
            except OSError:
                listed = {}
            for n in group:
                base = posixpath.basename(n)
                if listed.get(base) is False:  # a plain file in a confined folder
                    out[n] = Location(os.path.join(real, base))
                else:  # a symlink, a folder outside, or missing: the full check
                    out[n] = self._resolve(n, where)
                    _exists(out[n], where)
        return out

    def _xml(self, loc: Location, where: str) -> bytes:
        _exists(loc, where)
        size = loc.size
        if size > MAX_XML:
            raise CorruptFileError(f"{where}: {size} bytes is too large for an XML file")
        return loc.read_range(0, size)

    def _visit(self, folder: str, name: str, names: list[str], depth: int, seen: set[str]) -> None:
        """Read one XML file (``folder/name`` relative to the opened file's folder)."""
        rel = posixpath.normpath(posixpath.join(folder, name))
        where = f"{self.location.url}: {rel}"
        loc = self.location if depth == 0 else self._resolve(rel, where)
        if loc.url in seen or depth > MAX_DEPTH:
            raise CorruptFileError(f"{where}: references nest too deep or form a cycle")
        seen.add(loc.url)
        data = self._xml(loc, where)
        try:
            lif = self._liffile.LifFile(io.BytesIO(data), squeeze=True)
            element = lif.xml_element.find("./Element")
            if element is None:
                raise ValueError("no Element in the XML")
            kind = lif.type.name
        except (*PARSE_ERRORS, self._liffile.LifFileError) as exc:
            raise CorruptFileError(f"{where}: corrupted LAS X XML: {exc}") from exc
        here = posixpath.dirname(rel)
        if kind == "XLIF":
            self._add_image(lif, element, here, "/".join([*names, element.get("Name", "")]), where)
            return
        if kind == "XLCF" and depth > 0:
            names = [*names, element.get("Name", "")]
        for ref in element.findall("./Children/Reference"):
            child = ref.get("File")
            if child:
                self._visit(here, _ref_name(child), names, depth + 1, seen)

    def _add_image(self, lif: Any, element: Any, folder: str, path: str, where: str) -> None:
        image = self._liffile.LifImage(lif, element, path)
        try:
            try:
                frames = image.memory_block.frames
            except (*PARSE_ERRORS, self._liffile.LifFileError) as exc:
                raise CorruptFileError(f"{where}: bad Memory element: {exc}") from exc
            if not frames:
                raise _SkipImage("no pixel files named")
            files = [posixpath.normpath(posixpath.join(folder, f.file)) for f in frames]
            if len(files) == 1 and files[0].lower().endswith(".lof"):
                self._add_lof(self._resolve(files[0], where), path, where)
                return
            self._add_frames(image, files, frames, path, where)
        except _SkipImage as why:
            warnings.warn(f"{where}: image {path!r} skipped: {why}", ImgioWarning, stacklevel=5)

    def _add_lof(self, loc: Location, path: str, where: str) -> None:
        _exists(loc, where)
        fh = loc.open()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lof = self._liffile.LifFile(fh, squeeze=True)
                layout = _layout(lof.images[0], self.reconstruct_mosaic)
        except (*PARSE_ERRORS, self._liffile.LifFileError) as exc:
            raise CorruptFileError(f"{where}: {loc.url}: corrupted LOF file: {exc}") from exc
        finally:
            fh.close()
        info = _renamed(layout.info, path)
        self._scenes.append((info, ("lof", loc, layout)))

    def _add_frames(
        self, image: Any, files: list[str], frames: Sequence[Any], path: str, where: str
    ) -> None:
        if any(not f.lower().endswith(FRAME_SUFFIXES) for f in files):
            raise _SkipImage(f"frames in files imgio cannot decode: {sorted(set(files))[:3]}")
        geo = _geometry(image)
        locs = self._resolve_files(list(dict.fromkeys(files)), where)
        if geo.row_stride != math.prod(geo.shape[geo.dims.index("X") :]) * geo.dtype.itemsize:
            raise _SkipImage("padded rows in frame files")
        spans = [
            (int(fr.offset), int(fr.size), locs[f]) for fr, f in zip(frames, files, strict=True)
        ]
        token = f"{self._token}|xlif|{len(self._scenes)}"
        tiles = FramePlaneSource(
            dims=geo.dims,
            shape=geo.shape,
            dtype=geo.dtype,
            spans=spans,
            token=token,
            where=f"{where}: image {path!r}",
        )
        positions = _tile_positions(image, geo.dims, geo.shape)
        shown = positions if self.reconstruct_mosaic else None
        info = _scene_info(image, geo.dims, geo.shape, geo.dtype, shown)
        self._scenes.append((_renamed(info, path), ("frames", tiles, positions)))

    # ------------------------------------------------------------------ contract
    def scenes(self) -> Sequence[SceneInfo]:
        return [info for info, _ in self._scenes]

    @property
    def metadata(self) -> Any:
        """The opened file's XML text."""
        data = self.location.read_range(0, min(self.location.size, MAX_XML))
        for codec in ("utf-16", "utf-8-sig"):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                continue
        return data.decode("latin-1")

    def mosaic_tile_positions(self, scene: int) -> Sequence[tuple[int, int]] | None:
        self.check_scene_level(scene, 0)
        how = self._scenes[scene][1]
        positions = how[2].positions if how[0] == "lof" else how[2]
        return None if positions is None or self.reconstruct_mosaic else list(positions)

    def source(self, scene: int, level: int = 0) -> ArraySource:
        self.check_scene_level(scene, level)
        found = self._sources.get(scene)
        if found is None:
            found = self._sources[scene] = self._new_source(scene)
        return found

    def _new_source(self, scene: int) -> ArraySource:
        info, how = self._scenes[scene]
        token = f"{self._token}|xlif|{scene}"
        where = f"{self.location.url}: image {info.name!r}"
        if how[0] == "lof":
            _, loc, layout = how
            tiles: ArraySource = _raw_source(loc, layout, f"{token}|{loc.token()}", where)
            positions = layout.positions
        else:
            _, tiles, positions = how
        if positions is not None and self.reconstruct_mosaic:
            return MosaicSource(tiles, positions, f"{token}|mosaic")
        return tiles


def _exists(loc: Location, where: str) -> None:
    if not loc.exists():
        raise MissingFileError(f"{where}: names {loc.url}, which does not exist")


def _ref_name(name: str) -> str:
    """A reference as LAS X writes it (``.\\Image 1\\Image 1.xlif``, %-escaped) as a posix path."""
    return unquote(name).replace("\\", "/")


def _renamed(info: SceneInfo, name: str) -> SceneInfo:
    from dataclasses import replace

    return replace(info, name=name)
