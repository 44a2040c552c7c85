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
_SERIAL_FRAMES = 4


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

    def _cells(self, key: tuple[slice, ...]) -> tuple[np.ndarray[Any, Any], slice, slice]:
        """Grid cells (c, z, ty, tx) the key covers that hold a frame, one row each with
        the frame's code, and the key's Y and X slices. Built from the grid with numpy:
        a read of a large sparse window makes no Python object per missing tile."""
        lead = key[: self._lead]
        ys, xs = key[self._lead], key[self._lead + 1]
        c = lead[0] if "C" in self.dims else slice(0, 1)
        z = lead[-1] if "Z" in self.dims else slice(0, 1)
        tr, tc = self._tile
        ty0, tx0 = ys.start // tr, xs.start // tc
        sub = self._grid[c, z, ty0 : -(-ys.stop // tr), tx0 : -(-xs.stop // tc)]
        where = np.nonzero(sub >= 0)
        cells = np.stack(where + (sub[where],), axis=1) if where[0].size else np.empty((0, 5))
        cells[:, :4] += (c.start, z.start, ty0, tx0)
        return cells.astype(np.int64), ys, xs

    def read_into(self, key: tuple[slice, ...], out: np.ndarray[Any, Any]) -> bool:
        """Decode the frames covering ``key`` into ``out``; missing tiles get the background."""
        if any(k.stop <= k.start for k in key):
            return True
        cells, ys, xs = self._cells(key)
        out[...] = self.background
        wanted: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
        for ci, zi, ty, tx, code in cells.tolist():
            wanted.setdefault(code >> 32, []).append((code & 0xFFFFFFFF, (ci, zi, ty, tx)))
        if not wanted:
            return True
        fetched = list(map_threaded(lambda k: self._fetch(k, wanted[k]), list(wanted)))
        jobs = [job for batch in fetched for job in batch]
        first_c = key[0].start if "C" in self.dims else 0
        first_z = key[self._lead - 1].start if "Z" in self.dims else 0
        s_key = key[-1] if self._samples > 1 else None

        def paste(job: tuple[tuple[bytes, str], int, tuple[int, ...], int]) -> int:
            (data, ts), k, cell, frame = job
            tile = decode_frame(data, self._stores[k].inst, ts, f"{self.where}: frame {frame + 1}")
            ci, zi, ty, tx = cell
            tr, tc = self._tile
            y0, x0 = ty * tr, tx * tc
            ya, yb = max(ys.start, y0), min(ys.stop, y0 + tr)
            xa, xb = max(xs.start, x0), min(xs.stop, x0 + tc)
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
            return len(data)

        nbytes = sum(map(paste, jobs) if len(jobs) < _SERIAL_FRAMES else map_threaded(paste, jobs))
        STATS.add(len(jobs), nbytes)
        return True

    def _fetch(
        self, k: int, frames: list[tuple[int, tuple[int, ...]]]
    ) -> list[tuple[tuple[bytes, str], int, tuple[int, ...], int]]:
        datas = self._stores[k].read([f for f, _ in frames])
        return [(d, k, cell, f) for d, (f, cell) in zip(datas, frames, strict=True)]

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
