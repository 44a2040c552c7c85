"""The :class:`Image` object: AICSImageIO-style scene/level state over an :class:`ImageFile`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._location import Location
from ..arrays import _lazy
from ..arrays._file import ImageFile
from ..dims import Dims, PhysicalPixelSizes
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
    dims, pattern
        File sequences (see :mod:`imgio.readers.sequence`): ``path`` may be a pattern
        (``"t{T}_z{Z}.tif"``), a list of paths stacked on ``dims`` (``"T"``), or a glob
        whose file names ``pattern`` maps to dims.

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
        dims: str | None = None,
        pattern: str | None = None,
    ) -> None:
        self._file = ImageFile(
            path,
            reader,
            storage_options=storage_options,
            chunks=chunks,
            reconstruct_mosaic=reconstruct_mosaic,
            allow_external_files=allow_external_files,
            dim_order=dim_order,
            channel_names=channel_names,
            physical_pixel_sizes=physical_pixel_sizes,
            dims=dims,
            pattern=pattern,
        )
        self._scene = 0
        self._level = 0

    # pickling (Image objects travel to dask workers): the file reopens, state travels
    def __getstate__(self) -> dict[str, Any]:
        return {"file": self._file, "scene": self._scene, "level": self._level}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._file = state["file"]
        self._scene, self._level = state["scene"], state["level"]

    # ----------------------------------------------------------------- scenes
    @property
    def file(self) -> ImageFile:
        """The stateless :class:`~imgio.ImageFile` this image presents (every scene, level)."""
        return self._file

    @property
    def reader(self) -> Reader:
        """The format reader in use."""
        return self._file.reader

    @property
    def path(self) -> str:
        return self._file.path

    def _infos(self) -> Sequence[SceneInfo]:
        return self._file.infos()

    @property
    def scenes(self) -> tuple[str, ...]:
        """Names of every scene in the file."""
        return self._file.scene_names

    @property
    def current_scene(self) -> str:
        return self.scenes[self._scene]

    @property
    def current_scene_index(self) -> int:
        return self._scene

    def _scene_index(self, scene: int | str | None) -> int:
        return self._scene if scene is None else self._file.scene_index(scene)

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
        return self._file.level_index(scene, level)

    def set_resolution_level(self, level: int) -> None:
        """Make ``level`` of the current scene current."""
        self._level = self._level_index(self._scene, level)

    # ------------------------------------------------------------- shape info
    def _info(self, scene: int) -> SceneInfo:
        return self._file.info(scene)

    def _presented(self, scene: int, level: int) -> tuple[str, tuple[int, ...]]:
        return self._file.presented(scene, level)

    @property
    def dims(self) -> Dims:
        """Dims of the current scene and level (no dask graph is built)."""
        return self._file.dims(self._scene, self._level)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._file.presented(self._scene, self._level)[1]

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._file.dtype(self._scene)

    @property
    def channel_names(self) -> list[str] | None:
        """Channel names of the current scene (``Channel:<scene>:<i>`` when the file has none)."""
        return self._file.channel_names(self._scene)

    @property
    def physical_pixel_sizes(self) -> PhysicalPixelSizes:
        """Pixel size in µm (Z, Y, X) of the current level; ``None`` where unknown."""
        return self._file.physical_pixel_sizes(self._scene, self._level)

    @property
    def time_interval(self) -> float | None:
        """Seconds between time points, when known."""
        return self._infos()[self._scene].time_interval

    # ------------------------------------------------------------ pixel data
    def source(self, scene: int | str | None = None, level: int | None = None) -> ArraySource:
        """The array source in the presented dims order (advanced use)."""
        s = self._scene_index(scene)
        return self._file.source(s, self._level_index(s, level))

    def get_xarray_dask_data(
        self, scene: int | str | None = None, level: int | None = None
    ) -> xr.DataArray:
        """The lazy DataArray of any scene and level, without changing the current ones."""
        s = self._scene_index(scene)
        return self._file.dataarray(s, self._level_index(s, level))

    def get_xarray_lazy_data(
        self, scene: int | str | None = None, level: int | None = None
    ) -> xr.DataArray:
        """A lazy DataArray without dask: selections compose and read only covering tiles.

        Chained ``isel``/``sel`` calls merge into one read when ``.values`` is asked for,
        with no dask graph in between: the fastest way to pull regions interactively.
        Same dims, coords and attrs as :meth:`get_xarray_dask_data`.
        """
        s = self._scene_index(scene)
        return self._file.lazy_dataarray(s, self._level_index(s, level))

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
        return self._file.read(self._scene, self._level)

    @property
    def multiscale(self) -> list[xr.DataArray]:
        """Every level of the current scene, level 0 first."""
        return self.get_multiscale(self._scene)

    def get_multiscale(self, scene: int | str | None = None) -> list[xr.DataArray]:
        """Every level of ``scene``, level 0 first."""
        s = self._scene_index(scene)
        return [self._file.dataarray(s, lvl) for lvl in range(self._file.n_levels(s))]

    def to_datatree(self) -> xr.DataTree:
        """Every scene and level as one lazy ``xarray.DataTree`` (``/<scene>/level_<i>``)."""
        from ..arrays._datatree import to_datatree

        return to_datatree(self._file)

    # -------------------------------------------------------------- metadata
    @property
    def metadata(self) -> Any:
        """The file's native metadata (OME-XML text, ImageJ dict, attributes...)."""
        return self._file.metadata

    @property
    def ome_metadata(self) -> OME:
        """An ``ome_types.OME`` model, built on first access."""
        return self._file.ome_metadata

    # ------------------------------------------------------------ tile verbs
    @property
    def tiles(self) -> TileSource:
        """large_image-style tile verbs of the current scene (region, tile, thumbnail, styles).

        See :class:`imgio.tiles.TileSource`; the object is cached per scene.
        """
        from ..tiles import tile_source

        return tile_source(self._file, self._scene)

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
        self._file.close()

    def __enter__(self) -> Image:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
