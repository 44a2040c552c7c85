"""Array source over planes stored as separate image files (LAS X XLIF frames).

The image's pixels form one virtual C-ordered block; the project names which byte
span of it each file holds (``spans``: offset, size, file). A plane is decoded from
its file (TIFF page by page through tifffile; JPEG/PNG/BMP through imagecodecs) only
when a read covers it, on the decode pool. The source pickles to its layout and
:class:`~imgio._location.Location` objects, with no open handle.
"""

from __future__ import annotations

import bisect
import io
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._location import Location
from .._threads import map_threaded
from ..errors import CorruptFileError
from ._rawplanes import PARSE_ERRORS
from .base import STATS, SourceBase

__all__ = ["FramePlaneSource", "StreamRanges"]

#: reads smaller than this (bytes of planes) decode serially on the calling thread
SERIAL_BYTES = 4 << 20
#: what decoders raise on a damaged file
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    CorruptFileError,
    *PARSE_ERRORS,  # tifffile raises TypeError & co. on a damaged tag (found by fuzzing)
    RuntimeError,
    OverflowError,
    ZeroDivisionError,
)


@dataclass(frozen=True)
class StreamRanges:
    """A file stored inside another as byte ranges (an OLE2 compound-file stream), or inline."""

    location: Location
    name: str
    ranges: tuple[tuple[int, int], ...]
    size: int
    inline: bytes | None = None  # small streams (the compound file's mini stream)

    @property
    def url(self) -> str:
        return f"{self.location.url}::{self.name}"

    def read_all(self) -> bytes:
        if self.inline is not None:
            return self.inline
        data = b"".join(self.location.read_ranges(list(self.ranges)))
        if len(data) < self.size:
            raise CorruptFileError(f"{self.url}: expected {self.size} bytes, found {len(data)}")
        return data[: self.size]


#: where a frame's bytes are: a file of its own or a stream inside another file
FrameFile = Location | StreamRanges


class FramePlaneSource(SourceBase):
    """One scene whose planes (Y, X[, S]) are decoded from separate image files."""

    def __init__(
        self,
        *,
        dims: str,
        shape: Sequence[int],
        dtype: np.dtype[Any],
        spans: Sequence[tuple[int, int, FrameFile]],
        token: str,
        where: str,
    ) -> None:
        self.dims = dims
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.token = token
        self.where = where
        self.n_plane_dims = len(dims) - (3 if dims.endswith("S") else 2)
        self.plane_shape = self.shape[self.n_plane_dims :]
        self.chunks = (1,) * self.n_plane_dims + self.plane_shape
        self.plane_bytes = math.prod(self.plane_shape) * self.dtype.itemsize
        order = sorted(range(len(spans)), key=lambda i: spans[i][0])
        self.spans = [spans[i] for i in order]
        self._starts = [s[0] for s in self.spans]
        n_planes = math.prod(self.shape[: self.n_plane_dims])
        #: (index of the span, plane within its file) for every plane, C order
        self.planes = [self._find(i) for i in range(n_planes)]

    def _find(self, plane: int) -> tuple[int, int]:
        at = plane * self.plane_bytes
        i = bisect.bisect_right(self._starts, at) - 1
        if i >= 0:
            start, size, _ = self.spans[i]
            inside = at - start
            if inside + self.plane_bytes <= size and inside % self.plane_bytes == 0:
                return i, inside // self.plane_bytes
        raise CorruptFileError(
            f"{self.where}: plane {plane} (bytes {at}..{at + self.plane_bytes} of the image) "
            "is not stored whole in any of its frame files"
        )

    def __repr__(self) -> str:
        return f"<FramePlaneSource {self.where} dims={self.dims} shape={self.shape}>"

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        out = np.empty(tuple(k.stop - k.start for k in key), dtype=self.dtype)
        self.read_into(key, out)
        return out

    #: ``read_into`` also fills a transposed view (each plane is copied in on its own)
    strided_out = True

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """Decode the planes covering ``key`` straight into ``out`` (no second copy)."""
        n = self.n_plane_dims
        grid = [range(k.start, k.stop) for k in key[:n]]
        in_plane = key[n:]
        # the planes of one file are decoded together (a multi-page TIFF is opened once)
        by_file: dict[int, list[tuple[tuple[int, ...], int]]] = {}
        for index in np.ndindex(*(len(r) for r in grid)):
            at = tuple(r[i] for r, i in zip(grid, index, strict=True))
            flat = int(np.ravel_multi_index(at, self.shape[:n])) if n else 0
            by_file.setdefault(self.planes[flat][0], []).append((index, flat))

        def one(span: int) -> int:
            todo = by_file[span]
            for (index, _), plane in zip(
                todo, self._planes(span, [f for _, f in todo]), strict=True
            ):
                out[index] = plane[in_plane]
            return len(todo)

        count = sum(len(v) for v in by_file.values())
        # small planes decode faster on this thread than handed to the pool and back
        small = count * self.plane_bytes < SERIAL_BYTES
        done = sum(map(one, by_file) if small else map_threaded(one, by_file))
        STATS.add(done, done * self.plane_bytes)
        return True

    def _planes(self, span: int, flats: list[int]) -> list[np.ndarray[Any, Any]]:
        loc = self.spans[span][2]
        ks = [self.planes[f][1] for f in flats]
        try:
            datas = _decode(loc, ks, self.spans[span][1] // self.plane_bytes, self.plane_bytes)
        except _DECODE_ERRORS as exc:
            raise CorruptFileError(f"{self.where}, plane {flats[0]}: {loc.url}: {exc}") from exc
        return [self._conform(d, f, loc) for d, f in zip(datas, flats, strict=True)]

    def _conform(
        self, data: np.ndarray[Any, Any], flat: int, loc: FrameFile
    ) -> np.ndarray[Any, Any]:
        if data.nbytes == 3 * self.plane_bytes and data.ndim == 3 and data.shape[-1] == 3:
            data = data[..., 0]  # a grey plane saved as RGB
        if data.nbytes != self.plane_bytes:
            raise CorruptFileError(
                f"{self.where}, plane {flat}: {loc.url} holds {data.nbytes} bytes "
                f"({data.shape} {data.dtype}), the plane needs {self.plane_bytes}"
            )
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        return raw.view(self.dtype).reshape(self.plane_shape)


def _decode(
    loc: FrameFile, ks: list[int], planes_in_file: int, plane_bytes: int
) -> list[np.ndarray[Any, Any]]:
    """Planes ``ks`` of an image file holding ``planes_in_file`` planes of ``plane_bytes``."""
    if loc.url.lower().endswith((".tif", ".tiff")):
        import tifffile

        if planes_in_file == 1:
            data = loc.read_range(0, loc.size) if isinstance(loc, Location) else loc.read_all()
            found = _one_page_tiff(data, plane_bytes)
            if found is not None:
                return [found for _ in ks]

        opened = loc.open() if isinstance(loc, Location) else io.BytesIO(loc.read_all())
        with opened as fh, tifffile.TiffFile(fh) as tif:
            if planes_in_file == 1 or len(tif.pages) >= planes_in_file:
                return [_page(tif, k, plane_bytes) for k in ks]
            series = tif.series[0]
            declared = math.prod(series.shape) * series.dtype.itemsize
            if declared != planes_in_file * plane_bytes:
                raise CorruptFileError(
                    f"its image declares {series.shape} {series.dtype} ({declared} bytes), "
                    f"the {planes_in_file} planes need {planes_in_file * plane_bytes}"
                )
            whole = np.asarray(series.asarray())
        part = whole.reshape(planes_in_file, -1)
        return [np.ascontiguousarray(part[k]) for k in ks]
    if ks != [0] or planes_in_file != 1:
        raise CorruptFileError(f"{loc.url}: an image file holds one plane, not {planes_in_file}")
    import imagecodecs

    data = loc.read_range(0, loc.size) if isinstance(loc, Location) else loc.read_all()
    return [np.asarray(imagecodecs.imread(data))]


_TIFF_TYPES = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}  # SHORT, LONG, LONG8


