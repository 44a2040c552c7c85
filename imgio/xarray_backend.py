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
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from ._location import Location
from .arrays._datatree import dataset, groups, node_names, to_datatree
from .errors import ImgioError
from .image import Image

__all__ = ["ImgioBackendEntrypoint", "to_datatree"]

_node_names = node_names  # the name the tests knew


def _open(
    filename_or_obj: Any,
    storage_options: Mapping[str, Any] | None,
    reader: str | None,
) -> Image:
    if not isinstance(filename_or_obj, (str, os.PathLike, Location)):
        raise ImgioError(
            "engine='imgio' opens a path or URL; got a "
            f"{type(filename_or_obj).__name__} (file objects and stores are not supported)"
        )
    return Image(filename_or_obj, reader=reader, storage_options=storage_options)


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
        ds = dataset(img, s, img._level_index(s, 0 if level is None else level), dask=False)
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
    from .readers._registry import available_readers, reader_class

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
