"""Array source of one CZI (scene, level): decodes only the subblocks a region covers.

The source pickles to its location and the few directory columns of its tiles; it
holds no file handle. A read finds the tiles that intersect the region in each
requested plane, fetches their segments (one range per subblock; remote ranges in one
concurrent batch), decodes them on the decode pool and pastes them in draw order
(by ``M`` index: where tiles overlap, the later one wins).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._location import Location
from ..._threads import decode_threads, map_threaded
from ...errors import CorruptFileError
from ..base import STATS
from ._format import COMPRESSIONS, PIXEL_TYPES, subblock_header_size, subblock_payload
from ._layout import LevelLayout, SceneLayout

__all__ = ["CziSource", "decode_subblock"]

HEAD = 1024  # enough for any subblock header (256 bytes + up to 24 dims)


class CziSource:
    """One (scene, level) of a CZI file; dims ``[extras][M]TCZYX[S]``."""

    def __init__(
        self,
        location: Location,
        layout: SceneLayout,
        level: int,
        *,
        position: np.ndarray[Any, Any],
        extent: np.ndarray[Any, Any],
        compression: np.ndarray[Any, Any],
        token: str,
        where: str,
    ) -> None:
        lv: LevelLayout = layout.levels[level]
        self.location = location
        self.dims = layout.dims
        self.shape = layout.shape(level)
        self.dtype = layout.dtype
        self.samples = layout.samples
        self.pixel_type = layout.pixel_type
        self.plane_shape = layout.plane_shape
        self.token = f"{token}:czi:{layout.index}:{level}"
        self.where = where
        self.rows = lv.rows
        self.plane = lv.plane
        self.y, self.x, self.h, self.w = lv.y, lv.x, lv.h, lv.w
        self.position = position[lv.rows]
        self.extent = extent[lv.rows]  # bytes from the segment start to the next segment
        self.compression = compression[lv.rows]
        ny, nx = lv.shape_yx
        tile_h = int(np.median(lv.h)) if len(lv.h) else ny
        tile_w = int(np.median(lv.w)) if len(lv.w) else nx
        tail = (self.samples,) if self.samples > 1 else ()
        self.chunks = (1,) * len(self.plane_shape) + (min(ny, tile_h), min(nx, tile_w)) + tail

    def __repr__(self) -> str:
        return f"<CziSource {self.where} dims={self.dims} shape={self.shape}>"

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        out = np.zeros(tuple(k.stop - k.start for k in key), dtype=self.dtype)
        self.read_into(key, out)
        return out

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> None:
        """Decode the tiles covering ``key`` into ``out`` (zeros where no tile lies)."""
        nplane = len(self.plane_shape)
        ky, kx = key[nplane], key[nplane + 1]
        ks = key[nplane + 2] if self.samples > 1 else slice(None)
        ranges = [np.arange(k.start, k.stop) for k in key[:nplane]]
        grid = np.meshgrid(*ranges, indexing="ij")
        wanted = np.ravel_multi_index(tuple(grid), self.plane_shape).ravel()
        slot = np.full(int(np.prod(self.plane_shape)), -1, np.int64)
        slot[wanted] = np.arange(len(wanted))
        hit = (
            (slot[self.plane] >= 0)
            & (self.y < ky.stop)
            & (self.y + self.h > ky.start)
            & (self.x < kx.stop)
            & (self.x + self.w > kx.start)
        )
        tiles = np.flatnonzero(hit)  # already in draw order
        if len(tiles) == 0:
            return
        flat = out.reshape((len(wanted), *out.shape[nplane:]))
        # decoded tiles wait for their turn to be pasted (draw order): about 32 MiB at once
        tile_bytes = max(1, int(self.h[tiles[0]] * self.w[tiles[0]]) * self.dtype.itemsize)
        batch = max(4 * decode_threads(), (32 << 20) // (tile_bytes * self.samples))
        nbytes = 0
        for i in range(0, len(tiles), batch):
            part = tiles[i : i + batch].tolist()
            segments = self._fetch(part)
            jobs = list(zip(part, segments, strict=True))
            # uncompressed local subblocks are one pread each, and a few small tiles decode
            # faster than a pool hand-off: those are done here
            small = len(part) * tile_bytes * self.samples < (1 << 20)
            local = self.location.is_local
            raw = [local and (small or self.compression[t] == 0) for t in part]
            pooled = [k for k, r in enumerate(raw) if not r]
            results = map_threaded(self._decode_job, [jobs[k] for k in pooled])
            decoded: list[Any] = [None] * len(part)
            for k in (k for k, r in enumerate(raw) if r):
                decoded[k] = self._decode(*jobs[k])
            for k, result in zip(pooled, results, strict=True):
                decoded[k] = result
            for t, (tile, size) in zip(part, decoded, strict=True):
                nbytes += size
                self._paste(flat[slot[self.plane[t]]], tile, t, ky, kx, ks)
        STATS.add(len(tiles), nbytes)

    def _fetch(self, tiles: list[int]) -> list[bytes | None]:
        """Segment bytes of each tile (remote: one concurrent batch; local: read in the pool)."""
        if self.location.is_local:
            return [None] * len(tiles)
        ranges = [(int(self.position[t]), int(self.extent[t])) for t in tiles]
        return list(self.location.read_ranges(ranges))

    def _segment(self, t: int) -> bytes:
        pos, extent = int(self.position[t]), int(self.extent[t])
        expected = int(self.h[t]) * int(self.w[t]) * self.dtype.itemsize * self.samples
        if extent <= 2 * expected + (64 << 10):
            return self.location.read_range(pos, extent)
        head = self.location.read_range(pos, HEAD, exact=False)
        begin, size = subblock_header_size(head)
        return head[:begin] + self.location.read_range(pos + begin, size)

    def _decode_job(self, job: tuple[int, bytes | None]) -> tuple[np.ndarray[Any, Any], int]:
        return self._decode(*job)

    def _decode(self, t: int, segment: bytes | None) -> tuple[np.ndarray[Any, Any], int]:
        where = (
            f"{self.where}: subblock {int(self.rows[t])} at offset {int(self.position[t])} "
            f"({COMPRESSIONS.get(int(self.compression[t]), 'compression')} "
            f"{int(self.compression[t])})"
        )
        try:
            if segment is None:
                segment = self._segment(t)
            payload = subblock_payload(segment, int(self.position[t]))
            tile = decode_subblock(
                payload,
                int(self.compression[t]),
                self.pixel_type,
                (int(self.h[t]), int(self.w[t])),
            )
        except CorruptFileError as exc:
            raise CorruptFileError(f"{where}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - codecs raise many kinds on bad bytes
            raise CorruptFileError(f"{where}: {type(exc).__name__}: {exc}") from exc
        return tile, len(payload)

    def _paste(
        self,
        dst: np.ndarray[Any, Any],
        tile: np.ndarray[Any, Any],
        t: int,
        ky: slice,
        kx: slice,
        ks: slice,
    ) -> None:
        y0, x0 = int(self.y[t]), int(self.x[t])
        ys, ye = max(y0, ky.start), min(y0 + tile.shape[0], ky.stop)
        xs, xe = max(x0, kx.start), min(x0 + tile.shape[1], kx.stop)
        if ys >= ye or xs >= xe:
            return
        src = tile[ys - y0 : ye - y0, xs - x0 : xe - x0]
        window = dst[ys - ky.start : ye - ky.start, xs - kx.start : xe - kx.start]
        if self.samples == 1:
            window[...] = src
            return
        src = src[..., ks]
        for i in range(src.shape[-1]):  # one sample at a time: 4x faster than a BGR-reversed copy
            window[..., i] = src[..., i]


def decode_subblock(
    payload: Any, compression: int, pixel_type: int, shape: tuple[int, int]
) -> np.ndarray[Any, Any]:
    """One subblock's pixels as ``(Y, X)`` or ``(Y, X, S)`` in RGB(A) order."""
    import imagecodecs

    dtype, samples = PIXEL_TYPES[pixel_type]
    dt = np.dtype(dtype)
    h, w = shape
    expected = h * w * samples * dt.itemsize
    if compression != 0 and expected > max(len(payload), 1) * 4096 and expected > 64 << 20:
        raise CorruptFileError(f"{len(payload)} bytes cannot hold {h} x {w} pixels")
    if compression == 0:
        raw: Any = payload
    elif compression == 5:
        raw = imagecodecs.zstd_decode(payload)
    elif compression == 6:
        raw = _zstd1(payload, dt.itemsize)
    elif compression == 2:
        raw = imagecodecs.lzw_decode(payload)
    elif compression in (1, 4):
        decode = imagecodecs.jpegxr_decode if compression == 4 else imagecodecs.jpeg8_decode
        arr = np.asarray(decode(payload))
        if arr.shape[:2] != (h, w) or (arr.ndim == 3 and arr.shape[2] != samples):
            raise CorruptFileError(f"decoded to shape {arr.shape}, expected {(h, w, samples)}")
        if samples == 1:
            return arr.reshape(h, w)
        arr = arr.reshape(h, w, samples)
        # the codecs return RGB(A) by the stream's own label (JPEG XR 24bppBGR/32bppBGRA
        # are converted, 48bppRGB is RGB already), as libCZI reads them: no BGR swap here
        return arr
    else:
        raise CorruptFileError(f"compression {compression} is not supported")
    if len(raw) < expected:
        raise CorruptFileError(f"{len(raw)} bytes of pixels, expected {expected} for {h} x {w}")
    arr = np.frombuffer(raw, dtype=dt, count=h * w * samples)
    arr = arr.reshape((h, w, samples) if samples > 1 else (h, w))
    return _bgr_to_rgb(arr) if samples > 1 else arr


def _bgr_to_rgb(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if arr.ndim == 3 and arr.shape[2] == 3:
        return arr[..., ::-1]
    if arr.ndim == 3 and arr.shape[2] == 4:
        return arr[..., [2, 1, 0, 3]]
    return arr


def _zstd1(payload: Any, itemsize: int) -> Any:
    """ZEN's zstd1: a small header (size, then chunks), the zstd stream, maybe hi/lo packed."""
    import imagecodecs

    if len(payload) < 1:
        raise CorruptFileError("empty zstd1 payload")
    size = payload[0]
    hilo = False
    if size == 3 and len(payload) >= 3 and payload[1] == 1:
        hilo = bool(payload[2] & 1)
    elif size != 1:
        raise CorruptFileError(f"zstd1 header of {size} bytes is not understood")
    raw = imagecodecs.zstd_decode(payload[size:])
    if not hilo or itemsize != 2:
        return raw
    # hi/lo byte packing: all low bytes of the 16-bit values first, then all high bytes
    buf = np.frombuffer(raw, np.uint8)
    half = len(buf) // 2
    out = np.empty(half * 2, np.uint8)
    out[0::2] = buf[:half]
    out[1::2] = buf[half : 2 * half]
    return out
