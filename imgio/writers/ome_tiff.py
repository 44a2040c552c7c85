"""Tiled, pyramidal OME-TIFF written by streaming row bands in file order.

Layout: one series (OME ``Image``) per scene; each plane (``T C Z`` order, Z fastest)
is one tiled page whose reduced levels are SubIFDs. Level 0 is computed from dask one
band of whole chunk rows at a time, one band ahead on a background thread, while
tiles are compressed on ``maxworkers`` threads (a sliding window: no batch barriers, so
the threads stay busy while tiles are cut). Each band is also halved into a
spool that feeds the next level, so no level is recomputed from the source and memory
stays at about two full-width bands of chunk rows plus the tiles being compressed; a
band one tile row high streams in column segments, so memory is also flat in the width.

Memory note: bands are freed by other threads than the ones that allocated them, and
glibc keeps such memory in per-thread arenas; on very large images ``MALLOC_ARENA_MAX=2``
in the environment keeps the peak RSS flat (40,000 x 60,000 RGB: 320 -> 225 MiB).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImgioError, MissingDependencyError
from ._extra import fold_modulo
from ._input import Scene
from ._omexml import ome_xml, pixel_type
from ._pyramid import check_method, level_count, level_shapes
from ._spool import Spool
from ._stream import dask_bands, encoded, spooled, tiles

__all__ = ["COMPRESSIONS", "write_ome_tiff"]

#: compression name -> (tifffile name, imagecodecs codec that must be available)
COMPRESSIONS: dict[str, tuple[str | None, str | None]] = {
    "none": (None, None),
    "zlib": ("zlib", "ZLIB"),
    "deflate": ("zlib", "ZLIB"),
    "zstd": ("zstd", "ZSTD"),
    "lzw": ("lzw", "LZW"),
    "jpeg": ("jpeg", "JPEG8"),
    "jpeg2000": ("jpeg2000", "JPEG2K"),
    "jpegxl": ("jpegxl", "JPEGXL"),
    "webp": ("webp", "WEBP"),
}
LOSSY = {"jpeg", "jpeg2000", "jpegxl", "webp"}
#: what each codec holds without changing a value: dtypes and samples per pixel
#: (JPEG 2000 beyond 16 bits is lossy in OpenJPEG; JPEG XL and WebP have no signed/other ints;
#: bilevel images pack 1 bit per sample, which only the general-purpose codecs accept)
CODEC_LIMITS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "jpeg": (("uint8",), (1, 3)),
    "jpeg2000": (("uint8", "int8", "uint16", "int16"), (1, 3, 4)),
    "jpegxl": (("uint8", "uint16", "float32"), (1, 3, 4)),
    "webp": (("uint8",), (3, 4)),
}
BIGTIFF_LIMIT = 2**32 - 2**27  # leave room for IFDs, XML and byte counts


def _codec(
    compression: str | None, quality: int | None, dtype: np.dtype[Any], samples: int
) -> dict[str, Any]:
    """tifffile's ``compression`` and ``compressionargs`` for a compression name."""
    name = (compression or "none").lower()
    if name not in COMPRESSIONS:
        raise ImgioError(f"compression={compression!r}: expected one of {sorted(COMPRESSIONS)}")
    tiff_name, codec = COMPRESSIONS[name]
    if codec is not None:
        import imagecodecs

        if not getattr(imagecodecs, codec).available:
            raise MissingDependencyError(
                f"compression={name!r} needs imagecodecs built with {codec}: "
                "pip install -U imagecodecs"
            )
    _check_codec(name, np.dtype(dtype), samples)
    if tiff_name is None:
        return {"compression": None}
    args: dict[str, Any] = {"compression": tiff_name, "compressionargs": {}}
    if quality is not None:
        args["compressionargs"]["level"] = int(quality)
    return args


def _check_codec(name: str, dtype: np.dtype[Any], samples: int) -> None:
    """Refuse, before writing, data that ``name`` would change or cannot encode."""
    if dtype == np.bool_ and samples > 1:
        raise ImgioError(
            f"compression={name!r}: bool data is written 1 bit per sample, one sample per "
            f"pixel; found bool with {samples} samples (write uint8, or drop the S axis)"
        )
    if name not in CODEC_LIMITS:
        return
    dtypes, allowed = CODEC_LIMITS[name]
    if dtype.name not in dtypes or samples not in allowed:
        lossless = [c for c in ("zstd", "zlib", "lzw") if c != name]
        raise ImgioError(
            f"compression={name!r} cannot hold {dtype.name} data with {samples} sample(s) "
            f"per pixel: it takes {', '.join(dtypes)} with {' or '.join(map(str, allowed))} "
            f"sample(s); use compression={lossless[0]!r} (lossless, any dtype) instead"
        )


def _encoder(
    codec: dict[str, Any], samples: int, dtype: np.dtype[Any] | None = None
) -> Callable[[np.ndarray[Any, Any]], bytes] | None:
    """The function that compresses one tile exactly as tifffile would, for our own threads.

    Boolean data is stored 1 bit per sample (``BitsPerSample=1``), so each tile row is
    packed to bits before compression, as tifffile does.
    """
    import tifffile

    name = codec["compression"]
    if name not in {"zstd", "zlib", "lzw", "jpeg"}:
        return None  # tifffile compresses the others itself
    tag = {"zstd": 50000, "zlib": 8, "lzw": 5, "jpeg": 7}[name]
    compressor = tifffile.TIFF.COMPRESSORS[tag]
    kwargs = dict(codec["compressionargs"])
    if name == "jpeg" and samples == 3:  # tifffile writes RGB JPEG as YCbCr 4:2:0
        kwargs.update(subsampling=(2, 2), colorspace="RGB", outcolorspace="YCBCR")
    if dtype is not None and np.dtype(dtype) == np.bool_:
        return lambda tile: compressor(np.packbits(tile, axis=-1), **kwargs)
    return lambda tile: compressor(tile, **kwargs)


