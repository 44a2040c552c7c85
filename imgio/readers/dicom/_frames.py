"""Where each frame of an instance's pixel data lies in its file.

Native pixel data is one array: frame ``i`` is at a fixed stride. Encapsulated
pixel data is a sequence of items (a Basic Offset Table, then fragments); a frame
is found through the Extended Offset Table, else the Basic Offset Table, else by
scanning the item headers once (a frame then starts at each fragment that opens
with a codestream marker, or each fragment is a frame when they are as many).
The index is built on a source's first read, not at open, and kept with it.
"""

from __future__ import annotations

import struct
import threading
import zlib
from typing import Any

import numpy as np

from ..._location import Location
from ...errors import CorruptFileError
from ._codec import BIG, DEFLATED, IMPLICIT
from ._header import Instance

__all__ = ["FrameIndex", "split_fragments"]

_ITEM = b"\xfe\xff\x00\xe0"
_SEQ_END = b"\xfe\xff\xdd\xe0"
_PIXEL_TAG = b"\xe0\x7f\x10\x00"
_SCAN_BLOCK = 1 << 16
#: codestream starts (JPEG, JPEG 2000 codestream / JP2, JPEG XL codestream / container)
_STARTS = (
    b"\xff\xd8",
    b"\xff\x4f\xff\x51",
    b"\x00\x00\x00\x0cjP",
    b"\xff\x0a",
    b"\x00\x00\x00\x0cJX",
)


def split_fragments(data: bytes, where: str) -> bytes:
    """The frame's bytes from a run of items (item headers dropped, fragments joined)."""
    if not data.startswith(_ITEM):
        raise CorruptFileError(f"{where}: expected an item tag (FFFE,E000), found {data[:4].hex()}")
    parts = []
    pos = 0
    while pos + 8 <= len(data) and data[pos : pos + 4] == _ITEM:
        (n,) = struct.unpack_from("<I", data, pos + 4)
        if pos + 8 + n > len(data):
            raise CorruptFileError(
                f"{where}: a fragment declares {n} bytes, {len(data) - pos - 8} are there"
            )
        parts.append(data[pos + 8 : pos + 8 + n])
        pos += 8 + n
    return parts[0] if len(parts) == 1 else b"".join(parts)


