"""``imread``, ``imread_dask``, ``imread_xarray``, ``imread_xarray_dask``: one-call reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SelectionError
from . import Image, PathLike
from ._select import _channel_index, _slice_text

if TYPE_CHECKING:
    import dask.array as da
    import xarray as xr

__all__ = ["imread", "imread_dask", "imread_xarray", "imread_xarray_dask"]


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


def imread_xarray(path: PathLike, **selection: Any) -> xr.DataArray:
    """Like :func:`imread`, as a DataArray (dims, channel names, µm coords)."""
    opts, sel = _split(dict(selection))
    scene, level = sel.pop("scene", None), sel.pop("level", None)
    with Image(path, **opts) as img:
        lazy = _select_xarray(img.get_xarray_dask_data(scene, level), sel)
        return lazy.copy(data=np.asarray(lazy.data))


def imread_xarray_dask(path: PathLike, **selection: Any) -> xr.DataArray:
    """Like :func:`imread_xarray`, lazily."""
    opts, sel = _split(dict(selection))
    scene, level = sel.pop("scene", None), sel.pop("level", None)
    img = Image(path, **opts)
    return _select_xarray(img.get_xarray_dask_data(scene, level), sel)


def _select_xarray(data: xr.DataArray, selection: Mapping[str, Any]) -> xr.DataArray:
    """``isel`` by index, with channel names allowed for ``C``."""
    if not selection:
        return data
    bad = [d for d in selection if d not in data.dims]
    if bad:
        raise SelectionError(f"no dim {bad[0]!r}; dims are {''.join(map(str, data.dims))!r}")
    names = [str(v) for v in data.coords["C"].values] if "C" in data.coords else None
    index = {}
    for d, sel in selection.items():
        sel = _channel_index(sel, names) if d == "C" else sel
        n = data.sizes[d]
        if isinstance(sel, (int, np.integer)) and not -n <= sel < n:
            raise SelectionError(f"{d}={int(sel)} out of range (0..{n - 1})")
        if isinstance(sel, range):
            sel = slice(sel.start, sel.stop, sel.step)
        if isinstance(sel, slice) and not len(range(*sel.indices(n))):
            raise SelectionError(
                f"{d}={_slice_text(sel)} selects nothing; {d} has {n} values (0..{n - 1})"
            )
        index[d] = sel
    return data.isel(index)