def _samples(scene: Scene) -> int:
    return int(scene.data.shape[5]) if scene.data.ndim == 6 else 1


def _check_tile(tile: int | Sequence[int]) -> tuple[int, int]:
    th, tw = (tile, tile) if isinstance(tile, int) else tuple(tile)
    if th % 16 or tw % 16 or th <= 0 or tw <= 0:
        raise ImgioError(f"tile={tile!r}: expected positive multiples of 16 (TIFF rule), e.g. 512")
    return int(th), int(tw)


def _plan(
    scenes: Sequence[Scene], tile: tuple[int, int], pyramid_levels: int | str | None
) -> list[list[tuple[int, ...]]]:
    plans = []
    for scene in scenes:
        shape = scene.data.shape
        n = level_count(pyramid_levels, shape[3:5], max(tile))
        plans.append(level_shapes(shape, 3, 4, n))
    return plans


def write_ome_tiff(
    scenes: Sequence[Scene],
    path: Path,
    *,
    tile: int | Sequence[int] = 512,
    compression: str | None = "zstd",
    quality: int | None = None,
    pyramid_levels: int | str | None = "auto",
    downsample: str = "mean",
    bigtiff: bool | None = None,
    maxworkers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write ``scenes`` to a tiled pyramidal OME-TIFF at ``path`` (no temp-name handling here)."""
    import tifffile

    th, tw = _check_tile(tile)
    check_method(downsample)
    scenes = [fold_modulo(scene) for scene in scenes]  # extra dims -> ModuloAlongC/T/Z
    plans = _plan(scenes, (th, tw), pyramid_levels)
    for scene in scenes:  # refuse what a codec cannot hold before the file is opened
        pixel_type(scene.data.dtype)
        _codec(compression, quality, scene.data.dtype, _samples(scene))
    raw = sum(
        math.prod(s) * sc.data.dtype.itemsize
        for sc, plan in zip(scenes, plans, strict=True)
        for s in plan
    )
    if bigtiff is None:
        bigtiff = raw > BIGTIFF_LIMIT
    firsts, count = [], 0
    for scene in scenes:
        firsts.append(count)
        count += math.prod(scene.data.shape[:3])
    # UTF-8, as Bio-Formats and tifffile write OME-XML: Bio-Formats misreads character
    # references such as "&#181;m" (its enumerations then refuse the unit, the file is no OME)
    xml = ome_xml(scenes, first_ifds=firsts).encode("utf-8")
    workers = maxworkers or max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    )
    total_rows = sum(math.prod(s[:4]) for plan in plans for s in plan)
    done = [0]

    def advance(rows: int) -> None:
        done[0] += rows
        if progress is not None:
            progress(done[0], total_rows)

    with tifffile.TiffWriter(path, bigtiff=bigtiff, ome=False) as tif:
        for i, (scene, plan) in enumerate(zip(scenes, plans, strict=True)):
            _write_scene(
                tif,
                scene,
                plan,
                path.parent,
                (th, tw),
                compression,
                quality,
                downsample,
                workers,
                xml if i == 0 else None,
                advance,
            )


def _write_scene(
    tif: Any,
    scene: Scene,
    plan: list[tuple[int, ...]],
    folder: Path,
    tile: tuple[int, int],
    compression: str | None,
    quality: int | None,
    method: str,
    workers: int,
    description: bytes | None,
    advance: Callable[[int], None],
) -> None:
    arr = scene.array
    samples = arr.shape[5] if arr.ndim == 6 else 1
    pixel_type(arr.dtype)
    options: dict[str, Any] = {
        "tile": tile,
        "photometric": "rgb" if samples in (3, 4) else "minisblack",
        "planarconfig": "contig" if samples > 1 else None,
        "maxworkers": workers,
        "metadata": None,
        "software": "imgio",
        **_codec(compression, quality, arr.dtype, samples),
    }
    encode = _encoder(options, samples, arr.dtype) if workers > 1 else None
    tile_shape = (*tile, samples) if samples > 1 else tuple(tile)
    if samples == 4:
        options["extrasamples"] = ("unassalpha",)
    ysize, xsize = scene.pixel_sizes.Y, scene.pixel_sizes.X
    sources = dask_bands(arr, tile[0])
    spools: list[Spool] = []
    try:
        for level, shape in enumerate(plan):
            spool = Spool(folder, method, tile[0]) if level + 1 < len(plan) else None
            if spool is not None:
                spools.append(spool)
            extra: dict[str, Any] = {}
            if ysize and xsize:
                factor = plan[0][4] / shape[4], plan[0][3] / shape[3]
                extra["resolution"] = (1e4 / (xsize * factor[0]), 1e4 / (ysize * factor[1]))
                extra["resolutionunit"] = "CENTIMETER"
            if level == 0:
                extra["subifds"] = len(plan) - 1
                if description is not None:
                    extra["description"] = description
            else:
                extra["subfiletype"] = 1
            bands = spooled(sources, spool, advance)
            try:
                chunks = tiles(bands, tile)
                data = chunks if encode is None else encoded(chunks, encode, tile_shape, workers)
                tif.write(data, shape=shape, dtype=arr.dtype, **options, **extra)
            finally:
                bands.close()
            if spool is not None:
                spool.finish()
                sources = spool.readers(arr.dtype)
            if level > 0:
                spools.pop(0).close()
    finally:
        for spool in spools:
            spool.close()
