"""The array source of one DICOM scene level: a region decodes only its covering frames.

Frames come from a *frame store* per instance (a file's :class:`FrameIndex`, or a
DICOMweb instance): all frames of one instance that a read needs are fetched in
one batch (one multipart request on DICOMweb), then decoded on the decode pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..._threads import map_threaded
from ..base import STATS, SourceBase
from ._codec import JPEG_BASELINE, decode_frame, frame_kind
from ._header import Instance
from ._series import SceneLayout

__all__ = ["DicomSource", "FrameStore"]

#: reads smaller than this many frames decode on the calling thread
_SERIAL_FRAMES = 8


class FrameStore(Protocol):
    """Where one instance's frames come from."""

    inst: Instance

    def read(self, frames: list[int]) -> list[tuple[bytes, str]]:
        """Stored bytes and transfer syntax of ``frames`` (0-based), in one batch."""
        ...


class DicomSource(SourceBase):
    """One (scene, level): dims ``[C][Z]YX[S]``, chunks of one frame (tile)."""

    def __init__(
        self,
        scene: SceneLayout,
        level: int,
        stores: Sequence[FrameStore],
        token: str,
        where: str,
    ) -> None:
        lay = scene.levels[level]
        self.dims = scene.info.dims
        self.shape = tuple(scene.info.shapes[level])
        self.dtype = scene.dtype
        self.token = token
        self.where = where
        self.background = scene.background
        self._grid = lay.grid
        self._placed = lay.placed
        self._tile = lay.tile
        self._samples = scene.samples
        lead = len(self.dims) - 2 - (scene.samples > 1)
        self._lead = lead
        self.chunks = (1,) * lead + lay.tile + ((scene.samples,) if scene.samples > 1 else ())
        self._stores = {k: stores[k] for k in lay.instances}

    def __repr__(self) -> str:
        return f"<DicomSource {self.where} dims={self.dims} shape={self.shape}>"

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        out = np.empty(tuple(k.stop - k.start for k in key), dtype=self.dtype)
        self.read_into(key, out)
        return out

    #: ``read_into`` fills a transposed view too (frames are pasted one by one)
    strided_out = True

    def _frames(self, key: tuple[slice, ...]) -> tuple[list[tuple[int, int, int, int, int]], bool]:
        """Frames covering ``key``: ``(code, c, z, row, col)`` (instance << 32 | frame, and the
        frame's top-left pixel), in paste order; and whether they cover all of ``key``."""
        lead = key[: self._lead]
        ys, xs = key[self._lead], key[self._lead + 1]
        c = lead[0] if "C" in self.dims else slice(0, 1)
        z = lead[-1] if "Z" in self.dims else slice(0, 1)
        tr, tc = self._tile
        if self._placed is not None:  # off-grid frames: every one that overlaps the key
            p = self._placed
            hit = (
                (p[:, 0] >= c.start)
                & (p[:, 0] < c.stop)
                & (p[:, 1] >= z.start)
                & (p[:, 1] < z.stop)
                & (p[:, 2] < ys.stop)
                & (p[:, 2] + tr > ys.start)
                & (p[:, 3] < xs.stop)
                & (p[:, 3] + tc > xs.start)
            )
            found = [(int(r[4]), int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in p[hit]]
            return found, False
        ty0, ty1 = ys.start // tr, -(-ys.stop // tr)
        tx0, tx1 = xs.start // tc, -(-xs.stop // tc)
        block = self._grid[c, z, ty0:ty1, tx0:tx1]
        ci, zi, y, x = np.nonzero(block >= 0)
        out = list(
            zip(
                block[ci, zi, y, x].tolist(),
                (ci + c.start).tolist(),
                (zi + z.start).tolist(),
                ((y + ty0) * tr).tolist(),
                ((x + tx0) * tc).tolist(),
                strict=True,
            )
        )
        return out, len(out) == block.size

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """Decode the frames covering ``key`` into ``out``; missing tiles get the background."""
        if any(k.stop <= k.start for k in key):
            return True
        frames, covered = self._frames(key)
        if not covered:
            out[...] = self.background
        if not frames:
            return True
        wanted: dict[int, list[int]] = {}
        for i, (code, *_) in enumerate(frames):
            wanted.setdefault(code >> 32, []).append(i)
        datas: list[tuple[bytes, str]] = [(b"", "")] * len(frames)

        def fetch(k: int) -> None:
            got = self._stores[k].read([frames[i][0] & 0xFFFFFFFF for i in wanted[k]])
            for i, d in zip(wanted[k], got, strict=True):
                datas[i] = d

        if len(wanted) == 1:  # one instance: fetched on this thread
            fetch(next(iter(wanted)))
        else:  # one batch per instance, side by side (one request each on DICOMweb)
            list(map_threaded(fetch, list(wanted)))
        self._paste(key, frames, datas, out)
        STATS.add(len(frames), sum(len(d) for d, _ in datas))
        return True

    def _paste(
        self,
        key: tuple[slice, ...],
        frames: list[tuple[int, int, int, int, int]],
        datas: list[tuple[bytes, str]],
        out: np.ndarray[Any, Any],
    ) -> None:
        """Decode (on the pool when many) and paste in frame order (later frames on top)."""
        ys, xs = key[self._lead], key[self._lead + 1]
        first_c = key[0].start if "C" in self.dims else 0
        first_z = key[self._lead - 1].start if "Z" in self.dims else 0
        s_key = key[-1] if self._samples > 1 else None
        tr, tc = self._tile

        def decode(i: int) -> np.ndarray[Any, Any]:
            (data, ts), code = datas[i], frames[i][0]
            where = f"{self.where}: frame {(code & 0xFFFFFFFF) + 1}"
            return decode_frame(data, self._stores[code >> 32].inst, ts, where)

        order = range(len(frames))
        tiles = map(decode, order) if len(frames) < _SERIAL_FRAMES else map_threaded(decode, order)
        for (_, ci, zi, y0, x0), tile in zip(frames, tiles, strict=True):
            ya, yb = max(ys.start, y0), min(ys.stop, y0 + tr, self.shape[self._lead])
            xa, xb = max(xs.start, x0), min(xs.stop, x0 + tc, self.shape[self._lead + 1])
            src = tile[ya - y0 : yb - y0, xa - x0 : xb - x0]
            if s_key is not None:
                src = src[..., s_key]
            dst: tuple[Any, ...] = ()
            if "C" in self.dims:
                dst += (ci - first_c,)
            if "Z" in self.dims:
                dst += (zi - first_z,)
            dst += (slice(ya - ys.start, yb - ys.start), slice(xa - xs.start, xb - xs.start))
            out[dst] = src

    def raw_tile(self, index: tuple[int, ...], format: str = "jpeg") -> bytes | None:
        """The stored JPEG bytes of one frame (chunk ``index``), passed through undecoded.

        Only baseline JPEG frames whose colours a viewer reads right (YBR_FULL_422 or
        YBR_FULL, 8 bit) qualify; anything else returns None and is decoded.
        """
        if format.lower() not in ("jpeg", "jpg") or len(index) != len(self.shape):
            return None
        c = index[0] if "C" in self.dims else 0
        z = index[self._lead - 1] if "Z" in self.dims else 0
        ty, tx = index[self._lead], index[self._lead + 1]
        gy, gx = self._grid.shape[2:]
        if not (0 <= ty < gy and 0 <= tx < gx):
            return None
        code = int(self._grid[c, z, ty, tx])
        if code < 0:
            return None
        store = self._stores[code >> 32]
        inst = store.inst
        if inst.bits_allocated != 8 or inst.photometric not in ("YBR_FULL_422", "YBR_FULL"):
            return None
        if inst.transfer_syntax not in ("", JPEG_BASELINE):
            return None
        data, ts = store.read([code & 0xFFFFFFFF])[0]
        if ts not in ("", JPEG_BASELINE) or frame_kind(ts, data) != "jpeg":
            return None
        STATS.add(0, len(data))
        return data
