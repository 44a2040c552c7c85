"""A TIFF level's segments (tiles, strips) as byte ranges with their numcodecs codec.

What zarr cannot decode alone is refused with :class:`~imgio.errors.NotByteRangesError`
naming why: codecs without a numcodecs counterpart (old-style JPEG, CCITT...), bit
order reversal, samples of other than 8/16/32/64 bits, subsampled YCbCr stored without
JPEG, and incomplete last strips of lossy codecs. An incomplete last strip of a lossless
codec is stored inline (decoded, padded to a whole strip and encoded again with the same
codec: one strip per page); uncompressed strips are cut into row ranges instead.
"""

from __future__ import annotations

import base64
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import NotByteRangesError
from ..base import ChunkRefs

if TYPE_CHECKING:
    from .source import TiffSource

__all__ = ["segment_refs"]

# TIFF compression code -> numcodecs codec id (imagecodecs registers the imagecodecs_* ids)
_CODECS: dict[int, str | None] = {
    1: None,
    5: "imagecodecs_lzw",
    7: "imagecodecs_jpeg",
    8: "imagecodecs_zlib",
    32946: "imagecodecs_zlib",
    50013: "imagecodecs_zlib",
    32773: "imagecodecs_packbits",
    33003: "imagecodecs_jpeg2k",
    33004: "imagecodecs_jpeg2k",
    33005: "imagecodecs_jpeg2k",
    34712: "imagecodecs_jpeg2k",
    33007: "imagecodecs_jpeg",
    34892: "imagecodecs_jpeg",
    34887: "imagecodecs_lerc",
    34925: "imagecodecs_lzma",
    34933: "imagecodecs_png",
    22610: "imagecodecs_jpegxr",
    34934: "imagecodecs_jpegxr",
    50000: "imagecodecs_zstd",
    50001: "imagecodecs_webp",
    50002: "imagecodecs_jpegxl",
    52546: "imagecodecs_jpegxl",
}
_LOSSLESS = {None, "imagecodecs_lzw", "imagecodecs_zlib", "imagecodecs_packbits"}
_LOSSLESS |= {"imagecodecs_lzma", "imagecodecs_zstd"}
_NAMES = {6: "old-style JPEG (6)", 2: "CCITT RLE (2)", 3: "CCITT fax 3 (3)", 4: "CCITT fax 4 (4)"}


def _refuse(src: TiffSource, why: str) -> NotByteRangesError:
    return NotByteRangesError(f"{src.where}: {why}; its chunks cannot be zarr chunks")


