"""Array source over uncompressed planes at known byte offsets (LIF memory blocks, ND2 frames).

A plane is ``rows`` rows ``row_stride`` bytes apart; each row holds the C-ordered
samples of the remaining plane dims (``X`` and, for RGB or interleaved channels,
``C``/``S``). A region read fetches only the rows it covers of only the planes it
covers: byte ranges through :class:`~imgio._location.Location`, so the same code reads
local files (``preadv`` straight into the output when rows are not padded) and remote
URLs (one concurrent batch of ranges), and the source pickles to its layout.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._location import Location
from .._threads import map_threaded
from ..errors import CorruptFileError
from ._mapped import read_local
from .base import STATS, ChunkRefs, SourceBase

__all__ = ["PARSE_ERRORS", "RawPlaneSource", "band_rows"]

# what the container libraries (liffile, nd2) raise on malformed files: LifFileError derives
# from ValueError, ElementTree's ParseError from SyntaxError
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    KeyError,
    IndexError,
    OSError,
    EOFError,
    AttributeError,
    TypeError,
    SyntaxError,
    struct.error,
)

#: target bytes of one native chunk along the row dim (huge planes read in bands)
BAND_BYTES = 8 << 20
#: local reads smaller than this run on the calling thread (page-cache copies gain
#: nothing from the decode pool and a loaded machine makes thread hand-offs costly)
SERIAL_BYTES = 16 << 20
#: planes smaller than this are read in file order and copied when the output is strided
SMALL_PLANE = 1 << 20
#: most buffers one vectored read takes (POSIX guarantees at least 16; Linux allows 1024)
IOV_MAX = (
    max(16, min(1024, os.sysconf("SC_IOV_MAX")))
    if "SC_IOV_MAX" in getattr(os, "sysconf_names", {})
    else 16
)


def band_rows(rows: int, row_bytes: int) -> int:
    """Rows per native chunk: the whole plane unless it is larger than :data:`BAND_BYTES`."""
    return max(1, min(rows, BAND_BYTES // max(1, row_bytes)))


class RawPlaneSource(SourceBase):
    """One scene of raw planes: ``dims`` = plane dims + (row dim, in-row dims).

    ``read_into`` also fills a non-contiguous (transposed) output (``strided_out``).

    ``offsets`` holds the byte offset of every plane (shape of the plane dims, C
    order), or ``(first, step)`` for planes stored back to back; a negative offset is a
    plane the file does not store (read as zeros).
    ``labels`` name each plane in error messages (``"frame 12"``).
    """

    def __init__(
        self,
        *,
        location: Location,
        dims: str,
        shape: Sequence[int],
        dtype: np.dtype[Any],
        n_plane_dims: int,
        offsets: np.ndarray[Any, Any] | tuple[int, int],
        row_stride: int,
        reverse_last: bool = False,
        token: str,
        where: str,
        labels: Sequence[str] | None = None,
    ) -> None:
        self.location = location
        self.dims = dims
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.n_plane_dims = n_plane_dims
        # (first offset, step): planes stored back to back, rebuilt after unpickling
        self._regular = offsets if isinstance(offsets, tuple) else None
        self.offsets = self._offsets(offsets)
        self.row_stride = int(row_stride)
        self.reverse_last = reverse_last  # BGR stored, RGB presented
        self.token = token
        self.where = where
        self.labels = list(labels) if labels is not None else None
        self.strided_out = True
        self._in_row = self.shape[n_plane_dims + 1 :]
        self.row_bytes = math.prod(self._in_row) * self.dtype.itemsize
        if self.row_stride < self.row_bytes:
            raise CorruptFileError(
                f"{where}: rows of {self.row_bytes} bytes cannot be {self.row_stride} bytes apart"
            )
        rows = self.shape[n_plane_dims]
        self.chunks = (
            (1,) * n_plane_dims + (band_rows(rows, self.row_stride),) + tuple(self._in_row)
        )

    def _offsets(self, offsets: np.ndarray[Any, Any] | tuple[int, int]) -> np.ndarray[Any, Any]:
        plane_shape = self.shape[: self.n_plane_dims]
        if isinstance(offsets, tuple):
            first, step = offsets
            flat = first + np.arange(math.prod(plane_shape), dtype=np.int64) * step
            return flat.reshape(plane_shape)
        return np.asarray(offsets, dtype=np.int64).reshape(plane_shape)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self._regular is not None:  # a graph carries two ints, not one per plane
            del state["offsets"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._regular is not None:
            self.offsets = self._offsets(self._regular)

    @property
    def plane_nbytes(self) -> int:
        """Bytes one whole plane occupies in the file (the last row unpadded)."""
        rows = self.shape[self.n_plane_dims]
        return (rows - 1) * self.row_stride + self.row_bytes if rows else 0

    def __repr__(self) -> str:
        return f"<RawPlaneSource {self.where} dims={self.dims} shape={self.shape}>"

    def _label(self, flat: int) -> str:
        if self.labels is not None:
            return self.labels[flat]
        return f"plane {flat}"

    def chunk_refs(self) -> ChunkRefs:
        """Planes (in bands of rows; single rows when rows are padded) as byte ranges."""
        from ..errors import NotByteRangesError

        if self.reverse_last:
            raise NotByteRangesError(
                f"{self.where}: samples are stored BGR and presented RGB; zarr would read "
                "them reversed"
            )
        n = self.n_plane_dims
        rows = self.shape[n]
        band = math.gcd(rows, self.chunks[n]) if self.row_stride == self.row_bytes else 1
        chunks = (1,) * n + (band,) + tuple(self._in_row)
        nbytes = band * self.row_bytes
        refs: dict[tuple[int, ...], tuple[int, int, int] | bytes] = {}
        tail = (0,) * len(self._in_row)
        for index in np.ndindex(*self.shape[:n]):
            offset = int(self.offsets[index])
            if offset < 0:
                continue
            for b in range(rows // band if rows else 0):
                refs[(*index, b, *tail)] = (0, offset + b * band * self.row_stride, nbytes)
        return ChunkRefs(
            shape=self.shape,
            chunks=chunks,
            dtype=self.dtype.newbyteorder("<") if self.dtype.itemsize > 1 else self.dtype,
            compressor=None,
            filters=(),
            fill_value=0,
            files=(self.location,),
            refs=refs,
        )

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        out = np.empty(tuple(k.stop - k.start for k in key), dtype=self.dtype)
        self.read_into(key, out)
        return out

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """Read the rows of the planes covering ``key`` straight into ``out``."""
        n = self.n_plane_dims
        r0, r1 = key[n].start, key[n].stop
        in_row_key = key[n + 1 :]
        nbytes = (r1 - r0 - 1) * self.row_stride + self.row_bytes if r1 > r0 else 0
        offsets = self.offsets[tuple(key[:n])].reshape(-1)
        if nbytes == 0 or offsets.size == 0:
            return True
        sub_shape = tuple(k.stop - k.start for k in key[:n])
        firsts = tuple(k.start for k in key[:n])

        def flat_of(a: int) -> int:
            """Index in the whole plane grid of the ``a``-th plane of this read (for messages)."""
            if not n:
                return 0
            at = np.unravel_index(a, sub_shape)
            return int(
                np.ravel_multi_index(
                    tuple(int(i) + f for i, f in zip(at, firsts, strict=True)), self.shape[:n]
                )
            )

        contiguous = out.flags.c_contiguous
        whole_rows = all(
            k.start == 0 and k.stop == s for k, s in zip(in_row_key, self._in_row, strict=True)
        )
        raw_rows = whole_rows and self.row_stride == self.row_bytes and not self.reverse_last
        if not contiguous and raw_rows and self.location.is_local:
            views = [out[i] for i in np.ndindex(*out.shape[:n])]
            if all(v.flags.c_contiguous for v in views):
                whole = r0 == 0 and r1 == self.shape[n]
                self._check_extent(offsets, flat_of, r0 * self.row_stride, nbytes)
                self._scatter(views, offsets, r0 * self.row_stride, nbytes, whole, flat_of)
                return True
        if not contiguous and nbytes < SMALL_PLANE:
            # many small planes into a transposed output: read them in file order (few
            # large reads) into a buffer, then one strided copy beats a read per plane
            buffer = np.empty(out.shape, dtype=out.dtype)
            self.read_into(key, buffer)
            out[...] = buffer
            return True
        if contiguous:
            planes_out = out.reshape((len(offsets), *out.shape[n:]))
        else:  # a transposed view of the caller's array: one view per plane, C order
            views = [out[i] for i in np.ndindex(*out.shape[:n])]
        direct = raw_rows
        if not contiguous:
            direct = direct and all(v.flags.c_contiguous for v in views)
        whole_planes = direct and contiguous and r0 == 0 and r1 == self.shape[n]
        runs = _runs(offsets, nbytes if whole_planes else -1)
        self._check_extent(offsets, flat_of, r0 * self.row_stride, nbytes)
        start = r0 * self.row_stride
        fetched: dict[int, bytes] = {}
        if not self.location.is_local:
            ranges = [(int(offsets[a]) + start, (b - a) * nbytes) for a, b in runs]
            datas = self._guarded(lambda: self.location.read_ranges(ranges), lambda: flat_of(0))
            fetched = {a: d for (a, _), d in zip(runs, datas, strict=True)}
        fd: int | None = None  # one descriptor for a serial read of many runs

        def run(job: tuple[int, int]) -> int:
            a, b = job
            dst = planes_out[a:b] if contiguous else views[a][np.newaxis]
            offset, flat = int(offsets[a]), lambda: flat_of(a)
            data = fetched.get(a)
            if direct:
                flat_bytes: Any = dst.reshape(-1).view(np.uint8)
                if data is None and fd is not None:
                    bufs = [flat_bytes.data]
                    url = self.location.url
                    self._guarded(lambda: _read_vectored(fd, bufs, offset + start, url), flat)
                elif data is None:
                    self._guarded(
                        lambda: read_local(self.location, offset + start, flat_bytes), flat
                    )
                else:
                    flat_bytes[:] = np.frombuffer(data, np.uint8)
            else:
                if data is None:
                    data = self._guarded(
                        lambda: self.location.read_range(offset + start, nbytes), flat
                    )
                self._place(dst[0], data, r1 - r0, in_row_key)
            return (b - a) * nbytes

        for a in np.flatnonzero(offsets < 0).tolist():  # planes the file does not store
            (planes_out[a] if contiguous else views[a])[...] = 0
        jobs = [(a, b) for a, b in runs if offsets[a] >= 0]
        total = sum(b - a for a, b in jobs) * nbytes
        serial = self.location.is_local and total < SERIAL_BYTES
        if self.location.is_local and not serial:  # long runs in pieces, for the pool
            step = max(1, BAND_BYTES // nbytes)
            jobs = [(i, min(i + step, b)) for a, b in jobs for i in range(a, b, step)]
        if not serial:
            done = sum(map_threaded(run, jobs))
        elif direct and len(jobs) > 1:  # ND2 frames sit between chunk headers: many runs
            with self.location.open() as fh:
                fd = fh.fileno()
                done = sum(map(run, jobs))
        else:
            done = sum(map(run, jobs))
        STATS.add(int((offsets >= 0).sum()), done)
        return True

    def _scatter(
        self,
        views: list[np.ndarray[Any, Any]],
        offsets: np.ndarray[Any, Any],
        start: int,
        nbytes: int,
        whole: bool,
        flat_of: Any,
    ) -> None:
        """Planes into the views of a transposed output: each run of planes stored back to
        back is one vectored read (``preadv``) scattering straight into the views, with
        no intermediate buffer and no second copy."""
        for a in np.flatnonzero(offsets < 0).tolist():  # planes the file does not store
            views[a][...] = 0
        per_job = max(1, min(IOV_MAX, BAND_BYTES // max(1, nbytes)))
        jobs = [
            (i, min(b, i + per_job))
            for a, b in _runs(offsets, nbytes if whole else -1)
            if offsets[a] >= 0
            for i in range(a, b, per_job)
        ]

        def run(job: tuple[int, int]) -> int:
            a, b = job
            bufs = [views[i].reshape(-1).view(np.uint8).data for i in range(a, b)]
            offset = int(offsets[a]) + start
            with self.location.open() as fh:
                fd = fh.fileno()
                url = self.location.url
                self._guarded(lambda: _read_vectored(fd, bufs, offset, url), lambda: flat_of(a))
            return (b - a) * nbytes

        total = sum(b - a for a, b in jobs) * nbytes
        done = sum(map(run, jobs) if total < SERIAL_BYTES else map_threaded(run, jobs))
        STATS.add(int((offsets >= 0).sum()), done)

    def _place(
        self, dst: np.ndarray[Any, Any], data: bytes, rows: int, in_row_key: tuple[slice, ...]
    ) -> None:
        padded = np.frombuffer(data + bytes(self.row_stride - self.row_bytes), np.uint8)
        block = padded.reshape(rows, self.row_stride)[:, : self.row_bytes]
        arr = block.view(self.dtype).reshape((rows, *self._in_row))
        if self.reverse_last:
            arr = arr[..., ::-1]
        dst[...] = arr[(slice(None), *in_row_key)]

    def _guarded(self, read: Any, flat: Any) -> Any:
        """``read()``, its CorruptFileError renamed to the plane ``flat()`` (computed on error)."""
        try:
            return read()
        except CorruptFileError as exc:
            why = str(exc).removeprefix(f"{self.location.url}: ")
            raise CorruptFileError(f"{self.where}, {self._label(flat())}: {why}") from exc

    def _check_extent(
        self, offsets: np.ndarray[Any, Any], flat_of: Any, start: int, nbytes: int
    ) -> None:
        """Planes that would end past the end of the file are an error, before any read."""
        size = self.location.size
        beyond = np.flatnonzero((offsets >= 0) & (offsets + start + nbytes > size))
        if beyond.size:
            i = int(beyond[0])
            raise CorruptFileError(
                f"{self.where}, {self._label(flat_of(i))}: expected {nbytes} bytes at "
                f"offset {int(offsets[i]) + start}, file ends at {size}"
            )


def _read_vectored(fd: int, bufs: list[memoryview], offset: int, url: str) -> None:
    """Fill ``bufs`` in order from the bytes at ``offset`` (short reads continued)."""
    total = sum(len(b) for b in bufs)
    done, first = 0, 0
    while first < len(bufs):
        n = os.preadv(fd, bufs[first : first + IOV_MAX], offset + done)
        if n <= 0:
            raise CorruptFileError(
                f"{url}: expected {total} bytes at offset {offset}, file ends at {offset + done}"
            )
        done += n
        while first < len(bufs) and n >= len(bufs[first]):
            n -= len(bufs[first])
            first += 1
        if n:
            bufs[first] = bufs[first][n:]


def _runs(offsets: np.ndarray[Any, Any], plane_bytes: int) -> list[tuple[int, int]]:
    """``[start, stop)`` runs of planes stored back to back (``plane_bytes`` < 0: none)."""
    if plane_bytes < 0 or len(offsets) < 2:
        return [(i, i + 1) for i in range(len(offsets))]
    cut = np.flatnonzero((np.diff(offsets) != plane_bytes) | (offsets[1:] < 0) | (offsets[:-1] < 0))
    bounds = [0, *(cut + 1).tolist(), len(offsets)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))
