"""The :class:`Image` object: AICSImageIO-style scene/level state plus stateless access."""

from __future__ import annotations

import dataclasses
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _lazy
from ._aics import AicsNames
from ._location import Location, as_location
from ._registry import open_reader
from .dims import Dims, PhysicalPixelSizes, standard_order
from .errors import ImgioWarning, SelectionError
from .readers.base import ArraySource, Reader, SceneInfo

if TYPE_CHECKING:
    import dask.array as da
    import xarray as xr
    from ome_types import OME

    from .tiles import TileSource

__all__ = ["Image", "imread", "imread_dask"]

PathLike = str | os.PathLike[str] | Location
Selection = int | slice | Sequence[int] | str | Sequence[str]


class Image(AicsNames):
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
        from .readers.array import ArrayReader, is_array_like

        if is_array_like(path) and not isinstance(path, (str, os.PathLike, Location)):
            self._reader: Reader = ArrayReader(path, **self._overrides)
            self._location = self._reader.location
            return
        self._location = as_location(path, storage_options)
        self._reader = self._open_file(reader)

    def _open_file(self, reader: str | type[Reader] | None) -> Reader:
        opened = open_reader(self._location, reader, self._options)
        if any(v is not None for v in self._overrides.values()):
            from ._overrides import OverrideReader

            return OverrideReader(opened, **self._overrides)
        return opened

    # pickling (Image objects travel to dask workers): files reopen, arrays travel whole
    def __getstate__(self) -> dict[str, Any]:
        from .readers.array import ArrayReader

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
            from ._ome import parse_light

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
        info = self._infos()[scene]
        order = standard_order(info.dims)
        sizes = dict(zip(info.dims, info.shapes[level], strict=True))
        return order, tuple(sizes.get(d, 1) for d in order)

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
    def channel_colors(self) -> list[tuple[int, int, int]]:
        """One ``(r, g, b)`` per channel of the current scene.

        The file's own colour (OME ``Color``, NGFF ``omero``) where it has one, else a
        default by fluorophore name (DAPI blue, GFP green, mCherry red, ...) or position.
        """
        from ._colors import resolve_colors

        info = self._info(self._scene)
        names = info.channel_names
        n = len(names) if names is not None else 1
        return resolve_colors(names, info.channel_colors, n)

    @property
    def mosaic_tile_positions(self) -> list[tuple[int, int]] | None:
        """Level-0 (Y, X) of each ``M`` tile of the current scene, or None without tiles."""
        positions = self._reader.mosaic_tile_positions(self._scene)
        return None if positions is None else [(int(y), int(x)) for y, x in positions]

    def get_mosaic_tile_positions(self) -> list[tuple[int, int]]:
        """AICSImageIO's name for :attr:`mosaic_tile_positions`; raises without tiles."""
        positions = self.mosaic_tile_positions
        if positions is None:
            raise SelectionError(
                f"scene {self.current_scene!r} has no mosaic tiles (open with "
                "reconstruct_mosaic=False on a tile-scan CZI or LIF)"
            )
        return positions

    def get_mosaic_tile_position(self, m: int) -> tuple[int, int]:
        """Level-0 (Y, X) of mosaic tile ``m`` of the current scene."""
        positions = self.get_mosaic_tile_positions()
        if not isinstance(m, (int, np.integer)) or not 0 <= m < len(positions):
            raise SelectionError(f"mosaic tile {m!r} out of range (0..{len(positions) - 1})")
        return positions[int(m)]

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
        return _lazy.presented(self._reader.source(s, lvl))

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

        from ._datatree import ImgioBackendArray

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
        from ._datatree import to_datatree

        return to_datatree(self)

    # ------------------------------------------------------------- selections
    def _selection(
        self, order_out: str | None, selection: Mapping[str, Any], scene: int, level: int
    ) -> tuple[tuple[Any, ...], list[str], list[str]]:
        """Index tuple over the presented dims, dims kept, and the requested output order."""
        order, shape = self._presented(scene, level)
        unknown = [d for d in selection if d not in order]
        if unknown:
            raise SelectionError(f"no dim {unknown[0]!r}; dims are {order!r}")
        info = self._info(scene)
        wanted = list(order_out) if order_out else None
        if wanted is not None:
            bad = [d for d in wanted if d not in order]
            if bad or len(set(wanted)) != len(wanted):
                raise SelectionError(f"cannot return dims {order_out!r} from {order!r}")
        index: list[Any] = []
        kept: list[str] = []
        dropped: list[str] = []
        for d, n in zip(order, shape, strict=True):
            sel = selection.get(d, None)
            if d == "C" and sel is not None:
                sel = _channel_index(sel, info.channel_names)
            if sel is None:
                if wanted is not None and d not in wanted:
                    if n != 1:
                        dropped.append(f"{d} (size {n})")
                    index.append(0)
                else:
                    index.append(slice(None))
                    kept.append(d)
                continue
            if isinstance(sel, (int, np.integer)):
                if not -n <= sel < n:
                    raise SelectionError(f"{d}={int(sel)} out of range (0..{n - 1})")
                if wanted is not None and d in wanted:
                    index.append(slice(int(sel) % n, int(sel) % n + 1))
                    kept.append(d)
                else:
                    index.append(int(sel))
                continue
            if isinstance(sel, range):
                sel = slice(sel.start, sel.stop, sel.step)
            if isinstance(sel, slice):
                count = _slice_count(d, sel, n)
            else:
                sel = [int(v) for v in sel]
                bad_values = [v for v in sel if not -n <= v < n]
                if bad_values:
                    raise SelectionError(f"{d}={bad_values[0]} out of range (0..{n - 1})")
                count = len(sel)
            if wanted is not None and d not in wanted:
                if count != 1:
                    raise SelectionError(
                        f"{d} selects {count} values but {d} is not in the requested "
                        f"order {order_out!r}"
                    )
                sel = sel if isinstance(sel, list) else list(range(*sel.indices(n)))
                index.append(sel[0])
                continue
            index.append(sel)
            kept.append(d)
        if dropped:
            _warn_dropped(dropped, order_out)
        return tuple(index), kept, wanted if wanted is not None else kept

    def get_image_dask_data(
        self,
        dimension_order_out: str | None = None,
        *,
        scene: int | str | None = None,
        level: int | None = None,
        **selection: Selection,
    ) -> da.Array:
        """A lazy array in ``dimension_order_out`` with ``T=0``, ``C="DAPI"``-style selections."""
        s = self._scene_index(scene)
        lvl = self._level_index(s, level)
        index, kept, wanted = self._selection(dimension_order_out, selection, s, lvl)
        data = self.get_xarray_dask_data(s, lvl).data[_one_fancy(index)]
        data = _rest_fancy(data, index)
        if kept != wanted:
            data = data.transpose([kept.index(d) for d in wanted])  # type: ignore[no-untyped-call,unused-ignore]
        out: da.Array = data
        return out

    def get_image_data(
        self,
        dimension_order_out: str | None = None,
        *,
        scene: int | str | None = None,
        level: int | None = None,
        **selection: Selection,
    ) -> np.ndarray[Any, Any]:
        """Numpy pixels in ``dimension_order_out``; decodes only what the selection covers."""
        s = self._scene_index(scene)
        lvl = self._level_index(s, level)
        index, kept, wanted = self._selection(dimension_order_out, selection, s, lvl)
        data = _lazy.read(self.source(s, lvl), index)
        return np.transpose(data, [kept.index(d) for d in wanted]) if kept != wanted else data

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
        from .tiles import tile_source

        return tile_source(self, self._scene)

    # ----------------------------------------------------------------- output
    def save(self, path: PathLike, **options: Any) -> None:
        """Write every scene (or ``scenes=[...]``) to ``.ome.tif`` or ``.ome.zarr``."""
        from .writers import write

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

    def _summary(self) -> list[tuple[str, str]]:
        info = self._infos()[self._scene]
        sizes = self.physical_pixel_sizes
        rows = [
            ("file", self._location.name),
            ("reader", self._reader.name),
            ("scene", f"{self.current_scene!r} ({self._scene + 1} of {len(self.scenes)})"),
            (
                "dims",
                " ".join(f"{d}:{n}" for d, n in zip(self.dims.order, self.shape, strict=True)),
            ),
            ("dtype", str(self.dtype)),
            (
                "levels",
                ", ".join("x".join(str(v) for v in s) for s in info.shapes)
                + f" (current {self._level})",
            ),
            ("channels", ", ".join(self.channel_names or []) or "-"),
            ("pixel sizes", "Z {} Y {} X {} µm".format(*(f"{v:.4g}" if v else "?" for v in sizes))),
        ]
        return rows

    def __repr__(self) -> str:
        body = "\n".join(f"  {k:<12}{v}" for k, v in self._summary())
        return f"<imgio.Image\n{body}>"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
            f"{html.escape(v)}</td></tr>"
            for k, v in self._summary()
        )
        table = f"<table><caption>imgio.Image</caption>{rows}</table>"
        from .tiles._html import thumbnail_html

        picture = thumbnail_html(self)
        if picture is None:
            return table
        return (
            "<div style='display:flex;gap:1em;align-items:flex-start'>"
            f"<div>{picture}</div><div>{table}</div></div>"
        )


