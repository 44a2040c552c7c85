"""Bound tifffile's walk along a TIFF's chain of IFDs, so a broken chain cannot hang it.

tifffile follows next-IFD pointers until one is 0 and notices a loop only in some
cases; an IFD pointer aimed back at an earlier IFD (one 4-byte change) makes it walk
forever. :func:`guard_pages` swaps the list in which tifffile collects IFD offsets for
one that refuses an offset it already holds (a loop) or more IFDs than the file's size
can hold; the walk then stops with :class:`IfdChainError`, the reader keeps the pages
before the loop (:func:`cut_chain`) and warns. It costs nothing on pages tifffile does
not visit (ImageJ and other contiguous series read two IFDs, not all).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from ...errors import CorruptFileError, ImgioWarning

__all__ = ["IfdChainError", "cut_chain", "guard_pages"]


class IfdChainError(CorruptFileError):
    """The IFD chain loops back or is longer than the file can hold."""

    def __init__(self, where: str, index: int, why: str) -> None:
        super().__init__(f"{where}: broken IFD chain: IFD {index} {why}")
        self.index = index
        self.why = why


class _GuardedOffsets(list[int]):
    """tifffile's list of IFD offsets, refusing a repeated offset or too many IFDs.

    Most files store their IFDs in increasing order: an offset past every earlier one
    cannot repeat, so only an offset that goes back is looked up (in a set built the
    first time that happens), which keeps the guard's cost per IFD to a comparison.
    """

    def __init__(self, items: Iterable[int], limit: int, where: str) -> None:
        super().__init__(items)
        self._seen: set[int] | None = None
        self._last = max(self, default=-1)
        self._limit = limit
        self._where = where

    def append(self, offset: int) -> None:
        if offset <= self._last:  # going back: it may repeat an earlier IFD
            if self._seen is None:
                self._seen = set(self)
            if offset in self._seen:
                raise IfdChainError(
                    self._where, len(self), f"points back to IFD {list.index(self, offset)}"
                )
        else:
            self._last = offset
        if len(self) >= self._limit:
            raise IfdChainError(
                self._where, len(self), f"is beyond the {self._limit} IFDs the file can hold"
            )
        if self._seen is not None:
            self._seen.add(offset)
        super().append(offset)

    def extend(self, items: Iterable[int]) -> None:
        for item in items:
            self.append(item)


def guard_pages(tif: Any, where: str) -> None:
    """Guard the top-level page chain of an opened ``tifffile.TiffFile``."""
    pages = tif.pages
    if getattr(pages, "_indexed", True) or not isinstance(getattr(pages, "_offsets", None), list):
        return
    tiff = tif.tiff
    # an IFD holds at least its tag count and its next pointer: the file bounds the chain
    limit = int(tif.filehandle.size) // (int(tiff.tagnosize) + int(tiff.offsetsize)) + 1
    pages._offsets = _GuardedOffsets(pages._offsets, limit, where)


def cut_chain(tif: Any, error: IfdChainError, where: str) -> None:
    """Keep the pages before the break and stop tifffile from walking further (warns)."""
    pages = tif.pages
    keep = max(1, error.index)
    pages._offsets = list(pages._offsets)[:keep]
    pages._indexed = True
    pages._loaded = {k: v for k, v in pages._loaded.items() if k < keep}
    warnings.warn(
        f"{where}: broken IFD chain (IFD {error.index} {error.why}); only its first "
        f"{keep} pages are read",
        ImgioWarning,
        stacklevel=5,
    )
