"""Zarr stores from locations, and the array source of one zarr array.

A :class:`ZarrSource` pickles to its location, array path and layout; each process
reopens the array once (one metadata read) and then every read is ``array[key]``:
zarr reads and decodes only the covering chunks, concurrently.
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any

import numpy as np

from ..._location import Location
from ...errors import CorruptFileError
from ..base import STATS, SourceBase

__all__ = ["ZarrSource", "is_zip", "open_store", "read_member"]


ZIP_MAGIC = b"PK\x03\x04"


def is_zip(location: Location) -> bool:
    """A zipped store (``.ome.zarr.zip``, ``.ozx``): local by its first bytes, remote by its
    suffix."""
    if not location.is_local:
        return location.suffixes.endswith((".zip", ".ozx"))
    return os.path.isfile(location.url) and location.head(4) == ZIP_MAGIC


def _open_zip(location: Location) -> Any:
    import zipfile

    if location.is_local:
        return zipfile.ZipFile(location.url)
    return zipfile.ZipFile(location.fs.open(location.fs_path, "rb"))


def read_member(location: Location, key: str) -> bytes | None:
    """The bytes of one key of a store (directory, URL prefix or ZIP); None when absent."""
    if is_zip(location):
        import zipfile

        try:
            with _open_zip(location) as zf:
                return zf.read(key)  # type: ignore[no-any-return]
        except (KeyError, OSError, zipfile.BadZipFile):
            return None
    node = location
    for part in key.split("/"):
        node = node.child(part)
    try:
        with node.open() as fh:
            return fh.read()
    except OSError:  # FileNotFoundError and MissingFileError included
        return None


def open_store(location: Location) -> Any:
    """A read-only zarr store over a local directory or ZIP file, or an fsspec URL."""
    import zarr.storage

    from ._blosc import install

    install()  # truncated Blosc chunks: an error, not a read past the buffer

    if is_zip(location):
        if location.is_local:
            return zarr.storage.ZipStore(location.url, mode="r", read_only=True)
        return _remote_zip_store(location)
    if location.is_local:
        return zarr.storage.LocalStore(location.url, read_only=True)
    return zarr.storage.FsspecStore.from_url(
        location.url, storage_options=location.storage_options or None, read_only=True
    )


def _remote_zip_store(location: Location) -> Any:
    """zarr's ``ZipStore`` reading its archive through fsspec (byte ranges) instead of a path."""
    import zarr.storage

    class RemoteZipStore(zarr.storage.ZipStore):
        def __init__(self, where: Location) -> None:
            self.location = where
            super().__init__(where.name, mode="r", read_only=True)

        def _sync_open(self) -> None:
            if self._is_open:
                raise ValueError("store is already open")
            self._lock = threading.RLock()
            self._zf = _open_zip(self.location)
            self._is_open = True

        def __str__(self) -> str:
            return f"zip::{self.location.url}"

    return RemoteZipStore(location)


def covered_chunks(key: tuple[slice, ...], shape: tuple[int, ...], chunks: tuple[int, ...]) -> int:
    """How many chunks of the grid ``chunks`` a selection of step-1 slices touches."""
    n = 1
    for k, size, c in zip(key, shape, chunks, strict=True):
        start, stop, _ = k.indices(size)
        if stop <= start:
            return 0
        n *= (stop - 1) // c - start // c + 1
    return n


