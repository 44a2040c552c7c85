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
from ..base import STATS, SourceBase
from ._decode import bgr_to_rgb, decode_subblock, put, swap_bgr
from ._directory import LevelLayout, SceneLayout
from ._format import COMPRESSIONS, subblock_header_size, subblock_payload

__all__ = ["CziSource", "decode_subblock"]

HEAD = 1024  # enough for any subblock header (256 bytes + up to 24 dims)


class CziSource(SourceBase):
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
        self.read_into(key, out, zeroed=True)
        return out

    def _slots(self, key: tuple[slice, ...]) -> tuple[int, np.ndarray[Any, Any]]:
        """How many planes ``key`` selects, and each plane id's place among them (or -1)."""
        slot = np.full(int(np.prod(self.plane_shape)), -1, np.int64)
        if all(k.stop - k.start == n for k, n in zip(key, self.plane_shape, strict=True)):
            slot[:] = np.arange(len(slot))  # every plane, in order (a whole read)
            return len(slot), slot
        ranges = [np.arange(k.start, k.stop) for k in key]
        grid = np.meshgrid(*ranges, indexing="ij")
        wanted = np.ravel_multi_index(tuple(grid), self.plane_shape).ravel()
        slot[wanted] = np.arange(len(wanted))
        return len(wanted), slot

    def read_into(
        self, key: tuple[slice, ...], out: np.ndarray[Any, Any], *, zeroed: bool = False
    ) -> bool:
        """Decode the tiles covering ``key`` into ``out`` (zeros where no tile lies)."""
        with self.location.session():  # one descriptor for every subblock of this read
            return self._read_into(key, out, zeroed)

    def _read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any], zeroed: bool) -> bool:
        nplane = len(self.plane_shape)
        ky, kx = key[nplane], key[nplane + 1]
        ks = key[nplane + 2] if self.samples > 1 else slice(None)
        nwanted, slot = self._slots(key[:nplane])
        hit = (
            (slot[self.plane] >= 0)
            & (self.y < ky.stop)
            & (self.y + self.h > ky.start)
            & (self.x < kx.stop)
            & (self.x + self.w > kx.start)
        )
        tiles = np.flatnonzero(hit)  # already in draw order
        # tiles alone in their plane cannot overlap: each is decoded into its own window
        alone = len(np.unique(self.plane[tiles])) == len(tiles)
        if not zeroed and not (alone and len(tiles) == nwanted and self._covers(tiles, ky, kx)):
            out[...] = 0
        if len(tiles) == 0:
            return True
        flat = out.reshape((nwanted, *out.shape[nplane:]))
        # decoded tiles wait for their turn to be pasted (draw order): about 32 MiB at once
        tile_bytes = max(1, int(self.h[tiles[0]] * self.w[tiles[0]]) * self.dtype.itemsize)
        batch = max(4 * decode_threads(), (32 << 20) // (tile_bytes * self.samples))
        nbytes = 0
        for i in range(0, len(tiles), batch):
            part = tiles[i : i + batch].tolist()
            segments = self._fetch(part)
            windows = [
                self._window(flat[slot[self.plane[t]]], t, ky, kx, ks) if alone else None
                for t in part
            ]
            jobs = list(zip(part, segments, windows, strict=True))
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
                if tile is not None:
                    self._paste(flat[slot[self.plane[t]]], tile, t, ky, kx, ks)
        STATS.add(len(tiles), nbytes)
        return True

    def _covers(self, tiles: np.ndarray[Any, Any], ky: slice, kx: slice) -> bool:
        """Whether every one of ``tiles`` covers the whole ``ky`` x ``kx`` window."""
        y, x = self.y[tiles], self.x[tiles]
        return bool(
            (y <= ky.start).all()
            and (y + self.h[tiles] >= ky.stop).all()
            and (x <= kx.start).all()
            and (x + self.w[tiles] >= kx.stop).all()
        )

    def _window(
        self, dst: np.ndarray[Any, Any], t: int, ky: slice, kx: slice, ks: slice
    ) -> np.ndarray[Any, Any] | None:
        """The part of ``dst`` tile ``t`` fills, when it lies wholly inside (else None)."""
        y0, x0 = int(self.y[t]), int(self.x[t])
        y1, x1 = y0 + int(self.h[t]), x0 + int(self.w[t])
        if y0 < ky.start or x0 < kx.start or y1 > ky.stop or x1 > kx.stop:
            return None
        if self.samples > 1 and (ks.start, ks.stop) != (0, self.samples):
            return None
        return dst[y0 - ky.start : y1 - ky.start, x0 - kx.start : x1 - kx.start]

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

    def _read_raw(self, t: int, window: np.ndarray[Any, Any]) -> int:
        """An uncompressed local subblock read straight into ``window``; its byte count."""
        pos, extent = int(self.position[t]), int(self.extent[t])
        head = self.location.read_range(pos, min(HEAD, extent), exact=False)
        sid = head[:16].rstrip(b"\0")
        if sid != b"ZISRAWSUBBLOCK":
            raise ValueError(f"expected a ZISRAWSUBBLOCK segment at offset {pos}, found {sid!r}")
        begin, size = subblock_header_size(head)
        expected = window.nbytes
        if begin + size > extent:
            raise ValueError(
                f"subblock at offset {pos} claims {size} bytes of pixels at {pos + begin}, "
                f"only {extent - begin} are there"
            )
        if size < expected:
            raise CorruptFileError(f"{size} bytes of pixels, expected {expected}")
        if window.flags.c_contiguous:
            flat: Any = window.reshape(-1).view(np.uint8)
            self.location.read_into(pos + begin, memoryview(flat))
            if self.samples > 1:
                swap_bgr(window)
            return size
        tile = np.empty(window.shape, self.dtype)
        raw: Any = tile.reshape(-1).view(np.uint8)
        self.location.read_into(pos + begin, memoryview(raw))
        put(window, bgr_to_rgb(tile) if self.samples > 1 else tile)
        return size

    def _decode_job(
        self, job: tuple[int, bytes | None, np.ndarray[Any, Any] | None]
    ) -> tuple[np.ndarray[Any, Any] | None, int]:
        with self.location.session():  # the reading thread's descriptor, not a new one
            return self._decode(*job)

    def _decode(
        self, t: int, segment: bytes | None, window: np.ndarray[Any, Any] | None = None
    ) -> tuple[np.ndarray[Any, Any] | None, int]:
        """Tile ``t`` decoded (or into ``window``, then None) and its payload size."""
        comp = int(self.compression[t])
        try:
            if segment is None and window is not None and comp == 0:
                return None, self._read_raw(t, window)
            if segment is None:
                segment = self._segment(t)
            payload = subblock_payload(segment, int(self.position[t]))
            shape = (int(self.h[t]), int(self.w[t]))
            tile = decode_subblock(payload, comp, self.pixel_type, shape, out=window)
        except Exception as exc:  # noqa: BLE001 - codecs raise many kinds on bad bytes
            where = (
                f"{self.where}: subblock {int(self.rows[t])} at offset {int(self.position[t])} "
                f"({COMPRESSIONS.get(comp, 'compression')} {comp})"
            )
            if isinstance(exc, CorruptFileError):
                raise CorruptFileError(f"{where}: {exc}") from exc
            raise CorruptFileError(f"{where}: {type(exc).__name__}: {exc}") from exc
        return (None if window is not None else tile), len(payload)

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
        put(window, src[..., ks] if self.samples > 1 else src)
