"""Read buffers handed to dask as views: joining adjacent views returns the buffer, no copy.

:mod:`imgio.arrays._graph` reads all output chunks of a compute in one call into one buffer and
gives dask each chunk as a :class:`Piece` of it. dask's final concatenation calls
``np.concatenate`` on the pieces, which this class answers with a view of the buffer
(the buffer itself once all pieces are joined), so a whole read holds one copy of the
data. Every other numpy operation sees plain ndarrays, and a piece pickles as one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Piece", "piece"]


class Piece(np.ndarray):  # type: ignore[type-arg,unused-ignore]
    """A view of a shared read buffer; concatenating adjacent pieces returns a view, no copy.

    Any other numpy operation sees a plain ndarray (results are never pieces).
    """

    _buffer: np.ndarray[Any, Any] | None
    _origin: tuple[int, ...]

    def __array_finalize__(self, obj: Any) -> None:
        self._buffer = None  # views of a piece are ordinary arrays
        self._origin = ()

    def __reduce__(self) -> Any:
        return np.asarray(self).view(np.ndarray).__reduce__()

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func is np.concatenate:
            joined = _join(args[0] if args else kwargs.get("arrays"), args, kwargs)
            if joined is not None:
                return joined
        return func(*_plain(args), **_plain(kwargs))

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return getattr(ufunc, method)(*_plain(inputs), **_plain(kwargs))


def _plain(obj: Any) -> Any:
    if isinstance(obj, Piece):
        return obj.view(np.ndarray)
    if isinstance(obj, tuple):
        return tuple(_plain(o) for o in obj)
    if isinstance(obj, list):
        return [_plain(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def piece(buffer: np.ndarray[Any, Any], origin: tuple[int, ...], shape: tuple[int, ...]) -> Any:
    """The window ``origin + shape`` of ``buffer``: the buffer itself when it is all of it."""
    if origin == (0,) * buffer.ndim and shape == buffer.shape:
        return buffer
    window = tuple(slice(o, o + n) for o, n in zip(origin, shape, strict=True))
    view = buffer[window].view(Piece)
    view._buffer = buffer
    view._origin = origin
    return view


def _join(arrays: Any, args: Any, kwargs: Any) -> Any:
    """Adjacent pieces of one buffer along ``axis``, as one view; None when they are not."""
    if not isinstance(arrays, (list, tuple)) or not arrays or len(args) > 2:
        return None
    axis = args[1] if len(args) > 1 else kwargs.get("axis", 0)
    if set(kwargs) - {"axis", "arrays"} or not isinstance(axis, int):
        return None
    first = arrays[0]
    buffer = getattr(first, "_buffer", None)
    if buffer is None:
        return None
    axis = axis % buffer.ndim
    origin = list(_origin_of(first, buffer) or ())
    if not origin:
        return None
    shape = list(first.shape)
    for arr in arrays[1:]:
        where = _origin_of(arr, buffer)
        if where is None or arr.ndim != buffer.ndim:
            return None
        for i in range(buffer.ndim):
            if i == axis:
                if where[i] != origin[i] + shape[i]:
                    return None
            elif where[i] != origin[i] or arr.shape[i] != shape[i]:
                return None
        shape[axis] += arr.shape[axis]
    return piece(buffer, tuple(origin), tuple(shape))


def _origin_of(arr: Any, buffer: np.ndarray[Any, Any]) -> tuple[int, ...] | None:
    if arr is buffer:
        return (0,) * int(buffer.ndim)
    if isinstance(arr, Piece) and arr._buffer is buffer:
        return tuple(arr._origin)
    return None
