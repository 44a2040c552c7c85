"""The only code that builds dask arrays and DataArrays from array sources.

``as_dask`` wraps a source with :class:`_PlainSlices` in ``da.from_array``: dask fuses
the user's region into the getter call, so a region decodes only its covering tiles.
:class:`Reordered` presents a source in the standard dims order *inside* the getter,
because dask does not fuse slices through transposes or inserted axes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dims import PhysicalPixelSizes, standard_order
from ..errors import SelectionError
from ..readers.base import ArraySource, SceneInfo, SourceBase

if TYPE_CHECKING:
    import dask.array as da
    import xarray as xr

__all__ = [
    "Reordered",
    "aligned_chunks",
    "as_dask",
    "chunk_edges",
    "as_dataarray",
    "level_coords",
    "read",
]

ChunkSpec = str | int | Sequence[int] | Mapping[str, int] | None
DEFAULT_TARGET_BYTES = 64 << 20


class Reordered(SourceBase):
    """A source presented in another dims order, with singleton dims added."""

    def __init__(self, src: ArraySource, dims: str) -> None:
        missing = [d for d in src.dims if d not in dims]
        if missing:
            raise ValueError(f"dims {dims!r} lack {missing} of the source dims {src.dims!r}")
        self.src = src
        self.dims = dims
        self._where = [src.dims.index(d) if d in src.dims else -1 for d in dims]
        self.shape = tuple(src.shape[i] if i >= 0 else 1 for i in self._where)
        self.chunks = tuple(src.chunks[i] if i >= 0 else 1 for i in self._where)
        self.dtype = src.dtype
        self.token = f"{src.token}|{dims}"
        present = [i for i in self._where if i >= 0]
        self._perm = [sorted(present).index(i) for i in present]  # native -> presented order
        self._transposed = self._perm != sorted(self._perm)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        native: list[slice] = [slice(0, n) for n in self.src.shape]
        for k, i in zip(key, self._where, strict=True):
            if i >= 0:
                native[i] = k
        data = self.src[tuple(native)]
        data = np.transpose(data, self._perm) if self._transposed else data
        shape = tuple(k.stop - k.start for k in key)
        return data.reshape(shape)

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """Fill ``out`` directly when the source can and no transpose is needed.

        Sources with ``strided_out = True`` also fill a transposed view of ``out``
        (no temporary array and no second pass for a reordered read).
        """
        transposed = self._transposed
        if transposed and not self.src.strided_out:
            return False
        native: list[slice] = [slice(0, n) for n in self.src.shape]
        for k, i in zip(key, self._where, strict=True):
            if i >= 0:
                native[i] = k
        if transposed:
            added = tuple(j for j, i in enumerate(self._where) if i < 0)
            present = [i for i in self._where if i >= 0]
            inner = np.squeeze(out, axis=added).transpose(np.argsort(present))
        else:
            inner = out.reshape(tuple(s.stop - s.start for s in native))
        return self.src.read_into(tuple(native), inner)

    def raw_tile(self, index: tuple[int, ...], format: str = "jpeg") -> bytes | None:
        """The source's stored bytes of one chunk (presented chunk ``index``), if it has them."""
        if any(k != 0 for k, i in zip(index, self._where, strict=True) if i < 0):
            return None
        native = [0] * len(self.src.shape)
        for k, i in zip(index, self._where, strict=True):
            if i >= 0:
                native[i] = k
        return self.src.raw_tile(tuple(native), format)


class _PlainSlices:
    """Turns whatever dask or a user passes (ints, steps, lists) into step-1 slices."""

    def __init__(self, src: ArraySource) -> None:
        self.src = src
        self.shape = tuple(src.shape)
        self.dtype = src.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray[Any, Any]:
        return read(self.src, key)


def _expand(key: Any, ndim: int) -> list[Any]:
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = next(j for j, k in enumerate(key) if k is Ellipsis)
        fill = ndim - (len(key) - 1 - sum(1 for k in key if k is None))
        key = key[:i] + (slice(None),) * fill + key[i + 1 :]
    real = [k for k in key if k is not None]
    if len(real) > ndim:
        raise SelectionError(f"too many indices: {len(real)} for {ndim} dims")
    return list(key) + [slice(None)] * (ndim - len(real))


