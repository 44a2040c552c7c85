"""AICSImageIO / bioio names on :class:`imgio.Image` (stacks, level dims, scale, metadata).

A mixin so that ``image.py`` keeps the core state; every method here works through the
public ``Image`` API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from .dims import Scale

if TYPE_CHECKING:
    import dask.array as da
    import numpy as np
    import xarray as xr

    from ._standard import StandardMetadata
    from .image import Image

__all__ = ["AicsNames"]


def _image(obj: object) -> Image:
    return cast("Image", obj)


class AicsNames:
    """``get_stack`` and friends, ``resolution_level_dims``, ``scale``, ``standard_metadata``."""

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
