"""An incremental OME-Zarr sink: assign regions from threads, processes or dask workers.

``imgio.create(path, shape=..., dims=..., dtype=...)`` makes level 0 under a hidden
partial name; ``sink[t, c, z, y0:y1, x0:x1] = tile`` writes a region; ``close()`` builds
the pyramid from level 0, writes the NGFF metadata and renames the store to ``path``.
The sink pickles to its settings and reopens the store in each process.

Concurrency: regions aligned to chunks (shards with NGFF 0.5) need no coordination.
A region that covers a chunk only partly is a read-modify-write of that chunk; the
sink serializes those with ``flock`` locks on files in the partial store (one of 256
stripes per chunk), which works across threads and processes of one machine and on
shared filesystems that support ``flock``. Overlapping regions written at the same
time are the caller's responsibility (the last write wins).

Remote sinks (``imgio.create("s3://bucket/key.ome.zarr", storage_options=...)``) write
chunks straight to the object store and hold the root metadata back until ``close()``
(see :mod:`imgio.writers._remote`). Object stores have no locks, so a remote sink takes
chunk-aligned regions only (whole chunks, or shards with NGFF 0.5; regions may end at
the image edge): an unaligned region is an :class:`~imgio.errors.ImgioError` naming the
grid, since a read-modify-write of a shared chunk from two writers would lose pixels.
"""

from __future__ import annotations

import fcntl
import math
import os
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImgioError, SelectionError
from ._input import SizesArg, pixel_sizes_arg
from ._ngff_attrs import write_image_attrs
from ._pyramid import check_method, level_count
from ._target import check_target, partial_name, publish, remove, write_error
from ._zarr_levels import build_levels, chunk_shape, create_level, open_root

__all__ = ["ZarrSink", "create"]

LOCK_STRIPES = 256


