"""User overrides of what a file says: ``Image(path, dim_order=..., channel_names=...)``.

A thin reader around the format's reader: scene infos get the given dims letters,
channel names and pixel sizes; sources get the dims letters. Pixels are untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..dims import PhysicalPixelSizes
from ..errors import SelectionError
from .base import ArraySource, ChunkRefs, Reader, SceneInfo, SourceBase

__all__ = ["OverrideReader", "Relabelled"]


class Relabelled(SourceBase):
    """An array source with its dims letters renamed (pickles with its inner source)."""

    def __init__(self, src: ArraySource, dims: str) -> None:
        self.src = src
        self.dims = dims
        self.shape = tuple(src.shape)
        self.dtype = src.dtype
        self.chunks = tuple(src.chunks)
        self.token = f"{src.token}|as {dims}"
        self.strided_out = src.strided_out

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        return self.src[key]

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        return self.src.read_into(key, out)

    def raw_tile(self, index: tuple[int, ...], format: str = "jpeg") -> bytes | None:
        return self.src.raw_tile(index, format)


class OverrideReader(Reader):
    """``inner`` with ``dim_order`` / ``channel_names`` / ``physical_pixel_sizes`` replaced.

    Each override is one value for every scene or a list with one per scene (``None``
    in the list keeps that scene as the file says).
    """

    def __init__(
        self,
        inner: Reader,
        *,
        dim_order: str | Sequence[str | None] | None = None,
        channel_names: Sequence[str] | Sequence[Sequence[str] | None] | None = None,
        physical_pixel_sizes: Any = None,
    ) -> None:
        super().__init__(inner.location)
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.suffixes = inner.suffixes  # type: ignore[misc]
        infos = inner.scenes()
        n = len(infos)
        orders = [dim_order] * n if dim_order is None or isinstance(dim_order, str) else dim_order
        if channel_names is None or (channel_names and isinstance(channel_names[0], str)):
            names: Sequence[Any] = [channel_names] * n
        else:
            names = channel_names
        for what, values in (("dim_order", orders), ("channel_names", names)):
            if len(values) != n:
                raise SelectionError(f"{what} has {len(values)} entries for {n} scenes")
        self._orders = [o.upper() if o else None for o in orders]
        self._infos = [
            _override(i, info, order, chans, physical_pixel_sizes)
            for i, (info, order, chans) in enumerate(zip(infos, self._orders, names, strict=True))
        ]

    def scenes(self) -> Sequence[SceneInfo]:
        return self._infos

    def source(self, scene: int, level: int = 0) -> ArraySource:
        src = self.inner.source(scene, level)
        order = self._orders[scene]
        return Relabelled(src, order) if order and order != src.dims else src

    @property
    def metadata(self) -> Any:
        return self.inner.metadata

    def ome_xml(self) -> str | None:
        return self.inner.ome_xml()

    def vendor(self) -> str:
        return self.inner.vendor()

    def objective_power(self, scene: int) -> float | None:
        return self.inner.objective_power(scene)

    @property
    def unwrapped(self) -> Reader:
        return self.inner.unwrapped

    def mosaic_tile_positions(self, scene: int) -> Sequence[tuple[int, int]] | None:
        return self.inner.mosaic_tile_positions(scene)

    def icc_profile(self, scene: int) -> bytes | None:
        return self.inner.icc_profile(scene)

    def named_properties(self, scene: int) -> Mapping[str, str]:
        return self.inner.named_properties(scene)

    def stored_tile(self, scene: int, level: int = 0) -> tuple[int, int] | None:
        return self.inner.stored_tile(scene, level)

    def chunk_refs(self, scene: int, level: int = 0) -> ChunkRefs:
        return self.inner.chunk_refs(scene, level)  # the bytes are the file's, whatever dims

    def close(self) -> None:
        self.inner.close()


def _override(
    i: int, info: SceneInfo, order: str | None, chans: Sequence[str] | None, sizes: Any
) -> SceneInfo:
    changes: dict[str, Any] = {}
    dims = info.dims
    if order:
        if len(order) != len(info.dims) or len(set(order)) != len(order):
            raise SelectionError(
                f"dim_order {order!r} does not name the {len(info.dims)} dims of scene {i} "
                f"(the file says {info.dims!r}, shape {info.shape})"
            )
        dims = changes["dims"] = order
        if "C" not in info.dims or "C" not in order or order.index("C") != info.dims.index("C"):
            changes["channel_names"] = changes["channel_colors"] = None
    if chans is not None:
        n = info.shape[dims.index("C")] if "C" in dims else 1
        if len(chans) != n:
            raise SelectionError(f"{len(chans)} channel_names for {n} channels of scene {i}")
        changes["channel_names"] = tuple(str(c) for c in chans)
    if sizes is not None:
        values = [sizes.get(d) for d in "ZYX"] if isinstance(sizes, Mapping) else list(sizes)
        changes["pixel_sizes"] = PhysicalPixelSizes(*values)
        changes["level_scales"] = None
    return dataclasses.replace(info, **changes) if changes else info
