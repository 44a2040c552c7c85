"""xarray backend ``engine="imgio"`` and the whole file as one :class:`xarray.DataTree`.

>>> da = xr.open_dataarray("slide.ome.tif", engine="imgio", scene=0, level=2)  # doctest: +SKIP
>>> tree = xr.open_datatree("plate.ome.zarr", engine="imgio", chunks={})        # doctest: +SKIP

Tree layout (every scene and level at once, no state)::

    /                     attrs: path, reader, scenes
    ├── <scene>           a node per scene ("/" in a scene name becomes "_");
    │   │                 attrs: scene, dims, channel_names, levels
    │   ├── level_0       Dataset {"image": (T, C, Z, Y, X[, S])}, full resolution
    │   ├── level_1       same dims; Y/X coordinates in µm cover the same extent
    │   └── ...

Every Dataset holds one variable, ``image``, in imgio's presented dims order
(``[extra] T C Z Y X [S]``) with channel names on ``C``, µm on ``Z``/``Y``/``X`` and
seconds on ``T`` when known; ``attrs`` carry the scene name, level and downsample
factors. Through xarray (``open_dataset``/``open_datatree``) variables are lazily
indexed: selecting and then loading reads only the covering tiles, without dask.
Pass ``chunks={}`` for dask arrays on imgio's tile-aligned chunks (the backend's
``preferred_chunks``). :func:`to_datatree` builds the tree from an open
:class:`~imgio.Image` with dask arrays directly.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.core import indexing

from . import _lazy
from ._location import Location
from .dims import standard_order
from .errors import ImgioError

if TYPE_CHECKING:
    from .image import Image
    from .readers.base import ArraySource

__all__ = ["ImgioBackendEntrypoint", "to_datatree"]

VARIABLE = "image"
LEVEL_NODE = "level_{}"
_UNITS = {"Z": "µm", "Y": "µm", "X": "µm", "T": "s"}


class ImgioBackendArray(BackendArray):
    """One (scene, level) as a lazily indexed array; reads only the covering tiles."""

    def __init__(self, src: ArraySource) -> None:
        self.src = src
        self.shape = tuple(src.shape)
        self.dtype = np.dtype(src.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray[Any, Any]:
        return indexing.explicit_indexing_adapter(  # type: ignore[no-any-return]
            key, self.shape, indexing.IndexingSupport.OUTER, self._read
        )

    def _read(self, key: tuple[Any, ...]) -> np.ndarray[Any, Any]:
        return _lazy.read(self.src, key)


def _open(
    filename_or_obj: Any,
    storage_options: Mapping[str, Any] | None,
    reader: str | None,
) -> Image:
    from .image import Image

    if not isinstance(filename_or_obj, (str, os.PathLike, Location)):
        raise ImgioError(
            "engine='imgio' opens a path or URL; got a "
            f"{type(filename_or_obj).__name__} (file objects and stores are not supported)"
        )
    return Image(filename_or_obj, reader=reader, storage_options=storage_options)


def _node_names(scenes: Iterable[str]) -> list[str]:
    """DataTree node names for scenes: no "/", unique, never empty."""
    out: list[str] = []
    for i, name in enumerate(scenes):
        node = name.replace("/", "_").strip() or f"scene_{i}"
        if node in (".", ".."):
            node = f"scene_{i}"
        if node in out:
            node = f"{node} ({i})"
        out.append(node)
    return out


def _dataset(img: Image, scene: int, level: int, *, dask: bool) -> xr.Dataset:
    """One (scene, level) as a Dataset with the single variable ``image``."""
    lazy = img.get_xarray_dask_data(scene, level)  # coords and attrs; builds no reads
    if dask:
        data: Any = lazy.data
        encoding: dict[str, Any] = {}
    else:
        data = indexing.LazilyIndexedArray(ImgioBackendArray(img.source(scene, level)))
        chunks = dict(zip(lazy.dims, lazy.data.chunksize, strict=True))
        encoding = {"preferred_chunks": chunks, "chunks": tuple(chunks.values())}
    attrs = {k: _plain(v) for k, v in lazy.attrs.items() if k != "units"}
    var = xr.Variable(lazy.dims, data, attrs=attrs, encoding=encoding)
    coords = {}
    for name, coord in lazy.coords.items():
        unit = _UNITS.get(str(name)) if coord.dtype.kind == "f" else None
        coord_attrs = {"units": unit} if unit else {}
        coords[name] = xr.Variable(coord.dims, coord.values, attrs=coord_attrs)
    return xr.Dataset({VARIABLE: var}, coords=coords)


def _plain(value: Any) -> Any:
    """Attribute values xarray and netCDF accept (no None inside tuples)."""
    if isinstance(value, tuple):
        return [float("nan") if v is None else v for v in value]
    return value


def groups(img: Image, *, dask: bool) -> dict[str, xr.Dataset]:
    """Every scene and level of ``img`` as ``{"/<scene>/level_<i>": Dataset}`` plus parents."""
    infos = img.reader.scenes()
    out: dict[str, xr.Dataset] = {
        "/": xr.Dataset(
            attrs={"path": img.path, "reader": img.reader.name, "scenes": list(img.scenes)}
        )
    }
    for s, node in enumerate(_node_names(img.scenes)):
        info = infos[s]
        img_dims = standard_order(info.dims)
        scene_attrs: dict[str, Any] = {
            "scene": info.name,
            "scene_index": s,
            "dims": img_dims,
            "levels": info.n_levels,
        }
        names = img.get_xarray_dask_data(s, 0).coords.get("C")
        if names is not None:
            scene_attrs["channel_names"] = [str(v) for v in names.values]
        out[f"/{node}"] = xr.Dataset(attrs=scene_attrs)
        for level in range(info.n_levels):
            out[f"/{node}/{LEVEL_NODE.format(level)}"] = _dataset(img, s, level, dask=dask)
    return out


def to_datatree(img: Image) -> xr.DataTree:
    """The whole file as a lazy :class:`xarray.DataTree` of dask arrays (see module docs)."""
    return xr.DataTree.from_dict(groups(img, dask=True))


class ImgioBackendEntrypoint(BackendEntrypoint):
    """``engine="imgio"``: every format imgio reads, local or remote (``storage_options``)."""

    description = "Microscopy and whole-slide images (OME-TIFF, OME-Zarr, TIFF family) via imgio"
    url = "https://github.com/imgio/imgio"
    open_dataset_parameters = (
        "filename_or_obj",
        "drop_variables",
        "scene",
        "level",
        "storage_options",
        "reader",
    )
    supports_groups = True

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        if isinstance(filename_or_obj, Location):
            return True
        if not isinstance(filename_or_obj, (str, os.PathLike)):
            return False
        location = Location(os.fspath(filename_or_obj))
        return _known_suffix(location.suffixes) or (location.is_local and _sniffed(location))

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        scene: int | str | None = None,
        level: int | None = None,
        storage_options: Mapping[str, Any] | None = None,
        reader: str | None = None,
    ) -> xr.Dataset:
        """One scene and level (``0`` and ``0`` by default) as ``Dataset({"image": ...})``."""
        img = _open(filename_or_obj, storage_options, reader)
        s = img._scene_index(0 if scene is None else scene)
        ds = _dataset(img, s, img._level_index(s, 0 if level is None else level), dask=False)
        ds = ds.drop_vars(_drop(drop_variables), errors="ignore")
        ds.set_close(img.close)
        return ds

    def open_groups_as_dict(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        storage_options: Mapping[str, Any] | None = None,
        reader: str | None = None,
    ) -> dict[str, xr.Dataset]:
        img = _open(filename_or_obj, storage_options, reader)
        out = groups(img, dask=False)
        drop = _drop(drop_variables)
        return {k: v.drop_vars(drop, errors="ignore") for k, v in out.items()}

    def open_datatree(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        storage_options: Mapping[str, Any] | None = None,
        reader: str | None = None,
    ) -> xr.DataTree:
        """Every scene and level (see the module docs for the layout)."""
        parts = self.open_groups_as_dict(
            filename_or_obj,
            drop_variables=drop_variables,
            storage_options=storage_options,
            reader=reader,
        )
        return xr.DataTree.from_dict(parts)


def _drop(drop_variables: str | Iterable[str] | None) -> list[str]:
    if drop_variables is None:
        return []
    return [drop_variables] if isinstance(drop_variables, str) else list(drop_variables)


_SUFFIXES: tuple[str, ...] | None = None
_SUFFIXES_LOCK = threading.Lock()


def _reader_classes() -> list[Any]:
    from ._registry import available_readers, reader_class

    out = []
    for name in available_readers():
        try:
            out.append(reader_class(name))
        except (ImportError, AttributeError, TypeError, ImgioError):
            continue
    return out


def _known_suffix(suffixes: str) -> bool:
    global _SUFFIXES
    with _SUFFIXES_LOCK:
        if _SUFFIXES is None:
            _SUFFIXES = tuple(s for cls in _reader_classes() for s in cls.suffixes)
    return bool(suffixes) and suffixes.rstrip("/").endswith(_SUFFIXES)


def _sniffed(location: Location) -> bool:
    """A local file whose first bytes a reader recognises (suffix unknown)."""
    if not os.path.isfile(location.url):
        return False
    try:
        head = location.head()
    except (OSError, ImgioError):
        return False
    finally:
        location.close()
    return any(cls.sniff(head) for cls in _reader_classes())
