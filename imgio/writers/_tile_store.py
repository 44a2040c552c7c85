"""Disk-backed chunk storage of a growing tile sink, shared by threads, processes and workers.

A folder holds ``layout.json`` (dtype, bands, chunk edge; the first tile claims it with
an atomic ``link``, every later tile is checked against it), one file per written chunk
``chunks/<frame>/<cy>_<cx>`` and one file per axis value ``values/<axis><index>``.

A chunk file is a 16-byte header (magic, then the rows and columns of the chunk that
tiles have reached, which gives the extent at the end) followed by the LZ4-compressed
pixels of the whole chunk (``edge x edge x bands``; unwritten pixels are 0). Every
update is a read-modify-write under an exclusive ``flock`` of that file, so tiles from
threads and processes of one machine (or a shared filesystem with ``flock``) compose;
overlapping tiles: the one written later wins.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
from collections.abc import Callable, Iterator
from itertools import product
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np

from ..errors import CorruptFileError, ImgioError
from ..readers.base import SourceBase
from ._tile_axes import frame_key

__all__ = ["ChunkStore", "Layout", "SinkArray", "check_folder", "putter"]

MAGIC = b"IMGT"
HEADER = struct.Struct("<4sIII")  # magic, rows reached, columns reached, reserved
Layout = dict[str, Any]


class ChunkStore:
    """The chunk files under ``folder``; pickles to its folder (and what it has read)."""

    def __init__(self, folder: str | os.PathLike[str], edge: int) -> None:
        self.folder = Path(folder)
        self.edge = int(edge)
        self._layout: Layout | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "edge": self.edge, "layout": self._layout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["folder"], state["edge"])  # type: ignore[misc]
        self._layout = state["layout"]

    # ---------------------------------------------------------------- layout
    @property
    def layout(self) -> Layout | None:
        """``{"dtype", "bands"}`` once the first tile has arrived (from any process)."""
        if self._layout is None:
            try:
                self._layout = json.loads((self.folder / "layout.json").read_text())
            except FileNotFoundError:
                return None
        return self._layout

    def claim(self, dtype: np.dtype[Any], bands: int) -> Layout:
        """Record ``dtype``/``bands`` unless a tile did first; return the layout in force."""
        if self.layout is None:
            tmp = self.folder / f".layout.{uuid4().hex}"
            tmp.write_text(json.dumps({"dtype": dtype.str, "bands": int(bands)}))
            try:
                os.link(tmp, self.folder / "layout.json")
            except FileExistsError:
                pass  # another writer won the race: check against its layout
            finally:
                tmp.unlink()
        layout = self.layout
        assert layout is not None
        return layout

    # ---------------------------------------------------------------- chunks
    def chunk_path(self, frame: str, cy: int, cx: int) -> Path:
        return self.folder / "chunks" / frame / f"{cy}_{cx}"

    def update(
        self,
        frame: str,
        cy: int,
        cx: int,
        reach: tuple[int, int],
        put: Any,
    ) -> None:
        """Read-modify-write one chunk under its lock: ``put(chunk)`` edits it in place."""
        import imagecodecs

        layout = self.layout
        assert layout is not None
        path = self.chunk_path(frame, cy, cx)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            rows, cols, chunk = self._decode(os.pread(fd, os.fstat(fd).st_size, 0), path, layout)
            put(chunk)
            rows, cols = max(rows, reach[0]), max(cols, reach[1])
            data = HEADER.pack(MAGIC, rows, cols, 0) + imagecodecs.lz4_encode(chunk)  # type: ignore[arg-type]
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)  # releases the lock

    def _shape(self, layout: Layout) -> tuple[int, ...]:
        bands = int(layout["bands"])
        return (self.edge, self.edge, bands) if bands > 1 else (self.edge, self.edge)

    def _decode(
        self, data: bytes, path: Path, layout: Layout
    ) -> tuple[int, int, np.ndarray[Any, Any]]:
        import imagecodecs

        chunk = np.zeros(self._shape(layout), np.dtype(layout["dtype"]))
        if not data:
            return 0, 0, chunk
        magic, rows, cols, _ = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise CorruptFileError(f"tile sink chunk {str(path)!r}: expected magic {MAGIC!r}")
        imagecodecs.lz4_decode(data[HEADER.size :], out=chunk.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
        return int(rows), int(cols), chunk

    def read(self, frame: str, cy: int, cx: int) -> np.ndarray[Any, Any] | None:
        """One whole chunk, or None where no tile reached it."""
        layout = self.layout
        assert layout is not None
        path = self.chunk_path(frame, cy, cx)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return self._decode(data, path, layout)[2]

    def scan(self) -> Iterator[tuple[str, int, int, int, int]]:
        """``(frame, cy, cx, rows, cols)`` of every chunk written (headers only)."""
        root = self.folder / "chunks"
        if not root.is_dir():
            return
        for frame in sorted(os.listdir(root)):
            for name in os.listdir(root / frame):
                cy, _, cx = name.partition("_")
                with open(root / frame / name, "rb") as fh:
                    head = fh.read(HEADER.size)
                if len(head) < HEADER.size:
                    continue  # created, never written (a writer died): holds nothing
                magic, rows, cols, _ = HEADER.unpack(head)
                if magic != MAGIC:
                    raise CorruptFileError(f"tile sink chunk {frame}/{name}: bad magic")
                yield frame, int(cy), int(cx), int(rows), int(cols)

    # ---------------------------------------------------------------- values
    def set_value(self, axis: str, index: int, value: float | None, unit: str | None) -> None:
        """Remember the physical value (and unit) of one index of a frame axis."""
        folder = self.folder / "values"
        folder.mkdir(exist_ok=True)
        tmp = folder / f".{axis}{index}.{uuid4().hex}"
        tmp.write_text(json.dumps({"value": value, "unit": unit}))
        os.replace(tmp, folder / f"{axis}{index}")

    def values(self) -> dict[str, dict[int, dict[str, Any]]]:
        """``{axis: {index: {"value", "unit"}}}`` from every writer."""
        out: dict[str, dict[int, dict[str, Any]]] = {}
        folder = self.folder / "values"
        if folder.is_dir():
            for name in os.listdir(folder):
                if name.startswith("."):
                    continue
                out.setdefault(name[0], {})[int(name[1:])] = json.loads((folder / name).read_text())
        return out


def check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise ImgioError(f"tile sink folder {str(folder)!r} is gone; expected an open sink")


def putter(
    window: tuple[slice, slice], part: np.ndarray[Any, Any], where: np.ndarray[Any, Any] | None
) -> Callable[[np.ndarray[Any, Any]], None]:
    def put(chunk: np.ndarray[Any, Any]) -> None:
        if where is None:
            chunk[window] = part
        else:
            chunk[window][where] = part[where]

    return put


class SinkArray(SourceBase):
    """The chunks as a sliceable array ``(frames..., Y, X, bands)`` for ``da.from_array``."""

    def __init__(
        self,
        store: ChunkStore,
        frames: str,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        stamp: str,
    ) -> None:
        self.store, self.frames, self.shape, self.dtype = store, frames, shape, dtype
        self.dims = frames + "YXS"
        self.chunks = (1,) * len(frames) + (store.edge, store.edge, shape[-1])
        self.token = f"tile-sink:{store.folder}:{stamp}"

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        ranges = [range(*k.indices(n)) for k, n in zip(key, self.shape, strict=True)]
        (ys, xs, bs), e = ranges[-3:], self.store.edge
        frames = list(product(*ranges[: len(self.frames)]))
        cy, cx = ys.start // e, xs.start // e
        if len(frames) == 1 and ys.stop <= (cy + 1) * e and xs.stop <= (cx + 1) * e and len(ys):
            # one chunk (what dask asks for): its pixels, no second buffer
            chunk = self.store.read(
                frame_key(dict(zip(self.frames, frames[0], strict=True))), cy, cx
            )
            if chunk is not None:
                chunk = chunk if chunk.ndim == 3 else chunk[..., None]
                y0, x0 = ys.start - cy * e, xs.start - cx * e
                part = chunk[y0 : y0 + len(ys), x0 : x0 + len(xs), bs.start : bs.stop]
                return part.reshape([len(r) for r in ranges])
        out = np.zeros([len(r) for r in ranges], self.dtype)
        if not len(ys) or not len(xs):
            return out
        for pos, combo in enumerate(frames):
            frame = frame_key(dict(zip(self.frames, combo, strict=True)))
            plane = out.reshape(-1, *out.shape[-3:])[pos]
            for cy in range(ys.start // e, (ys.stop - 1) // e + 1):
                for cx in range(xs.start // e, (xs.stop - 1) // e + 1):
                    chunk = self.store.read(frame, cy, cx)
                    if chunk is None:
                        continue
                    if chunk.ndim == 2:
                        chunk = chunk[..., None]
                    y0, y1 = max(ys.start, cy * e), min(ys.stop, (cy + 1) * e)
                    x0, x1 = max(xs.start, cx * e), min(xs.stop, (cx + 1) * e)
                    plane[y0 - ys.start : y1 - ys.start, x0 - xs.start : x1 - xs.start] = chunk[
                        y0 - cy * e : y1 - cy * e, x0 - cx * e : x1 - cx * e, bs.start : bs.stop
                    ]
        return out
