"""Tiled, pyramidal OME-TIFF, written from a dask array in flat memory.

Layout: one series (OME ``Image``) per scene; each plane (``T C Z`` order, Z fastest)
is one tiled page whose reduced levels are SubIFDs. tifffile writes every IFD first,
with empty tiles (:mod:`~imgio.writers._tiff_offsets`); then each plane is computed a few
whole dask chunks at a time (:mod:`~imgio.writers._stream`), cut into tiles, and every
level's tiles are made from the tiles above them as soon as those are complete
(:mod:`~imgio.writers._cascade`). Tiles are encoded on ``maxworkers`` threads and
appended to the file in the order they finish; the tile offsets are written last. So
nothing larger than a few source chunks and one tile per waiting tile position is held,
and no level is ever recomputed or read back.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImgioError, MissingDependencyError
from ._cascade import Pyramid
from ._extra import fold_modulo
from ._input import Scene
from ._omexml import ome_xml, pixel_type
from ._pyramid import check_method, level_count, level_shapes
from ._stream import groups, run
from ._tiff_offsets import TileFile

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
    codec: dict[str, Any], samples: int, dtype: np.dtype[Any], tile_shape: tuple[int, ...]
) -> Callable[[np.ndarray[Any, Any]], bytes]:
    """The function that stores one tile exactly as tifffile would, for our own threads.

    Edge tiles are zero-padded to the whole tile first. Boolean data is stored 1 bit per
    sample (``BitsPerSample=1``), each tile row packed to bits, as tifffile does.
    """
    import tifffile

    name = codec["compression"]
    stored = np.dtype(dtype).newbyteorder("<")  # tifffile writes little-endian files
    kwargs = dict(codec.get("compressionargs", {}))
    if name is None:
        compressor: Callable[..., bytes] = lambda tile: tile.tobytes()  # noqa: E731
    else:
        tag = 8 if name == "zlib" else int(tifffile.COMPRESSION[name.upper()])
        compressor = tifffile.TIFF.COMPRESSORS[tag]
        if tag == 34712:  # JPEG 2000 as a J2K codestream, as tifffile stores it
            kwargs["codecformat"] = 0
    if name == "jpeg" and samples == 3:  # tifffile writes RGB JPEG as YCbCr 4:2:0
        kwargs.update(subsampling=(2, 2), colorspace="RGB", outcolorspace="YCBCR")
    pack = np.dtype(dtype) == np.bool_

    def encode(tile: np.ndarray[Any, Any]) -> bytes:
        if tile.shape != tile_shape:
            tile = np.pad(tile, [(0, w - g) for w, g in zip(tile_shape, tile.shape, strict=True)])
        tile = np.ascontiguousarray(tile, stored)
        if pack:
            tile = np.packbits(tile, axis=-1)
        return compressor(tile, **kwargs)

    return encode


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
    if bigtiff is None:
        bigtiff = _bigtiff(scenes, plans)
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
    with tifffile.TiffWriter(path, bigtiff=bigtiff, ome=False) as tif:
        for i, (scene, plan) in enumerate(zip(scenes, plans, strict=True)):
            options = _options(scene, (th, tw), compression, quality)
            _skeleton(tif, scene, plan, options, xml if i == 0 else None)
    _fill(
        path, scenes, plans, firsts, (th, tw), compression, quality, downsample, workers, progress
    )


def _fill(
    path: Path,
    scenes: Sequence[Scene],
    plans: list[list[tuple[int, ...]]],
    firsts: list[int],
    tile: tuple[int, int],
    compression: str | None,
    quality: int | None,
    method: str,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Store every tile of the skeleton at ``path``; its tile tables are written last."""
    th, tw = tile
    total = sum(math.prod(s[:3]) * -(-s[3] // th) * -(-s[4] // tw) for plan in plans for s in plan)
    done = [0]

    def advance(tiles: int) -> None:  # called under the tile file's lock: in order
        done[0] += tiles
        if progress is not None:
            progress(done[0], total)

    store = TileFile(path, sum(math.prod(sc.data.shape[:3]) for sc in scenes), advance)
    ok = False
    try:
        for scene, plan, first in zip(scenes, plans, firsts, strict=True):
            encode = _encoder(
                _options(scene, tile, compression, quality),
                _samples(scene),
                scene.array.dtype,
                (th, tw, *scene.array.shape[5:]),
            )
            _write_pixels(store, scene.array, plan, first, tile, encode, method, workers)
        ok = True
    finally:
        store.close(patch=ok)


def _bigtiff(scenes: Sequence[Scene], plans: list[list[tuple[int, ...]]]) -> bool:
    """BigTIFF when the raw pixels of every level would outgrow a classic TIFF."""
    raw = sum(
        math.prod(s) * sc.data.dtype.itemsize
        for sc, plan in zip(scenes, plans, strict=True)
        for s in plan
    )
    return raw > BIGTIFF_LIMIT


def _options(
    scene: Scene, tile: tuple[int, int], compression: str | None, quality: int | None
) -> dict[str, Any]:
    """tifffile's options for every page of ``scene``."""
    arr = scene.array
    samples = _samples(scene)
    options: dict[str, Any] = {
        "tile": tile,
        "photometric": "rgb" if samples in (3, 4) else "minisblack",
        "planarconfig": "contig" if samples > 1 else None,
        "metadata": None,
        "software": "imgio",
        **_codec(compression, quality, arr.dtype, samples),
    }
    if samples == 4:
        options["extrasamples"] = ("unassalpha",)
    return options


def _skeleton(
    tif: Any,
    scene: Scene,
    plan: list[tuple[int, ...]],
    options: dict[str, Any],
    description: bytes | None,
) -> None:
    """Every IFD of ``scene`` (pages, SubIFD levels), its tiles empty: filled in later."""
    ysize, xsize = scene.pixel_sizes.Y, scene.pixel_sizes.X
    th, tw = options["tile"]
    for level, shape in enumerate(plan):
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
        contiguous = (
            options["compression"] is None
            and scene.array.dtype != np.bool_
            and shape[3:5] == (th, tw)
        )  # tifffile reserves the space of such a level itself (and takes no iterator)
        tiles = math.prod(shape[:3]) * -(-shape[3] // th) * -(-shape[4] // tw)
        data = None if contiguous else itertools.repeat((b"", 0), tiles)
        tif.write(data, shape=shape, dtype=scene.array.dtype, **options, **extra)


def _write_pixels(
    store: TileFile,
    arr: Any,
    plan: list[tuple[int, ...]],
    first: int,
    tile: tuple[int, int],
    encode: Callable[[np.ndarray[Any, Any]], bytes],
    method: str,
    workers: int,
) -> None:
    """Compute ``arr`` plane by plane and store every level's tiles of each plane."""
    shapes = [(int(s[3]), int(s[4])) for s in plan]

    def pyramid(plane: int) -> Pyramid:
        def put(level: int, index: int, pixels: np.ndarray[Any, Any]) -> None:
            store.put(first + plane, level, index, encode(pixels))

        return Pyramid(shapes, tile, method, put)

    run(groups(arr, workers=workers), pyramid, workers)
