"""A test-side Imaris 5.5 writer (h5py), independent of imgio's: given levels, attributes
as Imaris writes them (arrays of one-byte strings), data sets padded to whole chunks.

Levels are passed explicitly (T, C, Z, Y, X arrays, full resolution first), so tests
choose any pyramid, including odd sizes whose padding the reader must crop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

__all__ = ["chars", "write_ims"]


def chars(text: str) -> np.ndarray:
    """An attribute value the way Imaris stores text."""
    return np.array([bytes([b]) for b in text.encode()], dtype="S1")


def write_ims(
    path: Path,
    levels: Sequence[np.ndarray],
    *,
    chunks: tuple[int, int, int] = (8, 16, 16),
    extent_min: tuple[float, float, float] = (0.0, 0.0, 0.0),  # X, Y, Z
    voxel: tuple[float, float, float] = (0.2, 0.2, 1.0),  # X, Y, Z in units
    unit: str = "um",
    names: Sequence[str] = (),
    colors: Sequence[str] = (),
    ranges: Sequence[str] = (),
    times: Sequence[str] = (),
    thumbnail: np.ndarray | None = None,
    compression: str | None = "gzip",
) -> Path:
    """Write the levels (each ``(T, C, Z, Y, X)``) as an Imaris file; returns ``path``."""
    t_n, c_n, z_n, y_n, x_n = levels[0].shape
    with h5py.File(path, "w") as f:
        for key, value in (
            ("ImarisDataSet", "ImarisDataSet"),
            ("ImarisVersion", "5.5.0"),
            ("DataSetDirectoryName", "DataSet"),
            ("DataSetInfoDirectoryName", "DataSetInfo"),
            ("ThumbnailDirectoryName", "Thumbnail"),
        ):
            f.attrs[key] = chars(value)
        f.attrs["NumberOfDataSets"] = np.array([1], dtype=np.uint32)
        for r, level in enumerate(levels):
            for t in range(t_n):
                for c in range(c_n):
                    group = f.create_group(f"DataSet/ResolutionLevel {r}/TimePoint {t}/Channel {c}")
                    vol = level[t, c]
                    ck = tuple(min(k, n) for k, n in zip(chunks, vol.shape, strict=True))
                    padded = tuple(-(-n // k) * k for n, k in zip(vol.shape, ck, strict=True))
                    ds = group.create_dataset(
                        "Data", shape=padded, dtype=vol.dtype, chunks=ck, compression=compression
                    )
                    ds[: vol.shape[0], : vol.shape[1], : vol.shape[2]] = vol
                    for d, n in zip("ZYX", vol.shape, strict=True):
                        group.attrs[f"ImageSize{d}"] = chars(str(n))
                    hist, _ = np.histogram(vol, bins=256)
                    group.create_dataset("Histogram", data=hist.astype(np.uint64))
                    group.attrs["HistogramMin"] = chars(f"{float(vol.min()):.3f}")
                    group.attrs["HistogramMax"] = chars(f"{float(vol.max()):.3f}")
        image = f.create_group("DataSetInfo/Image")
        for d, n in zip("XYZ", (x_n, y_n, z_n), strict=True):
            image.attrs[d] = chars(str(n))
        for i, (lo, step, n) in enumerate(zip(extent_min, voxel, (x_n, y_n, z_n), strict=True)):
            image.attrs[f"ExtMin{i}"] = chars(f"{lo:.9f}")
            image.attrs[f"ExtMax{i}"] = chars(f"{lo + step * n:.9f}")
        image.attrs["Unit"] = chars(unit)
        image.attrs["Name"] = chars("test image")
        for c in range(c_n):
            ch = f.create_group(f"DataSetInfo/Channel {c}")
            if c < len(names):
                ch.attrs["Name"] = chars(names[c])
            if c < len(colors):
                ch.attrs["ColorMode"] = chars("BaseColor")
                ch.attrs["Color"] = chars(colors[c])
            if c < len(ranges):
                ch.attrs["ColorRange"] = chars(ranges[c])
        info = f.create_group("DataSetInfo/TimeInfo")
        info.attrs["DatasetTimePoints"] = chars(str(t_n))
        info.attrs["FileTimePoints"] = chars(str(t_n))
        for t, stamp in enumerate(times):
            info.attrs[f"TimePoint{t + 1}"] = chars(stamp)
        if thumbnail is not None:
            h, w, _ = thumbnail.shape
            f.create_dataset("Thumbnail/Data", data=thumbnail.reshape(h, w * 4).astype(np.uint8))
    return path
