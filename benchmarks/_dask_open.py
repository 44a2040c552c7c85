"""bench_dask's open-latency table: first and next opens, and one plane in a fresh process.

Every case runs in a fresh interpreter (``bench_dask --child``), tifffile (+ zarr for the
plane) against imgio, alternating.
"""

from __future__ import annotations

import os
import time
from typing import Any

from . import _read_data
from ._harness import emit, median, run_child, table, timed

MODULE = "benchmarks.bench_dask"


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def child_open(spec: dict[str, Any]) -> None:
    if spec["plane"]:  # first pixel access: libraries imported before the clock
        import tifffile
        import zarr  # noqa: F401

        import imgio  # noqa: F401
    t0, c0 = time.perf_counter(), time.process_time()
    if spec["tool"] == "tifffile":
        import tifffile

        def op() -> Any:
            with tifffile.TiffFile(spec["path"]) as tif:
                return [lv.shape for lv in tif.series[0].levels]

        def plane() -> Any:
            import zarr

            with tifffile.TiffFile(spec["path"]) as tif:
                return zarr.open(tif.series[0].aszarr(), mode="r")[(0,) * (tif.series[0].ndim - 2)]
    else:
        import imgio

        def op() -> Any:
            with imgio.Image(spec["path"]) as img:
                return img.dims, img.resolution_levels

        def plane() -> Any:
            with imgio.Image(spec["path"]) as img:
                return img.get_image_data("YX", T=0, C=0, Z=0)

    if spec["plane"]:
        plane()  # the first pixel access in a fresh process, imports included
        emit({"first": time.perf_counter() - t0, "first_cpu": time.process_time() - c0})
        return
    op()
    first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    again = [timed(op)[:2] for _ in range(spec["repeats"])]
    emit(
        {
            "first": first,
            "first_cpu": first_cpu,
            "second": median([a[0] for a in again]),
            "second_cpu": median([a[1] for a in again]),
        }
    )


def bench_open(quick: bool) -> str:
    made = _read_data.ensure(quick)
    rows = []
    for label, path in (
        ("pyramid (7 levels)", made["pyramid"]),
        ("OME-TIFF 3,000 planes", made["ome"]),
    ):
        res: dict[str, list[dict[str, Any]]] = {"tifffile": [], "imgio": []}
        planes: dict[str, list[dict[str, Any]]] = {"tifffile": [], "imgio": []}
        for _ in range(2 if quick else 5):
            for tool in res:
                spec = {"case": "open", "tool": tool, "path": str(path), "repeats": 10}
                res[tool].append(run_child(MODULE, {**spec, "plane": False}))
                if "OME" in label:
                    planes[tool].append(run_child(MODULE, {**spec, "plane": True}))
        ref = {
            k: median([r[k] for r in res["tifffile"]]) for k in ("first", "second", "second_cpu")
        }
        for tool, runs in res.items():
            first = median([r["first"] for r in runs])
            second = median([r["second"] for r in runs])
            cpu = median([r["second_cpu"] for r in runs])
            row = [
                label,
                tool,
                f"{first * 1e3:.1f}",
                f"{first / ref['first']:.2f}×",
                f"{second * 1e3:.2f}",
                f"{second / ref['second']:.2f}×",
                f"{cpu / ref['second_cpu']:.2f}×",
            ]
            if planes[tool]:
                p = median([r["first"] for r in planes[tool]])
                p_ref = median([r["first"] for r in planes["tifffile"]])
                pc = median([r["first_cpu"] for r in planes[tool]])
                pc_ref = median([r["first_cpu"] for r in planes["tifffile"]])
                row += [
                    f"{p * 1e3:.0f}",
                    f"{p / p_ref:.2f}×",
                    f"{pc * 1e3:.0f}",
                    f"{pc / pc_ref:.2f}×",
                ]
            else:
                row += ["-", "-", "-", "-"]
            rows.append(row)
    head = [
        "file",
        "tool",
        "first open ms (imports incl.)",
        "ratio",
        "next opens ms",
        "ratio",
        "CPU ratio",
        "fresh process, imported: open + one plane ms",
        "ratio",
        "its CPU ms",
        "CPU ratio",
    ]
    return (
        f"### Open latency, fresh processes; tifffile = TiffFile + series + level shapes; "
        f"plane: tifffile+zarr; load {_load()}\n\n" + table(head, rows)
    )
