"""A DICOM level's frames as byte ranges (for :func:`imgio.references`).

One zarr chunk per frame (tile), at the frame grid's cell. Native pixel data: each
frame is its bytes at a fixed stride (little or big endian). Encapsulated pixel data:
each frame is its one fragment's bytes (the item header skipped), decoded by the
imagecodecs codec of the transfer syntax. Tiles a sparse level lacks read as its
background. Refused with the reason: DICOMweb series (frames come in multipart
responses, not byte ranges), deflated datasets, frames split into several fragments,
12-bit JPEG, uncompressed YBR_FULL or planar colour, RLE colour (stored as planes),
packed bits, and levels whose instances differ in transfer syntax.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import CorruptFileError, NotByteRangesError
from ..base import ChunkRefs
from ._codec import BIG, DEFLATED, frame_kind
from ._frames import FrameIndex
from ._header import Instance
from ._series import SceneLayout
from ._source import FrameStore

__all__ = ["level_refs"]

_ITEM = b"\xfe\xff\x00\xe0"
_IDS = {
    "jpeg": "imagecodecs_jpeg",
    "ljpeg": "imagecodecs_ljpeg",
    "jpegls": "imagecodecs_jpegls",
    "j2k": "imagecodecs_jpeg2k",
    "jxl": "imagecodecs_jpegxl",
    "rle": "imagecodecs_dicomrle",
}


def _compressor(inst: Instance, why: Any) -> dict[str, Any] | None:
    """The numcodecs codec of the instance's frames (None: native bytes)."""
    ts = inst.transfer_syntax
    if ts == DEFLATED:
        raise why("the dataset is deflated as a whole (no frame is a byte range)")
    if inst.bits_allocated not in (8, 16, 32):
        raise why(f"{inst.bits_allocated}-bit samples are packed, not whole bytes")
    kind = frame_kind(ts, b"")
    if kind == "native":
        if inst.samples > 1 and (inst.planar == 1 or inst.photometric == "YBR_FULL"):
            raise why(
                f"native {inst.photometric} samples stored "
                f"{'as planes' if inst.planar == 1 else 'as YBR_FULL'} (imgio converts them)"
            )
        return None
    if kind == "jpeg" and inst.bits_allocated > 8:
        raise why("12-bit JPEG frames (the numcodecs JPEG codec decodes 8 bit only)")
    if kind == "rle" and inst.samples > 1:
        raise why("RLE colour frames decode to planes, not interleaved samples")
    config: dict[str, Any] = {"id": _IDS[kind]}
    if kind == "jpeg" and inst.photometric == "RGB" and inst.samples == 3:
        config["colorspace_jpeg"] = "RGB"  # coded RGB: no colour transform
    if kind == "rle":
        config["dtype"] = inst.dtype.str
    return config


def level_refs(lay: SceneLayout, level: int, stores: Sequence[FrameStore], where: str) -> ChunkRefs:
    """Every stored frame of ``lay``'s ``level`` as ``(file, offset, length)``."""

    def why(text: str) -> NotByteRangesError:
        return NotByteRangesError(f"{where}: {text}; its frames cannot be zarr chunks")

    lv = lay.levels[level]
    dims = lay.info.dims
    indexes: list[FrameIndex] = []
    for k in lv.instances:
        store = stores[k]
        if not isinstance(store, FrameIndex):
            raise why("its frames come from a DICOMweb server (multipart responses)")
        indexes.append(store)
    syntaxes = {s.inst.transfer_syntax for s in indexes}
    if len(syntaxes) > 1:
        raise why(f"its instances use {len(syntaxes)} transfer syntaxes ({sorted(syntaxes)})")
    first = indexes[0].inst
    compressor = _compressor(first, why)
    dtype = first.dtype.newbyteorder(">") if first.transfer_syntax == BIG else first.dtype
    slot = {k: i for i, k in enumerate(lv.instances)}
    spans = {k: _frame_spans(stores[k], compressor is None, why) for k in lv.instances}
    refs: dict[tuple[int, ...], tuple[int, int, int] | bytes] = {}
    for cell in zip(*np.nonzero(lv.grid >= 0), strict=True):
        code = int(lv.grid[cell])
        k, frame = code >> 32, code & 0xFFFFFFFF
        c, z, ty, tx = (int(i) for i in cell)
        index = (*((c,) if "C" in dims else ()), *((z,) if "Z" in dims else ()), ty, tx)
        offset, length = spans[k][frame]
        refs[index + ((0,) if lay.samples > 1 else ())] = (slot[k], offset, length)
    lead = (1,) * (len(dims) - 2 - (lay.samples > 1))
    return ChunkRefs(
        shape=tuple(lay.info.shapes[level]),
        chunks=(*lead, *lv.tile, *((lay.samples,) if lay.samples > 1 else ())),
        dtype=np.dtype(dtype),
        compressor=compressor,
        filters=(),
        fill_value=lay.background,
        files=tuple(s.location for s in indexes),
        refs=refs,
    )


def _frame_spans(store: FrameStore, native: bool, why: Any) -> list[tuple[int, int]]:
    """``(offset, length)`` of every frame's stored bytes (item headers skipped)."""
    assert isinstance(store, FrameIndex)
    ranges = store.ranges()
    if native:
        return [(int(a), int(b - a)) for a, b in ranges]
    heads = store.location.read_ranges([(int(a), 8) for a, _ in ranges])
    spans = []
    for f, ((a, b), head) in enumerate(zip(ranges, heads, strict=True)):
        if len(head) < 8 or head[:4] != _ITEM:
            raise CorruptFileError(f"{store.where}: frame {f + 1} does not start with an item tag")
        (n,) = struct.unpack_from("<I", head, 4)
        if a + 8 + n != b:
            raise why(f"frame {f + 1} of {store.where} spans several fragments")
        spans.append((int(a) + 8, int(n)))
    return spans
