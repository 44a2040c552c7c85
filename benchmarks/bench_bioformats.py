"""The cost of Bio-Formats out of process: imgio through its worker against a checkout
that ran Bio-Formats in the user's process (JPype in-process, before the worker).

``python -m benchmarks.bench_bioformats --baseline DIR [--repeat 3]``, DIR a checkout of
the in-process version (``git worktree add /tmp/bf-old 11d9358``). Each side runs in fresh
Python processes (``PYTHONPATH`` set to its checkout) on the same ``.fake`` files
(Bio-Formats makes the pixels: the cost measured is Bio-Formats' and the bridge's):
the first open (Java's start included), a second file's open, a whole 2048 x 2048
uint16 plane (8 MiB), a 256 x 256 window, 200 windows of 64 x 64 (the per-request cost),
an 8-plane stack through dask's threaded scheduler (64 chunks; 1 and 4 threads: one
worker serves one request at a time), and the peak resident
memory of the user's process and of its children (the worker). Medians of ``--repeat``
runs; one markdown table with the ratios (worker / in-process).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._harness import say

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
import numpy as np
import imgio

big, other, stack = sys.argv[1:4]
out = {}
t = time.perf_counter()
img = imgio.Image(big, reader="bioformats")
out["first open (JVM start)"] = time.perf_counter() - t
t = time.perf_counter()
imgio.Image(other, reader="bioformats")
out["second open"] = time.perf_counter() - t
img.get_image_data("YX", Z=0)
t = time.perf_counter()
for z in range(1, 5):
    img.get_image_data("YX", Z=z)
out["2048x2048 uint16 plane"] = (time.perf_counter() - t) / 4
t = time.perf_counter()
for i in range(20):
    img.get_image_data("YX", Z=i % 5, Y=slice(256 * (i % 7), 256 * (i % 7) + 256),
                       X=slice(512, 768))
out["256x256 window"] = (time.perf_counter() - t) / 20
src = img.reader.source(0)
t = time.perf_counter()
for i in range(200):
    y, x = 64 * (i % 30), 64 * (i // 30)
    src[(slice(0, 1),) * 3 + (slice(y, y + 64), slice(x, x + 64))]
out["64x64 window (per request)"] = (time.perf_counter() - t) / 200
s = imgio.Image(stack, reader="bioformats")
arr = s.reader.source(0)
import dask.array as da
d = da.from_array(arr, chunks=(1, 1, 1, 256, 512), meta=np.empty((0,) * 5, arr.dtype))
d.compute(scheduler="threads", num_workers=4)  # warm: the first pass pays Java's JIT
for threads in (1, 4):
    t = time.perf_counter()
    d.compute(scheduler="threads", num_workers=threads)
    out[f"8 x 1024x1024 stack, 64 chunks, {threads} thread(s)"] = time.perf_counter() - t
out["peak RSS user process (MiB)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
try:
    from imgio.readers import _bfclient
    _bfclient._shutdown()
except ImportError:
    pass
out["peak RSS children (MiB)"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(out))
"""


def _run(checkout: Path, files: list[Path]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, files)],
        env=env,
        cwd=checkout,  # python -c puts the working folder first on sys.path
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: {done.stderr[-2000:]}")
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="imgio-bench-bf-"))
    files = [
        folder / "big&sizeX=2048&sizeY=2048&sizeZ=5&pixelType=uint16.fake",
        folder / "other&sizeX=300&sizeY=200&sizeC=3.fake",
        folder / "stack&sizeX=1024&sizeY=1024&sizeZ=8.fake",
    ]
    for f in files:
        f.touch()
    runs: dict[str, list[dict[str, float]]] = {"worker": [], "in-process": []}
    for _ in range(args.repeat):  # interleaved: the shared machine's load hits both
        runs["worker"].append(_run(ROOT, files))
        runs["in-process"].append(_run(args.baseline, files))
    say("| measure | in-process (JPype) | worker process | ratio |")
    say("|---|---:|---:|---:|")
    for key in runs["worker"][0]:
        old = statistics.median(r[key] for r in runs["in-process"])
        new = statistics.median(r[key] for r in runs["worker"])
        unit = "" if "MiB" in key else " s"
        fmt = ".0f" if "MiB" in key else ".4f"
        ratio = f"{new / old:.2f}" if old else "-"
        say(f"| {key} | {old:{fmt}}{unit} | {new:{fmt}}{unit} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
