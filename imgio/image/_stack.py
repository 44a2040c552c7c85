"""Scenes stacked on a new dim (AICSImageIO/bioio ``get_stack`` and friends)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..errors import SelectionError

if TYPE_CHECKING:
    import xarray as xr

    from . import Image

__all__ = ["stack"]

Mode = Literal["data", "dask_data", "xarray_data", "xarray_dask_data"]


def stack(
    img: Image,
    mode: Mode,
    *,
    drop_non_matching_scenes: bool = False,
    select_scenes: Sequence[int | str] | None = None,
    scene_character: str = "I",
    scene_coord_values: Literal["index", "names"] = "index",
) -> Any:
    """Scenes of ``img`` stacked on a new first dim ``scene_character``.

    Every scene must share the first scene's shape and dtype, else :class:`SelectionError`
    (or, with ``drop_non_matching_scenes``, those scenes are left out). Reads lazily for
    the dask modes; the current scene and level of ``img`` do not change.
    """
    import dask.array as da
    import numpy as np
    import xarray as xr

    arrays, indices = _matching(img, select_scenes, drop_non_matching_scenes, scene_character)
    first = arrays[0]
    if mode in ("data", "xarray_data"):
        data: Any = np.stack([img.get_image_data(None, scene=i, level=0) for i in indices])
    else:
        data = da.stack([a.data for a in arrays])  # type: ignore[no-untyped-call]
    if mode in ("data", "dask_data"):
        return data
    coords: dict[str, Any] = {str(k): v for k, v in first.coords.items()}
    if scene_coord_values == "names":
        coords[scene_character] = [img.scenes[i] for i in indices]
    return xr.DataArray(
        data, dims=(scene_character, *first.dims), coords=coords, attrs=dict(first.attrs)
    )


def _matching(
    img: Image, select: Sequence[int | str] | None, drop: bool, character: str
) -> tuple[list[xr.DataArray], list[int]]:
    """The lazy level 0 of each selected scene that shares the first one's shape and dtype."""
    chosen = list(range(len(img.scenes))) if select is None else list(select)
    if not chosen:
        raise SelectionError("select_scenes is empty: nothing to stack")
    arrays: list[xr.DataArray] = []
    indices: list[int] = []
    for s in chosen:
        lazy = img.get_xarray_dask_data(scene=s, level=0)
        if not arrays:
            if character in lazy.dims:
                raise SelectionError(
                    f"scene_character {character!r} is already a dim of {lazy.dims}"
                )
        elif (lazy.shape, lazy.dtype) != (arrays[0].shape, arrays[0].dtype):
            if drop:
                continue
            raise SelectionError(
                f"scene {s!r} has shape {lazy.shape} {lazy.dtype}; stacking needs the first "
                f"scene's {arrays[0].shape} {arrays[0].dtype} (drop_non_matching_scenes=True "
                "skips it)"
            )
        arrays.append(lazy)
        indices.append(img._scene_index(s))
    return arrays, indices
