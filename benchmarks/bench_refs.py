"""References read through zarr vs imgio's own read (issue 18: within 1.2x).

``python -m benchmarks.bench_refs [--quick]``

Files (written once into a cache folder with tifffile): a tiled zstd 16-bit image, a tiled
JPEG RGB slide, uncompressed 16-bit strips, plus the shared ``largeimage-yb10kx5k.zstd.tiff``
when present. Per file and tool, in a fresh interpreter: open + read of level 0 whole and of
a 1024 x 1024 region; the best of the repeats (the machine is shared) and the child's peak
RSS (VmHWM).

- ``imgio``: ``imgio.Image(path)``, ``get_image_dask_data().compute()`` (its decode pool);
- ``zarr+refs``: ``imgio.references(path)`` once (timed apart: "refs build"), then plain
  ``zarr`` over fsspec's ``reference://`` filesystem (imgio not used for the read).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ._harness import emit, fmt_mb, fmt_ms, fmt_ratio, run_child, say, table

CACHE = Path(os.environ.get("IMGIO_BENCH_CACHE", "/tmp/imgio-bench-refs"))
SHARED = Path(
    os.environ.get("IMGIO_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "samples")
)


def _files(quick: bool) -> dict[str, Path]:
    import numpy as np
    import tifffile

    CACHE.mkdir(parents=True, exist_ok=True)
    n = 4096 if quick else 8192
    rng = np.random.default_rng(18)
    yy, xx = np.mgrid[0:n, 0:n]
    smooth = ((np.sin(yy / 97.0) + np.cos(xx / 53.0)) * 8000 + 20000).astype(np.uint16)
    out = {}
    specs: dict[str, tuple[Any, dict[str, Any]]] = {
        f"zstd-u16-{n}": (smooth, {"tile": (512, 512), "compression": "zstd"}),
        f"jpeg-rgb-{n}": (
            np.stack([smooth >> 8, (smooth >> 7) & 255, xx & 255], -1).astype(np.uint8),
            {"tile": (256, 256), "compression": "jpeg", "photometric": "rgb"},
        ),
        f"raw-strips-u16-{n}": (smooth, {"rowsperstrip": 64}),
    }
    for name, (data, options) in specs.items():
        path = CACHE / f"{name}.tif"
        if not path.exists():
            noisy = data + rng.integers(0, 4, data.shape, dtype=data.dtype)
            tifffile.imwrite(path, noisy, metadata=None, **options)
        out[name] = path
    shared = SHARED / "tiff" / "largeimage-yb10kx5k.zstd.tiff"
    if shared.exists() and not quick:
        out["shared yb10kx5k zstd"] = shared
    return out


def _hwm() -> int:
    """Peak RSS of this process image (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(spec: dict[str, Any]) -> None:
    import time

    import dask.array  # noqa: F401 - warm imports: both tools pay them before timing
    import numpy as np
    import xarray  # noqa: F401
    import zarr  # noqa: F401

    path, tool, repeats = spec["path"], spec["tool"], spec["repeats"]
    whole, region, build = [], [], float("nan")
    if tool == "imgio":
        import imgio

        for _ in range(repeats):
            t0 = time.perf_counter()
            img = imgio.Image(path)
            full = img.reader.source(0, 0)
            arr = img.get_image_dask_data().compute()
            whole.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            part = imgio.Image(path).get_image_dask_data(Y=slice(1000, 2024), X=slice(1000, 2024))
            part.compute()
            region.append(time.perf_counter() - t0)
        checksum = int(np.asarray(arr, dtype=np.uint64).sum())
        shape = list(full.shape)
    else:
        import fsspec
        import zarr
        from imagecodecs.numcodecs import register_codecs

        import imgio

        register_codecs(verbose=False)
        t0 = time.perf_counter()
        refs = imgio.references(path)
        build = time.perf_counter() - t0
        for _ in range(repeats):
            t0 = time.perf_counter()
            fs = fsspec.filesystem("reference", fo=refs, asynchronous=True)
            group = zarr.open_group(zarr.storage.FsspecStore(fs, read_only=True), mode="r")
            arr = group["0"][...]
            whole.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fs = fsspec.filesystem("reference", fo=refs, asynchronous=True)
            group = zarr.open_group(zarr.storage.FsspecStore(fs, read_only=True), mode="r")
            dims = json.loads(refs["refs"]["0/.zattrs"])["_ARRAY_DIMENSIONS"]
            key = tuple(slice(1000, 2024) if d in ("y", "x") else slice(None) for d in dims)
            group["0"][key]
            region.append(time.perf_counter() - t0)
        checksum = int(np.asarray(arr, dtype=np.uint64).sum())
        shape = list(arr.shape)
    emit(
        {
            "whole": min(whole),  # the least disturbed run on a shared machine
            "region": min(region),
            "build": build,
            "rss": _hwm(),
            "checksum": checksum,
            "shape": shape,
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_refs")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child")
    args = parser.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return 0
    repeats = 2 if args.quick else 3
    say("## References read through zarr vs imgio's own read\n")
    rows = []
    for name, path in _files(args.quick).items():
        got = {
            tool: run_child(
                "benchmarks.bench_refs", {"path": str(path), "tool": tool, "repeats": repeats}
            )
            for tool in ("imgio", "zarr+refs")
        }
        if any("error" in r for r in got.values()):
            rows.append([name] + [str(r.get("error", ""))[:60] for r in got.values()] + ["-"] * 6)
            continue
        mine, refs = got["imgio"], got["zarr+refs"]
        same = "yes" if mine["checksum"] == refs["checksum"] else "NO"
        size = f"{path.stat().st_size / 2**20:.0f}"
        rows.append(
            [
                name,
                size,
                fmt_ms(refs["build"]),
                fmt_ms(mine["whole"]),
                fmt_ms(refs["whole"]),
                fmt_ratio(refs["whole"], mine["whole"]),
                fmt_ms(mine["region"]),
                fmt_ms(refs["region"]),
                fmt_ratio(refs["region"], mine["region"]),
                f"{fmt_mb(mine['rss'])} / {fmt_mb(refs['rss'])}",
                same,
            ]
        )
    headers = [
        "file",
        "MiB",
        "refs build ms",
        "imgio whole ms",
        "zarr whole ms",
        "zarr/imgio",
        "imgio 1024² ms",
        "zarr 1024² ms",
        "zarr/imgio",
        "peak RSS MiB imgio / zarr",
        "same sum",
    ]
    say(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