def read(
    src: ArraySource, key: Any = (), out: np.ndarray[Any, Any] | None = None
) -> np.ndarray[Any, Any]:
    """Eagerly read ``src[key]`` with numpy indexing semantics (ints, slices, lists)."""
    shape = tuple(src.shape)
    parts = _expand(key, len(shape))
    if all(type(k) is slice and k == _ALL for k in parts) and 0 not in shape:
        return _read_whole(src, shape, out)
    plain: list[slice] = []
    post: list[Any] = []  # per source dim: what to apply after the step-1 read
    newaxes: list[int] = []
    dim = 0
    for k in parts:
        if k is None:  # its position in the result, where integer-indexed dims are gone
            newaxes.append(sum(1 for p in post if not isinstance(p, int)) + len(newaxes))
            continue
        n = shape[dim]
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            idx = range(start, stop, step)
            if len(idx) == 0:
                plain.append(slice(0, 0))
                post.append(slice(None))
            elif step > 0:
                plain.append(slice(idx[0], idx[-1] + 1))
                post.append(slice(None, None, step) if step != 1 else slice(None))
            else:
                plain.append(slice(idx[-1], idx[0] + 1))
                post.append(slice(None, None, step))
        elif isinstance(k, (int, np.integer)):
            i = int(k) + n if k < 0 else int(k)
            if not 0 <= i < n:
                raise SelectionError(
                    f"index {int(k)} is out of range for a dim of size {n} (0..{n - 1})"
                )
            plain.append(slice(i, i + 1))
            post.append(0)
        else:
            arr = np.asarray(k)
            if arr.dtype == bool:
                arr = np.flatnonzero(arr)
            arr = np.where(arr < 0, arr + n, arr).astype(np.int64)
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise SelectionError(
                    f"indices {k!r} out of range for a dim of size {n} (0..{n - 1})"
                )
            lo = int(arr.min()) if arr.size else 0
            hi = int(arr.max()) + 1 if arr.size else 0
            plain.append(slice(lo, hi))
            post.append(arr - lo)
        dim += 1
    inner_shape = tuple(s.stop - s.start for s in plain)
    if 0 in inner_shape:
        data = np.empty(inner_shape, dtype=src.dtype)
    elif (
        out is not None
        and all(isinstance(p, slice) and p == slice(None) for p in post)
        and not newaxes
    ):
        if out.shape == inner_shape and src.read_into(tuple(plain), out):
            return out
        data = src[tuple(plain)]
    else:
        data = src[tuple(plain)]
    if data.shape != inner_shape:
        raise AssertionError(f"source returned {data.shape}, expected {inner_shape}")
    # apply steps and lists per axis, then drop integer axes
    if any(not (isinstance(p, slice) and p == slice(None)) for p in post):
        for axis in range(len(post) - 1, -1, -1):
            p = post[axis]
            if isinstance(p, np.ndarray):
                data = np.take(data, p, axis=axis)
            elif isinstance(p, slice) and p != slice(None):
                data = data[(slice(None),) * axis + (p,)]
        ints = tuple(0 if isinstance(p, int) else slice(None) for p in post)
        data = data[ints]
    for axis in newaxes:
        data = np.expand_dims(data, axis)
    if out is not None:
        out[...] = data
        return out
    return data


_ALL = slice(None)


def _read_whole(
    src: ArraySource, shape: tuple[int, ...], out: np.ndarray[Any, Any] | None
) -> np.ndarray[Any, Any]:
    """``src[...]`` (the common whole read, without the per-dim index work)."""
    plain = tuple(slice(0, n) for n in shape)
    if out is not None:
        if out.shape == shape and src.read_into(plain, out):
            return out
    data = src[plain]
    if data.shape != shape:
        raise AssertionError(f"source returned {data.shape}, expected {shape}")
    if out is not None:
        out[...] = data
        return out
    return data


