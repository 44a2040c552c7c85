"""Walk a TIFF's chain of IFDs once, before tifffile does, so a broken chain cannot hang it.

tifffile follows next-IFD pointers until one is 0 and notices a loop only in some
cases; an IFD pointer aimed back at an earlier IFD (one 4-byte change) makes it walk
forever. :func:`bound_pages` reads only each IFD's tag count and next pointer (two
small reads per page, the same pages tifffile visits anyway), stops at a loop, a
pointer outside the file or an implausible tag count, and hands tifffile the chain it
found, so every open is bounded by the file's size.
"""

from __future__ import annotations

import struct
import warnings
from typing import Any

from ...errors import CorruptFileError, ImgioWarning

__all__ = ["bound_pages", "walk_ifds"]

MAX_TAGS = 4096  # tifffile's own "suspicious number of tags" limit


def walk_ifds(tif: Any) -> tuple[list[int], str | None]:
    """Offsets of the top-level IFDs and why the walk stopped early (None: clean end)."""
    fh = tif.filehandle
    tiff = tif.tiff
    size = int(fh.size)
    head_fmt, head_size = tiff.tagnoformat, tiff.tagnosize
    off_fmt, off_size = tiff.offsetformat, tiff.offsetsize
    entry = tiff.tagsize
    fh.seek(tiff.offsetsize if tiff.offsetsize == 4 else 8)
    (offset,) = struct.unpack(off_fmt, fh.read(off_size))
    offsets: list[int] = []
    seen: set[int] = set()
    # an IFD takes at least its tag count and next pointer: the file bounds the chain
    limit = size // (head_size + off_size) + 1
    while offset:
        if offset in seen:
            return offsets, f"IFD {len(offsets)} points back to IFD {offsets.index(offset)}"
        if not head_size <= offset <= size - head_size or len(offsets) >= limit:
            return offsets, f"IFD {len(offsets)} offset {offset} is outside the file"
        fh.seek(offset)
        (n_tags,) = struct.unpack(head_fmt, fh.read(head_size))
        end = offset + head_size + n_tags * entry
        if n_tags > MAX_TAGS or end + off_size > size:
            if not offsets:
                return offsets, f"IFD 0 at {offset} has {n_tags} tags past the end of the file"
            return offsets, f"IFD {len(offsets)} at {offset} has {n_tags} tags"
        seen.add(offset)
        offsets.append(offset)
        fh.seek(end)
        (offset,) = struct.unpack(off_fmt, fh.read(off_size))
    return offsets, None


def bound_pages(tif: Any, where: str) -> None:
    """Walk the IFD chain; a loop or a bad pointer ends it there (with a warning)."""
    if tif.tiff.offsetsize not in (4, 8):
        return
    offsets, problem = walk_ifds(tif)
    if problem is None:
        return
    if not offsets:
        raise CorruptFileError(f"{where}: no readable IFD ({problem})")
    pages = tif.pages
    if not hasattr(pages, "_offsets") or not hasattr(pages, "_indexed"):
        raise CorruptFileError(f"{where}: broken IFD chain: {problem}")
    warnings.warn(
        f"{where}: broken IFD chain ({problem}); only its first {len(offsets)} pages are read",
        ImgioWarning,
        stacklevel=4,
    )
    pages._offsets = offsets
    pages._indexed = True
    pages._loaded = {k: v for k, v in pages._loaded.items() if k < len(offsets)}
