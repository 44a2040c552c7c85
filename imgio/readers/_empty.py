"""A scene with a zero-length axis (a TIFF with ImageLength 0, an OME ``SizeZ="0"``):
it opens with its shape and reads as an empty array."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import SourceBase

__all__ = ["EmptySource", "empty_dims"]

_SPARE = "QRVWUABDFGJKNO"


def empty_dims(axes: str, ndim: int) -> str:
    """imgio dims for a library's axes letters: the last two are ``YX`` (``S`` kept
    last when present), T/C/Z kept, any other letter replaced by a spare one."""
    axes = axes[-ndim:] if len(axes) >= ndim else "?" * ndim
    tail = "YXS" if axes.endswith("S") and ndim >= 3 else "YX"
    lead = axes[: ndim - len(tail)]
    used = set(tail)
    out = []
    for letter in lead:
        if letter not in "TCZ" or letter in used:
            letter = next(c for c in _SPARE if c not in used)
        used.add(letter)
        out.append(letter)
    return ("".join(out) + tail)[-ndim:] if ndim >= 2 else "X"[:ndim]


class EmptySource(SourceBase):
    """An :class:`~imgio.readers.base.ArraySource` with a zero-length axis: no bytes read."""

    def __init__(self, dims: str, shape: tuple[int, ...], dtype: Any, token: str) -> None:
        self.dims = dims
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.chunks = tuple(max(1, s) for s in self.shape)
        self.token = token

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        shape = tuple(len(range(*k.indices(n))) for k, n in zip(key, self.shape, strict=True))
        return np.empty(shape, self.dtype)
