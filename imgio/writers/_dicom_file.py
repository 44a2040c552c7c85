"""One DICOM instance file, assembled from frames that arrive in any order.

The pyramid finishes tiles in Z order, several levels at once, on encoder threads; a
TILED_FULL instance holds its frames row by row. So each finished frame is appended to
a *spill* file beside the instance (its place and length noted in two arrays), and once
every frame is there :meth:`Frames.assemble` writes the header, then the Pixel
Data element with the frames copied over in frame order: encapsulated, with the Basic
Offset Table filled (or, past 4 GiB, an empty one and the Extended Offset Table), or
native. Memory holds the frame table only; the spill is deleted when the instance is
written.
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import ImgioError
from ._dicom_encode import Dataset, write_file_header

__all__ = ["BOT_LIMIT", "Frames", "NATIVE_LIMIT"]

#: the largest value length of a native (defined-length) Pixel Data element
NATIVE_LIMIT = 0xFFFFFFFE
#: the largest offset a Basic Offset Table holds (beyond: the Extended Offset Table)
BOT_LIMIT = 0xFFFFFFFF
_ITEM = struct.pack("<HH", 0xFFFE, 0xE000)
_SEQ_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
_COPY = 8 << 20


class Frames:
    """The frames of one instance, spilled to ``spill`` until :meth:`assemble`.

    ``put`` may be called from any thread; each frame index once.
    """

    def __init__(self, spill: Path, count: int) -> None:
        self.spill, self.count = spill, count
        self._fh: BinaryIO | None = open(spill, "w+b")  # noqa: SIM115 - closed in close()
        self._end = 0
        self._offsets = np.full(count, -1, np.int64)
        self._lengths = np.zeros(count, np.int64)
        self._lock = threading.Lock()

    def put(self, index: int, data: bytes) -> None:
        """Store frame ``index`` (counted from 0 in TILED_FULL order)."""
        with self._lock:
            if self._fh is None:
                raise ImgioError(f"frame {index} arrived after {self.spill.name} was closed")
            if not 0 <= index < self.count or self._offsets[index] >= 0:
                raise ImgioError(
                    f"frame {index} of {self.spill.name}: "
                    f"expected a new frame in 0..{self.count - 1}"
                )
            self._fh.seek(self._end)
            self._fh.write(data)
            self._offsets[index] = self._end
            self._lengths[index] = len(data)
            self._end += len(data)

    def missing(self) -> int:
        """Frames not yet stored."""
        return int(np.count_nonzero(self._offsets < 0))

    def item_offsets(self) -> np.ndarray[Any, Any]:
        """Where each frame's item starts, counted from the first frame item (even lengths)."""
        padded = self._lengths + (self._lengths & 1) + 8
        return np.concatenate(([0], np.cumsum(padded)[:-1])).astype(np.int64)

    def needs_extended_table(self) -> bool:
        """True when the Basic Offset Table's 32-bit offsets cannot reach the last frame."""
        return bool(self.count and self.item_offsets()[-1] > BOT_LIMIT)

    def extended_tables(self) -> tuple[bytes, bytes]:
        """The Extended Offset Table and its lengths (64-bit little-endian values)."""
        padded = self._lengths + (self._lengths & 1)
        return self.item_offsets().astype("<u8").tobytes(), padded.astype("<u8").tobytes()

    def native_length(self) -> int:
        return int(self._lengths.sum())

    def assemble(
        self, target: Path, header: Dataset, *, encapsulated: bool, vr: str = "OB"
    ) -> None:
        """Write ``header`` (a :class:`~imgio.writers._dicom_encode.Dataset` with its file
        meta information) then the frames to ``target``."""
        if self.missing():
            raise ImgioError(
                f"{target.name}: {self.missing()} of {self.count} frames were never written"
            )
        assert self._fh is not None
        self._fh.flush()
        with open(target, "wb") as out:
            write_file_header(out, header)
            if encapsulated:
                self._write_encapsulated(out)
            else:
                self._write_native(out, vr)
        self.close()

    def _write_encapsulated(self, out: BinaryIO) -> None:
        out.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF))
        if self.needs_extended_table():  # the offsets are in the header's Extended Offset Table
            out.write(_ITEM + struct.pack("<I", 0))
        else:
            table = self.item_offsets().astype("<u4").tobytes()
            out.write(_ITEM + struct.pack("<I", len(table)) + table)
        for k in range(self.count):
            n = int(self._lengths[k])
            out.write(_ITEM + struct.pack("<I", n + (n & 1)))
            self._copy(out, int(self._offsets[k]), n)
            if n & 1:
                out.write(b"\0")
        out.write(_SEQ_END)

    def _write_native(self, out: BinaryIO, vr: str) -> None:
        total = self.native_length()
        if total > NATIVE_LIMIT:
            raise ImgioError(
                f"uncompressed pixel data of {total} bytes: a DICOM instance holds at most "
                f"{NATIVE_LIMIT}; use a compression such as 'jpeg2000-lossless'"
            )
        out.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, vr.encode(), 0, total + (total & 1)))
        for k in range(self.count):
            self._copy(out, int(self._offsets[k]), int(self._lengths[k]))
        if total & 1:
            out.write(b"\0")

    def _copy(self, out: BinaryIO, offset: int, n: int) -> None:
        assert self._fh is not None
        fd = self._fh.fileno()
        while n > 0:
            data = os.pread(fd, min(n, _COPY), offset)
            if not data:
                raise ImgioError(f"{self.spill.name} ends at {offset}; expected {n} more bytes")
            out.write(data)
            offset += len(data)
            n -= len(data)

    def close(self) -> None:
        """Close and delete the spill (also after a failure)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
        self.spill.unlink(missing_ok=True)