def aligned_chunks(
    shape: Sequence[int],
    native: Sequence[int],
    itemsize: int,
    target_bytes: int = DEFAULT_TARGET_BYTES,
    dims: str | None = None,
) -> tuple[int, ...]:
    """Chunk edges that are whole multiples of the native grid, near ``target_bytes``.

    Y and X grow together first (doubling), then the plane axes from the innermost out.
    """
    chunk = [max(1, min(int(c), int(s))) for c, s in zip(native, shape, strict=True)]
    shape = [max(1, int(s)) for s in shape]

    def nbytes(c: list[int]) -> int:
        return math.prod(c) * itemsize

    def grow(axes: list[int]) -> bool:
        trial = list(chunk)
        changed = False
        for a in axes:
            if trial[a] < shape[a]:
                trial[a] = min(shape[a], trial[a] * 2)
                changed = True
        if changed and nbytes(trial) <= target_bytes:
            chunk[:] = trial
            return True
        return False

    ndim = len(shape)
    if dims and "Y" in dims and "X" in dims:
        spatial = [dims.index("Y"), dims.index("X")]
    else:
        spatial = [a for a in (ndim - 2, ndim - 1) if a >= 0]
    while grow(spatial):
        pass
    for a in spatial:  # then each alone (strips are full width already)
        while grow([a]):
            pass
    for a in reversed(range(ndim)):
        if a in spatial:
            continue
        while grow([a]):
            pass
    return tuple(chunk)


def _normalize_chunks(
    chunks: ChunkSpec, src: ArraySource, target_bytes: int
) -> tuple[int, ...] | tuple[tuple[int, ...], ...]:
    if chunks is None or chunks == "auto":
        return aligned_chunks(src.shape, src.chunks, src.dtype.itemsize, target_bytes, src.dims)
    if isinstance(chunks, Mapping):
        base = list(
            aligned_chunks(src.shape, src.chunks, src.dtype.itemsize, target_bytes, src.dims)
        )
        for d, n in chunks.items():
            if d not in src.dims:
                raise SelectionError(f"chunks for dim {d!r}, but dims are {src.dims!r}")
            i = src.dims.index(d)
            base[i] = src.shape[i] if n in (-1, None) else int(n)
        return tuple(base)
    if isinstance(chunks, int):
        return tuple(min(chunks, s) for s in src.shape)
    return tuple(chunks)  # type: ignore[arg-type,return-value,unused-ignore]


def chunk_edges(
    src: ArraySource, chunks: ChunkSpec = "auto", target_bytes: int = DEFAULT_TARGET_BYTES
) -> tuple[int, ...]:
    """The first chunk's edges of :func:`as_dask` over ``src``, without importing dask."""
    spec: Sequence[int | Sequence[int]] = _normalize_chunks(chunks, src, target_bytes)
    edges = []
    for c, n in zip(spec, src.shape, strict=True):
        first = c if isinstance(c, int) else (c[0] if len(c) else 0)
        edges.append(min(int(first), int(n)) if int(first) >= 0 else int(n))
    return tuple(edges)


def as_dask(
    src: ArraySource, chunks: ChunkSpec = "auto", target_bytes: int = DEFAULT_TARGET_BYTES
) -> da.Array:
    """A dask array over ``src`` whose chunks are whole multiples of its native chunks."""
    import dask.array as da
    from dask.base import tokenize

    from ._graph import install

    install()  # composes chained selections on imgio arrays into one read (see _graph)
    spec = _normalize_chunks(chunks, src, target_bytes)
    meta = np.empty((0,) * len(src.shape), dtype=src.dtype)
    name = f"imgio-{tokenize(src.token, spec)}"
    # dask's default fancy=True fuses the caller's region into the getter call
    return da.from_array(  # type: ignore[no-any-return,no-untyped-call,unused-ignore]
        _PlainSlices(src), chunks=spec, name=name, meta=meta, asarray=False
    )


def level_sizes(info: SceneInfo, level: int) -> dict[str, float]:
    """Physical size of one pixel at ``level`` (µm for Z/Y/X), same extent as level 0."""
    if info.level_scales is not None and level < len(info.level_scales):
        return {k: float(v) for k, v in info.level_scales[level].items()}
    sizes: dict[str, float] = {}
    base = info.shapes[0]
    shape = info.shapes[level]
    for d, s in zip("ZYX", info.pixel_sizes, strict=True):
        if s is None or d not in info.dims:
            continue
        i = info.dims.index(d)
        sizes[d] = float(s) * (base[i] / shape[i]) if shape[i] and shape[i] != base[i] else float(s)
    return sizes


