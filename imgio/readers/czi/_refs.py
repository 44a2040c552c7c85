"""A CZI level's subblocks as byte ranges (for :func:`imgio.references`).

Described: grayscale subblocks, uncompressed or zstd (``zstd0``, and ``zstd1`` without
hi/lo byte packing: its payload is a plain zstd stream after a 1- or 3-byte header), that
tile each plane on a regular grid (one subblock per cell, every one of the grid's size).
Refused with the reason: JPEG, LZW and JPEG XR subblocks, hi/lo packed zstd1, BGR
samples (stored BGR, presented RGB), and mosaics whose tiles overlap or vary in size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import NotByteRangesError
from ..base import ChunkRefs
from ._decode import _zstd1_header
from ._format import COMPRESSIONS, subblock_header_size
from ._source import HEAD

if TYPE_CHECKING:
    from ._source import CziSource

__all__ = ["subblock_refs"]


def _refuse(src: CziSource, why: str) -> NotByteRangesError:
    return NotByteRangesError(f"{src.where}: {why}; its subblocks cannot be zarr chunks")


def _grid(src: CziSource) -> tuple[int, int]:
    """The subblock size of a regular tiling of every plane."""
    nplane = len(src.plane_shape)
    ny, nx = src.shape[nplane], src.shape[nplane + 1]
    if len(src.h) == 0:
        return ny, nx
    th, tw = int(src.h.max()), int(src.w.max())
    regular = (
        np.all(src.h == th)
        and np.all(src.w == tw)
        and np.all(src.y % th == 0)
        and np.all(src.x % tw == 0)
        and (th == ny or ny % th == 0)
        and (tw == nx or nx % tw == 0)
        and np.all(src.y >= 0)
        and np.all(src.x >= 0)
    )
    cells = np.stack([src.plane, src.y // max(th, 1), src.x // max(tw, 1)], axis=-1)
    if not regular or len(np.unique(cells, axis=0)) != len(cells):
        raise _refuse(src, "its tiles overlap or do not lie on one regular grid")
    return th, tw


def subblock_refs(src: CziSource) -> ChunkRefs:
    """Every subblock of ``src`` as ``(0, payload offset, payload length)``."""
    if src.samples > 1:
        raise _refuse(src, "the samples are stored BGR and presented RGB")
    comps = {int(c) for c in np.unique(src.compression)}
    if not comps <= {0, 5, 6} or (0 in comps and len(comps) > 1):
        names = ", ".join(COMPRESSIONS.get(c, str(c)) for c in sorted(comps))
        raise _refuse(src, f"subblocks compressed with {names} (only uncompressed or zstd are)")
    th, tw = _grid(src)
    heads = _heads(src)
    refs: dict[tuple[int, ...], tuple[int, int, int] | bytes] = {}
    nplane = len(src.plane_shape)
    for t, head in enumerate(heads):
        begin, size = subblock_header_size(head)
        offset = int(src.position[t]) + begin
        if int(src.compression[t]) == 6:
            skip, hilo = _zstd1_header(head[begin : begin + 3])
            if hilo and src.dtype.itemsize == 2:
                raise _refuse(src, "zstd1 subblocks with hi/lo byte packing")
            offset, size = offset + skip, size - skip
        lead = np.unravel_index(int(src.plane[t]), src.plane_shape) if nplane else ()
        index = (*(int(i) for i in lead), int(src.y[t]) // th, int(src.x[t]) // tw)
        refs[index] = (0, offset, size)
    return ChunkRefs(
        shape=tuple(src.shape),
        chunks=(1,) * nplane + (th, tw),
        dtype=src.dtype.newbyteorder("<") if src.dtype.itemsize > 1 else src.dtype,
        compressor=None if comps == {0} else {"id": "imagecodecs_zstd"},
        filters=(),
        fill_value=0,
        files=(src.location,),
        refs=refs,
    )


def _heads(src: CziSource) -> list[Any]:
    """The first bytes of every subblock segment (one concurrent batch when remote)."""
    ranges = [(int(p), min(HEAD, int(e))) for p, e in zip(src.position, src.extent, strict=True)]
    if src.location.is_local:
        return [src.location.read_range(p, n, exact=False) for p, n in ranges]
    return list(src.location.read_ranges(ranges))
