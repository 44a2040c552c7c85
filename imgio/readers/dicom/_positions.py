"""Where each frame of an instance lies: tile positions (TILED_FULL: implied by frame
order; TILED_SPARSE: from the Per-Frame Functional Groups), focal planes and optical paths;
and the Extended Offset Table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._values import HeaderError
from ._values import first as _first
from ._values import number as _float
from ._values import whole as _int

__all__ = ["extended_offsets", "full_positions", "sparse_positions"]


def _focal_spacing_um(ds: Any) -> float | None:
    shared = _first(getattr(ds, "SharedFunctionalGroupsSequence", None))
    measures = _first(getattr(shared, "PixelMeasuresSequence", None)) if shared else None
    value = _float(getattr(measures, "SpacingBetweenSlices", None)) if measures else None
    return value * 1000.0 if value else None


def _shared_z(ds: Any) -> float:
    shared = _first(getattr(ds, "SharedFunctionalGroupsSequence", None))
    pos = _first(getattr(shared, "PlanePositionSlideSequence", None)) if shared else None
    z = _float(getattr(pos, "ZOffsetInSlideCoordinateSystem", None)) if pos else None
    return z if z is not None else math.nan


def full_positions(
    ds: Any, n_frames: int, geometry: tuple[int, int, int, int], paths: tuple[str, ...]
) -> tuple[np.ndarray[Any, Any], ...]:
    """TILED_FULL: tile positions implied by frame order (X, then Y, then Z, then path)."""
    tr, tc, total_r, total_c = geometry
    gx, gy = -(-total_c // tc), -(-total_r // tr)
    nz = max(1, _int(ds, "TotalPixelMatrixFocalPlanes", 1))
    offset = _int(ds, "ConcatenationFrameOffsetNumber", 0)
    capacity = gx * gy * nz * max(1, len(paths))
    alone = getattr(ds, "InConcatenationNumber", None) is None and not offset
    if alone and n_frames < gx * gy:  # TILED_FULL leaves no tile out
        raise HeaderError(
            f"TILED_FULL with {n_frames} frames and no concatenation; its {gy} x {gx} tile "
            f"matrix ({total_r} x {total_c} pixels in {tr} x {tc} tiles) needs {gx * gy}"
        )
    if offset < 0 or offset + n_frames > capacity:
        raise HeaderError(
            f"frames {offset + 1}..{offset + n_frames} of a TILED_FULL matrix of {gy} x {gx} "
            f"tiles, {nz} focal planes and {max(1, len(paths))} optical paths ({capacity} frames)"
        )
    n = np.arange(offset, offset + n_frames, dtype=np.int64)
    cols = (n % gx) * tc
    rows = ((n // gx) % gy) * tr
    plane = (n // (gx * gy)) % nz
    path = n // (gx * gy * nz)
    if n_frames and int(path[-1]) >= max(1, len(paths)):
        raise HeaderError(
            f"{offset + n_frames} frames need {int(path[-1]) + 1} optical paths of "
            f"{gy} x {gx} tiles x {nz} focal planes; the instance declares {max(1, len(paths))}"
        )
    step = _focal_spacing_um(ds) or 1.0
    z0 = _shared_z(ds)
    z = (0.0 if math.isnan(z0) else z0) + plane * step if nz > 1 else np.full(n_frames, z0)
    return rows, cols, np.asarray(z, dtype=np.float64), path


def sparse_positions(
    ds: Any, n_frames: int, paths: tuple[str, ...]
) -> tuple[np.ndarray[Any, Any], ...]:
    """TILED_SPARSE: each frame's position from the Per-Frame Functional Groups."""
    groups = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    if groups is None or len(groups) != n_frames:
        found = "none" if groups is None else len(groups)
        raise HeaderError(
            f"TILED_SPARSE needs one Per-Frame Functional Group per frame: "
            f"expected {n_frames}, found {found}"
        )
    rows = np.empty(n_frames, np.int64)
    cols = np.empty(n_frames, np.int64)
    z = np.full(n_frames, _shared_z(ds))
    path = np.zeros(n_frames, np.int64)
    index = {p: i for i, p in enumerate(paths)}
    shared = _first(getattr(ds, "SharedFunctionalGroupsSequence", None))
    shared_path = _first(getattr(shared, "OpticalPathIdentificationSequence", None))
    for i, item in enumerate(groups):
        pos = _first(getattr(item, "PlanePositionSlideSequence", None))
        if pos is None:
            raise HeaderError(f"frame {i + 1} has no Plane Position (Slide) Sequence")
        rows[i] = _int(pos, "RowPositionInTotalImagePixelMatrix") - 1
        cols[i] = _int(pos, "ColumnPositionInTotalImagePixelMatrix") - 1
        zi = _float(getattr(pos, "ZOffsetInSlideCoordinateSystem", None))
        if zi is not None:
            z[i] = zi
        ident = _first(getattr(item, "OpticalPathIdentificationSequence", None)) or shared_path
        if ident is not None:
            key = str(getattr(ident, "OpticalPathIdentifier", "") or "")
            if key not in index:
                raise HeaderError(f"frame {i + 1} names optical path {key!r}, not in {paths}")
            path[i] = index[key]
    return rows, cols, z, path


def extended_offsets(ds: Any) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    table = getattr(ds, "ExtendedOffsetTable", None)
    lengths = getattr(ds, "ExtendedOffsetTableLengths", None)
    if not table or not lengths:
        return None
    offs = np.frombuffer(bytes(table)[: len(table) // 8 * 8], "<u8")
    lens = np.frombuffer(bytes(lengths)[: len(lengths) // 8 * 8], "<u8")
    return tuple(int(v) for v in offs), tuple(int(v) for v in lens)
