"""DICOM whole-slide series (VL Whole Slide Microscopy Image IOD), streamed in flat memory.

A folder receives one series per slide scene: one VOLUME instance per pyramid level
(TILED_FULL: frames row by row, then focal planes ``Z``, then optical paths ``C``), and
LABEL, OVERVIEW and THUMBNAIL instances for the source's associated images. Pixels stream as
for OME-TIFF (:mod:`~imgio.writers._stream`, :mod:`~imgio.writers._cascade`): source
blocks a few at a time, every level's tiles made from the tiles above them, encoded on
a thread pool. Frames are spilled in the order they finish and copied into their
instance in frame order at the end (:mod:`~imgio.writers._dicom_file`), so the Basic
Offset Table is filled and memory stays flat. Level-0 tiles that the source stores as
JPEG (SVS) are copied, not re-encoded, when the output is JPEG with the source's tiles.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImgioError, ImgioWarning
from ._cascade import Pyramid
from ._dicom_codecs import CODECS, encoder, photometric, resolve_compression
from ._dicom_dataset import Instance, SeriesIds, instance_header
from ._dicom_facts import source_facts
from ._dicom_file import Frames
from ._dicom_jpeg import J2kInfo, JpegInfo
from ._dicom_part import (
    SOURCE_METHOD,
    DicomPart,
    attach_raw_tiles,
    copy_level0,
    lossy_steps,
    raw_info,
    samples_of,
    source_ratio,
)
from ._input import Scene

if TYPE_CHECKING:
    from ..arrays import ImageFile
from ._pyramid import check_method, level_count, level_shapes
from ._stream import groups, run

__all__ = ["CODECS", "DicomPart", "write_dicom"]

SUFFIX = ".dcm"  # the suffix of the instance files this writer makes


ROLES = {"label": "LABEL", "macro": "OVERVIEW", "overview": "OVERVIEW", "thumbnail": "THUMBNAIL"}


def _check_scene(scene: Scene) -> None:
    dims = scene.dims
    if dims not in ("TCZYX", "TCZYXS"):
        raise ImgioError(
            f"scene {scene.name!r} has dims {dims}: DICOM WSI holds C (optical paths), "
            "Z (focal planes), Y, X and S only; select one index of the others first"
        )
    if scene.data.shape[0] != 1:
        raise ImgioError(
            f"scene {scene.name!r} has {scene.data.shape[0]} time points: DICOM WSI holds "
            "one; select one (e.g. data.isel(T=0))"
        )


def _tile(part: DicomPart, tile: int | Sequence[int] | None) -> tuple[int, int]:
    if tile is None:
        return part.raw_tile_shape or (512, 512)
    th, tw = (tile, tile) if isinstance(tile, int) else tuple(tile)
    if th % 16 or tw % 16 or th <= 0 or tw <= 0:
        raise ImgioError(f"tile={tile!r}: expected positive multiples of 16, e.g. 512")
    return int(th), int(tw)


def write_dicom(
    parts: Sequence[DicomPart],
    folder: Path,
    *,
    tile: int | Sequence[int] | None = None,
    compression: str | None = "auto",
    quality: int | None = None,
    pyramid_levels: int | str | None = "auto",
    downsample: str = "mean",
    maxworkers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write ``parts`` as DICOM WSI series into a new ``folder`` (no temp-name handling here).

    Returns the instance files written.
    """
    check_method(downsample)
    slides = [p for p in parts if p.role is None]
    if not slides:
        raise ImgioError("nothing to write: expected at least one slide scene (not only labels)")
    jobs: list[tuple[DicomPart, str, tuple[int, int], int]] = []
    for part in parts:
        _check_scene(part.scene)
        dtype, samples = part.scene.data.dtype, samples_of(part.scene)
        name = resolve_compression(compression, dtype, samples)
        if compression == "auto" and part.raw_tile is not None and part.raw_format == "jpeg2000":
            # the source's JPEG 2000 tiles pass through into level 0, not re-encoded; the
            # levels made here take the usual (faster) codec: one transfer syntax per instance
            part.level0 = resolve_compression("jpeg2000", dtype, samples)
        if part.role is not None:
            height, width = part.scene.data.shape[3:5]
            jobs.append((part, name, (int(height), int(width)), 1))
            continue
        th, tw = _tile(part, tile)
        n = level_count(pyramid_levels, part.scene.data.shape[3:5], max(th, tw))
        jobs.append((part, name, (th, tw), n))
    total = sum(_tiles(p.scene, t, n) for p, _, t, n in jobs)
    counter = _Progress(total, progress)
    workers = maxworkers or max(1, len(os.sched_getaffinity(0)))
    folder.mkdir()
    ids: dict[int, SeriesIds] = {}
    study = None
    for part, name, tile_shape, n in jobs:
        slide = id(slides[0]) if part.role is not None else id(part)
        if slide not in ids:
            ids[slide] = SeriesIds.generate(study, _owner(part, slides).facts)
            study = ids[slide].study
        prefix = "" if len(slides) == 1 else f"s{slides.index(_owner(part, slides))}-"
        part.files = _write_part(
            part,
            folder,
            prefix,
            ids[slide],
            name,
            quality,
            tile_shape,
            n,
            downsample,
            workers,
            counter,
        )
    return [f for p in parts for f in p.files]


