"""What a file's header may declare before imgio allocates or builds a graph for it.

A header is a few bytes; the arrays, coordinates and dask graphs built from it are not.
Readers check each level's declared geometry here at open, so a hostile or broken
header gets a :class:`~imgio.errors.CorruptFileError` instead of a runaway allocation.
The limits are far above any real image (a 2**26 pixel axis is 300 times the widest
whole-slide scan) and far below what would exhaust memory.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import IO

from .errors import CorruptFileError

__all__ = [
    "MAX_EXTENT",
    "MAX_GRID",
    "MAX_MODEL_CHANNELS",
    "MAX_SEGMENT_BYTES",
    "BoundedFile",
    "check_geometry",
]

MAX_EXTENT = 2**26  # pixels (or planes) along one axis: coordinates stay under 512 MiB
MAX_GRID = 2**22  # chunks along one axis: dask's chunk tuples stay small
MAX_SEGMENT_BYTES = 2**31  # decoded bytes of one tile, strip or chunk
#: channels of one image in an OME model (ome_types builds ~1,000 a second: 65,536 declared
#: channels took 70 s; hyperspectral stacks, the most banded real data, have a few thousand)
MAX_MODEL_CHANNELS = 2**13


def check_geometry(
    where: str,
    shape: Sequence[int],
    chunks: Sequence[int],
    itemsize: int,
    dims: str | None = None,
    max_chunk_bytes: int = MAX_SEGMENT_BYTES,
) -> None:
    """Refuse a level whose declared shape or chunk grid no real image has.

    Raises
    ------
    CorruptFileError
        An axis longer than :data:`MAX_EXTENT`, more than :data:`MAX_GRID` chunks along
        an axis, or one chunk decoding to more than ``max_chunk_bytes``.
    """
    names = dims if dims is not None and len(dims) == len(shape) else "?" * len(shape)
    for d, n, c in zip(names, shape, chunks, strict=True):
        if not 0 <= n <= MAX_EXTENT:
            raise CorruptFileError(
                f"{where}: axis {d} declares {n} pixels; expected at most {MAX_EXTENT} "
                "(an impossible size: the header is corrupt or hostile)"
            )
        if c < 1 or (n and math.ceil(n / c) > MAX_GRID):
            raise CorruptFileError(
                f"{where}: axis {d} of {n} pixels in chunks of {c}; expected chunks of at "
                f"least 1 and at most {MAX_GRID} along an axis"
            )
    nbytes = math.prod(int(c) for c in chunks) * max(1, itemsize)
    if nbytes > max_chunk_bytes:
        raise CorruptFileError(
            f"{where}: one chunk (tile, strip or segment) of {tuple(chunks)} would decode to "
            f"{nbytes} bytes, an impossible size; expected at most {max_chunk_bytes}"
        )


class BoundedFile(io.RawIOBase):
    """A binary file object whose reads never ask for more than the bytes left in the file.

    For parsers that read a length field and then ``fh.read(length)``: a flipped length
    asks for terabytes, and ``read`` allocates its whole buffer before reading. Handed
    this wrapper, such a parser gets the short read it is ready for (the file ends) and
    its own error, not a ``MemoryError``. Not a ``BufferedReader``, so libraries that
    memory-map plain file objects fall back to seek and read. Closing it closes ``fh``;
    ``name`` is what the library's messages call the file.
    """

    def __init__(self, fh: IO[bytes], size: int, name: str = "") -> None:
        super().__init__()
        self._fh = fh
        self._size = max(0, int(size))
        self.name = name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def read(self, size: int | None = -1) -> bytes:
        left = max(0, self._size - self._fh.tell())
        return self._fh.read(left if size is None or size < 0 else min(size, left))

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()
