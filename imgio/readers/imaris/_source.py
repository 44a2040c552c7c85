"""Array sources of an Imaris file: one resolution level (T, C, Z, Y, X), and the thumbnail.

Each ``TimePoint t/Channel c/Data`` data set of a level is a chunked HDF5 array whose
extent may exceed the image (chunk padding): a read selects the cropped region of
each (t, c) data set it covers, so HDF5 reads and inflates only the chunks that the
region covers. Local files are opened for each read (no handle outlives it); a remote
file is read through an fsspec file object (byte ranges) kept per thread by the source.
Sources pickle to (location, level, layout).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..._location import Location
from ...errors import CorruptFileError, MissingDependencyError
from ..base import STATS, SourceBase

__all__ = ["H5_ERRORS", "LevelSource", "ThumbnailSource", "open_h5"]

#: what h5py raises on damaged files (its own errors derive from these)
H5_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    KeyError,
    ValueError,
    TypeError,
    RuntimeError,
    IndexError,
    AttributeError,
    OverflowError,
)


def open_h5(location: Location) -> Any:
    """An h5py ``File`` for reading ``location`` (a path, or an fsspec file object)."""
    try:
        import h5py
    except ImportError as exc:
        raise MissingDependencyError(
            f'reading Imaris files needs h5py: pip install "imgio[ims]" ({exc})'
        ) from exc
    try:
        if location.is_local:
            return h5py.File(location.url, "r")
        return h5py.File(location.open(), "r")
    except H5_ERRORS as exc:
        raise CorruptFileError(f"{location.url}: not a readable HDF5 file: {exc}") from exc


class _Handles:
    """Open HDF5 files: per call for local files, kept per thread for remote ones."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self._local = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {"location": self.location}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["location"])  # type: ignore[misc]

    @contextmanager
    def file(self) -> Iterator[Any]:
        if self.location.is_local:
            f = open_h5(self.location)
            try:
                yield f
            finally:
                f.close()
            return
        f = getattr(self._local, "file", None)
        if f is None:
            f = self._local.file = open_h5(self.location)
        yield f


class LevelSource(SourceBase):
    """One resolution level: dims ``TCZYX``, the image size (padding cropped)."""

    dims = "TCZYX"

    def __init__(
        self,
        location: Location,
        level: int,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        chunks: tuple[int, int, int],
        token: str,
    ) -> None:
        self.location = location
        self.level = level
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.chunks = (1, 1, *(int(c) for c in chunks))
        self.token = token
        self._handles = _Handles(location)

    def __repr__(self) -> str:
        return f"<Imaris level {self.level} of {self.location.url!r} shape={self.shape}>"

    def path(self, t: int, c: int) -> str:
        return f"DataSet/ResolutionLevel {self.level}/TimePoint {t}/Channel {c}/Data"

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        out = np.empty(tuple(k.stop - k.start for k in key), dtype=self.dtype)
        self.read_into(key, out)
        return out

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """HDF5 reads each (t, c) volume's selection straight into ``out`` (no copy)."""
        if not out.flags.c_contiguous:
            return False
        if out.size == 0:
            return True
        zyx = key[2:]
        need = tuple(k.stop for k in zyx)
        with self._handles.file() as f:
            for ti, t in enumerate(range(key[0].start, key[0].stop)):
                for ci, c in enumerate(range(key[1].start, key[1].stop)):
                    self._read(f, t, c, zyx, need, out[ti, ci])
        covered = math.prod(
            -(-k.stop // n) - k.start // n for k, n in zip(zyx, self.chunks[2:], strict=True)
        )
        STATS.add(covered * out.shape[0] * out.shape[1], out.nbytes)
        return True

    def _read(
        self,
        f: Any,
        t: int,
        c: int,
        zyx: tuple[slice, ...],
        need: tuple[int, ...],
        out: np.ndarray[Any, Any],
    ) -> None:
        path = self.path(t, c)
        try:
            ds = f.get(path)
            if ds is None or not hasattr(ds, "shape") or ds.ndim != 3:
                raise CorruptFileError(
                    f"{self.location.url}: {path} is missing or not a 3-d data set"
                )
            if ds.dtype != self.dtype or any(s < n for s, n in zip(ds.shape, need, strict=True)):
                raise CorruptFileError(
                    f"{self.location.url}: {path} is {ds.dtype} {ds.shape}; expected "
                    f"{self.dtype} covering {need} (as the level's first data set)"
                )
            ds.read_direct(out, source_sel=zyx)
        except CorruptFileError:
            raise
        except H5_ERRORS as exc:
            raise CorruptFileError(f"{self.location.url}: reading {path} failed: {exc}") from exc


class ThumbnailSource(SourceBase):
    """The ``Thumbnail/Data`` RGBA image (``Y x 4X`` bytes) as ``YXS``."""

    dims = "YXS"

    def __init__(self, location: Location, shape: tuple[int, int, int], token: str) -> None:
        self.location = location
        self.shape: tuple[int, ...] = shape
        self.dtype = np.dtype("u1")
        self.chunks: tuple[int, ...] = shape
        self.token = token
        self._handles = _Handles(location)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        with self._handles.file() as f:
            try:
                raw = np.asarray(f["Thumbnail/Data"][: self.shape[0], : self.shape[1] * 4])
            except H5_ERRORS as exc:
                raise CorruptFileError(
                    f"{self.location.url}: reading Thumbnail/Data failed: {exc}"
                ) from exc
        if raw.shape != (self.shape[0], self.shape[1] * 4) or raw.dtype != self.dtype:
            raise CorruptFileError(
                f"{self.location.url}: Thumbnail/Data is {raw.dtype} {raw.shape}; expected "
                f"uint8 {(self.shape[0], self.shape[1] * 4)}"
            )
        STATS.add(1, raw.nbytes)
        return raw.reshape(self.shape)[key]
