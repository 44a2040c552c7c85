"""Large local reads that avoid the kernel copy's 4K-aliasing stall.

The kernel copies a ``read()`` into user memory with ``rep movsb``, which runs about three
times slower when the output address lies 1-31 bytes after the file offset modulo 4096
(4K aliasing: each store seems to overlap the next load). It is the common case, not a
corner: numpy's large arrays start 16 bytes into a page and image data often starts on a
page boundary (a DeltaVision file's planes at byte 20480): 8 MiB took 7 ms of CPU instead
of 2.5 on the benchmark machine, and reading a 60 MB file 57 against 26 ms. Such reads are
copied from a memory map of the file instead (glibc's ``memcpy`` handles the aliasing);
every other read stays a ``read()``, which beats the map's setup. The file's size is
checked just before mapping; a file truncated by another process during the copy itself
would end the process with SIGBUS, as with numpy's or mrcfile's memory maps.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

import numpy as np

from .._location import Location
from ..errors import CorruptFileError

__all__ = ["MAP_BYTES", "read_local"]

#: reads from this size up may go through a map (below, the map and unmap calls dominate)
MAP_BYTES = 1 << 18
#: output - offset (modulo 4096) in this range: the kernel's copy stalls
_ALIASED = range(1, 64)


def read_local(location: Location, offset: int, out: np.ndarray[Any, Any]) -> None:
    """Fill the C-contiguous byte array ``out`` with the file's bytes at ``offset``."""
    buffer = out.data
    aliased = (out.ctypes.data - offset) % 4096 in _ALIASED
    if not (location.is_local and aliased and len(buffer) >= MAP_BYTES):
        location.read_into(offset, buffer)
        return
    with location.open() as fh:
        fd = fh.fileno()
        size = os.fstat(fd).st_size  # a map is never touched past the end of the file
        if offset + len(buffer) > size:
            raise CorruptFileError(
                f"{location.url}: expected {len(buffer)} bytes at offset {offset}, "
                f"file ends at {size}"
            )
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        try:
            mapped = mmap.mmap(
                fd, offset + len(buffer) - start, offset=start, access=mmap.ACCESS_READ
            )
        except (OSError, ValueError):  # a file system without mmap, a special file
            location.read_into(offset, buffer)
            return
        with mapped:
            view = memoryview(mapped)
            try:
                buffer[:] = view[offset - start : offset - start + len(buffer)]
            finally:
                view.release()
