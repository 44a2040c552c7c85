"""Run the benchmarks: ``python -m benchmarks.run [--quick] [--only NAME ...]``.

Each benchmark module has ``main(argv) -> int`` and prints its own markdown tables:
``bench_read`` (issue 2), ``bench_write`` (writers), ``bench_zarr`` (issue 4),
``bench_remote`` (remote reads, cluster scaling), ``bench_formats`` (CZI, common
images, the JPEG mosaic job; issue 8), ``bench_instruments`` (LIF/ND2, issue 8),
``bench_microscope`` (Imaris, DeltaVision, MRC; issue 18),
``bench_dask`` (issue 11: the dask DataArray vs numpy/lazy, open latency, write memory
by size), ``bench_sink`` (tile sink, issue 7), ``bench_refs`` (zarr over
:func:`imgio.references` vs imgio's read, issue 18). A module that is not present is skipped
with a note.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from ._harness import machine_line, say

MODULES = {
    "read": "benchmarks.bench_read",
    "write": "benchmarks.bench_write",
    "zarr": "benchmarks.bench_zarr",
    "remote": "benchmarks.bench_remote",
    "serve": "benchmarks.bench_serve",
    "wsi": "benchmarks.bench_wsi",
    "formats": "benchmarks.bench_formats",
    "instruments": "benchmarks.bench_instruments",
    "microscope": "benchmarks.bench_microscope",
    "dask": "benchmarks.bench_dask",
    "sink": "benchmarks.bench_sink",
    "refs": "benchmarks.bench_refs",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and spots (smoke run)")
    parser.add_argument(
        "--only", action="append", choices=sorted(MODULES), help="run only these (repeatable)"
    )
    args = parser.parse_args(argv)
    wanted = args.only or list(MODULES)
    say(f"# imgio benchmarks\n\n{machine_line()}\n")
    status = 0
    for key in wanted:
        name = MODULES[key]
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            say(f"_{name} is not present: the {key} benchmarks are skipped._\n")
            continue
        t0 = time.perf_counter()
        code = int(module.main(["--quick"] if args.quick else []) or 0)
        say(f"\n_{name}: {time.perf_counter() - t0:.0f} s, exit {code}_\n")
        status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main())
