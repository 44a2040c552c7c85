"""An Imaris level's HDF5 chunks as byte ranges (for :func:`imgio.references`).

Every ``TimePoint t/Channel c/Data`` data set of a level is chunked alike; each stored
chunk is one zarr chunk ``(1, 1, cz, cy, cx)`` at its HDF5 file offset (h5py's chunk
index: ``chunk_iter`` where HDF5 has it, else ``get_chunk_info``). Chunk padding beyond
the image is left out; chunks HDF5 never wrote read as the data set's fill value.
Described filter: deflate (Imaris' own gzip; numcodecs zlib). Refused with their names:
LZF (its raw stream carries no decoded size, which imagecodecs' LZF codec needs when zarr
gives it no output buffer), shuffle, Fletcher-32, szip, scale-offset and any other filter,
contiguous (unchunked) data sets, chunks stored with a filter skipped, and data sets that
differ in chunks, dtype or filters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import CorruptFileError, NotByteRangesError
from ..base import ChunkRefs
from ._source import H5_ERRORS, open_h5

if TYPE_CHECKING:
    from ._source import LevelSource

__all__ = ["level_refs"]

#: HDF5 filter ids imgio names when it refuses them
_FILTER_NAMES = {
    2: "shuffle",
    32000: "LZF (no decoded size in the stream for imagecodecs' LZF codec)",
    3: "Fletcher-32 checksums",
    4: "szip",
    5: "n-bit",
    6: "scale-offset",
    307: "bzip2",
    32001: "Blosc",
    32004: "LZ4",
    32008: "bitshuffle",
    32015: "Zstandard",
}
_DEFLATE = 1


def _refuse(src: LevelSource, why: str) -> NotByteRangesError:
    return NotByteRangesError(f"{src.location.url}: {why}; its chunks cannot be zarr chunks")


def _codec(src: LevelSource, ds: Any) -> tuple[dict[str, Any] | None, tuple[Any, ...]]:
    """The numcodecs compressor of ``ds`` and its filter pipeline (to compare data sets)."""
    plist = ds.id.get_create_plist()
    pipeline = tuple(plist.get_filter(i)[:3] for i in range(plist.get_nfilters()))
    codes = [int(p[0]) for p in pipeline]
    other = [c for c in codes if c != _DEFLATE]
    if other:
        names = ", ".join(_FILTER_NAMES.get(c, f"HDF5 filter {c}") for c in other)
        raise _refuse(src, f"{ds.name} is stored with {names}")
    if len(codes) > 1:
        raise _refuse(src, f"{ds.name} chains {len(codes)} compression filters")
    if not codes:
        return None, pipeline
    return {"id": "imagecodecs_zlib"}, pipeline


def _chunks_of(ds: Any) -> list[tuple[tuple[int, ...], int, int, int]]:
    """``(element offset, filter mask, byte offset, size)`` of every stored chunk."""
    found: list[tuple[tuple[int, ...], int, int, int]] = []
    visit: Callable[[Any], None] = lambda info: found.append(  # noqa: E731
        (tuple(info.chunk_offset), int(info.filter_mask), int(info.byte_offset), int(info.size))
    )
    if hasattr(ds.id, "chunk_iter"):
        ds.id.chunk_iter(visit)
    else:  # pragma: no cover - HDF5 before 1.12.3
        for i in range(ds.id.get_num_chunks()):
            visit(ds.id.get_chunk_info(i))
    return found


def level_refs(src: LevelSource) -> ChunkRefs:
    """Every stored chunk of every (t, c) data set of ``src``'s level."""
    n_t, n_c, *zyx = src.shape
    refs: dict[tuple[int, ...], tuple[int, int, int] | bytes] = {}
    first: tuple[Any, ...] | None = None
    f = open_h5(src.location)
    try:
        for t in range(n_t):
            for c in range(n_c):
                path = src.path(t, c)
                ds = f.get(path)
                if ds is None or not hasattr(ds, "chunks") or getattr(ds, "ndim", 0) != 3:
                    raise CorruptFileError(f"{src.location.url}: {path} is not a 3-d data set")
                if ds.chunks is None:
                    raise _refuse(src, f"{path} is contiguous (not chunked)")
                compressor, pipeline = _codec(src, ds)
                fill = ds.fillvalue
                layout = (tuple(ds.chunks), np.dtype(ds.dtype).str, pipeline, compressor)
                if first is None:
                    first = (*layout, fill)
                elif layout != first[:4]:
                    raise _refuse(
                        src, f"{path} differs from the level's first data set in chunks, "
                        "dtype or filters"
                    )  # fmt: skip
                _add(src, refs, (t, c), _chunks_of(ds), tuple(ds.chunks), zyx)
    except (CorruptFileError, NotByteRangesError):
        raise
    except H5_ERRORS as exc:
        raise CorruptFileError(
            f"{src.location.url}: reading the chunk index failed: {exc}"
        ) from exc
    finally:
        f.close()
    assert first is not None
    chunks, dtype, _, compressor, fill = first
    return ChunkRefs(
        shape=tuple(src.shape),
        chunks=(1, 1, *chunks),
        dtype=np.dtype(dtype),
        compressor=compressor,
        filters=(),
        fill_value=fill.item() if hasattr(fill, "item") else (fill or 0),
        files=(src.location,),
        refs=refs,
    )


def _add(
    src: LevelSource,
    refs: dict[tuple[int, ...], tuple[int, int, int] | bytes],
    lead: tuple[int, int],
    stored: list[tuple[tuple[int, ...], int, int, int]],
    chunks: tuple[int, ...],
    zyx: list[int],
) -> None:
    grid = [-(-n // k) for n, k in zip(zyx, chunks, strict=True)]
    for offset, mask, byte_offset, size in stored:
        index = tuple(o // k for o, k in zip(offset, chunks, strict=True))
        if any(i >= g for i, g in zip(index, grid, strict=True)):
            continue  # padding beyond the image
        if mask:
            raise _refuse(
                src,
                f"a chunk of {src.path(*lead)} was stored with its filter skipped",
            )
        refs[(*lead, *index)] = (0, byte_offset, size)