class ZarrSink:
    """A writable array-like backed by an OME-Zarr being written; see :func:`create`."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state
        self._array: Any = None
        self._pid = -1
        self._owner = False
        self._remote: Any = None  # the RemoteZarrTarget, in the creating process
        self._root: Any = None  # its HeldRootStore, in the creating process
        self.closed = False

    # ------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._state["shape"])

    @property
    def dims(self) -> str:
        return str(self._state["dims"])

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(str(self._state["dtype"]))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(self._state["grid"])

    @property
    def path(self) -> Path | str:
        """The target: a local path, or the URL of a remote sink."""
        if self.is_remote:
            return str(self._state["target"])
        return Path(self._state["target"])

    @property
    def is_remote(self) -> bool:
        return bool(self._state.get("remote"))

    def __repr__(self) -> str:
        return (
            f"<ZarrSink {self._state['target']!r} dims={self.dims} shape={self.shape} {self.dtype}>"
        )

    # -------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        return {"state": self._state, "closed": self.closed}

    def __setstate__(self, value: dict[str, Any]) -> None:
        self.__init__(value["state"])  # type: ignore[misc]
        self.closed = value["closed"]

    def _level0(self) -> Any:
        if self._array is None or self._pid != os.getpid():
            import zarr

            if self.is_remote:
                from ._remote import fsspec_store

                store: Any = fsspec_store(
                    f"{self._state['write_url']}/0", self._state["storage_options"]
                )
            else:
                store = os.path.join(self._state["partial"], "0")
            self._array = zarr.open_array(store=store, mode="r+")
            self._pid = os.getpid()
        return self._array

    # --------------------------------------------------------------- writing
    def _region(self, key: Any) -> list[tuple[int, int]]:
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            i = key.index(Ellipsis)
            key = key[:i] + (slice(None),) * (self.ndim - len(key) + 1) + key[i + 1 :]
        key = key + (slice(None),) * (self.ndim - len(key))
        if len(key) != self.ndim:
            raise SelectionError(
                f"{len(key)} indices for a sink with dims {self.dims!r} ({self.ndim})"
            )
        out = []
        for k, n, d in zip(key, self.shape, self.dims, strict=True):
            if isinstance(k, (int, np.integer)):
                i = int(k) + n if k < 0 else int(k)
                if not 0 <= i < n:
                    raise SelectionError(f"index {int(k)} of {d} out of range 0..{n - 1}")
                out.append((i, i + 1))
            elif isinstance(k, slice):
                start, stop, step = k.indices(n)
                if step != 1:
                    raise SelectionError(f"slice of {d} with step {step}: expected step 1")
                out.append((start, max(start, stop)))
            else:
                raise SelectionError(f"index {k!r} of {d}: expected an int or a slice")
        return out

    def _partial_chunks(self, region: list[tuple[int, int]]) -> list[int]:
        """Lock stripes of the chunks that ``region`` covers only partly."""
        spans = []
        for (a, b), g, n in zip(region, self.chunks, self.shape, strict=True):
            spans.append([(i, (i * g, min(n, (i + 1) * g))) for i in range(a // g, -(-b // g))])
        stripes = set()
        for combo in product(*spans):
            whole = all(
                a <= lo and hi <= b for (a, b), (_, (lo, hi)) in zip(region, combo, strict=True)
            )
            if not whole:
                ident = ",".join(str(i) for i, _ in combo).encode()
                stripes.add(zlib.crc32(ident) % LOCK_STRIPES)
        return sorted(stripes)

    @contextmanager
    def _locked(self, stripes: list[int]) -> Iterator[None]:
        with ExitStack() as stack:
            if not stripes:  # aligned writes (and every remote write) need no lock
                yield
                return
            folder = os.path.join(self._state["partial"], ".imgio-locks")
            for s in stripes:
                fd = os.open(os.path.join(folder, f"{s:03d}"), os.O_RDWR | os.O_CREAT, 0o644)
                stack.callback(os.close, fd)
                fcntl.flock(fd, fcntl.LOCK_EX)
                stack.callback(fcntl.flock, fd, fcntl.LOCK_UN)
            yield

    def __setitem__(self, key: Any, value: Any) -> None:
        """Write ``value`` into a region (ints and step-1 slices, in the sink's dims)."""
        if self.closed:
            raise ImgioError(f"{self!r} is closed; expected an open sink")
        region = self._region(key)
        value = np.asarray(value)
        stripes = self._partial_chunks(region)
        if stripes and self.is_remote:
            raise ImgioError(
                f"region {[slice(a, b) for a, b in region]} of remote {self!r} covers chunks "
                f"partly; expected regions aligned to the chunk grid {self.chunks} (dims "
                f"{self.dims}; ends may stop at the image edge): object stores have no locks"
            )
        with self._locked(stripes):
            self._level0()[tuple(slice(a, b) for a, b in region)] = _fit(value, region, self.dims)

    def __getitem__(self, key: Any) -> np.ndarray[Any, Any]:
        """Read back level 0 (what has been written so far; unwritten pixels are 0)."""
        return np.asarray(self._level0()[key])

    # --------------------------------------------------------------- closing
    def close(self) -> Path | str:
        """Build the pyramid, write the metadata and move the store to its path."""
        if self.closed:
            return self.path
        if not self._owner:
            raise ImgioError(
                f"close {self!r} in the process that created it; found a copy (pid {os.getpid()})"
            )
        s = self._state
        import zarr

        if self.is_remote:
            group = zarr.open_group(store=self._root, mode="r+")
            name = str(s["target"]).rstrip("/").rsplit("/", 1)[-1]
        else:
            group = zarr.open_group(store=str(s["partial"]), mode="r+")
            name = Path(s["target"]).name
        shapes = build_levels(group, s["dims"], s["levels"], s["downsample"])
        write_image_attrs(
            group,
            version=s["version"],
            dims=s["dims"],
            shapes=shapes,
            name=name,
            channel_names=s["channel_names"],
            pixel_sizes=s["pixel_sizes"],
            method=s["downsample"],
        )
        if self.is_remote:
            self._remote.publish(self._root)
            self.closed = True
            return self.path
        partial, target = Path(s["partial"]), Path(s["target"])
        remove(partial / ".imgio-locks")
        check_target(target, overwrite=s["overwrite"])
        try:
            publish(partial, target)
        except OSError as exc:
            raise write_error(exc, target) from exc
        self.closed = True
        return target

    def _discard(self) -> None:
        if self.is_remote:
            self._remote.abort()
        else:
            remove(Path(self._state["partial"]))

    def abort(self) -> None:
        """Discard everything written (the target is left as it was)."""
        if self._owner and not self.closed:
            self._discard()
        self.closed = True

    def __enter__(self) -> ZarrSink:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        if getattr(self, "_owner", False) and not self.closed:
            try:
                self._discard()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


def _fit(
    value: np.ndarray[Any, Any], region: list[tuple[int, int]], dims: str
) -> np.ndarray[Any, Any]:
    """``value`` shaped like the region (int-indexed dims are length 1 there)."""
    shape = tuple(b - a for a, b in region)
    if value.shape == shape:
        return value
    if value.size == math.prod(shape) and value.ndim:
        return value.reshape(shape)
    try:
        return np.broadcast_to(value, shape)
    except ValueError as exc:
        raise SelectionError(
            f"value of shape {value.shape} does not fit region {shape} (dims {dims})"
        ) from exc


def _check_dims(dims: str, shape: Sequence[int]) -> tuple[str, tuple[int, ...]]:
    """``dims`` upper-cased, checked to be letters of TCZYX in order with Y and X, one per
    axis of ``shape``."""
    dims = dims.upper()
    order = "".join(d for d in "TCZYX" if d in dims)
    if dims != order or "Y" not in dims or "X" not in dims or len(shape) != len(dims):
        raise ImgioError(
            f"dims {dims!r} for shape {tuple(shape)}: "
            "expected letters of TCZYX in that order, with Y and X"
        )
    return dims, tuple(int(n) for n in shape)


def _first_level(
    partial: Any,
    remote: Any,
    where: Any,
    version: str,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    dims: str,
    chunks: tuple[int, ...],
    shards: tuple[int, ...] | None,
    *,
    compression: str | None,
    quality: int | None,
) -> Any:
    """Open the partial store's root and make its empty level 0 (and, locally, the lock
    folder); on failure the partial is removed (or the remote write aborted)."""
    try:
        root = open_root(partial, version)
    except OSError as exc:
        if remote is None:
            remove(partial)
        raise write_error(exc, where) from exc
    try:
        level0 = create_level(
            root, "0", shape, dtype, dims, chunks, version=version,
            compression=compression, quality=quality, shards=shards,
        )  # fmt: skip
        if remote is None:
            os.makedirs(partial / ".imgio-locks")
    except BaseException as exc:
        if remote is not None:
            remote.abort()
        else:
            remove(partial)
        if isinstance(exc, OSError):
            raise write_error(exc, where) from exc
        raise
    return level0


def create(
    path: str | os.PathLike[str],
    *,
    shape: Sequence[int],
    dims: str,
    dtype: Any,
    chunks: int | Sequence[int] | dict[str, int] | None = None,
    shards: int | Sequence[int] | dict[str, int] | None = None,
    channel_names: Sequence[str] | None = None,
    physical_pixel_sizes: SizesArg = None,
    ngff_version: str = "0.4",
    compression: str | None = "zstd",
    quality: int | None = None,
    pyramid_levels: int | str | None = "auto",
    downsample: str = "mean",
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> ZarrSink:
    """An OME-Zarr to fill region by region: ``sink[..., y0:y1, x0:x1] = tile``, then ``close()``.

    ``dims`` are letters of ``TCZYX`` in that order and include Y and X. ``chunks`` as in
    :func:`imgio.write` (default 1024 for Y/X, 1 otherwise). ``path`` may be an fsspec URL
    (``s3://bucket/key.ome.zarr``, with ``storage_options``); a remote sink takes
    chunk-aligned regions only.

    Raises
    ------
    TargetExistsError
        ``path`` exists and ``overwrite`` is false.
    ImgioError
        A suffix other than ``.zarr``, bad dims, sizes or options.
    """
    from ._remote import RemoteZarrTarget, remote_location

    loc = remote_location(path, storage_options)
    target = Path(path).expanduser().absolute() if loc is None else Path(loc.name)
    if not target.name.lower().endswith(".zarr"):
        raise ImgioError(
            f"create() writes OME-Zarr: expected a .ome.zarr path, found {target.name!r} "
            "(convert afterwards: imgio convert IN.ome.zarr OUT.ome.tif)"
        )
    dims, shape = _check_dims(dims, shape)
    check_method(downsample)
    if loc is None:
        check_target(target, overwrite=overwrite)
    ck = chunk_shape(chunks, dims, shape)
    sh = None if shards is None else chunk_shape(shards, dims, shape)
    n_channels = shape[dims.index("C")] if "C" in dims else 1
    names = list(channel_names) if channel_names is not None else None
    if names is not None and len(names) != n_channels:
        raise ImgioError(
            f"channel_names: expected {n_channels} names (size of C), found {len(names)}"
        )
    sizes = pixel_sizes_arg(physical_pixel_sizes) or (None, None, None)
    remote = RemoteZarrTarget(loc, overwrite=overwrite) if loc is not None else None
    root_store = remote.root_store() if remote is not None else None
    partial: Any = root_store if remote is not None else partial_name(target)
    where = target if remote is None else remote.target.url
    level0 = _first_level(
        partial, remote, where, ngff_version, shape, np.dtype(dtype), dims, ck, sh,
        compression=compression, quality=quality,
    )  # fmt: skip
    grid = level0.shards or level0.chunks
    state = {
        "target": str(target) if remote is None else remote.target.url,
        "partial": str(partial) if remote is None else None,
        "remote": remote is not None,
        "write_url": None if remote is None else remote.write_url,
        "storage_options": None if loc is None else loc.storage_options,
        "shape": shape,
        "dims": dims,
        "dtype": np.dtype(dtype).str,
        "grid": tuple(grid),
        "version": ngff_version,
        "channel_names": names,
        "pixel_sizes": tuple(sizes),
        "downsample": downsample,
        "levels": level_count(
            pyramid_levels,
            (shape[dims.index("Y")], shape[dims.index("X")]),
            max(ck[dims.index("Y")], ck[dims.index("X")]),
        ),
        "overwrite": overwrite,
    }
    sink = ZarrSink(state)
    sink._owner = True
    sink._remote, sink._root = remote, root_store
    return sink
