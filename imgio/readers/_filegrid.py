"""A grid of files as one array: each cell of the outer dims (``T``, ``C``, ``Z``...) is a
file that any reader opens; the file's own dims follow (``YX``, ``ZYX``, ``YXS``...).

Used by file sequences (:mod:`imgio.readers.sequence`) and MetaMorph ``.nd`` sets
(:mod:`imgio.readers.metamorph`). Opening reads the first file's structure only; the
other files are opened (structure, then the covering chunks) when a selection reaches
them, on the decode pool. A file that differs from the first in shape or dtype is a
:class:`~imgio.errors.CorruptFileError` naming it; a cell with no file reads as zeros.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._limits import MAX_GRID
from .._location import Location
from .._threads import map_threaded
from ..errors import CorruptFileError, ImgioError, SelectionError
from .base import Reader, SourceBase

__all__ = ["FileGridSource", "open_file", "grid_token"]

_CACHE_FILES = 1024  # readers kept open per source (structure only: no descriptors)


def open_file(location: Location, reader: str | None, where: str) -> Reader:
    """Open one file of a grid with ``reader`` (or the first that accepts it); any failure
    is an imgio error naming the file."""
    from ._registry import open_reader

    try:
        return open_reader(location, reader)
    except ImgioError as exc:
        if isinstance(exc, CorruptFileError | SelectionError):
            raise CorruptFileError(f"{where}: {location.name}: {exc}") from exc
        raise


def grid_token(files: Sequence[Location | None], first: Reader, extra: str) -> str:
    """A token for a grid: every file's name and the first file's token (mtime/etag)."""
    names = "\n".join(f.url if f is not None else "-" for f in files)
    digest = hashlib.sha1(names.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"grid:{digest}|{first.location.token()}|{extra}"


class FileGridSource(SourceBase):
    """One (scene, level) of a file grid: outer dims from the grid, inner from the files.

    Pickles to its file list and layout; readers of the files reopen in each process.
    """

    def __init__(
        self,
        *,
        files: Sequence[Location | None],
        outer_dims: str,
        outer_shape: tuple[int, ...],
        inner_dims: str,
        inner_shape: tuple[int, ...],
        inner_chunks: tuple[int, ...],
        dtype: np.dtype[Any],
        reader: str | None,
        level: int,
        dropped: tuple[int, ...] = (),
        token: str,
        where: str,
    ) -> None:
        n = 1
        for s in outer_shape:
            n *= s
        if n != len(files) or n > MAX_GRID:
            raise CorruptFileError(
                f"{where}: a grid of {outer_shape} cells needs {n} files (at most {MAX_GRID}), "
                f"found {len(files)}"
            )
        self.files = tuple(files)
        self.outer_dims, self.outer_shape = outer_dims, tuple(outer_shape)
        self.inner_dims, self.inner_shape = inner_dims, tuple(inner_shape)
        self.dims = outer_dims + inner_dims
        self.shape = self.outer_shape + self.inner_shape
        self.chunks = (1,) * len(outer_shape) + tuple(inner_chunks)
        self.dtype = np.dtype(dtype)
        self.reader, self.level = reader, level
        # singleton dims of the files that the grid itself provides (an OME-TIFF's T of 1
        # in a sequence over T): positions in the files' dims, read at index 0
        self.dropped = tuple(sorted(dropped))
        file_shape = list(self.inner_shape)
        for pos in self.dropped:
            file_shape.insert(pos, 1)
        self.file_shape = tuple(file_shape)
        self.token, self.where = token, where
        self._init_cache()

    def _init_cache(self) -> None:
        self._lock = threading.Lock()
        self._readers: OrderedDict[str, Reader] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"], state["_readers"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_cache()

    def _reader_of(self, location: Location) -> Reader:
        with self._lock:
            found = self._readers.get(location.url)
            if found is not None:
                self._readers.move_to_end(location.url)
                return found
        opened = open_file(location, self.reader, self.where)
        with self._lock:
            self._readers[location.url] = opened
            while len(self._readers) > _CACHE_FILES:
                self._readers.popitem(last=False)
        return opened

    def _read_cell(
        self, location: Location, key: tuple[slice, ...], out: np.ndarray[Any, Any]
    ) -> None:
        """Fill ``out`` with the inner region ``key`` of one file, checked against the
        grid's layout."""
        src = self._reader_of(location).source(0, self.level)
        if src.dtype != self.dtype or tuple(src.shape) != self.file_shape:
            if not self.dropped and src.dtype == self.dtype:
                if _fewer_leading(src.shape, self.inner_shape):
                    out[...] = _place_leading(src, key, self.inner_shape)
                    return
            raise CorruptFileError(
                f"{self.where}: {location.name} is {tuple(src.shape)} {src.dtype} "
                f"({src.dims}); the sequence expects {self.file_shape} {self.dtype} "
                "as its first file has"
            )
        if self.dropped:
            full = list(key)
            for pos in self.dropped:
                full.insert(pos, slice(0, 1))
            key = tuple(full)
            view = out.reshape(_lengths(key, self.file_shape))
            if not np.shares_memory(view, out):  # a copy: fill it, then copy back
                out[...] = np.asarray(src[key]).reshape(out.shape)
                return
            out = view
        fill = getattr(src, "read_into", None)
        if fill is None or not fill(key, out):
            out[...] = src[key]

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        out = np.empty(_lengths(key, self.shape), dtype=self.dtype)
        self.read_into(key, out)
        return out

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """Read ``key`` straight into ``out`` (each file into its own part of it)."""
        if out.shape != _lengths(key, self.shape) or out.dtype != self.dtype:
            return False
        n_outer = len(self.outer_shape)
        okey, ikey = key[:n_outer], key[n_outer:]
        ranges = [range(*s.indices(n)) for s, n in zip(okey, self.outer_shape, strict=True)]
        cells = [
            (rel, self.files[int(np.ravel_multi_index(idx, self.outer_shape))])
            for rel, idx in zip(
                itertools.product(*(range(len(r)) for r in ranges)),
                itertools.product(*ranges),
                strict=True,
            )
        ]

        def one(cell: tuple[tuple[int, ...], Location | None]) -> None:
            rel, location = cell
            if location is None:
                out[rel] = 0
            else:
                self._read_cell(location, ikey, out[rel])

        for _ in map_threaded(one, cells):
            pass
        return True


def _fewer_leading(have: Sequence[int], want: Sequence[int]) -> bool:
    """A file that lacks leading dims of the grid's first file (a single plane where the
    others are Z stacks): it fills index 0 of those dims."""
    extra = len(want) - len(have)
    return extra > 0 and tuple(want[extra:]) == tuple(have)


def _place_leading(src: Any, key: tuple[slice, ...], want: tuple[int, ...]) -> np.ndarray[Any, Any]:
    extra = len(want) - len(src.shape)
    shape = tuple(len(range(*s.indices(n))) for s, n in zip(key, want, strict=True))
    out = np.zeros(shape, dtype=src.dtype)
    if all(
        s.indices(n)[0] == 0 and shape[i] > 0
        for i, (s, n) in enumerate(zip(key[:extra], want, strict=False))
    ):
        out[(0,) * extra] = np.asarray(src[key[extra:]])
    return out


def _lengths(key: Sequence[slice], shape: Sequence[int]) -> tuple[int, ...]:
    """The shape a window of step-1 slices selects."""
    return tuple(len(range(*s.indices(n))) for s, n in zip(key, shape, strict=True))
