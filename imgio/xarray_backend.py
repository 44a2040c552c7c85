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
from collections.abc import Iterable, Mapping
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from ._location import Location
from .arrays import ImageFile, as_image_file
from .arrays._datatree import dataset, groups, node_names
from .arrays._datatree import to_datatree as _to_datatree
from .errors import ImgioError
from .readers._registry import recognised

__all__ = ["ImgioBackendEntrypoint", "to_datatree"]

_node_names = node_names  # the name the tests knew


def _open(
    filename_or_obj: Any,
    storage_options: Mapping[str, Any] | None,
    reader: str | None,
) -> ImageFile:
    if not isinstance(filename_or_obj, (str, os.PathLike, Location)):
        raise ImgioError(
            "engine='imgio' opens a path or URL; got a "
            f"{type(filename_or_obj).__name__} (file objects and stores are not supported)"
        )
    return ImageFile(filename_or_obj, reader=reader, storage_options=storage_options)


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
        return recognised(Location(os.fspath(filename_or_obj)))

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
        file = _open(filename_or_obj, storage_options, reader)
        s = file.scene_index(0 if scene is None else scene)
        ds = dataset(file, s, file.level_index(s, 0 if level is None else level), dask=False)
        ds = ds.drop_vars(_drop(drop_variables), errors="ignore")
        ds.set_close(file.close)
        return ds

    def open_groups_as_dict(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        storage_options: Mapping[str, Any] | None = None,
        reader: str | None = None,
    ) -> dict[str, xr.Dataset]:
        out = groups(_open(filename_or_obj, storage_options, reader), dask=False)
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


def to_datatree(image: Any) -> xr.DataTree:
    """Every scene and level of an open :class:`~imgio.Image` (or :class:`~imgio.ImageFile`,
    or a path) as one lazy :class:`xarray.DataTree` of dask arrays."""
    return _to_datatree(as_image_file(image))
