"""The whole of an :class:`~imgio.Image` as xarray objects, for the backend and ``Image``.

``ImgioBackendArray`` is one (scene, level) as an xarray lazily indexed array (a
selection reads only the covering tiles, no dask); ``groups``/``to_datatree`` build the
tree layout documented in :mod:`imgio.xarray_backend`. This module takes an open
``Image`` and never imports :mod:`imgio.image` at run time, so both ``Image``
(``to_datatree``, ``get_xarray_lazy_data``) and the backend (which opens paths as
``Image``) depend on it, not on each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from ..dims import standard_order
from . import _lazy

if TYPE_CHECKING:
    from ..readers.base import ArraySource
    from ._file import ImageFile


__all__ = ["LEVEL_NODE", "VARIABLE", "ImgioBackendArray", "dataset", "groups", "to_datatree"]

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


def node_names(scenes: Iterable[str]) -> list[str]:
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


def dataset(file: ImageFile, scene: int, level: int, *, dask: bool) -> xr.Dataset:
    """One (scene, level) as a Dataset with the single variable ``image``."""
    lazy = file.dataarray(scene, level)  # coords and attrs; builds no reads
    if dask:
        data: Any = lazy.data
        encoding: dict[str, Any] = {}
    else:
        data = indexing.LazilyIndexedArray(ImgioBackendArray(file.source(scene, level)))
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


def groups(file: ImageFile, *, dask: bool) -> dict[str, xr.Dataset]:
    """Every scene and level of ``file`` as ``{"/<scene>/level_<i>": Dataset}`` plus parents."""
    infos = file.infos()
    names = file.scene_names
    out: dict[str, xr.Dataset] = {
        "/": xr.Dataset(
            attrs={"path": file.path, "reader": file.reader.name, "scenes": list(names)}
        )
    }
    for s, node in enumerate(node_names(names)):
        info = infos[s]
        img_dims = standard_order(info.dims)
        scene_attrs: dict[str, Any] = {
            "scene": info.name,
            "scene_index": s,
            "dims": img_dims,
            "levels": info.n_levels,
        }
        channels = file.dataarray(s, 0).coords.get("C")
        if channels is not None:
            scene_attrs["channel_names"] = [str(v) for v in channels.values]
        out[f"/{node}"] = xr.Dataset(attrs=scene_attrs)
        for level in range(info.n_levels):
            out[f"/{node}/{LEVEL_NODE.format(level)}"] = dataset(file, s, level, dask=dask)
    return out


def to_datatree(file: ImageFile) -> xr.DataTree:
    """The whole file as a lazy :class:`xarray.DataTree` of dask arrays (see module docs)."""
    return xr.DataTree.from_dict(groups(file, dask=True))