class ZarrSource(SourceBase):
    """One zarr array as an :class:`~imgio.readers.base.ArraySource`."""

    def __init__(
        self,
        location: Location,
        path: str,
        *,
        dims: str,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        chunks: tuple[int, ...],
        token: str,
        zarr_format: int,
        array: Any = None,
    ) -> None:
        self.location = location
        self.path = path
        self.dims = dims
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.chunks = tuple(int(c) for c in chunks)
        self.token = token
        self.zarr_format = zarr_format
        self._lock = threading.Lock()
        self._array = array
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in ("_lock", "_array", "_pid"):
            state.pop(key)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._array = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        where = f"{self.location.url!r} {self.path!r}"
        return f"<ZarrSource {where} {self.dims} {self.shape} {self.dtype}>"

    def _open(self) -> Any:
        with self._lock:
            if self._array is None or self._pid != os.getpid():
                import zarr

                try:
                    arr = zarr.open_array(
                        open_store(self.location),
                        path=self.path,
                        mode="r",
                        zarr_format=self.zarr_format,  # type: ignore[arg-type]
                    )
                except Exception as exc:  # noqa: BLE001 - zarr raises many kinds on bad metadata
                    raise CorruptFileError(
                        f"{self.location.url}: cannot reopen the zarr array {self.path!r}: {exc}"
                    ) from exc
                if tuple(arr.shape) != self.shape or arr.dtype != self.dtype:
                    raise CorruptFileError(
                        f"{self.location.url}: array {self.path!r} changed since it was opened: "
                        "expected "
                        f"{self.shape} {self.dtype}, found {tuple(arr.shape)} {arr.dtype}"
                    )
                self._array, self._pid = arr, os.getpid()
            return self._array

    @property
    def array(self) -> Any:
        """The opened ``zarr.Array`` (opened once per process)."""
        arr = self._array
        if arr is None or self._pid != os.getpid():
            arr = self._open()
        return arr

    def _region_shape(self, key: tuple[slice, ...]) -> tuple[int, ...]:
        return tuple(len(range(*k.indices(n))) for k, n in zip(key, self.shape, strict=True))

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        """Read the region ``key`` (step-1 slices, one per dim); zarr reads only its chunks."""
        arr = self._array
        if arr is None or self._pid != os.getpid():
            arr = self._open()
        n = covered_chunks(key, self.shape, self.chunks)
        if not n:
            data = np.empty(self._region_shape(key), dtype=self.dtype)
        else:
            data = self._decode(arr, key)
        STATS.add(n, 0)
        return np.asarray(data)

    def _bad_chunk(self, arr: Any, key: tuple[slice, ...], limit: int = 64) -> str:
        """The first chunk of ``key`` that fails alone (trying at most ``limit`` chunks)."""
        ranges = [
            range(k.indices(n)[0] // c, (k.indices(n)[1] - 1) // c + 1)
            for k, n, c in zip(key, self.shape, self.chunks, strict=True)
        ]
        for i, index in enumerate(itertools.product(*ranges)):
            if i >= limit:
                break
            one = tuple(
                slice(j * c, min((j + 1) * c, n))
                for j, c, n in zip(index, self.chunks, self.shape, strict=True)
            )
            try:
                arr.get_basic_selection(one)
            except Exception:  # noqa: BLE001 - looking for the chunk that fails
                return f" (chunk {index} of array {self.path!r})"
        return ""

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """Decode the region ``key`` straight into ``out`` (no copy); ``False`` when it cannot."""
        shape = tuple(len(range(*k.indices(s))) for k, s in zip(key, self.shape, strict=True))
        if (
            out.shape != shape
            or out.dtype != self.dtype
            or not out.flags.c_contiguous
            or 0 in shape
        ):
            return False
        try:
            from zarr.core.buffer.cpu import NDBuffer
        except ImportError:  # a zarr without that buffer class: the caller copies instead
            return False
        self._decode(self.array, key, out=NDBuffer.from_numpy_array(out))
        STATS.add(covered_chunks(key, self.shape, self.chunks), 0)
        return True

    def _decode(self, arr: Any, key: tuple[Any, ...], out: Any = None) -> Any:
        """zarr's read of ``key``; a chunk its codecs cannot decode (codec errors, checksum
        mismatches, wrong sizes) is a CorruptFileError naming the chunk."""
        try:
            if all(type(k) is slice for k in key):
                # straight to the basic indexer: ``arr[key]`` first tests the key for fancy
                # and orthogonal indexing, ~25 µs per call (~3 % of a one-chunk read)
                return arr.get_basic_selection(key, out=out)
            return arr[key]
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - the codecs raise many kinds on bad bytes
            chunk = self._bad_chunk(arr, key) if all(type(k) is slice for k in key) else ""
            raise CorruptFileError(
                f"{self.token}: region {_region_text(key)} could not be decoded{chunk} "
                f"({type(exc).__name__}: {str(exc)[:200]})"
            ) from exc


def _region_text(key: tuple[Any, ...]) -> str:
    return (
        "["
        + ", ".join(f"{k.start}:{k.stop}" if isinstance(k, slice) else str(k) for k in key)
        + "]"
    )
