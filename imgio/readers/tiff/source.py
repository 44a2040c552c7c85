"""Array source for one (series, level) of a TIFF file: decodes only covering segments.

The layout (per plane: file, segment offsets and byte counts; the keyframe's IFD
offset) is parsed once at open and pickled with the source. The decode function
comes from tifffile's keyframe, rebuilt lazily once per process from its IFD offset,
so the source never carries tifffile's file handle or zarr store into a graph.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._location import Location
from ..._threads import map_threaded
from ...errors import CorruptFileError
from ..base import STATS, ChunkRefs, SourceBase

__all__ = ["Geometry", "TiffSource", "keyframe_decoder"]

_DECODERS: dict[tuple[str, int], tuple[Any, dict[str, Any]]] = {}
_DECODERS_LOCK = threading.Lock()
_PARSE_LOCK = threading.Lock()
_JPEG: dict[tuple[str, int], tuple[bytes | None, int]] = {}  # JPEG tables, photometric
# what a keyframe says of its codec (for chunk references): tag values by name
CODEC_TAGS: dict[tuple[str, int], dict[str, Any]] = {}
# APP14 "Adobe" marker with transform 0: the JPEG samples are RGB, not YCbCr
_ADOBE_RGB = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"
JPEG_CODES = {6, 7, 34892, 33007}
#: JPEG 2000 codestream tiles whose samples are RGB as decoded: Aperio 33005, and 34712
J2K_CODES = {33005, 34712}


def register_decoder(location: Location, ifd_offset: int, page: Any) -> None:
    """Remember a keyframe's decode function for this process (no re-parse needed)."""
    args: dict[str, Any] = {"_fullsize": False}
    if page.compression in JPEG_CODES:
        args["jpegtables"] = page.jpegtables
        args["jpegheader"] = page.jpegheader
    with _DECODERS_LOCK:
        CODEC_TAGS[(location.url, ifd_offset)] = _codec_tags(page)
        _DECODERS[(location.url, ifd_offset)] = (page.decode, args)
        if page.compression in JPEG_CODES and not page.jpegheader:
            _JPEG[(location.url, ifd_offset)] = (page.jpegtables, int(page.photometric))


def _codec_tags(page: Any) -> dict[str, Any]:
    names = (
        "compression",
        "predictor",
        "fillorder",
        "sampleformat",
        "bitspersample",
        "photometric",
        "planarconfig",
        "extrasamples",
        "jpegtables",
        "jpegheader",
        "is_jfif",
        "is_tiled",
        "samplesperpixel",
    )
    tags = {n: getattr(page, n, None) for n in names}
    tags["byteorder"] = page.parent.byteorder
    tags["dtype"] = page.dtype
    tags["ndpi"] = bool(getattr(page.parent, "is_ndpi", False))
    return tags


def keyframe_decoder(location: Location, ifd_offset: int) -> tuple[Any, dict[str, Any]]:
    """The keyframe's decode function and arguments, parsing only that IFD if needed.

    Parsed once per process (decode threads wait for the first parse instead of
    each re-reading the IFD).
    """
    key = (location.url, ifd_offset)
    found = _DECODERS.get(key)
    if found is not None:
        return found
    with _PARSE_LOCK:
        found = _DECODERS.get(key)
        if found is not None:
            return found
        import tifffile

        fh = location.open()
        try:
            tif = tifffile.TiffFile(fh, _useframes=False)
            tif.filehandle.seek(ifd_offset)
            page = tifffile.TiffPage(tif, index=0)
            register_decoder(location, ifd_offset, page)
        except Exception as exc:  # noqa: BLE001 - anything tifffile raises means a broken file
            raise CorruptFileError(
                f"{location.url}: cannot parse the IFD at offset {ifd_offset}: {exc}"
            ) from exc
        finally:
            fh.close()
    return _DECODERS[key]


