"""Growing tile sink (issue 7, item 5): build an RGB image from tiles, write a pyramid.

``python -m benchmarks.bench_sink [--quick] [--repeats N] [--size S] [--tile T]`` prints one
markdown table: a ``S x S`` RGB uint8 image (default 16384) built from ``T x T`` tiles
(default 1024) added in row-major order, then written as a tiled pyramidal file:

- ``imgio`` -> OME-TIFF (512 tiles, zstd) and -> OME-Zarr 0.4 (1024 chunks, zstd);
- ``large_image`` (``large_image.new()``: the vips sink, as large-image-source-zarr
  cannot be installed with zarr 3) -> tiled pyramidal TIFF (``lossy=False``: LZW).

Each (tool, target) runs in a fresh interpreter, round-robin ``N`` times (median wall
time, largest peak RSS); the clock covers adding every tile and writing the file.
Tiles are made on the fly from a cheap pattern, so the input holds one tile at a time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._harness import emit, fmt_mb, fmt_ratio, median, rss_peak, run_child, say, table

MODULE = "benchmarks.bench_sink"
CASES = ("imgio:ome.tif", "imgio:ome.zarr", "large_image:tiff")


def _tile(i: int, j: int, size: int) -> np.ndarray[Any, Any]:
    y, x = np.ogrid[i * size : (i + 1) * size, j * size : (j + 1) * size]
    out = np.empty((size, size, 3), np.uint8)
    out[..., 0] = ((x // 3 + y // 5) % 256).astype(np.uint8)
    out[..., 1] = ((x * 7 ^ y * 3) % 256).astype(np.uint8)
    out[..., 2] = ((x + y) // 2 % 256).astype(np.uint8)
    return out


def _build(tool: str, target: str, size: int, tile: int, folder: Path) -> Path:
    n = size // tile
    if tool == "imgio":
        import imgio

        out = folder / f"out.{target}"
        with imgio.new(folder=folder) as sink:
            for i in range(n):
                for j in range(n):
                    sink.add_tile(_tile(i, j, tile), j * tile, i * tile)
            sink.write(out)
        return out
    import large_image

    out = folder / "out.tiff"
    source = large_image.new()
    for i in range(n):
        for j in range(n):
            source.addTile(_tile(i, j, tile), j * tile, i * tile)
    source.write(str(out), lossy=False)
    return out


def child(spec: dict[str, Any]) -> None:
    tool, target = spec["case"].split(":")
    if tool == "imgio":
        import imgio.writers.ome_tiff  # noqa: F401 - imports before the clock
        import imgio.writers.ome_zarr  # noqa: F401
        import imgio.writers.tile_sink  # noqa: F401
    else:
        import large_image  # noqa: F401
    folder = Path(tempfile.mkdtemp(prefix="bench-sink-", dir=spec.get("tmp")))
    try:
        t0 = time.perf_counter()
        out = _build(tool, target, spec["size"], spec["tile"], folder)
        wall = time.perf_counter() - t0
        nbytes = sum(p.stat().st_size for p in [out, *out.rglob("*")] if p.is_file())
        emit({"wall": wall, "rss": rss_peak(), "bytes": nbytes})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m " + MODULE, description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4096² from 512² tiles, 1 run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per case, round-robin")
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--tmp", help="folder for outputs and spilled tiles (default: system)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    size, tile, repeats = args.size, args.tile, args.repeats
    if args.quick:
        size, tile, repeats = 4096, 512, 1
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in CASES}
    for _ in range(repeats):
        for case in CASES:
            spec = {"case": case, "size": size, "tile": tile, "tmp": args.tmp}
            runs[case].append(run_child(MODULE, spec, timeout=1800))
    rows, ref = [], None
    for case in CASES:
        good = [r for r in runs[case] if "wall" in r]
        if not good:
            rows.append([case, runs[case][0].get("error", "?"), "-", "-", "-"])
            continue
        wall = median([r["wall"] for r in good])
        ref = wall if ref is None else ref
        rows.append(
            [
                case,
                f"{wall:.1f}",
                fmt_ratio(wall, ref),
                fmt_mb(max(r["rss"] for r in good)),
                fmt_mb(good[0]["bytes"]),
            ]
        )
    say(f"\n### Tile sink: {size}² RGB from {tile}² tiles, pyramid written ({repeats} runs)\n")
    say(table(["tool:target", "wall s", "vs imgio tif", "peak RSS MiB", "file MiB"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
