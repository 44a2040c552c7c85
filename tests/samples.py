"""Adapters between sample manifests (``manifest.json``) and imgio.

A manifest records, per file, what an independent reader (tifffile) returns: per
series and level the shape, dtype and axes in tifffile's letters, and for level 0
the sha256 of the C-contiguous little-endian bytes, a few pixel values and
min/max/mean. These helpers turn imgio's presented ``[extra] T C Z Y X [S]`` array
into the manifest's axis order so both can be compared.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SHARED = Path(os.environ.get("IMGIO_SAMPLES", HERE.parents[1] / "shared" / "samples"))
ROOTS = (DATA, SHARED)

#: manifest categories of the TIFF family (the reading core); ``bad`` holds broken inputs
TIFF_CATEGORIES = ("tiff", "imagej", "ome-tiff", "wsi", "bad")


def load_manifest(root: Path) -> dict[str, Any] | None:
    path = root / "manifest.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def tiff_entries(root: Path) -> list[dict[str, Any]]:
    manifest = load_manifest(root)
    if manifest is None:
        return []
    return [e for e in manifest["files"] if e.get("category") in TIFF_CATEGORIES]


@dataclass
class Expected:
    """What the manifest says one (scene, level) holds."""

    scene: int
    level: int
    axes: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    sha256: str | None = None
    stats: dict[str, float] | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    lossy: bool = False
    error: str | None = None

    @property
    def label(self) -> str:
        return f"scene {self.scene} level {self.level} ({self.axes} {self.shape} {self.dtype})"


def expected_arrays(entry: dict[str, Any]) -> list[Expected]:
    """Every (series, level) of a TIFF entry, level 0 with checksums."""
    truth = entry["ground_truth"]
    lossy = bool(truth.get("lossy"))
    out = []
    for series in truth.get("series", []):
        axes = series["axes"]
        for j, level in enumerate(series["levels"]):
            want = Expected(
                scene=series["index"],
                level=j,
                axes=axes,
                shape=tuple(level["shape"]),
                dtype=np.dtype(level["dtype"]),
                lossy=lossy,
            )
            if j == 0:
                l0 = series.get("level0", {})
                want.error = l0.get("error")
                want.sha256 = l0.get("sha256")
                want.stats = l0.get("stats")
                want.samples = l0.get("samples", [])
                if "axes" in l0:
                    want.axes = l0["axes"]
            out.append(want)
    return out


def expected_error(entry: dict[str, Any]) -> str | None:
    """The error an established reader raised on the file (at open or for level 0)."""
    truth = entry.get("ground_truth", {})
    if "error" in truth:
        return str(truth["error"])
    for series in truth.get("series", []):
        l0 = series.get("level0", {})
        if "error" in l0:
            return str(l0["error"])
        if "not_read" in l0:
            return str(l0["not_read"])
    return None


def to_axes(
    data: np.ndarray[Any, Any], dims: str, axes: str, shape: tuple[int, ...]
) -> np.ndarray[Any, Any]:
    """Reorder ``data`` (dims ``dims``) into the manifest's ``axes`` of ``shape``.

    Letters are matched first (same letter, same size); what is left is matched by
    size in order (imgio renames clashing letters); leftover imgio dims must be
    singletons and are squeezed; leftover manifest axes of size 1 are added.
    """
    if len(dims) != data.ndim:
        raise AssertionError(f"dims {dims!r} do not match array of {data.ndim} dims")
    source: list[int | None] = [None] * len(axes)
    used: set[int] = set()
    for i, (a, n) in enumerate(zip(axes, shape, strict=True)):
        j = dims.find(a)
        if j >= 0 and data.shape[j] == n and j not in used:
            source[i] = j
            used.add(j)
    for i, n in enumerate(shape):
        if source[i] is not None or n == 1:
            continue
        for j in range(data.ndim):
            if j not in used and data.shape[j] == n:
                source[i] = j
                used.add(j)
                break
        else:
            raise AssertionError(
                f"no imgio dim of size {n} for axis {axes[i]!r}: {dims} {data.shape}"
            )
    rest = [j for j in range(data.ndim) if j not in used]
    extra = [(dims[j], data.shape[j]) for j in rest if data.shape[j] != 1]
    if extra:
        raise AssertionError(f"imgio dims {extra} have no counterpart in {axes} {shape}")
    picked = [j for j in source if j is not None]
    arr = np.transpose(data, picked + rest).reshape([data.shape[j] for j in picked])
    return arr.reshape(shape)


def array_sha256(arr: np.ndarray[Any, Any]) -> str:
    """sha256 of the C-contiguous little-endian bytes (the manifest's convention)."""
    arr = np.ascontiguousarray(arr)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return hashlib.sha256(arr.tobytes()).hexdigest()


def assert_samples(arr: np.ndarray[Any, Any], want: Expected) -> None:
    for sample in want.samples:
        got = arr[tuple(sample["index"])]
        value = sample["value"]
        if want.lossy:
            continue
        if isinstance(value, float) and np.isnan(value):
            assert np.isnan(got), f"{want.label} at {sample['index']}: {got} != nan"
        else:
            assert got == value, f"{want.label} at {sample['index']}: {got} != {value}"


def assert_stats_close(arr: np.ndarray[Any, Any], stats: dict[str, float], *, lossy: bool) -> None:
    """min/max/mean within a few levels for lossy codecs, exact(ish) otherwise."""
    values = arr.astype(np.float64)
    got = {"min": float(values.min()), "max": float(values.max()), "mean": float(values.mean())}
    span = max(1.0, stats["max"] - stats["min"])
    tol = {"min": 0.03 * span, "max": 0.03 * span, "mean": 0.01 * span} if lossy else {}
    for key, want in stats.items():
        if want is None or (isinstance(want, float) and np.isnan(want)):
            continue
        assert abs(got[key] - want) <= tol.get(key, 1e-6 * max(1.0, abs(want))), (
            f"{key}: imgio {got[key]} vs manifest {want}"
        )
