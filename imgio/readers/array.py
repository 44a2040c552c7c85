"""In-memory images: numpy, dask or xarray arrays behind the same reader contract.

``Image(array, dim_order="ZYX", channel_names=[...], physical_pixel_sizes=(1, 0.5, 0.5))``
opens one array (or a list of arrays, one scene each) like a file: same dims, selections,
stacks and writers. Dims default to the last letters of ``TCZYX`` (as AICSImageIO does);
an xarray DataArray brings its own dims, channel coords and (evenly spaced) µm coords.

It follows the reader contract but is not in the file registry (it opens no files, and
would only add a line to every "no reader accepts" message): ``Image`` uses it directly
when given arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._location import Location
from ..dims import PhysicalPixelSizes
from ..errors import SelectionError, UnsupportedFormatError
from .base import Reader, SceneInfo, SourceBase

__all__ = ["ArrayReader", "ArraySourceInMemory", "is_array_like"]

DEFAULT_ORDER = "TCZYX"


def is_array_like(obj: Any) -> bool:
    """Whether ``obj`` is image data (numpy, dask, xarray) or a list of them, not a path."""
    if isinstance(obj, (list, tuple)):
        return bool(obj) and all(is_array_like(o) for o in obj)
    return hasattr(obj, "shape") and hasattr(obj, "dtype") and hasattr(obj, "__getitem__")


class ArraySourceInMemory(SourceBase):
    """One in-memory array as an :class:`~imgio.readers.base.ArraySource` (pickles with it)."""

    def __init__(self, data: Any, dims: str, token: str) -> None:
        self.data = data
        self.dims = dims
        self.shape = tuple(int(n) for n in data.shape)
        self.dtype = np.dtype(data.dtype)
        chunks = getattr(data, "chunks", None)
        if chunks and isinstance(chunks[0], tuple):  # dask: its first block per dim
            self.chunks = tuple(int(c[0]) if c else 1 for c in chunks)
        else:
            self.chunks = self.shape
        self.token = token

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        part = self.data[key]
        if hasattr(part, "compute"):
            part = part.compute()
        return np.asarray(part)


class ArrayReader(Reader):
    """numpy / dask / xarray data, one scene per array."""

    name = "array"
    suffixes = ()

    def __init__(
        self,
        data: Any,
        *,
        dim_order: str | Sequence[str] | None = None,
        channel_names: Sequence[str] | Sequence[Sequence[str]] | None = None,
        physical_pixel_sizes: Any = None,
    ) -> None:
        if isinstance(data, Location) or not is_array_like(data):
            where = data.url if isinstance(data, Location) else type(data).__name__
            raise UnsupportedFormatError(
                where, {"array": "expected numpy, dask or xarray data (or a list of them)"}
            )
        super().__init__(Location("memory://imgio-array"))
        arrays = list(data) if isinstance(data, (list, tuple)) else [data]
        orders = _per_scene(dim_order, len(arrays), "dim_order", str)
        names = _per_scene(channel_names, len(arrays), "channel_names", list)
        self._scenes: list[SceneInfo] = []
        self._sources: list[ArraySourceInMemory] = []
        for i, (arr, order, chans) in enumerate(zip(arrays, orders, names, strict=True)):
            info, src = _scene(i, arr, order, chans, physical_pixel_sizes)
            self._scenes.append(info)
            self._sources.append(src)

    def scenes(self) -> Sequence[SceneInfo]:
        return self._scenes

    def source(self, scene: int, level: int = 0) -> ArraySourceInMemory:
        if level != 0:
            raise SelectionError(f"level {level} out of range for scene {scene} (0..0)")
        return self._sources[scene]

    @property
    def metadata(self) -> Any:
        """The xarray attrs of each scene (``None`` for numpy/dask)."""
        out = [getattr(src.data, "attrs", None) for src in self._sources]
        return out[0] if len(out) == 1 else out

    def close(self) -> None:
        """Nothing to release."""


def _per_scene(value: Any, n: int, what: str, kind: type) -> list[Any]:
    """One value per scene: ``value`` for every scene, or a list of per-scene values."""
    if value is None:
        return [None] * n
    nested = isinstance(value, (list, tuple)) and value and not isinstance(value[0], str)
    if kind is str:
        nested = isinstance(value, (list, tuple))
    if not nested:
        return [value] * n
    if len(value) != n:
        raise SelectionError(f"{what} has {len(value)} entries for {n} arrays")
    return list(value)


def _scene(
    i: int, arr: Any, order: str | None, chans: Sequence[str] | None, sizes: Any
) -> tuple[SceneInfo, ArraySourceInMemory]:
    is_xarray = hasattr(arr, "dims") and hasattr(arr, "coords")
    data = arr.data if is_xarray else arr
    if order is None:
        if is_xarray:
            order = "".join(str(d).upper() for d in arr.dims)
        elif data.ndim <= len(DEFAULT_ORDER):
            order = DEFAULT_ORDER[len(DEFAULT_ORDER) - data.ndim :]
        else:
            raise SelectionError(
                f"array {i} has {data.ndim} dims; pass dim_order= (e.g. 'MTCZYX') to name them"
            )
    order = order.upper()
    if len(order) != data.ndim or len(set(order)) != len(order):
        raise SelectionError(
            f"dim_order {order!r} does not name the {data.ndim} dims of array {i} "
            f"(shape {tuple(data.shape)}): expected {data.ndim} distinct letters"
        )
    shape = tuple(int(n) for n in data.shape)
    n_channels = shape[order.index("C")] if "C" in order else 1
    if chans is None and is_xarray and "C" in order:
        coord = arr.coords.get(arr.dims[order.index("C")])
        if coord is not None and coord.size == n_channels:
            chans = [str(v) for v in coord.values]
    if chans is not None and len(chans) != n_channels:
        raise SelectionError(f"{len(chans)} channel_names for {n_channels} channels of array {i}")
    pixel = _pixel_sizes(sizes, arr if is_xarray else None, order)
    info = SceneInfo(
        name=str(arr.name) if is_xarray and arr.name is not None else f"Image:{i}",
        dims=order,
        shapes=(shape,),
        dtype=np.dtype(data.dtype),
        channel_names=tuple(str(c) for c in chans) if chans is not None else None,
        pixel_sizes=pixel,
    )
    from dask.base import tokenize

    src = ArraySourceInMemory(data, order, f"array-{tokenize(data)}-{i}")
    return info, src


def _pixel_sizes(sizes: Any, arr: Any, order: str) -> PhysicalPixelSizes:
    """Given sizes (tuple Z, Y, X / mapping / PhysicalPixelSizes), else evenly spaced coords."""
    if sizes is not None:
        if isinstance(sizes, Mapping):
            return PhysicalPixelSizes(*(sizes.get(d) for d in "ZYX"))
        values = [None if v is None else float(v) for v in sizes]
        if len(values) != 3:
            raise SelectionError(f"physical_pixel_sizes expects (Z, Y, X), got {sizes!r}")
        return PhysicalPixelSizes(*values)
    if arr is None:
        return PhysicalPixelSizes()
    out: list[float | None] = []
    for d in "ZYX":
        step = None
        if d in order:
            coord = arr.coords.get(arr.dims[order.index(d)])
            if coord is not None and coord.size > 1 and coord.dtype.kind in "fiu":
                diffs = np.diff(np.asarray(coord.values, dtype=float))
                if np.allclose(diffs, diffs[0]) and diffs[0] > 0:
                    step = float(diffs[0])
        out.append(step)
    return PhysicalPixelSizes(*out)