@dataclass(frozen=True)
class Geometry:
    """The segment grid of one page, in tifffile's normalized page shape."""

    sep: int  # separate samples
    depth: int
    length: int
    width: int
    contig: int  # contiguous samples
    seg_depth: int
    seg_length: int
    seg_width: int

    @property
    def grid(self) -> tuple[int, int, int, int]:
        return (
            self.sep,
            math.ceil(self.depth / self.seg_depth),
            math.ceil(self.length / self.seg_length),
            math.ceil(self.width / self.seg_width),
        )

    @property
    def n_segments(self) -> int:
        return math.prod(self.grid)


class TiffSource(SourceBase):
    """One (scene, level): ``plane dims`` + page dims (``[S] [Z] Y X [S]``) in native order.

    ``planes[i]`` is ``None`` (missing page, filled with ``fill``) or
    ``(file index, offsets, bytecounts, contiguous)``; with ``raw_dtype`` set (plain
    uncompressed samples) a contiguous page is read straight into the output.
    """

    def __init__(
        self,
        *,
        locations: list[Location],
        dims: str,
        plane_shape: tuple[int, ...],
        geometry: Geometry,
        page_dims: str,
        dtype: np.dtype[Any],
        planes: Sequence[tuple[int, np.ndarray[Any, Any], np.ndarray[Any, Any], bool] | None],
        keyframe: tuple[int, int],
        raw_dtype: np.dtype[Any] | None,
        fill: float,
        token: str,
        where: str,
    ) -> None:
        self.locations = locations
        self.dims = dims
        self.plane_shape = plane_shape
        self.geometry = geometry
        self.page_dims = page_dims  # subset of "SZYX" + trailing "S", native page order
        self.dtype = np.dtype(dtype)
        self.planes = planes
        self.keyframe = keyframe
        self.raw_dtype = raw_dtype
        self.fill = fill
        self.token = token
        self.where = where
        g = geometry
        sizes = {"sep": g.sep, "Z": g.depth, "Y": g.length, "X": g.width, "contig": g.contig}
        self._page_sizes = [sizes[_page_key(d, i, page_dims)] for i, d in enumerate(page_dims)]
        self.shape = tuple(plane_shape) + tuple(self._page_sizes)
        seg = {"sep": 1, "Z": g.seg_depth, "Y": g.seg_length, "X": g.seg_width, "contig": g.contig}
        self.chunks = (1,) * len(plane_shape) + tuple(
            min(seg[_page_key(d, i, page_dims)], n)
            for i, (d, n) in enumerate(zip(page_dims, self._page_sizes, strict=True))
        )

    def __repr__(self) -> str:
        return f"<TiffSource {self.where} dims={self.dims} shape={self.shape} chunks={self.chunks}>"

    # ------------------------------------------------------------------ reading
    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        whole = self._one_segment(key)
        if whole is not None:
            return whole
        out = np.empty(tuple(k.stop - k.start for k in key), dtype=self.dtype)
        self.read_into(key, out)
        return out

    def _one_segment(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any] | None:
        """Exactly one whole interior segment of one plane: the decoded tile, not a copy."""
        nplane = len(self.plane_shape)
        if self.raw_dtype is not None or any(k.stop - k.start != 1 for k in key[:nplane]):
            return None
        g = self.geometry
        win = self._normal_window(key[nplane:])
        if g.sep != 1 or win[4] != (0, g.contig):
            return None
        segs = (g.seg_depth, g.seg_length, g.seg_width)
        for (start, stop), seg, n in zip(win[1:4], segs, (g.depth, g.length, g.width), strict=True):
            if start % seg or stop - start != min(seg, n) or stop > n:
                return None
        pid = int(np.ravel_multi_index([k.start for k in key[:nplane]], self.plane_shape))
        plane = self.planes[pid] if nplane else self.planes[0]
        if plane is None:
            return None
        (seg,) = self._segments(win)
        offset, count = int(plane[1][seg]), int(plane[2][seg])
        if count <= 0 or offset <= 0:
            return None
        data = self.locations[plane[0]].read_range(offset, count)
        try:
            decode, args = keyframe_decoder(self.locations[self.keyframe[0]], self.keyframe[1])
            tile = decode(data, seg, **args)[0]
        except Exception as exc:  # noqa: BLE001 - codec errors vary by codec
            raise CorruptFileError(
                f"{self.where}: cannot decode segment {seg} of plane {pid}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        shape = tuple(k.stop - k.start for k in key)
        if tile is None or tile.dtype != self.dtype or tile.size != math.prod(shape):
            return None  # the general path fills or reports it
        STATS.add(1, count)
        return np.asarray(tile).reshape(shape)

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """Decode the segments covering ``key`` straight into ``out``."""
        nplane = len(self.plane_shape)
        plane_key, page_key = key[:nplane], key[nplane:]
        ranges = [range(k.start, k.stop) for k in plane_key]
        plane_ids = (
            np.ravel_multi_index(np.meshgrid(*ranges, indexing="ij"), self.plane_shape).ravel()
            if nplane
            else np.zeros(1, dtype=np.int64)
        )
        page_out = out.reshape((len(plane_ids), *out.shape[nplane:]))
        norm = self._normal_window(page_key)
        whole = all(
            k.start == 0 and k.stop == n for k, n in zip(page_key, self._page_sizes, strict=True)
        )
        jobs: list[tuple[int, int, int]] = []  # (output plane, plane id, segment index)
        for j, pid in enumerate(plane_ids.tolist()):
            plane = self.planes[pid]
            if plane is None:
                page_out[j] = self.fill
                continue
            if whole and self.raw_dtype is not None and plane[3]:
                jobs.append((j, pid, -1))  # contiguous raw page: one read, no decode
                continue
            jobs.extend((j, pid, s) for s in self._segments(norm))
        if not jobs:
            return True
        views = [self._normal_view(page_out[j], page_key) for j in range(len(plane_ids))]
        fetched = self._fetch_remote(jobs)

        def run(job: tuple[int, int, int]) -> int:
            j, pid, seg = job
            plane = self.planes[pid]
            assert plane is not None
            fidx, offsets, counts, _ = plane
            loc = self.locations[fidx]
            if seg < 0:
                buf = page_out[j]
                if self.raw_dtype is not None and self.raw_dtype != self.dtype:
                    raw = np.frombuffer(loc.read_range(int(offsets[0]), buf.nbytes), self.raw_dtype)
                    buf[...] = raw.reshape(buf.shape)
                else:
                    loc.read_into(int(offsets[0]), memoryview(buf.reshape(-1).view(np.uint8)))
                return int(buf.nbytes)
            offset, count = int(offsets[seg]), int(counts[seg])
            data = fetched.get((pid, seg))
            if data is None and count > 0 and offset > 0:
                data = loc.read_range(offset, count)
            self._place(views[j], norm, seg, data, pid)
            return count

        nbytes = sum(map_threaded(run, jobs))
        STATS.add(len(jobs), nbytes)
        return True

    def raw_tile(self, index: tuple[int, ...], format: str = "jpeg") -> bytes | None:
        """The stored bytes of chunk ``index`` as a standalone ``format`` file, or None.

        ``index`` counts chunks along each dim (:attr:`chunks`). ``jpeg``: JPEG tiles (not
        NDPI's JPEG sections) qualify; the file's JPEG tables are merged in, and RGB-coded
        tiles get an Adobe marker so that any decoder reads their colours right.
        ``jpeg2000``: JPEG 2000 codestream tiles that decode to RGB (or grey) as they are
        qualify: Aperio 33005 (RGB) and 34712 with RGB or grey photometric; Aperio 33003
        (YCbCr components without the codestream's colour transform) does not.
        """
        kind = format.lower()
        if kind not in ("jpeg", "jpg", "jpeg2000", "j2k") or len(index) != len(self.shape):
            return None
        keyframe_decoder(self.locations[self.keyframe[0]], self.keyframe[1])
        key = (self.locations[self.keyframe[0]].url, self.keyframe[1])
        if kind in ("jpeg2000", "j2k"):
            tags = CODEC_TAGS.get(key, {})
            rgb_or_grey = int(tags.get("photometric") or -1) in (1, 2)
            if int(tags.get("compression") or 0) not in J2K_CODES or not rgb_or_grey:
                return None
            data = self._segment(index)
            return data if data is not None and data[:4] == b"\xff\x4f\xff\x51" else None
        jpeg = _JPEG.get(key)
        if jpeg is None:
            return None
        data = self._segment(index)
        return None if data is None else _standalone_jpeg(data, *jpeg)

    def _segment(self, index: tuple[int, ...]) -> bytes | None:
        """The stored bytes of chunk ``index`` (None when the file has none there)."""
        nplane = len(self.plane_shape)
        pid = int(np.ravel_multi_index(index[:nplane], self.plane_shape)) if nplane else 0
        plane = self.planes[pid]
        if plane is None:
            return None
        g = self.geometry
        pos = {"sep": 0, "Z": 0, "Y": 0, "X": 0}
        for i, (d, k) in enumerate(zip(self.page_dims, index[nplane:], strict=True)):
            name = _page_key(d, i, self.page_dims)
            if name != "contig":
                pos[name] = int(k)
        _, gd, gy, gx = g.grid
        seg = ((pos["sep"] * gd + pos["Z"]) * gy + pos["Y"]) * gx + pos["X"]
        fidx, offsets, counts, _ = plane
        if not 0 <= seg < len(offsets) or int(counts[seg]) <= 0:
            return None
        data = self.locations[fidx].read_range(int(offsets[seg]), int(counts[seg]))
        STATS.add(0, len(data))
        return data

    def chunk_refs(self) -> ChunkRefs:
        """The segments as byte ranges of the file(s) with their numcodecs codec."""
        from .refs import segment_refs

        keyframe_decoder(self.locations[self.keyframe[0]], self.keyframe[1])
        tags = CODEC_TAGS[(self.locations[self.keyframe[0]].url, self.keyframe[1])]
        return segment_refs(self, tags)

    def _fetch_remote(self, jobs: list[tuple[int, int, int]]) -> dict[tuple[int, int], bytes]:
        """Segment bytes of remote files, all ranges of one read in one concurrent request batch."""
        wanted: dict[int, list[tuple[int, int, int, int]]] = {}
        for _j, pid, seg in jobs:
            plane = self.planes[pid]
            if seg < 0 or plane is None or self.locations[plane[0]].is_local:
                continue
            offset, count = int(plane[1][seg]), int(plane[2][seg])
            if count > 0 and offset > 0:
                wanted.setdefault(plane[0], []).append((pid, seg, offset, count))
        out: dict[tuple[int, int], bytes] = {}
        for fidx, items in wanted.items():
            datas = self.locations[fidx].read_ranges([(o, n) for _, _, o, n in items])
            out.update({(pid, seg): d for (pid, seg, _, _), d in zip(items, datas, strict=True)})
        return out

    def _normal_window(self, page_key: tuple[slice, ...]) -> list[tuple[int, int]]:
        """The requested window as (start, stop) in the normalized (sep, Z, Y, X, contig) page."""
        g = self.geometry
        win = [(0, g.sep), (0, g.depth), (0, g.length), (0, g.width), (0, g.contig)]
        slot = {"sep": 0, "Z": 1, "Y": 2, "X": 3, "contig": 4}
        for i, (d, k) in enumerate(zip(self.page_dims, page_key, strict=True)):
            win[slot[_page_key(d, i, self.page_dims)]] = (k.start, k.stop)
        return win

    def _normal_view(
        self, page: np.ndarray[Any, Any], page_key: tuple[slice, ...]
    ) -> np.ndarray[Any, Any]:
        """A view of one output page with the normalized 5 axes (missing ones of size 1)."""
        order = [_page_key(d, i, self.page_dims) for i, d in enumerate(self.page_dims)]
        names = ["sep", "Z", "Y", "X", "contig"]
        present = [n for n in names if n in order]
        view = np.transpose(page, [order.index(n) for n in present])
        shape = []
        for n in names:
            shape.append(view.shape[present.index(n)] if n in present else 1)
        return view.reshape(shape) if view.ndim != 5 else view

    def _segments(self, win: list[tuple[int, int]]) -> list[int]:
        g = self.geometry
        gs, gd, gy, gx = g.grid
        s_range = range(win[0][0], win[0][1])
        d_range = range(win[1][0] // g.seg_depth, (win[1][1] - 1) // g.seg_depth + 1)
        y_range = range(win[2][0] // g.seg_length, (win[2][1] - 1) // g.seg_length + 1)
        x_range = range(win[3][0] // g.seg_width, (win[3][1] - 1) // g.seg_width + 1)
        return [
            ((s * gd + d) * gy + y) * gx + x
            for s in s_range
            for d in d_range
            for y in y_range
            for x in x_range
        ]

    def _place(
        self,
        view: np.ndarray[Any, Any],
        win: list[tuple[int, int]],
        seg: int,
        data: bytes | None,
        pid: int,
    ) -> None:
        g = self.geometry
        gs, gd, gy, gx = g.grid
        s, rest = divmod(seg, gd * gy * gx)
        d, rest = divmod(rest, gy * gx)
        y, x = divmod(rest, gx)
        z0, y0, x0 = d * g.seg_depth, y * g.seg_length, x * g.seg_width
        z1 = min(z0 + g.seg_depth, g.depth)
        y1 = min(y0 + g.seg_length, g.length)
        x1 = min(x0 + g.seg_width, g.width)
        # intersection with the window, in image and in view coordinates
        zs, ze = max(z0, win[1][0]), min(z1, win[1][1])
        ys, ye = max(y0, win[2][0]), min(y1, win[2][1])
        xs, xe = max(x0, win[3][0]), min(x1, win[3][1])
        c0, c1 = win[4]
        dst = view[
            s - win[0][0],
            zs - win[1][0] : ze - win[1][0],
            ys - win[2][0] : ye - win[2][0],
            xs - win[3][0] : xe - win[3][0],
        ]
        if data is None:
            dst[...] = self.fill
            return
        try:
            if self.raw_dtype is not None:
                tile = self._raw_tile(data)
            else:
                decode, args = keyframe_decoder(self.locations[self.keyframe[0]], self.keyframe[1])
                tile, _index, _shape = decode(data, seg, **args)
        except Exception as exc:  # noqa: BLE001 - codec errors vary by codec
            raise CorruptFileError(
                f"{self.where}: cannot decode segment {seg} of plane {pid} "
                f"(tile row {y}, column {x}): {type(exc).__name__}: {exc}"
            ) from exc
        if tile is None:
            dst[...] = self.fill
            return
        tile = np.asarray(tile)
        if tile.ndim == 3:
            tile = tile[np.newaxis]
        have = tile.shape
        src = tile[
            zs - z0 : ze - z0,
            ys - y0 : ye - y0,
            xs - x0 : xe - x0,
            c0:c1,
        ]
        if src.shape != dst.shape:
            raise CorruptFileError(
                f"{self.where}: segment {seg} of plane {pid} decoded to shape {have}, "
                f"too small for window {dst.shape}"
            )
        dst[...] = src

    def _raw_tile(self, data: bytes) -> np.ndarray[Any, Any]:
        """An uncompressed segment as (depth, length, width, samples), no copy."""
        g = self.geometry
        arr = np.frombuffer(data, self.raw_dtype)
        per = g.seg_depth * g.seg_width * g.contig
        rows = min(g.seg_length, arr.size // per)
        return arr[: rows * per].reshape(g.seg_depth, rows, g.seg_width, g.contig)


def _standalone_jpeg(data: bytes, tables: bytes | None, photometric: int) -> bytes | None:
    """A complete JPEG stream from an abbreviated TIFF tile and the shared tables."""
    if data[:2] != b"\xff\xd8":
        return None
    if tables and len(tables) > 4:
        data = tables[:-2] + data[2:]  # tables are SOI .. EOI: keep their segments
    if photometric == 2 and b"Adobe" not in data[:4096]:
        data = data[:2] + _ADOBE_RGB + data[2:]
    return data


def _page_key(d: str, i: int, page_dims: str) -> str:
    """Name of a page dim: "sep" for a leading S, "contig" for a trailing S."""
    if d == "S":
        return "sep" if i == 0 and len(page_dims) > 1 and page_dims[-1] != "S" else "contig"
    return d
