"""The :class:`Image` object: AICSImageIO-style scene/level state plus stateless access."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._location import Location, as_location
from ..arrays import _lazy
from ..dims import Dims, PhysicalPixelSizes, standard_order
from ..errors import SelectionError
from ..readers._registry import open_reader
from ..readers.base import ArraySource, Reader, SceneInfo
from ._aics import AicsNames
from ._repr import ReprMixin
from ._select import SelectionMixin

if TYPE_CHECKING:
    import dask.array as da
    import xarray as xr
    from ome_types import OME

    from ..tiles import TileSource

__all__ = ["Image", "PathLike"]

PathLike = str | os.PathLike[str] | Location


class Image(SelectionMixin, ReprMixin, AicsNames):
    """A lazily opened image file of any supported format.

    Parameters
    ----------
    path
        Local path or fsspec URL (``s3://``, ``https://``, ...); or in-memory data: a
        numpy, dask or xarray array, or a list of them (one scene each).
    reader
        Force a reader by name (``"tiff"``, ``"ome-zarr"``) or class.
    storage_options
        fsspec options for remote locations.
    chunks
        ``"auto"`` (whole native tiles near 64 MiB), an int, a tuple, or ``{"Y": 2048}``.
    reconstruct_mosaic
        For formats with tile-scan mosaics (CZI, LIF): ``True`` presents each scene as the
        stitched mosaic; ``False`` keeps the tiles on an ``M`` axis
        (see :attr:`mosaic_tile_positions`).
    allow_external_files
        Multi-file formats (OME-TIFF ``UUID FileName``, OME companions) may read files
        only inside the folder of the file naming them; ``True`` lifts that rule (only
        for files you trust).
    dim_order
        Dims letters of the data (``"ZYX"``), overriding what a file says; for arrays
        the default is the last letters of ``TCZYX``. One string, or one per scene.
    channel_names
        Channel names, overriding the file's (a list, or one list per scene).
    physical_pixel_sizes
        ``(Z, Y, X)`` in µm (or a mapping or :class:`PhysicalPixelSizes`), overriding the
        file's.

    Raises
    ------
    MissingFileError, UnsupportedFormatError, CorruptFileError
    ExternalFileError
        The file names another file outside its folder (see ``allow_external_files``).
    SelectionError
        An override that does not fit the data (wrong number of dims or channels).
    """

    def __init__(
        self,
        path: PathLike | Any,
        reader: str | type[Reader] | None = None,
        *,
        storage_options: Mapping[str, Any] | None = None,
        chunks: _lazy.ChunkSpec = "auto",
        reconstruct_mosaic: bool = True,
        allow_external_files: bool = False,
        dim_order: str | Sequence[str | None] | None = None,
        channel_names: Sequence[str] | Sequence[Sequence[str] | None] | None = None,
        physical_pixel_sizes: Any = None,
    ) -> None:
        self._chunks = chunks
        self._scene = 0
        self._level = 0
        self._cache: dict[tuple[int, int], xr.DataArray] = {}
        self._memo: dict[tuple[str, int, int], Any] = {}  # per-scene facts, sources
        self._lock = threading.Lock()
        self._ome_ids: list[str] | None = None
        self._overrides = {
            "dim_order": dim_order,
            "channel_names": channel_names,
            "physical_pixel_sizes": physical_pixel_sizes,
        }
        self._options = {
            "reconstruct_mosaic": reconstruct_mosaic,
            "allow_external_files": allow_external_files,
        }
        from ..readers.array import ArrayReader, is_array_like

        if is_array_like(path) and not isinstance(path, (str, os.PathLike, Location)):
            self._reader: Reader = ArrayReader(path, **self._overrides)
            self._location = self._reader.location
            return
        self._location = as_location(path, storage_options)
        self._reader = self._open_file(reader)

    def _open_file(self, reader: str | type[Reader] | None) -> Reader:
        opened = open_reader(self._location, reader, self._options)
        if any(v is not None for v in self._overrides.values()):
            from ..readers._overrides import OverrideReader

            return OverrideReader(opened, **self._overrides)
        return opened

    # pickling (Image objects travel to dask workers): files reopen, arrays travel whole
    def __getstate__(self) -> dict[str, Any]:
        from ..readers.array import ArrayReader

        state: dict[str, Any] = {
            "chunks": self._chunks,
            "scene": self._scene,
            "level": self._level,
            "overrides": self._overrides,
            "options": self._options,
            "location": self._location,
        }
        inner = getattr(self._reader, "inner", self._reader)
        if isinstance(self._reader, ArrayReader):
            state["array_reader"] = self._reader
        else:
            state["reader"] = type(inner)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._chunks = state["chunks"]
        self._scene, self._level = state["scene"], state["level"]
        self._cache = {}
        self._memo = {}
        self._lock = threading.Lock()
        self._ome_ids = None
        self._overrides, self._options = state["overrides"], state["options"]
        self._location = state["location"]
        if "array_reader" in state:
            self._reader = state["array_reader"]
        else:
            self._reader = self._open_file(state["reader"])

    # ----------------------------------------------------------------- scenes
    @property
    def reader(self) -> Reader:
        """The format reader in use."""
        return self._reader

    @property
    def path(self) -> str:
        return self._location.url

    def _infos(self) -> Sequence[SceneInfo]:
        return self._reader.scenes()

    @property
    def scenes(self) -> tuple[str, ...]:
        """Names of every scene in the file."""
        return tuple(info.name for info in self._infos())

    @property
    def current_scene(self) -> str:
        return self.scenes[self._scene]

    @property
    def current_scene_index(self) -> int:
        return self._scene

    def _scene_index(self, scene: int | str | None) -> int:
        if scene is None:
            return self._scene
        names = self.scenes
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
            self._ome_ids = ids if len(ids) == len(self._infos()) else []
        return self._ome_ids

    def set_scene(self, scene: int | str) -> None:
        """Make ``scene`` (index, name or OME Image ID) current; the level goes back to 0."""
        self._scene = self._scene_index(scene)
        self._level = 0

    # ----------------------------------------------------------------- levels
    @property
    def resolution_levels(self) -> tuple[int, ...]:
        """Level indices of the current scene (0 is full resolution)."""
        return tuple(range(self._infos()[self._scene].n_levels))

    @property
    def current_resolution_level(self) -> int:
        return self._level

    def _level_index(self, scene: int, level: int | None) -> int:
        if level is None:
            return self._level if scene == self._scene else 0
        n = self._infos()[scene].n_levels
        if not isinstance(level, (int, np.integer)) or not -n <= level < n:
            raise SelectionError(f"level {level!r} out of range for scene {scene} (0..{n - 1})")
        return int(level) % n

    def set_resolution_level(self, level: int) -> None:
        """Make ``level`` of the current scene current."""
        self._level = self._level_index(self._scene, level)

    # ------------------------------------------------------------- shape info
    def _info(self, scene: int) -> SceneInfo:
        key = ("info", scene, 0)
        info: SceneInfo | None = self._memo.get(key)
        if info is None:
            info = self._memo[key] = self._named_info(scene)
        return info

    def _named_info(self, scene: int) -> SceneInfo:
        info = self._infos()[scene]
        if (
            info.channel_names is None
        ):  # the presented C always exists (size 1 when the file has none)
            n = info.shapes[0][info.dims.index("C")] if "C" in info.dims else 1
            info = dataclasses.replace(
                info, channel_names=tuple(f"Channel:{scene}:{c}" for c in range(n))
            )
        return info

    def _presented(self, scene: int, level: int) -> tuple[str, tuple[int, ...]]:
        key = ("presented", scene, level)
        got: tuple[str, tuple[int, ...]] | None = self._memo.get(key)
        if got is None:
            info = self._infos()[scene]
            order = standard_order(info.dims)
            sizes = dict(zip(info.dims, info.shapes[level], strict=True))
            got = self._memo[key] = (order, tuple(sizes.get(d, 1) for d in order))
        return got

    @property
    def dims(self) -> Dims:
        """Dims of the current scene and level (no dask graph is built)."""
        return Dims(*self._presented(self._scene, self._level))

    @property
    def shape(self) -> tuple[int, ...]:
        return self._presented(self._scene, self._level)[1]

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._infos()[self._scene].dtype

    @property
    def channel_names(self) -> list[str] | None:
        """Channel names of the current scene (``Channel:<scene>:<i>`` when the file has none)."""
        names = self._info(self._scene).channel_names
        return list(names) if names is not None else None

    @property
    def physical_pixel_sizes(self) -> PhysicalPixelSizes:
        """Pixel size in µm (Z, Y, X) of the current level; ``None`` where unknown."""
        return _lazy.physical_pixel_sizes(self._infos()[self._scene], self._level)

    @property
    def time_interval(self) -> float | None:
        """Seconds between time points, when known."""
        return self._infos()[self._scene].time_interval

    # ------------------------------------------------------------ pixel data
    def source(self, scene: int | str | None = None, level: int | None = None) -> ArraySource:
        """The array source in the presented dims order (advanced use)."""
        s = self._scene_index(scene)
        lvl = self._level_index(s, level)
        key = ("source", s, lvl)
        src: ArraySource | None = self._memo.get(key)
        if src is None:
            src = self._memo[key] = _lazy.presented(self._reader.source(s, lvl))
        return src

    def get_xarray_dask_data(
        self, scene: int | str | None = None, level: int | None = None
    ) -> xr.DataArray:
        """The lazy DataArray of any scene and level, without changing the current ones."""
        s = self._scene_index(scene)
        lvl = self._level_index(s, level)
        key = (s, lvl)
        with self._lock:
            if key not in self._cache:
                src = self._reader.source(s, lvl)
                self._cache[key] = _lazy.as_dataarray(src, self._info(s), lvl, chunks=self._chunks)
            return self._cache[key]

    def get_xarray_lazy_data(
        self, scene: int | str | None = None, level: int | None = None
    ) -> xr.DataArray:
        """A lazy DataArray without dask: selections compose and read only covering tiles.

        Chained ``isel``/``sel`` calls merge into one read when ``.values`` is asked for,
        with no dask graph in between: the fastest way to pull regions interactively.
        Same dims, coords and attrs as :meth:`get_xarray_dask_data`.
        """
        from xarray.core import indexing

        from ..arrays._datatree import ImgioBackendArray

        s = self._scene_index(scene)
        lvl = self._level_index(s, level)
        src = _lazy.presented(self._reader.source(s, lvl))
        data = indexing.LazilyIndexedArray(ImgioBackendArray(src))
        return _lazy.as_dataarray(src, self._info(s), lvl, standardize=False, data=data)

    @property
    def xarray_lazy_data(self) -> xr.DataArray:
        """The current scene and level, lazily indexed without dask.

        See :meth:`get_xarray_lazy_data`.
        """
        return self.get_xarray_lazy_data()

    @property
    def xarray_dask_data(self) -> xr.DataArray:
        """The current scene and level as a lazy, dims-labelled DataArray."""
        return self.get_xarray_dask_data()

    @property
    def dask_data(self) -> da.Array:
        return self.xarray_dask_data.data  # type: ignore[no-any-return,unused-ignore]

    @property
    def xarray_data(self) -> xr.DataArray:
        """The current scene and level read into memory (decoded on threads, no dask)."""
        lazy = self.xarray_dask_data
        data = self.data
        return lazy.copy(data=data)

    @property
    def data(self) -> np.ndarray[Any, Any]:
        """The current scene and level as numpy (read straight from the file, no dask)."""
        src = self.source()
        out = np.empty(src.shape, dtype=src.dtype)
        return _lazy.read(src, (), out=out)

    @property
    def multiscale(self) -> list[xr.DataArray]:
        """Every level of the current scene, level 0 first."""
        return [self.get_xarray_dask_data(self._scene, lvl) for lvl in self.resolution_levels]

    def get_multiscale(self, scene: int | str | None = None) -> list[xr.DataArray]:
        """Every level of ``scene``, level 0 first."""
        s = self._scene_index(scene)
        return [self.get_xarray_dask_data(s, lvl) for lvl in range(self._infos()[s].n_levels)]

    def to_datatree(self) -> xr.DataTree:
        """Every scene and level as one lazy ``xarray.DataTree`` (``/<scene>/level_<i>``)."""
        from ..arrays._datatree import to_datatree

        return to_datatree(self)

    # -------------------------------------------------------------- metadata
    @property
    def metadata(self) -> Any:
        """The file's native metadata (OME-XML text, ImageJ dict, attributes...)."""
        return self._reader.metadata

    @property
    def ome_metadata(self) -> OME:
        """An ``ome_types.OME`` model, built on first access."""
        return self._reader.ome_metadata

    # ------------------------------------------------------------ tile verbs
    @property
    def tiles(self) -> TileSource:
        """large_image-style tile verbs of the current scene (region, tile, thumbnail, styles).

        See :class:`imgio.tiles.TileSource`; the object is cached per scene.
        """
        from ..tiles import tile_source

        return tile_source(self, self._scene)

    # ----------------------------------------------------------------- output
    def save(self, path: PathLike, **options: Any) -> None:
        """Write every scene (or ``scenes=[...]``) to ``.ome.tif`` or ``.ome.zarr``."""
        from ..writers import write

        if isinstance(path, Location):
            if path.storage_options:
                options.setdefault("storage_options", path.storage_options)
            path = path.url
        write(self, path, **options)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> Image:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
