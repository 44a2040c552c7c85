"""Issue 11 benchmarks: the dask DataArray against imgio's numpy and lazy paths, open
latency in a fresh process, and the peak memory of streaming writes by image size.

``python -m benchmarks.bench_dask [--quick] [--only reads|stages|open|write]`` prints
markdown tables. Read rows are **paired**: every variant runs in ONE process, alternating
per spot/repeat (A B C, C B A, ...), so a change in the machine's load hits all alike; the
ratio is to the numpy path (``get_image_data``). ``dask, dask's optimization`` is the same
DataArray with dask's own array optimization instead of imgio's (the state before issue
11). ``stages`` splits one dask compute into its stages (CPU µs each). Whole reads, first
opens and writes run one per fresh interpreter (own peak RSS); the file is read once
before each whole read so every variant finds it in the page cache. imgio is
byte-compiled first and children may write ``.pyc`` files (``PYTHONDONTWRITEBYTECODE``
is dropped), as for an installed package: a fresh process does not recompile imgio.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import _read_data
from ._dask_open import bench_open, child_open
from ._dask_stages import bench_stages, child_stages
from ._harness import (
    ROOT,
    emit,
    fmt_mb,
    machine_line,
    median,
    rss_peak,
    run_child,
    say,
    table,
    timed,
)

MODULE = "benchmarks.bench_dask"
SIZE = 1024
DASK_DEFAULT = "dask, dask's optimization"
CHUNK = 2048


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def _with_dask_default(func: Callable[[], Any]) -> Callable[[], Any]:
    import dask
    from dask.array.optimization import optimize

    def run() -> Any:
        with dask.config.set(array_optimize=optimize):
            return func()

    return run


# ------------------------------------------------------------------ paired reads (child)
def _region_variants(path: str, spots: list[list[int]]) -> dict[str, Callable[[int], Any]]:
    import imgio

    img = imgio.Image(path)
    arr = img.get_xarray_dask_data(level=0)
    lazy = img.get_xarray_lazy_data(level=0)

    def box(i: int) -> dict[str, slice]:
        y, x = spots[i]
        return {"Y": slice(y, y + SIZE), "X": slice(x, x + SIZE)}

    def chained_dask(i: int) -> Any:
        return arr.isel(T=0, C=0, Z=0).isel(**box(i)).values

    return {
        "numpy (get_image_data)": lambda i: img.get_image_data("YXS", **box(i)),
        "lazy (no dask)": lambda i: lazy.isel(**box(i)).values,
        "dask": lambda i: arr.isel(**box(i)).values,
        "dask, chained isel": chained_dask,
        "lazy, chained isel": lambda i: lazy.isel(T=0, C=0, Z=0).isel(**box(i)).values,
        DASK_DEFAULT: lambda i: _with_dask_default(lambda: arr.isel(**box(i)).values)(),
        DASK_DEFAULT + ", chained": lambda i: _with_dask_default(lambda: chained_dask(i))(),
    }


def _plane_variants(path: str) -> dict[str, Callable[[int], Any]]:
    import tifffile
    import zarr

    import imgio

    img = imgio.Image(path)
    arr = img.xarray_dask_data
    lazy = img.xarray_lazy_data
    z = zarr.open(tifffile.TiffFile(path).series[0].aszarr(), mode="r")

    def dask_plane(i: int) -> Any:
        return arr.isel(T=i % 20, C=0, Z=0).values

    return {
        "numpy (get_image_data)": lambda i: img.get_image_data("YX", T=i % 20, C=0, Z=0),
        "lazy (no dask)": lambda i: lazy.isel(T=i % 20, C=0, Z=0).values,
        "dask": dask_plane,
        DASK_DEFAULT: lambda i: _with_dask_default(lambda: dask_plane(i))(),
        "tifffile+zarr": lambda i: z[i % 20, 0, 0],
    }


def child_paired(spec: dict[str, Any]) -> None:
    from imgio.readers.base import STATS

    if spec["what"] == "region":
        variants = _region_variants(spec["path"], spec["spots"])
    else:
        variants = _plane_variants(spec["path"])
    names = list(variants)
    n = len(spec["spots"]) if spec["what"] == "region" else spec["repeats"]
    for f in variants.values():  # warm-up: imports, first-use caches
        f(0)
    times: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    tiles: dict[str, int] = {}
    for i in range(n):
        order = names if i % 2 else names[::-1]
        for name in order:
            STATS.reset()
            seconds, used, _ = timed(lambda name=name, i=i: variants[name](i))
            times[name].append(seconds)
            cpu[name].append(used)
            tiles[name] = max(tiles.get(name, 0), STATS.chunks_decoded)
    emit({"times": times, "cpu": cpu, "tiles": tiles})


def child_whole(spec: dict[str, Any]) -> None:
    import imgio

    img = imgio.Image(spec["path"])
    level = spec.get("level", 0)
    img.set_resolution_level(level)
    dask_arr = img.get_xarray_dask_data(level=level)  # setup: imports, graph
    lazy_arr = img.get_xarray_lazy_data(level=level)
    read: Callable[[], Any] = {
        "numpy (Image.data)": lambda: img.data,
        "lazy (no dask)": lambda: lazy_arr.values,
        "dask (xarray .values)": lambda: dask_arr.values,
        DASK_DEFAULT: _with_dask_default(lambda: dask_arr.values),
    }[spec["tool"]]
    seconds, used, data = timed(read)
    emit(
        {"times": {"x": [seconds]}, "cpu": {"x": [used]}, "peak": rss_peak(), "nbytes": data.nbytes}
    )


# ------------------------------------------------------------------ writes (child)
def _lazy_rgb(height: int, width: int, chunk: int) -> Any:
    """A lazily generated RGB image in ``chunk``² dask chunks (the issue's 2048²)."""
    import dask.array as da

    from .bench_write import _pattern

    def block(block_info: Any = None) -> np.ndarray:
        (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
        y, x = np.ogrid[y0:y1, x0:x1]
        return _pattern(y, x)

    chunks = da.core.normalize_chunks((chunk, chunk, 3), (height, width, 3))
    return da.map_blocks(block, dtype=np.uint8, chunks=chunks, meta=np.empty((0, 0, 0), np.uint8))


def child_write(spec: dict[str, Any]) -> None:
    import imgio
    import imgio.writers.ome_tiff  # noqa: F401 - imports before the clock

    data = _lazy_rgb(*spec["shape"], CHUNK)
    kind = spec["kind"]
    out = spec["out"] + (".ome.zarr" if kind == "zarr" else ".ome.tif")
    opts: dict[str, Any] = {"dims": "YXS"}
    if kind == "jpeg":
        opts.update(tile=512, compression="jpeg", quality=85)
    elif kind == "zstd":
        opts.update(tile=512, compression="zstd")
    seconds, used, _ = timed(lambda: imgio.write(data, out, **opts))
    emit({"seconds": seconds, "cpu": used, "peak": rss_peak()})


CHILDREN = {
    "paired": child_paired,
    "whole": child_whole,
    "open": child_open,
    "write": child_write,
    "stages": child_stages,
}


# ------------------------------------------------------------------ parent side
def _paired_table(res: dict[str, Any], ref: str, title: str) -> str:
    if "error" in res:
        return f"### {title}\n\nfailed: {res['error']}"
    base, base_cpu = median(res["times"][ref]), median(res["cpu"][ref])
    rows = []
    for name, ts in res["times"].items():
        t, c = median(ts), median(res["cpu"][name])
        rows.append(
            [
                name,
                str(len(ts)),
                f"{t * 1e3:.2f}",
                f"{t / base:.2f}×",
                f"{c * 1e3:.2f}",
                f"{c / base_cpu:.2f}×",
                str(res["tiles"].get(name, "-")),
            ]
        )
    head = ["variant", "n", "median ms", "ratio", "CPU ms", "CPU ratio", "tiles decoded (max)"]
    return f"### {title}; paired in one process; load {_load()}\n\n" + table(head, rows)


def bench_reads(quick: bool) -> str:
    made = _read_data.ensure(quick)
    rng = np.random.default_rng(11)
    n = 8 if quick else 30
    spots = [[int(v) + 100 for v in rng.integers(0, 30000, 2)] for _ in range(n)]
    out = []
    res = run_child(
        MODULE, {"case": "paired", "what": "region", "path": str(made["pyramid"]), "spots": spots}
    )
    out.append(
        _paired_table(
            res,
            "numpy (get_image_data)",
            f"Region 1024², level 0 of the 32768² RGB JPEG pyramid, {n} spots",
        )
    )
    res = run_child(
        MODULE,
        {
            "case": "paired",
            "what": "plane",
            "path": str(made["ome"]),
            "repeats": 40 if quick else 200,
        },
    )
    out.append(
        _paired_table(
            res, "numpy (get_image_data)", "One plane 512² uint16 of the 3,000-plane OME-TIFF"
        )
    )
    out.append(_whole_table(made["ome"], 0, "Whole 1.5 GB OME-TIFF", quick))
    out.append(
        _whole_table(
            made["pyramid"],
            1,
            "Whole level 1 (16384² RGB, 768 MiB) of the pyramid, 4096² chunks",
            quick,
        )
    )
    return "\n\n".join(out)


def _whole_table(path: Path, level: int, title: str, quick: bool) -> str:
    """Whole reads, one fresh process per run, page cache warmed first; peak RSS / array."""
    rows = []
    tools = ["numpy (Image.data)", "dask (xarray .values)", "lazy (no dask)", DASK_DEFAULT]
    got: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    for r in range(1 if quick else 2):
        for tool in tools if r % 2 == 0 else tools[::-1]:
            _warm(path)
            spec = {"case": "whole", "tool": tool, "path": str(path), "level": level}
            got[tool].append(run_child(MODULE, spec, timeout=900))
    ref = median([r["times"]["x"][0] for r in got[tools[0]] if "times" in r])
    ref_cpu = median([r["cpu"]["x"][0] for r in got[tools[0]] if "cpu" in r])
    for tool in tools:
        good = [r for r in got[tool] if "times" in r]
        if not good:
            rows.append([tool, "failed", "-", "-", "-", "-", "-"])
            continue
        t = median([r["times"]["x"][0] for r in good])
        c = median([r["cpu"]["x"][0] for r in good])
        peak = max(r["peak"] for r in good)
        rows.append(
            [
                tool,
                f"{t:.2f}",
                f"{t / ref:.2f}×",
                f"{c:.2f}",
                f"{c / ref_cpu:.2f}×",
                fmt_mb(peak),
                f"{peak / good[0]['nbytes']:.2f}×",
            ]
        )
    head = ["variant", "wall s", "ratio", "CPU s", "CPU ratio", "peak RSS MiB", "peak / array"]
    return f"### {title}, one fresh process per run; load {_load()}\n\n" + table(head, rows)


def _warm(path: Path) -> None:
    """Read ``path`` once (64 MiB at a time) so the next reader finds it in the page cache."""
    buf = bytearray(64 << 20)
    with open(path, "rb", buffering=0) as fh:
        while fh.readinto(buf):
            pass


def bench_write(quick: bool) -> str:
    shapes = (
        [(2000, 2000), (6000, 6000)] if quick else [(6000, 6000), (24000, 24000), (40000, 60000)]
    )
    folder = Path(tempfile.mkdtemp(prefix="imgio-bench-dask-", dir="/tmp"))
    rows = []
    try:
        for kind in ("jpeg", "zstd", "zarr"):
            for shape in shapes:
                spec = {
                    "case": "write",
                    "kind": kind,
                    "shape": list(shape),
                    "out": str(folder / "w"),
                }
                r = run_child(MODULE, spec, timeout=3600)
                for p in folder.iterdir():
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                if "error" in r:
                    rows.append(
                        [kind, f"{shape[0]:,} × {shape[1]:,}", "failed", "-", r["error"][:60]]
                    )
                    continue
                rows.append(
                    [
                        kind,
                        f"{shape[0]:,} × {shape[1]:,}",
                        f"{r['seconds']:.1f}",
                        f"{r['cpu']:.1f}",
                        fmt_mb(r["peak"]),
                    ]
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return (
        f"### Streaming write of a lazily generated RGB image (dask chunks {CHUNK}²), "
        f"pyramidal, default settings; load {_load()}\n\n"
        + table(["output", "size", "wall s", "CPU s", "peak RSS MiB"], rows)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m " + MODULE, description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", choices=["reads", "stages", "open", "write"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        CHILDREN[spec["case"]](spec)
        return 0
    wanted = args.only or ["reads", "stages", "open", "write"]
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # children run from .pyc, as installed
    compileall.compile_dir(ROOT / "imgio", quiet=1)
    say(f"## Dask DataArray, open and write-memory benchmarks (issue 11)\n\n{machine_line()}\n")
    if "reads" in wanted:
        say(bench_reads(args.quick) + "\n")
    if "stages" in wanted:
        say(bench_stages(args.quick) + "\n")
    if "open" in wanted:
        say(bench_open(args.quick) + "\n")
    if "write" in wanted:
        say(bench_write(args.quick) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
