"""OME-Zarr data for ``bench_zarr``, made on the fly and cached in ``benchmarks/_data``.

Two stores with the same pixels: NGFF 0.4 on Zarr v2 and NGFF 0.5 on Zarr v3 (not
sharded). T=1, C=2, Z=1, 8192 × 8192 uint16, chunks 1 × 1 × 1 × 512 × 512 (TCZYX),
blosc-zstd with byte shuffle, 3 levels (8192, 4096, 2048; 2 × 2 means). The content is
a smooth "cells" field per channel plus Gaussian sensor noise: constant or purely
smooth chunks would compress and decode unrealistically fast.

Written with zarr directly (metadata documents by hand, per the NGFF specs), into a
temporary directory that is renamed when complete; the directory names carry every
parameter, so a change of parameters regenerates.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent / "_data"
SIDE = 8192
CHANNELS = 2
CHUNK = 512
LEVELS = 3
VERSION = 1
PIXEL_UM = 0.25
SHAPE0 = (1, CHANNELS, 1, SIDE, SIDE)
CHUNKS = (1, 1, 1, CHUNK, CHUNK)


def store_path(ngff: str) -> Path:
    zf = 2 if ngff == "0.4" else 3
    return DATA / (
        f"ngff{ngff}-zarr{zf}-c{CHANNELS}-{SIDE}-uint16-chunk{CHUNK}-zstd-l{LEVELS}-v{VERSION}.ome.zarr"
    )


def channel_plane(seed: int, side: int = SIDE) -> np.ndarray:
    """One channel: blurry blobs on a background, scaled to a 12-bit camera, plus noise."""
    rng = np.random.default_rng(seed)
    knots = 257  # a coarse random field, bilinearly upsampled: cell-sized structures
    field = rng.random((knots, knots)).astype(np.float32) ** 3
    pos = np.linspace(0, knots - 1, side, dtype=np.float32)
    i0 = np.minimum(pos.astype(np.int64), knots - 2)
    f = pos - i0
    rows = field[i0] * (1 - f)[:, None] + field[i0 + 1] * f[:, None]  # (side, knots)
    out = rows[:, i0] * (1 - f)[None, :]
    out += rows[:, i0 + 1] * f[None, :]
    del rows
    out *= 3000.0
    out += 200.0
    out += rng.normal(0.0, 25.0, out.shape).astype(np.float32)
    np.clip(out, 0, 4095, out=out)
    return out.astype(np.uint16)


def _mean2(plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape
    p = plane[: h // 2 * 2, : w // 2 * 2].astype(np.uint32)
    return ((p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2] + 2) // 4).astype(
        np.uint16
    )


def _axes() -> list[dict[str, Any]]:
    return [
        {"name": "t", "type": "time", "unit": "second"},
        {"name": "c", "type": "channel"},
        {"name": "z", "type": "space", "unit": "micrometer"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]


def _multiscales(version: str | None) -> list[dict[str, Any]]:
    datasets = []
    for lv in range(LEVELS):
        s = PIXEL_UM * 2**lv
        datasets.append(
            {
                "path": str(lv),
                "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.0, 1.0, s, s]}],
            }
        )
    ms: dict[str, Any] = {"name": "bench", "axes": _axes(), "datasets": datasets}
    if version:
        ms["version"] = version
    return [ms]


def _omero() -> dict[str, Any]:
    return {
        "channels": [
            {
                "label": name,
                "color": color,
                "active": True,
                "window": {"start": 0, "end": 4095, "min": 0, "max": 65535},
            }
            for name, color in (("DAPI", "0000FF"), ("GFP", "00FF00"))[:CHANNELS]
        ]
    }


def make_store(path: Path, ngff: str, planes: list[np.ndarray]) -> None:
    import zarr

    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if ngff == "0.4":
        from numcodecs import Blosc

        root = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        root.attrs.update({"multiscales": _multiscales("0.4"), "omero": _omero()})
        kw: dict[str, Any] = {
            "compressors": Blosc(cname="zstd", clevel=3, shuffle=Blosc.SHUFFLE),
            "chunk_key_encoding": {"name": "v2", "separator": "/"},  # NGFF 0.4 requires "/"
        }
    else:
        from zarr.codecs import BloscCodec

        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        root.attrs.update(
            {"ome": {"version": "0.5", "multiscales": _multiscales(None), "omero": _omero()}}
        )
        kw = {
            "compressors": BloscCodec(cname="zstd", clevel=3, shuffle="shuffle"),
            "dimension_names": ["t", "c", "z", "y", "x"],
        }
    level = planes
    for lv in range(LEVELS):
        if lv:
            level = [_mean2(p) for p in level]
        side = level[0].shape[0]
        arr = root.create_array(
            str(lv),
            shape=(1, CHANNELS, 1, side, side),
            chunks=CHUNKS,
            dtype="uint16",
            fill_value=0,
            **kw,
        )
        for c, plane in enumerate(level):
            arr[0, c, 0] = plane
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)


def verify(path: Path, ngff: str) -> None:
    """Open with zarr and check the layout the benchmark relies on."""
    import zarr

    root = zarr.open_group(str(path), mode="r")
    assert root.metadata.zarr_format == (2 if ngff == "0.4" else 3), root.metadata.zarr_format
    attrs = dict(root.attrs)
    ms = attrs["multiscales"] if ngff == "0.4" else attrs["ome"]["multiscales"]
    assert [d["path"] for d in ms[0]["datasets"]] == [str(i) for i in range(LEVELS)]
    for lv in range(LEVELS):
        arr = zarr.open_array(str(path / str(lv)), mode="r")
        side = SIDE >> lv
        assert arr.shape == (1, CHANNELS, 1, side, side), arr.shape
        assert arr.chunks == CHUNKS, arr.chunks
        assert arr.dtype == np.uint16


def ensure(quick: bool = False) -> dict[str, Path]:
    """``{"0.4": path, "0.5": path}``, generating the missing stores (~20 s, ~0.4 GB)."""
    del quick  # same data in quick mode
    DATA.mkdir(parents=True, exist_ok=True)
    paths = {ngff: store_path(ngff) for ngff in ("0.4", "0.5")}
    missing = [ngff for ngff, p in paths.items() if not p.exists()]
    if missing:
        planes = [channel_plane(1000 + c) for c in range(CHANNELS)]
        for ngff in missing:
            make_store(paths[ngff], ngff, planes)
            verify(paths[ngff], ngff)
    return paths


if __name__ == "__main__":
    import sys
    import time

    t0 = time.perf_counter()
    for k, v in ensure().items():
        mib = sum(f.stat().st_size for f in v.rglob("*") if f.is_file()) / 2**20
        sys.stdout.write(f"NGFF {k}: {v} ({mib:.0f} MiB)\n")
    sys.stdout.write(f"{time.perf_counter() - t0:.1f} s\n")