def _codec(src: TiffSource, tags: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The numcodecs compressor config and the stored dtype string."""
    code = int(tags["compression"])
    if code not in _CODECS:
        name = _NAMES.get(code, f"compression {code}")
        raise _refuse(src, f"{name} has no numcodecs codec")
    if int(tags["fillorder"] or 1) != 1:
        raise _refuse(src, "the samples are stored bit-reversed (FillOrder 2)")
    if int(tags["sampleformat"] or 1) not in (1, 2, 3):
        raise _refuse(src, f"sample format {tags['sampleformat']} (complex integers)")
    bits = int(tags["bitspersample"] or 1)
    codec_id = _CODECS[code]
    if codec_id != "imagecodecs_jpeg" and bits not in (8, 16, 32, 64):
        raise _refuse(src, f"{bits}-bit samples are packed, not whole bytes")
    if int(tags["photometric"] or 0) == 6 and codec_id != "imagecodecs_jpeg":
        raise _refuse(src, "subsampled YCbCr stored without JPEG")
    if tags["dtype"] is None or np.dtype(tags["dtype"]) != src.dtype:
        raise _refuse(src, f"the stored samples ({tags['dtype']}) differ from {src.dtype}")
    dtype = np.dtype(tags["dtype"])
    order = "|" if dtype.itemsize == 1 else str(tags["byteorder"])
    if codec_id is None:
        return None, order + dtype.str[1:]
    config: dict[str, Any] = {"id": codec_id}
    if codec_id == "imagecodecs_jpeg":
        from tifffile.tifffile import jpeg_decode_colorspace

        tables, header = tags["jpegtables"], tags["jpegheader"]
        cs_jpeg, cs_data = jpeg_decode_colorspace(
            int(tags["photometric"]),
            int(tags["planarconfig"]),
            tuple(tags["extrasamples"] or ()),
            bool(tags["is_jfif"]),
        )
        config.update(
            tables=base64.b64encode(tables).decode() if tables else None,
            header=base64.b64encode(header).decode() if header else None,
            bitspersample=bits,
            colorspace_jpeg=cs_jpeg,
            colorspace_data=cs_data,
        )
    elif codec_id == "imagecodecs_webp" and int(tags["samplesperpixel"] or 1) == 4:
        config["hasalpha"] = True
    return config, order + dtype.str[1:]


def _predictor(tags: dict[str, Any], chunks: tuple[int, ...], dtype: str) -> list[dict[str, Any]]:
    predictor = int(tags["predictor"] or 1)
    if predictor <= 1:
        return []
    filter_id = "imagecodecs_delta" if predictor in (2, 34892, 34893) else "imagecodecs_floatpred"
    dist = 1 if predictor <= 3 else 2 if predictor in (34892, 34894) else 4
    contig = int(tags["planarconfig"]) == 1 and int(tags["samplesperpixel"] or 1) > 1
    return [
        {
            "id": filter_id,
            "axis": -2 if contig else -1,
            "dist": dist,
            "shape": list(chunks),
            "dtype": dtype,
        }
    ]


def segment_refs(src: TiffSource, tags: dict[str, Any]) -> ChunkRefs:
    """Every stored segment of ``src`` as ``(file, offset, length)`` under its chunk index."""
    compressor, dtype = _codec(src, tags)
    g = src.geometry
    from .source import _page_key

    names = [_page_key(d, i, src.page_dims) for i, d in enumerate(src.page_dims)]
    seg_size = {"sep": 1, "Z": g.seg_depth, "Y": g.seg_length, "X": g.seg_width, "contig": g.contig}
    short = not tags["is_tiled"] and g.length % g.seg_length != 0
    rows = g.seg_length
    if compressor is None and _whole_pages(src):
        return _page_bands(src, dtype, names)
    if short and compressor is None:
        rows = math.gcd(g.length, g.seg_length)  # row ranges of the strips
        seg_size["Y"] = rows
    elif short and compressor is not None and compressor["id"] not in _LOSSLESS:
        raise _refuse(
            src,
            f"the last strip holds {g.length % g.seg_length} of {g.seg_length} rows and "
            f"{compressor['id']} is lossy (it cannot be padded to a whole chunk)",
        )
    chunks = (1,) * len(src.plane_shape) + tuple(seg_size[n] for n in names)
    filters = _predictor(tags, chunks, dtype)
    itemsize = np.dtype(dtype).itemsize
    row_bytes = g.seg_width * g.contig * itemsize * g.seg_depth
    gs, gd, gy, gx = g.grid
    refs: dict[tuple[int, ...], tuple[int, int, int] | bytes] = {}
    n_planes = math.prod(src.plane_shape)
    nplane = len(src.plane_shape)
    for pid in range(n_planes):
        plane = src.planes[pid]
        if plane is None:
            continue
        fidx, offsets, counts, _ = plane
        lead = tuple(int(i) for i in np.unravel_index(pid, src.plane_shape)) if nplane else ()
        for seg in range(min(g.n_segments, len(offsets))):
            offset, count = int(offsets[seg]), int(counts[seg])
            if offset <= 0 or count <= 0:
                continue
            s, rest = divmod(seg, gd * gy * gx)
            d, rest = divmod(rest, gy * gx)
            y, x = divmod(rest, gx)
            pos = {"sep": s, "Z": d, "Y": y, "X": x}
            if short and compressor is None:
                n_rows = min(g.seg_length, g.length - y * g.seg_length)
                for k in range(n_rows // rows):
                    pos["Y"] = (y * g.seg_length) // rows + k
                    index = lead + tuple(pos.get(n, 0) for n in names)
                    refs[index] = (fidx, offset + k * rows * row_bytes, rows * row_bytes)
                continue
            index = lead + tuple(pos.get(n, 0) for n in names)
            if short and y == gy - 1:
                refs[index] = _padded_strip(src, pid, seg, compressor, filters, chunks, dtype)
            else:
                refs[index] = (fidx, offset, count)
    return ChunkRefs(
        shape=tuple(src.shape),
        chunks=chunks,
        dtype=np.dtype(dtype),
        compressor=compressor,
        filters=tuple(filters),
        fill_value=src.fill,
        files=tuple(src.locations),
        refs=refs,
    )


_BAND_BYTES = 8 << 20  # uncompressed pages: bands of rows near this size


def _whole_pages(src: TiffSource) -> bool:
    """Uncompressed strips whose every page is its row-major bytes back to back."""
    g = src.geometry
    if g.sep != 1 or g.depth != 1 or g.seg_width != g.width or src.raw_dtype is None:
        return False
    planes = [src.planes[i] for i in range(math.prod(src.plane_shape))]
    return all(p is None or p[3] for p in planes) and any(p is not None for p in planes)


def _page_bands(src: TiffSource, dtype: str, names: list[str]) -> ChunkRefs:
    """Contiguous uncompressed pages cut into bands of rows (a divisor of the height near
    8 MiB), each band one byte range: few chunks whatever the strip size."""
    g = src.geometry
    row_bytes = g.width * g.contig * np.dtype(dtype).itemsize
    target = max(1, _BAND_BYTES // max(row_bytes, 1))
    band = max(d for d in range(1, min(g.length, target) + 1) if g.length % d == 0)
    chunks = (1,) * len(src.plane_shape) + tuple(
        band if n == "Y" else g.width if n == "X" else g.contig for n in names
    )
    refs: dict[tuple[int, ...], tuple[int, int, int] | bytes] = {}
    nplane = len(src.plane_shape)
    for pid in range(math.prod(src.plane_shape)):
        plane = src.planes[pid]
        if plane is None:
            continue
        lead = tuple(int(i) for i in np.unravel_index(pid, src.plane_shape)) if nplane else ()
        for b in range(g.length // band):
            index = lead + tuple(b if n == "Y" else 0 for n in names)
            refs[index] = (plane[0], int(plane[1][0]) + b * band * row_bytes, band * row_bytes)
    return ChunkRefs(
        shape=tuple(src.shape),
        chunks=chunks,
        dtype=np.dtype(dtype),
        compressor=None,
        filters=(),
        fill_value=src.fill,
        files=tuple(src.locations),
        refs=refs,
    )


def _padded_strip(
    src: TiffSource,
    pid: int,
    seg: int,
    compressor: dict[str, Any] | None,
    filters: list[dict[str, Any]],
    chunks: tuple[int, ...],
    dtype: str,
) -> bytes:
    """The incomplete last strip, decoded by imgio, padded to a whole strip, encoded again."""
    import numcodecs
    from imagecodecs.numcodecs import register_codecs

    register_codecs(verbose=False)
    g = src.geometry
    nplane = len(src.plane_shape)
    lead = np.unravel_index(pid, src.plane_shape) if nplane else ()
    _, gd, gy, gx = g.grid
    s, rest = divmod(seg, gd * gy * gx)
    d, rest = divmod(rest, gy * gx)
    y, x = divmod(rest, gx)
    y0 = y * g.seg_length
    key: list[slice] = [slice(int(i), int(i) + 1) for i in lead]
    from .source import _page_key

    for i, dim in enumerate(src.page_dims):
        name = _page_key(dim, i, src.page_dims)
        if name == "sep":
            key.append(slice(s, s + 1))
        elif name == "Y":
            key.append(slice(y0, g.length))
        else:
            key.append(slice(0, src.shape[nplane + i]))
    data = src[tuple(key)]
    pad = [(0, c - n) for c, n in zip(chunks, data.shape, strict=True)]
    chunk = np.pad(data, pad, constant_values=src.fill).astype(np.dtype(dtype))
    out: Any = np.ascontiguousarray(chunk)
    for config in filters:
        out = numcodecs.get_codec(dict(config)).encode(out)
    if compressor is not None:
        out = numcodecs.get_codec(dict(compressor)).encode(out)
    return bytes(memoryview(out).cast("B")) if not isinstance(out, bytes) else out
