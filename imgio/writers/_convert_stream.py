"""The scenes of an :class:`~imgio.image.Image` as writer scenes, without dask or xarray:
what ``imgio convert`` runs for an OME-TIFF output.

Each scene's level-0 source becomes a one-cell :class:`~imgio.writers._mosaic_stream.MosaicPixels`
(read in blocks of whole native chunks, each chunk once), with the metadata that
``imgio.write(image)`` derives from the scene's DataArray: the same coordinates and
attrs (:func:`imgio.arrays._lazy.level_coords`, :func:`~imgio.arrays._lazy.level_attrs`) go through
the same rules (:func:`imgio.writers._input.scene_of_pixels`), and the source's OME
metadata is carried over. Importing dask costs ~0.9 s in a fresh process, most of a
small file's conversion.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..arrays import ImageFile
from ..arrays._lazy import coord_attrs, level_attrs, level_coords
from ..dims import STANDARD
from ._input import Scene, scene_index, scene_of_pixels
from ._mosaic import grid
from ._mosaic_stream import MosaicPixels

__all__ = ["image_scenes"]


def image_scenes(file: ImageFile, scenes: Sequence[int | str] | None = None) -> list[Scene] | None:
    """``scenes`` (default all) of ``file`` as writer scenes, or None when one has dims
    beyond ``T C Z Y X S`` (write those through :func:`imgio.write`).

    Raises
    ------
    SelectionError
        A scene name or index ``file`` does not have.
    """
    from ._ome_carry import source_images

    names = list(file.scene_names)
    picked = list(range(len(names))) if scenes is None else [scene_index(s, names) for s in scenes]
    sources = [file.source(i, 0) for i in picked]
    if any(any(d not in STANDARD for d in src.dims) for src in sources):
        return None
    out = []
    for i, src, carried in zip(picked, sources, source_images(file, picked), strict=True):
        info = file.info(i)  # as the DataArray sees it (default channel names filled in)
        attrs = level_attrs(info, 0)
        if info.channel_colors is not None:
            attrs["channel_colors"] = tuple(info.channel_colors)
        place = grid([src.dims], [src.shape], [src.dtype], across=1)
        coords = level_coords(info, 0, src.dims, src.shape)
        if "T" in coords and coord_attrs(info, "T", coords["T"]).get("units") == "s":
            attrs = {**attrs, "units": {"T": "s"}}  # T in seconds (plain arrays carry no attrs)
        scene = scene_of_pixels(MosaicPixels([src], place, 0), coords, attrs, names[i])
        scene.ome_source = carried
        out.append(scene)
    return out