def level_coords(info: SceneInfo, level: int, dims: str, shape: Sequence[int]) -> dict[str, Any]:
    """Coordinates: channel names on C, µm on Z/Y/X, seconds on T (when known)."""
    coords: dict[str, Any] = {}
    n = dict(zip(dims, shape, strict=True))
    if "C" in n and info.channel_names and len(info.channel_names) == n["C"]:
        coords["C"] = list(info.channel_names)
    origin = info.origin
    if info.level_origins is not None and level < len(info.level_origins):
        origin = info.level_origins[level]
    for d, size in level_sizes(info, level).items():
        if d in n:
            coords[d] = float(origin.get(d, 0.0)) + np.arange(n[d]) * size
    if "T" in n and info.time_stamps is not None and len(info.time_stamps) == n["T"]:
        coords["T"] = float(origin.get("T", 0.0)) + np.asarray(info.time_stamps, dtype=float)
    elif "T" in n and info.time_interval:
        coords["T"] = float(origin.get("T", 0.0)) + np.arange(n["T"]) * info.time_interval
    for d, labels in (info.extra_coords or {}).items():
        if d in n and len(labels) == n[d]:
            coords[d] = list(labels)
    return coords


def level_attrs(info: SceneInfo, level: int) -> dict[str, Any]:
    """Small plain attrs of one (scene, level): name, level, downsample, µm sizes.

    Units live on the coordinates (CF conventions: ``coords["X"].attrs["units"]``); the
    values have none (pixel values), so ``.plot()`` shows ``X [µm]`` on its axes.
    """
    sizes = level_sizes(info, level)
    base = info.shapes[0]
    shape = info.shapes[level]
    return {
        "scene": info.name,
        "level": level,
        "downsample": tuple(
            round(base[info.dims.index(d)] / max(1, shape[info.dims.index(d)]), 6)
            for d in "YX"
            if d in info.dims
        ),
        "long_name": info.name,
        "pixel_sizes": tuple(sizes.get(d) for d in "ZYX"),
    }


COORD_NAMES = {"T": "time", "C": "channel", "Z": "Z", "Y": "Y", "X": "X"}


def coord_attrs(info: SceneInfo, dim: str, values: Any) -> dict[str, str]:
    """CF attributes of one coordinate: ``long_name``, and ``units`` (µm on Z/Y/X, s on
    T) when the values are physical, so that ``.plot()`` labels its axes itself."""
    attrs = {"long_name": COORD_NAMES.get(dim, dim)}
    numeric = np.asarray(values).dtype.kind == "f"
    if numeric and dim in "ZYX":
        attrs["units"] = "µm"
    elif numeric and dim == "T" and (info.time_interval or info.time_stamps is not None):
        attrs["units"] = "s"
    return attrs


def presented(src: ArraySource) -> ArraySource:
    """``src`` in the standard dims order (wrapped only when the order differs)."""
    order = standard_order(src.dims)
    return Reordered(src, order) if order != src.dims else src


def as_dataarray(
    src: ArraySource,
    info: SceneInfo,
    level: int,
    *,
    chunks: ChunkSpec = "auto",
    standardize: bool = True,
    data: Any = None,
) -> xr.DataArray:
    """A lazy DataArray of one (scene, level), in the standard dims order by default.

    ``data`` replaces the dask array (e.g. an xarray lazily indexed array of the same
    shape); the dims, coords and attrs are the same either way.
    """
    import xarray as xr

    if standardize:
        src = presented(src)
    if data is None:
        data = as_dask(src, chunks)
    variable = xr.Variable(list(src.dims), data, attrs=level_attrs(info, level))
    coords = {
        d: xr.Variable(d, values, attrs=coord_attrs(info, d, values))
        for d, values in level_coords(info, level, src.dims, src.shape).items()
    }
    return xr.DataArray(variable, coords=coords, name=info.name)


def physical_pixel_sizes(info: SceneInfo, level: int = 0) -> PhysicalPixelSizes:
    """Pixel sizes of ``level`` as a :class:`PhysicalPixelSizes`."""
    sizes = level_sizes(info, level)
    return PhysicalPixelSizes(sizes.get("Z"), sizes.get("Y"), sizes.get("X"))
