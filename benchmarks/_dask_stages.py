"""bench_dask's stage table: one dask compute split into what ``dask.compute`` does.

``child_stages`` runs in a fresh interpreter (``bench_dask --child``); ``bench_stages``
starts it for a plane of the OME-TIFF and for regions of the pyramid and prints CPU µs
per stage next to the same read without dask.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _read_data
from ._harness import emit, median, run_child, table, timed

MODULE = "benchmarks.bench_dask"
SIZE = 1024


def _load() -> str:
    import os

    return "/".join(f"{v:.2f}" for v in os.getloadavg())


STAGES = [
    "xarray isel (with dask's slicing)",
    "collect + scheduler choice",
    "expression build + optimize",
    "graph (dask's HLG, imgio's optimize)",
    "scheduler run (incl. the read)",
    "repack result",
]


def _stage_times(sel: Callable[[], Any]) -> list[float]:
    """CPU seconds of each stage of ``dask.compute`` on ``sel()``'s data, as dask runs it."""
    from dask._expr import FinalizeCompute
    from dask.base import collections_to_expr, get_scheduler, unpack_collections
    from dask.core import flatten

    t = [time.process_time()]
    data = sel().data
    t.append(time.process_time())
    collections, repack = unpack_collections(data)
    schedule = get_scheduler(collections=collections)
    t.append(time.process_time())
    expr = FinalizeCompute(collections_to_expr(collections, True)).optimize()
    keys = list(flatten(expr.__dask_keys__()))
    t.append(time.process_time())
    graph = expr.__dask_graph__()
    t.append(time.process_time())
    results = schedule(graph, keys)
    t.append(time.process_time())
    repack(results)
    t.append(time.process_time())
    return [b - a for a, b in zip(t, t[1:], strict=False)]


def child_stages(spec: dict[str, Any]) -> None:
    import imgio
    from imgio.arrays import _lazy

    img = imgio.Image(spec["path"])
    src = img.source(level=0)
    if spec["what"] == "plane":
        arr = img.xarray_dask_data

        def sel(i: int) -> Any:
            return arr.isel(T=i % 20, C=0, Z=0)

        def direct(i: int) -> Any:
            return _lazy.read(src, (i % 20, 0, 0))
    else:
        arr = img.get_xarray_dask_data(level=0)
        spots = spec["spots"]

        def sel(i: int) -> Any:
            y, x = spots[i % len(spots)]
            return arr.isel(Y=slice(y, y + SIZE), X=slice(x, x + SIZE))

        def direct(i: int) -> Any:
            y, x = spots[i % len(spots)]
            return _lazy.read(src, (0, 0, 0, slice(y, y + SIZE), slice(x, x + SIZE)))

    for i in range(5):
        _stage_times(lambda i=i: sel(i))
    rows: list[list[float]] = []
    reads: list[float] = []
    for i in range(spec["repeats"]):
        rows.append(_stage_times(lambda i=i: sel(i)))
        reads.append(timed(lambda i=i: direct(i))[1])
    emit(
        {
            "stages": [median([r[k] for r in rows]) for k in range(len(STAGES))],
            "read": median(reads),
        }
    )


def bench_stages(quick: bool) -> str:
    """Where the CPU time of one dask compute goes, stage by stage (µs, medians)."""
    made = _read_data.ensure(quick)
    rng = np.random.default_rng(11)
    spots = [[int(v) + 100 for v in rng.integers(0, 30000, 2)] for _ in range(30)]
    repeats = 100 if quick else 400
    cases = {
        "plane 512² uint16 (OME-TIFF)": {"what": "plane", "path": str(made["ome"])},
        "region 1024² RGB (JPEG pyramid)": {
            "what": "region",
            "path": str(made["pyramid"]),
            "spots": spots,
        },
    }
    got = {
        name: run_child(
            MODULE, {"case": "stages", "repeats": repeats // (1 if "plane" in name else 4), **spec}
        )
        for name, spec in cases.items()
    }
    rows = []
    for k, stage in enumerate(STAGES):
        rows.append(
            [stage]
            + [f"{r['stages'][k] * 1e6:.0f}" if "stages" in r else "-" for r in got.values()]
        )
    rows.append(
        ["total"]
        + [f"{sum(r['stages']) * 1e6:.0f}" if "stages" in r else "-" for r in got.values()]
    )
    rows.append(
        ["the same read without dask (`_lazy.read`)"]
        + [f"{r['read'] * 1e6:.0f}" if "read" in r else "-" for r in got.values()]
    )
    return (
        f"### One dask compute (`DataArray.isel(...).values`) stage by stage, CPU µs, "
        f"medians; load {_load()}\n\n" + table(["stage", *got], rows)
    )