def _owner(part: DicomPart, slides: list[DicomPart]) -> DicomPart:
    return slides[0] if part.role is not None else part


def _tiles(scene: Scene, tile: tuple[int, int], levels: int) -> int:
    shape = scene.data.shape
    plan = level_shapes(shape[:5], 3, 4, levels)
    return sum(math.prod(s[:3]) * -(-s[3] // tile[0]) * -(-s[4] // tile[1]) for s in plan)


class _Progress:
    """Counts stored tiles (from the encoder threads) for ``progress(done, total)``."""

    def __init__(self, total: int, report: Callable[[int, int], None] | None) -> None:
        self.total, self.report, self.done = total, report, 0
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.done += 1
            if self.report is not None:
                self.report(self.done, self.total)


def _write_part(
    part: DicomPart,
    folder: Path,
    prefix: str,
    ids: SeriesIds,
    name: str,
    quality: int | None,
    tile: tuple[int, int],
    n: int,
    method: str,
    workers: int,
    counter: _Progress,
) -> list[Path]:
    """Every instance of one part: its levels (a slide) or its one image (label, macro)."""
    scene = part.scene
    samples = samples_of(scene)
    plan = level_shapes(scene.data.shape[:5], 3, 4, n)
    name0 = part.level0 or name
    raw = raw_info(part, name0, tile)
    if raw is None:  # nothing passes through (e.g. another tile size): one codec throughout
        name0 = name
    insts = [_instance(part, name0 if k == 0 else name, tile, plan, k, raw) for k in range(n)]
    if part.role is None:
        files = [folder / f"{prefix}level-{k}{SUFFIX}" for k in range(n)]
    else:
        files = [folder / f"{prefix}{ROLES[part.role].lower()}{SUFFIX}"]
    frames = [
        Frames(f.with_name(f".{f.name}.frames"), i.frames)
        for f, i in zip(files, insts, strict=True)
    ]
    try:
        per_plane = [-(-s[3] // tile[0]) * -(-s[4] // tile[1]) for s in plan]
        columns = -(-plan[0][4] // tile[1])
        shape = (*tile, samples) if samples > 1 else tile
        encode = encoder(name, quality, shape)
        # level 0's missing stored tiles are coded as the stored ones (one photometric)
        encode0 = encoder(name0, quality, shape, raw) if raw or name0 != name else encode

        def pyramid(plane: int) -> Pyramid:
            def put(level: int, index: int, pixels: np.ndarray[Any, Any]) -> None:
                data = None
                if level == 0 and raw is not None and part.raw_tile is not None:
                    data = part.raw_tile(plane, index // columns, index % columns)
                if data is None:
                    data = encode0(pixels) if level == 0 else encode(pixels)
                frames[level].put(plane * per_plane[level] + index, data)
                counter()

            return Pyramid([(int(s[3]), int(s[4])) for s in plan], tile, method, put)

        if raw is not None and n == 1:  # level 0 alone, from stored tiles: copied, not decoded
            copy_level0(part, frames[0], per_plane[0], columns, tile, encode0, counter)
        else:
            run(groups(scene.array, workers=workers), pyramid, workers)
        source = source_ratio(part, plan[0])
        for f, fr, inst in zip(files, frames, insts, strict=True):
            inherited = inst.lossy[:1] == [SOURCE_METHOD[part.raw_format]] and source is not None
            inherited = inherited and not (raw is not None and inst.number == 1)
            _finish(f, fr, inst, ids, source if inherited else None)
    finally:
        for fr in frames:
            fr.close()
    return files


def _instance(
    part: DicomPart,
    name: str,
    tile: tuple[int, int],
    plan: list[tuple[int, ...]],
    k: int,
    raw: JpegInfo | J2kInfo | None,
) -> Instance:
    scene = part.scene
    shape = plan[k]
    samples = samples_of(scene)
    sizes = scene.pixel_sizes
    spacing = imaged = None
    if sizes.Y and sizes.X:  # level k's pixel is 2**k of level 0's (odd edges replicated)
        spacing = (sizes.Y * 2**k / 1000.0, sizes.X * 2**k / 1000.0)
        imaged = (plan[0][3] * sizes.Y / 1000.0, plan[0][4] * sizes.X / 1000.0)
    elif part.role is None:
        warnings.warn(
            f"scene {scene.name!r} has no pixel size: the DICOM series has no Pixel Spacing "
            "(pass physical_pixel_sizes=(None, y_um, x_um))",
            ImgioWarning,
            stacklevel=4,
        )
    photo = photometric(name, samples)
    if raw is not None and k == 0:
        photo = raw.photometric
    kind = "VOLUME" if part.role is None else ROLES[part.role]
    size = (int(shape[3]), int(shape[4]))
    return Instance(
        kind=kind,
        number=k + 1 if part.role is None else {"LABEL": 90, "OVERVIEW": 91, "THUMBNAIL": 92}[kind],
        size=size,
        tile=tile if part.role is None else size,
        samples=samples,
        bits=8 * scene.data.dtype.itemsize,
        photometric=photo,
        syntax=CODECS[name].syntax,
        lossy=lossy_steps(part, name, raw is not None and k == 0),
        derived=k > 0,
        focal_planes=int(shape[2]),
        optical_paths=list(scene.channel_names),
        colors=scene.channel_colors,
        spacing_mm=spacing,
        imaged_mm=imaged,
        z_spacing_mm=sizes.Z / 1000.0 if sizes.Z and shape[2] > 1 else None,
        z_origin_um=float(scene.origin.get("Z", 0.0)),
        container=scene.name,
        icc_profile=part.icc_profile,
        objective_power=part.objective_power,
    )


def _finish(
    path: Path, frames: Frames, inst: Instance, ids: SeriesIds, source_ratio: float | None
) -> None:
    encapsulated = inst.syntax != CODECS["none"].syntax
    extra: dict[str, Any] = {}
    if encapsulated and frames.needs_extended_table():
        extra["ExtendedOffsetTable"], extra["ExtendedOffsetTableLengths"] = frames.extended_tables()
    ratios = [] if source_ratio is None else [source_ratio]
    if any(c.lossy is not None and c.syntax == inst.syntax for c in CODECS.values()):
        raw = inst.frames * inst.tile[0] * inst.tile[1] * inst.samples * inst.bits // 8
        ratios.append(raw / max(1, frames.native_length()))
    if ratios:
        extra["LossyImageCompressionRatio"] = [f"{r:.2f}" for r in ratios]
    inst = replace(inst, extra=extra)
    header = instance_header(ids, inst)
    frames.assemble(path, header, encapsulated=encapsulated, vr="OW" if inst.bits > 8 else "OB")


def parts_of(
    file: ImageFile | None, items: Sequence[Scene], scenes: Sequence[int | str] | None = None
) -> list[DicomPart]:
    """``items`` (the picked ``scenes`` of ``file``, or plain arrays' scenes when ``file`` is
    None) as :class:`DicomPart`: associated images get their role, slide scenes their
    stored JPEG tiles (for passthrough) and objective power."""
    from ._input import scene_index

    if file is None:
        return [DicomPart(scene) for scene in items]
    names = list(file.scene_names)
    picked = list(range(len(names))) if scenes is None else [scene_index(s, names) for s in scenes]
    if len(picked) != len(items):
        return [DicomPart(scene) for scene in items]
    infos = file.infos()
    out = []
    for i, scene in zip(picked, items, strict=True):
        role = infos[i].associated
        if role is not None and role not in ROLES:
            continue  # an associated image the IOD has no image type for
        part = DicomPart(scene, role)
        if role is None:
            attach_raw_tiles(part, file.source(i, 0))
            part.objective_power = file.objective_power(i)
            part.facts = source_facts(file, i)
        out.append(part)
    return out
