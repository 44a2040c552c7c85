"""A scene to write as DICOM (:class:`DicomPart`) and the stored tiles it may pass through.

A source that keeps its level-0 tiles as JPEG or JPEG 2000 hands them over undecoded
(``raw_tile``); they become level-0 frames as they are, with the Photometric
Interpretation their coding means, and the lossy steps the pixels went through are
declared (Lossy Image Compression Method and Ratio).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._dicom_codecs import CODECS
from ._dicom_file import Frames
from ._dicom_jpeg import J2kInfo, JpegInfo, j2k_info, jpeg_info
from ._input import Scene

if TYPE_CHECKING:
    from ..readers.base import ArraySource

__all__ = [
    "SOURCE_METHOD",
    "DicomPart",
    "attach_raw_tiles",
    "copy_level0",
    "lossy_steps",
    "raw_info",
    "samples_of",
    "source_ratio",
]

#: the Lossy Image Compression Method of a source's stored tiles, by their format
SOURCE_METHOD = {"jpeg": "ISO_10918_1", "jpeg2000": "ISO_15444_1"}


@dataclass
class DicomPart:
    """A scene to write and what it is: the slide (``role`` None), ``label``, ``macro`` or
    ``thumbnail``.

    ``raw_tile(plane, tile_row, tile_column)`` gives a level-0 tile's stored bytes
    (a standalone JPEG, or a JPEG 2000 codestream: ``raw_format``), when the source has
    them; ``raw_tile_shape`` is their tile size.
    """

    scene: Scene
    role: str | None = None
    raw_tile: Callable[[int, int, int], bytes | None] | None = None
    raw_tile_shape: tuple[int, int] | None = None
    raw_format: str = "jpeg"  # "jpeg" or "jpeg2000"
    facts: dict[str, Any] = field(default_factory=dict)  # the source's header values
    level0: str | None = None  # level 0's codec when it differs from the others' (passthrough)
    icc_profile: bytes | None = None
    objective_power: float | None = None
    files: list[Path] = field(default_factory=list)


def samples_of(scene: Scene) -> int:
    return int(scene.data.shape[5]) if scene.data.ndim == 6 else 1


def copy_level0(
    part: DicomPart,
    frames: Frames,
    per_plane: int,
    columns: int,
    tile: tuple[int, int],
    encode: Callable[[np.ndarray[Any, Any]], bytes],
    counter: Callable[[], None],
) -> None:
    """Level 0 from the source's stored tiles, without decoding them (a tile the source
    lacks is read and encoded)."""
    assert part.raw_tile is not None
    data = part.scene.array
    planes = int(data.shape[1] * data.shape[2])
    for plane in range(planes):
        c, z = divmod(plane, int(data.shape[2]))
        for index in range(per_plane):
            row, col = divmod(index, columns)
            stored = part.raw_tile(plane, row, col)
            if stored is None:
                ys = slice(row * tile[0], (row + 1) * tile[0])
                xs = slice(col * tile[1], (col + 1) * tile[1])
                stored = encode(np.asarray(data[0, c, z, ys, xs].compute()))
            frames.put(plane * per_plane + index, stored)
            counter()


def raw_info(part: DicomPart, name: str, tile: tuple[int, int]) -> JpegInfo | J2kInfo | None:
    """The stored tiles' coding when level 0 can pass them through (JPEG tiles into JPEG,
    JPEG 2000 codestreams into JPEG 2000), else None."""
    if part.raw_tile is None or name != part.raw_format or part.raw_tile_shape != tile:
        return None
    first = part.raw_tile(0, 0, 0)
    info: JpegInfo | J2kInfo | None = None
    if first is not None:
        info = jpeg_info(first) if part.raw_format == "jpeg" else j2k_info(first)
    if (
        info is None
        or (info.rows, info.columns) != tile
        or info.components != samples_of(part.scene)
    ):
        return None
    return info


def lossy_steps(part: DicomPart, name: str, passed_through: bool) -> list[str]:
    """Lossy Image Compression Method: every lossy coding the frames' pixels went through
    (pixels once JPEG-compressed stay lossy in DICOM's eyes, whatever codes them now)."""
    steps = [] if part.raw_tile is None or passed_through else [SOURCE_METHOD[part.raw_format]]
    method = CODECS[name].lossy
    return steps + ([method] if method is not None else [])


def source_ratio(part: DicomPart, shape: tuple[int, ...]) -> float | None:
    """How much the source's stored JPEG tiles compressed level 0 (the ratio of the lossy
    step before ours, which DICOM keeps)."""
    if part.raw_tile is None or part.raw_tile_shape is None:
        return None
    th, tw = part.raw_tile_shape
    rows, cols = -(-shape[3] // th), -(-shape[4] // tw)
    stored = 0
    for plane in range(int(shape[1] * shape[2])):
        for r in range(rows):
            for c in range(cols):
                stored += len(part.raw_tile(plane, r, c) or b"")
    full = rows * cols * th * tw * int(shape[1] * shape[2]) * samples_of(part.scene)
    return full / stored if stored else None


def attach_raw_tiles(part: DicomPart, src: ArraySource) -> None:
    """Give ``part`` the source's stored JPEG (or else JPEG 2000) tiles, when it keeps them."""
    dims = src.dims
    if dims not in ("TCZYX", "TCZYXS") or tuple(src.shape) != part.scene.data.shape:
        return
    chunks = dict(zip(dims, src.chunks, strict=True))
    z = int(src.shape[2])
    shape = (int(chunks["Y"]), int(chunks["X"]))
    if shape[0] % 2 or shape[1] % 2:
        return
    for fmt in ("jpeg", "jpeg2000"):

        def raw_tile(plane: int, row: int, col: int, fmt: str = fmt) -> bytes | None:
            c, k = divmod(plane, z)
            index = [0, c // chunks["C"], k // chunks["Z"], row, col] + [0] * (len(dims) == 6)
            got = src.raw_tile(tuple(index), fmt)
            return None if got is None else bytes(got)

        first = raw_tile(0, 0, 0)
        if first is None:
            continue
        info = jpeg_info(first) if fmt == "jpeg" else j2k_info(first)
        if info is not None and (info.rows, info.columns) == shape:
            part.raw_tile, part.raw_tile_shape, part.raw_format = raw_tile, shape, fmt
        return
