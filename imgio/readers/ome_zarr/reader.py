"""The OME-Zarr reader: opens the store, finds its scenes (see ``_layout``), serves sources.

Opening reads metadata documents only (root, groups, each level's array metadata,
and the bioformats2raw OME-XML); sources reopen their array once per process.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._location import Location
from ...errors import (
    CorruptFileError,
    MissingFileError,
    NotByteRangesError,
    SelectionError,
    UnsupportedFormatError,
)
from ..base import ChunkRefs, Reader, SceneInfo
from ._guard import metadata_errors
from ._scenes import Layout, _join
from ._source import ZarrSource, is_zip, open_store

__all__ = ["OmeZarrReader"]

_MARKERS = ("zarr.json", ".zgroup", ".zarray", ".zattrs")


def _zip_has(zf: Any, name: str) -> bool:
    try:
        zf.getinfo(name)
    except KeyError:
        return False
    return True


class OmeZarrReader(Reader):
    """OME-Zarr (NGFF 0.1-0.6, Zarr v2 and v3, sharded or not, zipped too) and plain zarr."""

    name = "ome-zarr"
    suffixes = (".ome.zarr", ".zarr", ".zarr.zip", ".ozx")

    @classmethod
    def sniff_location(cls, location: Location) -> bool:
        """A directory (or URL prefix) or a ZIP file holding Zarr v2 or v3 metadata documents."""
        if is_zip(location):
            try:
                with zipfile.ZipFile(location.url) as zf:
                    return any(_zip_has(zf, m) for m in _MARKERS)
            except (OSError, zipfile.BadZipFile):
                return False
        if location.is_local:
            if not location.isdir():
                return False
        elif location.suffixes and not location.suffixes.endswith(".zarr"):
            return False  # a remote file with another suffix: spare the requests
        return any(location.child(m).exists() for m in _MARKERS)

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        import zarr

        self._zarr = zarr
        with metadata_errors(location.url):
            try:
                self._store = open_store(location)
                root = zarr.open(store=self._store, mode="r")
            except FileNotFoundError as exc:  # zarr's NodeNotFoundError derives from it
                if not location.exists():
                    raise MissingFileError(f"no such file or directory: {location.url!r}") from exc
                raise UnsupportedFormatError(
                    location.url,
                    {self.name: f"no zarr metadata ({', '.join(_MARKERS)}) at the root"},
                ) from exc
            except zipfile.BadZipFile as exc:
                raise CorruptFileError(
                    f"{location.url}: expected a ZIP archive of a zarr store, found a damaged "
                    f"or truncated ZIP ({exc})"
                ) from exc
            self._root = root
            self._format = int(root.metadata.zarr_format)
            self._root_attrs: dict[str, Any] = dict(root.attrs)
            layout = Layout(location, root)
        self._scenes = layout.scenes
        self._paths = layout.paths
        self._arrays = layout.arrays
        self._xml = layout.xml
        self._sources: dict[tuple[int, int], ZarrSource] = {}
        if not self._scenes:
            raise UnsupportedFormatError(
                location.url, {self.name: "the zarr group holds no arrays"}
            )

    # the contract
    def scenes(self) -> Sequence[SceneInfo]:
        """Every scene found at open (no pixel data read)."""
        return tuple(self._scenes)

    def source(self, scene: int, level: int = 0) -> ZarrSource:
        """The zarr array of one scene and level."""
        if not 0 <= scene < len(self._scenes):
            raise SelectionError(f"scene {scene} is out of range (0..{len(self._scenes) - 1})")
        n_levels = len(self._paths[scene])
        if not 0 <= level < n_levels:
            raise SelectionError(
                f"level {level} is out of range for scene {scene} (0..{n_levels - 1})"
            )
        src = self._sources.get((scene, level))
        if src is None:
            arr = self._arrays[scene][level]
            path = self._paths[scene][level]
            doc = "zarr.json" if self._format == 3 else ".zarray"
            zipped = is_zip(self.location)
            stamp = (self.location if zipped else self.location.child(_join(path, doc))).token()
            src = ZarrSource(
                self.location,
                path,
                dims=self._scenes[scene].dims,
                shape=tuple(int(s) for s in arr.shape),
                dtype=np.dtype(arr.dtype),
                chunks=tuple(int(c) for c in arr.chunks),
                token=f"ome-zarr:{stamp}:{path}:{arr.shape}:{arr.dtype}",
                zarr_format=self._format,
                array=arr,
            )
            self._sources[(scene, level)] = src
        return src

    def chunk_refs(self, scene: int, level: int = 0) -> ChunkRefs:
        """A zipped store's Zarr v2 chunks as byte ranges of the archive.

        Raises
        ------
        NotByteRangesError
            A directory or URL store (a Zarr store already: the message says how to open
            it with zarr alone), a Zarr v3 array, or deflated members.
        """
        self.check_scene_level(scene, level)
        path = self._paths[scene][level]
        if is_zip(self.location):
            from ._refs import zip_refs

            return zip_refs(self.location, path)
        raise NotByteRangesError(
            f"{self.location.url}: an OME-Zarr store is already a Zarr store; references would "
            "only repeat its own chunk keys: open it with zarr.open_group (or "
            f"zarr.storage.FsspecStore for a URL) and its {path!r} array"
        )

    @property
    def metadata(self) -> dict[str, Any]:
        """The root group's attributes (plus ``"ome_xml"``, the bioformats2raw OME-XML text)."""
        meta = dict(self._root_attrs)
        if self._xml is not None:
            meta["ome_xml"] = self._xml
        return meta

    def ome_xml(self) -> str | None:
        """The bioformats2raw ``OME/METADATA.ome.xml`` text, when the store has one."""
        return self._xml

    @property
    def zarr_format(self) -> int:
        """2 or 3."""
        return self._format