def _one_page_tiff(data: bytes, plane_bytes: int) -> np.ndarray[Any, Any] | None:
    """The first page of a TIFF through libtiff (imagecodecs), when its first IFD declares a
    plane (or the plane saved as RGB), else None (tifffile's path then checks and names).

    A one-plane frame file decodes 10-20 times faster this way than through
    ``tifffile.TiffFile``, which parses every tag into objects first; the declared size is
    checked here, before libtiff allocates anything.
    """
    try:
        declared = _first_ifd_bytes(data)
    except (struct.error, ValueError, KeyError, IndexError):
        return None
    if declared not in (plane_bytes, 3 * plane_bytes):
        return None
    import imagecodecs

    try:
        return np.asarray(imagecodecs.tiff_decode(data, index=0))
    except Exception:  # noqa: BLE001 - any libtiff failure: tifffile's path names it
        return None


def _first_ifd_bytes(data: bytes) -> int:
    """Width x length x samples x bits / 8 of the first IFD of a classic or Big TIFF."""
    order = {b"II": "<", b"MM": ">"}[data[:2]]
    (magic,) = struct.unpack_from(order + "H", data, 2)
    big = magic == 43
    if magic not in (42, 43):
        raise ValueError("not a TIFF")
    (ifd,) = struct.unpack_from(order + ("Q" if big else "I"), data, 8 if big else 4)
    (count,) = struct.unpack_from(order + ("Q" if big else "H"), data, ifd)
    entry, pos = (20, ifd + 8) if big else (12, ifd + 2)
    tags: dict[int, int] = {}
    for i in range(min(int(count), 512)):
        at = pos + i * entry
        tag, kind = struct.unpack_from(order + "HH", data, at)
        if tag in (256, 257, 258, 277):
            code, size = _TIFF_TYPES[kind]
            n = struct.unpack_from(order + ("Q" if big else "I"), data, at + 4)[0]
            value_at = at + (12 if big else 8)
            if n * size > (8 if big else 4):  # stored elsewhere: the offset of the values
                value_at = struct.unpack_from(order + ("Q" if big else "I"), data, value_at)[0]
            tags[tag] = struct.unpack_from(order + code, data, value_at)[0]
    bits, samples = tags.get(258, 1), tags.get(277, 1)
    if bits % 8:
        raise ValueError("bits per sample not whole bytes")
    return int(tags[256]) * int(tags[257]) * int(samples) * int(bits) // 8


def _page(tif: Any, k: int, plane_bytes: int) -> np.ndarray[Any, Any]:
    """Page ``k`` of a frame TIFF, its declared size checked before tifffile allocates it
    (a plane, or the same plane saved as RGB)."""
    page = tif.pages[k]
    nbytes = math.prod(int(n) for n in page.shape) * page.dtype.itemsize
    if nbytes not in (plane_bytes, 3 * plane_bytes):
        raise CorruptFileError(
            f"page {k} declares {page.shape} {page.dtype} ({nbytes} bytes), "
            f"the plane needs {plane_bytes}"
        )
    return np.asarray(page.asarray())