class FrameIndex:
    """Byte ranges of one file instance's frames (built on first use, then kept)."""

    def __init__(self, location: Location, inst: Instance) -> None:
        self.location = location
        self.inst = inst
        self._lock = threading.Lock()
        self._ranges: np.ndarray[Any, Any] | None = None  # (n_frames, 2): start, stop
        self._items = True  # ranges hold item headers (encapsulated)
        self._inflated: bytes | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "inst": self.inst,
            "ranges": self._ranges,
            "items": self._items,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["location"], state["inst"])  # type: ignore[misc]
        self._ranges, self._items = state["ranges"], state["items"]

    @property
    def where(self) -> str:
        return self.location.url

    def ranges(self) -> np.ndarray[Any, Any]:
        """``(start, stop)`` of every frame (including item headers when encapsulated)."""
        if self._ranges is None:
            with self._lock:
                if self._ranges is None:
                    self._ranges = self._build()
        return self._ranges

    def read(self, frames: list[int]) -> list[tuple[bytes, str]]:
        """The stored bytes of ``frames`` (fragments joined) and the file's transfer syntax,
        in one batch of range reads."""
        ts = self.inst.transfer_syntax
        return [(d, ts) for d in self._read_frames(frames)]

    def _read_frames(self, frames: list[int]) -> list[bytes]:
        ranges = self.ranges()
        spans = [(int(ranges[f, 0]), int(ranges[f, 1] - ranges[f, 0])) for f in frames]
        if self.inst.transfer_syntax == DEFLATED:
            body = self._inflate()
            datas = [body[o : o + n] for o, n in spans]
        else:
            datas = self.location.read_ranges(spans)
        if not self._items:
            return datas
        return [
            split_fragments(d, f"{self.where}: frame {f + 1}")
            for d, f in zip(datas, frames, strict=True)
        ]

    # ------------------------------------------------------------------ building
    def _size(self) -> int:
        if self.inst.transfer_syntax == DEFLATED:
            return len(self._inflate())
        return self.location.size

    def _read(self, offset: int, n: int) -> bytes:
        if self.inst.transfer_syntax == DEFLATED:
            return self._inflate()[offset : offset + n]
        return self.location.read_range(offset, n, exact=False)

    def _inflate(self) -> bytes:
        """A deflated dataset, inflated (the whole file: deflate allows no random access)."""
        if self._inflated is None:
            from ._open import deflated_body

            self._inflated = deflated_body(self.location)
        return self._inflated

    def _build(self) -> np.ndarray[Any, Any]:
        inst = self.inst
        at = inst.pixel_offset
        head = self._read(at, 12)
        if len(head) < 8 or head[:4] != (
            _PIXEL_TAG if inst.transfer_syntax != BIG else b"\x7f\xe0\x00\x10"
        ):
            raise CorruptFileError(
                f"{self.where}: expected the Pixel Data element (7FE0,0010) at offset {at}, "
                f"found {head[:4].hex() or 'the end of the file'}"
            )
        explicit = inst.transfer_syntax != IMPLICIT and head[4:6] in (b"OB", b"OW", b"UN")
        if explicit and len(head) < 12:  # cut inside the element's header
            raise CorruptFileError(
                f"{self.where}: the Pixel Data element at offset {at} is cut after "
                f"{len(head)} of its 12 header bytes"
            )
        fmt = ">I" if inst.transfer_syntax == BIG else "<I"
        (length,) = struct.unpack_from(fmt, head, 8 if explicit else 4)
        start = at + (12 if explicit else 8)
        if length != 0xFFFFFFFF:
            self._items = False
            return self._native(start, length)
        return self._encapsulated(start)

    def _native(self, start: int, length: int) -> np.ndarray[Any, Any]:
        n, fb = self.inst.n_frames, self.inst.frame_bytes
        if n * fb > length or start + n * fb > self._size():
            raise CorruptFileError(
                f"{self.where}: {n} frames of {fb} bytes need {n * fb} bytes of pixel data; "
                f"the element holds {length}, the file has {self._size() - start} after {start}"
            )
        s = start + np.arange(n, dtype=np.int64) * fb
        return np.stack((s, s + fb), axis=1)

    def _encapsulated(self, start: int) -> np.ndarray[Any, Any]:
        head = self._read(start, 8)
        if len(head) < 8 or head[:4] != _ITEM:
            raise CorruptFileError(
                f"{self.where}: expected the offset table item (FFFE,E000) at {start}, "
                f"found {head[:4].hex() or 'the end of the file'}"
            )
        (bot_len,) = struct.unpack_from("<I", head, 4)
        size = self._size()
        first = start + 8 + bot_len
        if first > size or bot_len % 4:
            raise CorruptFileError(
                f"{self.where}: the Basic Offset Table declares {bot_len} bytes at {start}; "
                f"expected a multiple of 4 within the file ({size} bytes)"
            )
        n = self.inst.n_frames
        eot = self.inst.extended_offsets
        if eot is not None and len(eot[0]) == n == len(eot[1]):
            outside = CorruptFileError(
                f"{self.where}: the Extended Offset Table points outside the pixel data"
            )
            if n and max(max(eot[0]), max(eot[1])) > size:  # 64-bit entries: before int64
                raise outside
            s = first + np.asarray(eot[0], dtype=np.int64)
            e = s + 8 + np.asarray(eot[1], dtype=np.int64)
            if n and (s[0] < first or int(e.max()) > size or (np.diff(s) <= 0).any()):
                raise outside
            return np.stack((s, e), axis=1)
        if bot_len == 4 * n and n:
            bot = np.frombuffer(self._read(start + 8, bot_len), "<u4").astype(np.int64)
            if (
                len(bot) == n
                and bot[0] == 0
                and (np.diff(bot) > 0).all()
                and first + bot[-1] < size
            ):
                s = first + bot
                last_stop = self._scan(int(s[-1]), size, 1)[0][-1][1]
                return np.stack((s, np.append(s[1:], last_stop)), axis=1)
        return self._group(self._scan(first, size, None))

    def _scan(
        self, pos: int, size: int, limit: int | None
    ) -> tuple[list[tuple[int, int]], list[bytes]]:
        """Item headers from ``pos`` to the sequence end: ``(start, stop)`` and first bytes of each
        (``limit`` items at most; read in blocks, so a small frame costs no extra request)."""
        found: list[tuple[int, int]] = []
        heads: list[bytes] = []
        block_at, block = -1, b""
        while pos + 8 <= size and (limit is None or len(found) < limit):
            if not (block_at <= pos and pos + 12 <= block_at + len(block)):
                block_at, block = pos, self._read(pos, _SCAN_BLOCK)
                if len(block) < 8:
                    break
            rel = pos - block_at
            tag = block[rel : rel + 4]
            if tag == _SEQ_END:
                break
            if tag != _ITEM:
                raise CorruptFileError(
                    f"{self.where}: expected an item tag (FFFE,E000) at offset {pos}, "
                    f"found {tag.hex()}"
                )
            (n,) = struct.unpack_from("<I", block, rel + 4)
            if pos + 8 + n > size:
                raise CorruptFileError(
                    f"{self.where}: a fragment at offset {pos} declares {n} bytes; "
                    f"the file ends at {size}"
                )
            heads.append(block[rel + 8 : rel + 8 + min(n, 4)] if rel + 12 <= len(block) else b"")
            found.append((pos, pos + 8 + n))
            pos += 8 + n
        if not found:
            raise CorruptFileError(f"{self.where}: no pixel data fragments at offset {pos}")
        return found, heads

    def _group(self, scanned: tuple[list[tuple[int, int]], list[bytes]]) -> np.ndarray[Any, Any]:
        items, heads = scanned
        n = self.inst.n_frames
        if len(items) == n:
            return np.asarray(items, dtype=np.int64).reshape(n, 2)
        if n == 1:
            return np.asarray([[items[0][0], items[-1][1]]], dtype=np.int64)
        starts = [i for i, h in enumerate(heads) if h.startswith(_STARTS) or i == 0]
        if len(starts) != n:
            raise CorruptFileError(
                f"{self.where}: {len(items)} fragments without an offset table do not divide "
                f"into the {n} frames the header declares ({len(starts)} frame starts found)"
            )
        ends = [*starts[1:], len(items)]
        return np.asarray(
            [[items[a][0], items[b - 1][1]] for a, b in zip(starts, ends, strict=True)],
            dtype=np.int64,
        )


def inflate(data: bytes, where: str, limit: int) -> bytes:
    """Raw-deflate ``data``, refusing more than ``limit`` bytes out."""
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(data, limit)
    except zlib.error as exc:
        raise CorruptFileError(f"{where}: the deflated dataset does not inflate: {exc}") from exc
    if d.unconsumed_tail:
        raise CorruptFileError(f"{where}: the deflated dataset inflates beyond {limit} bytes")
    return out
