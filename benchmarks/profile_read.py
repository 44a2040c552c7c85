"""Where the time of an imgio read goes: ``python -m benchmarks.profile_read [region|plane]``.

Runs the benchmark's imgio read many times under cProfile (the calling thread; decode
threads show up as waiting) and prints the share of wall time per stage, plus the
same reads without dask/xarray (``source``) and the floor, measured alternately.
Uses the cached benchmark data (``python -m benchmarks.bench_read`` makes it).
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _read_data, _read_tools
from ._harness import say

STAGES = {  # stage -> functions (file suffix, name) whose cumulative time it is
    "xarray isel + dask slicing": [("xarray/core/dataarray.py", "isel")],
    "dask expression simplify/tokenize": [("dask/base.py", "collections_to_expr")],
    "dask graph optimize (cull, fuse, blockwise)": [("dask/_expr.py", "_optimized_dsk")],
    "dask order": [("dask/order.py", "order")],
    "scheduler: wait for worker threads": [("dask/local.py", "queue_get")],
    "scheduler: submit tasks": [("dask/local.py", "fire_tasks")],
    "imgio source read (in this thread)": [("imgio/_lazy.py", "read")],
}


def _cases(which: str) -> tuple[dict[str, Callable[[int], Any]], int]:
    import imgio

    if which == "plane":
        img = imgio.Image(str(_read_data.ome_path()))
        xa = img.get_xarray_dask_data()
        src = img.source()
        floor = _read_tools.StripFloor(str(_read_data.ome_path()))
        return {
            "floor": lambda i: floor.plane(0),
            "source": lambda i: src[(slice(0, 1),) * 3 + (slice(0, 512), slice(0, 512))],
            "xarray": lambda i: xa.isel(T=0, C=0, Z=0).values,
        }, 400
    path = str(_read_data.pyramid_path())
    img = imgio.Image(path)
    xa = img.get_xarray_dask_data(level=0)
    src = img.reader.source(0, 0)
    floor = _read_tools.TileFloor(path, 0)
    rng = np.random.default_rng(5)
    spots = [tuple(int(v) for v in rng.integers(1, 30000, 2)) for _ in range(40)]
    n = 1024

    def at(i: int) -> tuple[int, int]:
        return spots[i % len(spots)]

    return {
        "floor": lambda i: floor.read(*at(i), n, n),
        "source": lambda i: src[
            (slice(at(i)[0], at(i)[0] + n), slice(at(i)[1], at(i)[1] + n), slice(0, 3))
        ],
        "xarray": lambda i: (
            xa.isel(Y=slice(at(i)[0], at(i)[0] + n), X=slice(at(i)[1], at(i)[1] + n)).values
        ),
    }, 120


def main(argv: list[str] | None = None) -> int:
    which = (argv if argv is not None else sys.argv[1:] or ["region"])[0]
    funcs, n = _cases(which)
    for f in funcs.values():
        f(0)
    wall: dict[str, list[float]] = {k: [] for k in funcs}
    cpu: dict[str, list[float]] = {k: [] for k in funcs}
    for i in range(n):
        for k, f in funcs.items() if i % 2 else reversed(list(funcs.items())):
            c0, t0 = time.process_time(), time.perf_counter()
            f(i)
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    say(f"## imgio {which} read: alternating medians over {n} reads\n")
    say("| path | wall ms | CPU ms |\n| --- | ---: | ---: |")
    for k in funcs:
        say(f"| {k} | {np.median(wall[k]) * 1e3:.3f} | {np.median(cpu[k]) * 1e3:.3f} |")
    prof = cProfile.Profile()
    read = funcs["xarray"]
    prof.enable()
    t0 = time.perf_counter()
    for i in range(n):
        read(i)
    total = time.perf_counter() - t0
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    say(f"\n### cProfile of the xarray path, calling thread ({total / n * 1e3:.2f} ms/read)\n")
    say("| stage | function | share |\n| --- | --- | ---: |")
    for stage, keys in STAGES.items():
        cum = sum(
            v[3]
            for (file, _line, name), v in stats.items()
            for suffix, fn in keys
            if file.endswith(suffix) and name == fn
        )
        where = ", ".join(f"{s.rsplit('/', 1)[-1]}:{fn}" for s, fn in keys)
        say(f"| {stage} | {where} | {cum / total:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
