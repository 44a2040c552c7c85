"""One opened file, stateless: what the layers above a reader share.

An :class:`ImageFile` answers every question about a file with the scene (and level)
given explicitly: its scenes' names and info, presented dims and shapes, channel names,
pixel sizes, array sources, DataArrays, metadata, and what the reader reports of the
slide (vendor, objective power, associated images). Tiles, ``imgio.slide``,
``imgio.serve``, the writers and the xarray backend use this object; the stateful
:class:`imgio.Image` (current scene and level, AICSImageIO names) is a face over it.
Nothing here depends on a "current" scene, so no layer can read the wrong one.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .._location import Location, as_location
from ..dims import Dims, PhysicalPixelSizes, standard_order
from ..errors import SelectionError
from ..readers._registry import open_reader
from ..readers.base import ArraySource, Reader, SceneInfo
from . import _lazy

if TYPE_CHECKING:
    import xarray as xr
    from ome_types import OME

__all__ = ["HasImageFile", "ImageFile", "as_image_file"]


class ImageFile:
    """A lazily opened image file (or in-memory arrays), every answer per scene and level.

    Parameters are those of :class:`imgio.Image`, which documents them.
    """

    def __init__(
        self,
        path: Any,
        reader: str | type[Reader] | None = None,
        *,
        storage_options: Mapping[str, Any] | None = None,
        chunks: _lazy.ChunkSpec = "auto",
        reconstruct_mosaic: bool = True,
        allow_external_files: bool = False,
        dim_order: str | Sequence[str | None] | None = None,
        channel_names: Sequence[str] | Sequence[Sequence[str] | None] | None = None,
        physical_pixel_sizes: Any = None,
        dims: str | None = None,
        pattern: str | None = None,
    ) -> None:
        self._init_state(
            chunks,
            {
                "dim_order": dim_order,
                "channel_names": channel_names,
                "physical_pixel_sizes": physical_pixel_sizes,
            },
            {
                "reconstruct_mosaic": reconstruct_mosaic,
                "allow_external_files": allow_external_files,
            },
        )
        from ..readers.array import ArrayReader, is_array_like

        if is_array_like(path) and not isinstance(path, (str, os.PathLike, Location)):
            self._reader: Reader = ArrayReader(path, **self._overrides)
            self._location = self._reader.location
            return
        if _maybe_sequence(path):  # a pattern, a list of paths or a glob: one reader over them
            from ..readers.sequence import is_sequence, open_sequence

            if is_sequence(path):
                sequence = open_sequence(
                    path,
                    dims=dims,
                    pattern=pattern,
                    storage_options=storage_options,
                    allow_external_files=allow_external_files,
                    reader=reader if isinstance(reader, str) else None,
                )
                self._reader = self._overridden(sequence)
                self._location = sequence.location
                return
        self._location = as_location(path, storage_options)
        self._reader = self._open_file(reader)

    def _init_state(
        self, chunks: _lazy.ChunkSpec, overrides: dict[str, Any], options: dict[str, Any]
    ) -> None:
        self.chunks = chunks
        self._overrides = overrides
        self._options = options
        self._cache: dict[tuple[int, int], xr.DataArray] = {}
        self._memo: dict[tuple[str, int, int], Any] = {}  # per-scene facts, sources
        self._lock = threading.Lock()
        self._ome_ids: list[str] | None = None

    def _open_file(self, reader: str | type[Reader] | None) -> Reader:
        return self._overridden(open_reader(self._location, reader, self._options))

    def _overridden(self, opened: Reader) -> Reader:
        if any(v is not None for v in self._overrides.values()):
            from ..readers._overrides import OverrideReader

            return OverrideReader(opened, **self._overrides)
        return opened

    # pickling (files travel to dask workers): files reopen, arrays travel whole
    def __getstate__(self) -> dict[str, Any]:
        from ..readers.array import ArrayReader

        state: dict[str, Any] = {
            "chunks": self.chunks,
            "overrides": self._overrides,
            "options": self._options,
            "location": self._location,
        }
        from ..readers.sequence import SequenceReader

        if isinstance(self._reader, ArrayReader):
            state["array_reader"] = self._reader
        elif type(self._reader.unwrapped) is SequenceReader:  # no one file to reopen
            state["sequence_reader"] = self._reader.unwrapped
        else:
            state["reader"] = type(self._reader.unwrapped)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._init_state(state["chunks"], state["overrides"], state["options"])
        self._location = state["location"]
        if "array_reader" in state:
            self._reader = state["array_reader"]
        elif "sequence_reader" in state:
            self._reader = self._overridden(state["sequence_reader"])
        else:
            self._reader = self._open_file(state["reader"])

    def __repr__(self) -> str:
        return f"<imgio.ImageFile {self.path!r} ({self._reader.name}, {self.n_scenes} scenes)>"

    # ------------------------------------------------------------------ file
    @property
    def reader(self) -> Reader:
        """The format reader in use."""
        return self._reader

    @property
    def location(self) -> Location:
        return self._location

    @property
    def path(self) -> str:
        return self._location.url

    def close(self) -> None:
        """Release the reader's file handles (sources reopen their own)."""
        self._reader.close()

    # ---------------------------------------------------------------- scenes
    def infos(self) -> Sequence[SceneInfo]:
        """The reader's own info of every scene."""
        return self._reader.scenes()

    @property
    def scene_names(self) -> tuple[str, ...]:
        """Names of every scene in the file."""
        return tuple(info.name for info in self.infos())

    @property
    def n_scenes(self) -> int:
        return len(self.infos())

    def scene_index(self, scene: int | str) -> int:
        """Index of ``scene`` (an index, negative from the end, a name or an OME Image ID)."""
        names = self.scene_names
        if isinstance(scene, str):
            if scene in names:
                return names.index(scene)
            ids = self._scene_ids()
            if scene in ids:
                return ids.index(scene)
            raise SelectionError(f"no scene named {scene!r}; scenes are {list(names)}")
        if not isinstance(scene, (int, np.integer)) or not -len(names) <= scene < len(names):
            raise SelectionError(f"scene {scene!r} out of range (0..{len(names) - 1})")
        return int(scene) % len(names)

    def _scene_ids(self) -> list[str]:
        """The OME ``Image`` IDs (``"Image:0"``...) when they map one to one onto the scenes."""
        if self._ome_ids is None:
            from .._ome import parse_light

            xml = self._reader.ome_xml()
            ids = [im.id for im in parse_light(xml)] if xml else []
            self._ome_ids = ids if len(ids) == len(self.infos()) else []
        return self._ome_ids

    def n_levels(self, scene: int) -> int:
        """Number of stored resolution levels of ``scene``."""
        return self.infos()[scene].n_levels

    def level_index(self, scene: int, level: int) -> int:
        """Index of ``level`` of ``scene`` (negative from the end)."""
        n = self.n_levels(scene)
        if not isinstance(level, (int, np.integer)) or not -n <= level < n:
            raise SelectionError(f"level {level!r} out of range for scene {scene} (0..{n - 1})")
        return int(level) % n

    def info(self, scene: int) -> SceneInfo:
        """``scene``'s info as the arrays present it (``Channel:<scene>:<i>`` names filled in)."""
        key = ("info", scene, 0)
        info: SceneInfo | None = self._memo.get(key)
        if info is None:
            info = self._memo[key] = self._named_info(scene)
        return info

    def _named_info(self, scene: int) -> SceneInfo:
        info = self.infos()[scene]
        if info.channel_names is None:  # the presented C always exists (size 1 without one)
            n = info.shapes[0][info.dims.index("C")] if "C" in info.dims else 1
            info = dataclasses.replace(
                info, channel_names=tuple(f"Channel:{scene}:{c}" for c in range(n))
            )
        return info

    def presented(self, scene: int, level: int = 0) -> tuple[str, tuple[int, ...]]:
        """Presented dims order (``[extra...] T C Z Y X [S]``) and shape of a level."""
        key = ("presented", scene, level)
        got: tuple[str, tuple[int, ...]] | None = self._memo.get(key)
        if got is None:
            info = self.infos()[scene]
            order = standard_order(info.dims)
            sizes = dict(zip(info.dims, info.shapes[level], strict=True))
            got = self._memo[key] = (order, tuple(sizes.get(d, 1) for d in order))
        return got

    def dims(self, scene: int, level: int = 0) -> Dims:
        """Presented dims of a level (no dask graph is built)."""
        return Dims(*self.presented(scene, level))

    def sizes(self, scene: int, level: int = 0) -> dict[str, int]:
        """Presented size of every dim of a level, by letter."""
        order, shape = self.presented(scene, level)
        return dict(zip(order, shape, strict=True))

    def dtype(self, scene: int) -> np.dtype[Any]:
        return self.infos()[scene].dtype

    def channel_names(self, scene: int) -> list[str]:
        """Channel names of ``scene`` (``Channel:<scene>:<i>`` where the file has none)."""
        return list(self.info(scene).channel_names or ())

    def physical_pixel_sizes(self, scene: int, level: int = 0) -> PhysicalPixelSizes:
        """Pixel size in µm (Z, Y, X) of a level; ``None`` where unknown."""
        return _lazy.physical_pixel_sizes(self.infos()[scene], level)

    # ------------------------------------------------------------ pixel data
    def native_source(self, scene: int, level: int = 0) -> ArraySource:
        """The reader's array source of a level, in the file's own dims order."""
        return self._reader.source(scene, level)

    def source(self, scene: int, level: int = 0) -> ArraySource:
        """The array source of a level in the presented dims order."""
        key = ("source", scene, level)
        src: ArraySource | None = self._memo.get(key)
        if src is None:
            src = self._memo[key] = _lazy.presented(self._reader.source(scene, level))
        return src

    def dataarray(self, scene: int, level: int = 0) -> xr.DataArray:
        """The lazy, dask-backed DataArray of a level (cached)."""
        key = (scene, level)
        with self._lock:
            if key not in self._cache:
                src = self._reader.source(scene, level)
                self._cache[key] = _lazy.as_dataarray(
                    src, self.info(scene), level, chunks=self.chunks
                )
            return self._cache[key]

    def lazy_dataarray(self, scene: int, level: int = 0) -> xr.DataArray:
        """A DataArray lazily indexed without dask: selections compose into one read."""
        from xarray.core import indexing

        from ._datatree import ImgioBackendArray

        src = self.source(scene, level)
        data = indexing.LazilyIndexedArray(ImgioBackendArray(src))
        return _lazy.as_dataarray(src, self.info(scene), level, standardize=False, data=data)

    def read(self, scene: int, level: int = 0) -> np.ndarray[Any, Any]:
        """A whole level read into memory (decoded on threads, no dask)."""
        src = self.source(scene, level)
        out = np.empty(src.shape, dtype=src.dtype)
        return _lazy.read(src, (), out=out)

    # -------------------------------------------------------------- metadata
    @property
    def metadata(self) -> Any:
        """The file's native metadata (OME-XML text, ImageJ dict, attributes...)."""
        return self._reader.metadata

    @property
    def ome_metadata(self) -> OME:
        """An ``ome_types.OME`` model, built on first access."""
        return self._reader.ome_metadata

    def ome_xml(self) -> str | None:
        """The file's own OME-XML text, when it has one."""
        return self._reader.ome_xml()

    @property
    def vendor(self) -> str:
        """Who made the file, as OpenSlide names vendors (``aperio``, ``generic-tiff``...)."""
        return self._reader.vendor()

    def objective_power(self, scene: int) -> float | None:
        """The objective magnification of ``scene``'s level 0, when the file records it."""
        return self._reader.objective_power(scene)

    @property
    def associated_images(self) -> dict[str, int]:
        """Associated images (``label``, ``macro``, ``thumbnail``...) and their scene indices."""
        return {
            info.associated: i for i, info in enumerate(self.infos()) if info.associated is not None
        }


def _maybe_sequence(path: Any) -> bool:
    """Whether ``path`` may name a file sequence: a list, or a name with ``{ * ? [``
    (:func:`imgio.readers.sequence.is_sequence` decides; a plain path never imports it)."""
    if isinstance(path, (list, tuple)):
        return True
    if isinstance(path, (str, os.PathLike)) and not isinstance(path, Location):
        text = os.fspath(path)
        return any(c in str(text) for c in "{*?[")
    return False


@runtime_checkable
class HasImageFile(Protocol):
    """A stateful view of an :class:`ImageFile` with a current scene and level (an
    :class:`imgio.Image`), as the layers that take either see it."""

    @property
    def file(self) -> ImageFile: ...
    @property
    def current_scene_index(self) -> int: ...
    @property
    def current_resolution_level(self) -> int: ...


def as_image_file(obj: ImageFile | HasImageFile | str | os.PathLike[str]) -> ImageFile:
    """The :class:`ImageFile` of ``obj``: an ImageFile, an ``Image`` (its ``file``), or
    a path or URL to open."""
    if isinstance(obj, ImageFile):
        return obj
    if isinstance(obj, HasImageFile):
        return obj.file
    return ImageFile(obj)
