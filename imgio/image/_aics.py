"""AICSImageIO / bioio names on :class:`imgio.Image` (stacks, level dims, scale, metadata).

A mixin so that ``image.py`` keeps the core state; every method here works through the
public ``Image`` API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..dims import Scale
from ..errors import SelectionError

if TYPE_CHECKING:
    import dask.array as da
    import xarray as xr

    from . import Image
    from ._standard import StandardMetadata

__all__ = ["AicsNames"]


def _image(obj: object) -> Image:
    return cast("Image", obj)


class AicsNames:
    """``get_stack`` and friends, ``resolution_level_dims``, ``scale``, ``standard_metadata``,
    ``channel_colors`` and the mosaic tile positions."""

    def get_stack(self, **kwargs: Any) -> np.ndarray[Any, Any]:
        """Every scene read and stacked on a new first dim ``I`` (scenes must share shape).

        Options: ``drop_non_matching_scenes``, ``select_scenes``, ``scene_character``,
        ``scene_coord_values`` (``"index"`` or ``"names"``), as in AICSImageIO.
        """
        from ._stack import stack

        return stack(_image(self), "data", **kwargs)  # type: ignore[no-any-return]

    def get_dask_stack(self, **kwargs: Any) -> da.Array:
        """Like :meth:`get_stack`, lazily."""
        from ._stack import stack

        return stack(_image(self), "dask_data", **kwargs)  # type: ignore[no-any-return]

    def get_xarray_stack(self, **kwargs: Any) -> xr.DataArray:
        """Like :meth:`get_stack`, as a DataArray with the first scene's coords."""
        from ._stack import stack

        return stack(_image(self), "xarray_data", **kwargs)  # type: ignore[no-any-return]

    def get_xarray_dask_stack(self, **kwargs: Any) -> xr.DataArray:
        """Like :meth:`get_xarray_stack`, lazily."""
        from ._stack import stack

        return stack(_image(self), "xarray_dask_data", **kwargs)  # type: ignore[no-any-return]

    @property
    def resolution_level_dims(self) -> dict[int, tuple[int, ...]]:
        """Shape (presented order) of every level of the current scene."""
        img = _image(self)
        return {lvl: img._presented(img._scene, lvl)[1] for lvl in img.resolution_levels}

    @property
    def scale(self) -> Scale:
        """bioio's ``Scale(T, C, Z, Y, X)``: seconds per time point and µm per pixel."""
        img = _image(self)
        z, y, x = img.physical_pixel_sizes
        return Scale(T=img.time_interval, C=None, Z=z, Y=y, X=x)

    @property
    def standard_metadata(self) -> StandardMetadata:
        """bioio's common acquisition fields (objective, imaging date, binning...)."""
        from ._standard import standard_metadata

        return standard_metadata(_image(self))

    @property
    def channel_colors(self) -> list[tuple[int, int, int]]:
        """One ``(r, g, b)`` per channel of the current scene.

        The file's own colour (OME ``Color``, NGFF ``omero``) where it has one, else a
        default by fluorophore name (DAPI blue, GFP green, mCherry red, ...) or position.
        """
        from .._colors import resolve_colors

        info = _image(self)._info(_image(self)._scene)
        names = info.channel_names
        n = len(names) if names is not None else 1
        return resolve_colors(names, info.channel_colors, n)

    @property
    def mosaic_tile_positions(self) -> list[tuple[int, int]] | None:
        """Level-0 (Y, X) of each ``M`` tile of the current scene, or None without tiles."""
        img = _image(self)
        positions = img.reader.mosaic_tile_positions(img.current_scene_index)
        return None if positions is None else [(int(y), int(x)) for y, x in positions]

    def get_mosaic_tile_positions(self) -> list[tuple[int, int]]:
        """AICSImageIO's name for :attr:`mosaic_tile_positions`; raises without tiles."""
        positions = self.mosaic_tile_positions
        if positions is None:
            raise SelectionError(
                f"scene {_image(self).current_scene!r} has no mosaic tiles (open with "
                "reconstruct_mosaic=False on a tile-scan CZI or LIF)"
            )
        return positions

    def get_mosaic_tile_position(self, m: int) -> tuple[int, int]:
        """Level-0 (Y, X) of mosaic tile ``m`` of the current scene."""
        positions = self.get_mosaic_tile_positions()
        if not isinstance(m, (int, np.integer)) or not 0 <= m < len(positions):
            raise SelectionError(f"mosaic tile {m!r} out of range (0..{len(positions) - 1})")
        return positions[int(m)]