def _slice_count(d: str, sel: slice, n: int) -> int:
    """How many values ``sel`` selects of ``n``; a slice that selects none is an error."""
    count = len(range(*sel.indices(n)))
    if count == 0:
        raise SelectionError(
            f"{d}={_slice_text(sel)} selects nothing; {d} has {n} values (0..{n - 1})"
        )
    return count


def _warn_dropped(dropped: Sequence[str], order_out: str | None) -> None:
    warnings.warn(
        f"dims {', '.join(dropped)} are not in the requested order {order_out!r}: "
        f"took index 0 of each (select one with e.g. {dropped[0][0]}=<index>)",
        ImgioWarning,
        stacklevel=4,
    )


def _slice_text(sel: slice) -> str:
    parts = [sel.start, sel.stop] + ([sel.step] if sel.step is not None else [])
    return f"slice({', '.join(str(v) for v in parts)})"


def _channel_index(sel: Any, names: Sequence[str] | None) -> Any:
    def one(v: Any) -> int:
        if isinstance(v, str):
            if not names or v not in names:
                raise SelectionError(f"no channel named {v!r}; channels are {list(names or [])}")
            return list(names).index(v)
        return int(v)

    if isinstance(sel, (str, int, np.integer)):
        return one(sel)
    if isinstance(sel, slice):
        return sel
    return [one(v) for v in sel]


