"""Scene metadata of a TIFF series: OME channels and sizes, ImageJ labels, whole-slide
associated images, and the quiet tifffile logger the parsing runs under."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable
from typing import Any

from ..._ome import OmeImage
from ...dims import PhysicalPixelSizes
from ...errors import ImgioWarning
from ..base import SceneInfo

__all__ = [
    "imagej_labels",
    "mark_associated",
    "native_metadata",
    "ome_metadata",
    "quiet_tifffile",
]

WSI_FLAGS = ("is_svs", "is_ndpi", "is_scn", "is_philips", "is_bif", "is_qpi")
ASSOCIATED = {"thumbnail", "label", "macro", "map", "overview"}
Names = tuple[str, ...] | None
Colors = tuple[Any, ...] | None


def ome_metadata(
    ome: OmeImage, dims: str, n_channels: int, index: int, name: str, file: str
) -> tuple[Names, Colors, dict[str, float], dict[str, tuple[Any, ...]]]:
    """Channel names and colours, pixel sizes (``Z Y X T``) and Modulo labels of a scene.

    A channel without a name is ``Channel:<scene>:<c>``; channel names whose count does
    not match the pixels are dropped with a warning naming ``file`` and scene ``name``.
    """
    sizes = {d: v for d, v in zip("ZYX", ome.pixel_sizes, strict=True) if v}
    if ome.time_increment:
        sizes["T"] = ome.time_increment
    modulo_names, extra_coords = _modulo(ome, dims, n_channels)
    names: Names = None
    colors: Colors = None
    if modulo_names is not None:
        names = tuple(n if n else f"Channel:{index}:{c}" for c, n in enumerate(modulo_names))
        colors = tuple(ome.channel_colors[:: ome.modulo["C"].size])
    elif ome.channel_names and len(ome.channel_names) == n_channels:
        names = tuple(n if n else f"Channel:{index}:{c}" for c, n in enumerate(ome.channel_names))
        colors = tuple(ome.channel_colors)
    elif ome.channel_names:
        warnings.warn(
            f"{file}: scene {name!r} has {len(ome.channel_names)} OME "
            f"channels for {n_channels} in the pixels; channel names ignored",
            ImgioWarning,
            stacklevel=5,
        )
    return names, colors, sizes, extra_coords


VENDOR_FLAGS = ("svs", "ndpi", "scn", "philips", "bif", "lsm", "stk", "fei", "sem", "micromanager")


def native_metadata(tif: Any, ome_xml: Callable[[], str | None]) -> Any:
    """Native metadata: OME-XML text, ImageJ dict, a vendor's metadata, or the first
    page's tags (without the strip/tile offsets and byte counts)."""
    if tif.is_ome:
        return ome_xml()
    if tif.is_imagej:
        return tif.imagej_metadata
    for flag in VENDOR_FLAGS:
        if getattr(tif, f"is_{flag}", False):
            value = getattr(tif, f"{flag}_metadata", None)
            if value is None and flag == "svs":
                value = tif.pages.first.description
            return value
    page = tif.pages.first
    return {
        tag.name: tag.value for tag in page.tags.values() if tag.code not in (273, 279, 324, 325)
    }


def imagej_labels(tif: Any, dims: str, n_channels: int) -> Names:
    """An ImageJ hyperstack's slice labels as channel names, when there is one per channel."""
    labels = (tif.imagej_metadata or {}).get("Labels")
    if isinstance(labels, list) and len(labels) == n_channels > 1 and "C" in dims:
        return tuple(str(v) for v in labels)
    return None


def _modulo(
    ome: OmeImage, dims: str, n_channels: int
) -> tuple[list[str | None] | None, dict[str, tuple[Any, ...]]]:
    """Channel names and extra-axis labels of an OME Image with ``ModuloAlongZ/C/T``.

    tifffile splits a modulo axis off its parent (``C`` of 16 -> ``C`` 2 x ``H`` 8, the
    modulo index fastest); the OME Channels still count 16, one per (channel, modulo)
    pair, so the pixel channels are named after every ``size``-th of them.
    """
    import tifffile

    coords: dict[str, tuple[Any, ...]] = {}
    for mod in ome.modulo.values():
        letter = tifffile.TIFF.AXES_CODES.get(mod.type, "Q")
        if letter in dims and letter not in "TCZYXS":
            coords[letter] = tuple(mod.labels)
    mod_c = ome.modulo.get("C")
    names = None
    if (
        mod_c is not None
        and ome.channel_names
        and len(ome.channel_names) == n_channels * mod_c.size
    ):
        names = ome.channel_names[:: mod_c.size]
    return names, coords


def mark_associated(tif: Any, series: list[Any], infos: list[SceneInfo]) -> list[SceneInfo]:
    """Whole-slide files: name the associated images and give them their own pixel sizes.

    The slide stays scene 0; a thumbnail's pixel size is the slide's scaled by the size
    ratio; label and macro photos have no calibration.
    """
    if len(infos) < 2 or not any(getattr(tif, flag, False) for flag in WSI_FLAGS):
        return infos
    base = infos[0]
    bsize = dict(zip(base.dims, base.shape, strict=True))
    out = [base]
    for s, info in zip(series[1:], infos[1:], strict=True):
        name = str(getattr(s, "name", "") or "").strip().lower()
        if name not in ASSOCIATED:
            out.append(info)
            continue
        size = dict(zip(info.dims, info.shape, strict=True))
        sizes = PhysicalPixelSizes()
        if name == "thumbnail":
            y, x = base.pixel_sizes.Y, base.pixel_sizes.X
            sizes = PhysicalPixelSizes(
                None,
                y * bsize["Y"] / size["Y"] if y and size["Y"] else None,  # empty: no size
                x * bsize["X"] / size["X"] if x and size["X"] else None,
            )
        out.append(dataclasses.replace(info, associated=name, pixel_sizes=sizes))
    return out


class quiet_tifffile:  # noqa: N801 - used as a context manager, like contextlib's
    """Silence tifffile's logger while parsing; imgio warns on what matters."""

    def __enter__(self) -> quiet_tifffile:
        self._logger = logging.getLogger("tifffile")
        self._level = self._logger.level
        self._logger.setLevel(logging.CRITICAL)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)