def _one_fancy(index: tuple[Any, ...]) -> tuple[Any, ...]:
    """Dask takes one list per getitem; the first list goes in, the rest after."""
    seen = False
    out = []
    for k in index:
        if isinstance(k, list):
            out.append(k if not seen else slice(None))
            seen = True
        else:
            out.append(k)
    return tuple(out)


def _rest_fancy(data: da.Array, index: tuple[Any, ...]) -> da.Array:
    lists = [i for i, k in enumerate(index) if isinstance(k, list)]
    if len(lists) <= 1:
        return data
    kept_axes = [i for i, k in enumerate(index) if not isinstance(k, (int, np.integer))]
    for i in lists[1:]:
        axis = kept_axes.index(i)
        data = data[(slice(None),) * axis + (index[i],)]
    return data


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    opts: dict[str, Any] = {
        k: kwargs.pop(k) for k in ("reader", "storage_options", "chunks") if k in kwargs
    }
    return opts, kwargs


def imread(path: PathLike, **selection: Any) -> np.ndarray[Any, Any]:
    """Read pixels into numpy: ``imread(p, scene=0, level=0, T=0, C="DAPI")``.

    Dims are ``[extra] T C Z Y X [S]``, minus the ones selected with an int.
    """
    opts, sel = _split(dict(selection))
    scene, level = sel.pop("scene", None), sel.pop("level", None)
    with Image(path, **opts) as img:
        return img.get_image_data(None, scene=scene, level=level, **sel)


def imread_dask(path: PathLike, **selection: Any) -> da.Array:
    """Like :func:`imread`, lazily (the file is reopened by each task that needs it)."""
    opts, sel = _split(dict(selection))
    scene, level = sel.pop("scene", None), sel.pop("level", None)
    img = Image(path, **opts)
    return img.get_image_dask_data(None, scene=scene, level=level, **sel)
