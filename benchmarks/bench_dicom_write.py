"""Converting slides to a DICOM WSI series: ``imgio convert IN OUT --format dicom`` against
wsidicomizer and against imgio's own OME-TIFF conversion, each job a fresh interpreter
(wall time, CPU, peak RSS from VmHWM); then the same conversion of synthetic JPEG-tiled
slides of growing size, to show that the peak memory does not grow with the image.

Run by hand (a few minutes)::

    python -m benchmarks.bench_dicom_write [--wsidicomizer /path/to/python] [--sizes 4096 16384]

wsidicomizer pins an older wsidicom than imgio's tests use, so it is run from its own
environment: ``python -m venv /tmp/wsiz && /tmp/wsiz/bin/pip install wsidicomizer`` and
pass ``--wsidicomizer /tmp/wsiz/bin/python``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._harness import ROOT, fmt_mb, fmt_ms, fmt_ratio, machine_line, median, say, table

SAMPLES = ROOT.parent / "shared" / "samples" / "wsi"

IMGIO_DICOM = """
import sys
from imgio.cli import main
sys.exit(main(["convert", sys.argv[1], sys.argv[2], "--format", "dicom", "--quiet"]))
"""
IMGIO_TIFF = """
import sys
from imgio.cli import main
sys.exit(main(["convert", sys.argv[1], sys.argv[2] + ".ome.tif", "--quiet",
               "--compression", "jpeg"]))
"""
WSIDICOMIZER = """
import sys, warnings
warnings.simplefilter("ignore")
from wsidicomizer import WsiDicomizer
WsiDicomizer.convert(sys.argv[1], sys.argv[2], add_missing_levels=True)  # a full pyramid
"""
WRAPPER = (
    "import resource, sys\n"
    "sys.argv = ['x'] + sys.argv[1:]\n"
    "try:\n    exec(compile(open(sys.argv[3]).read(), 'job', 'exec'))\n"
    "except SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
    "u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
    "print('@@RSS', int(hwm[0].split()[1]) * 1024, u.ru_utime + u.ru_stime, code)\n"
)


def run_job(python: str, script: str, src: Path, out: Path) -> tuple[float, int, float]:
    """Wall seconds, peak RSS bytes and CPU seconds of ``script`` in a fresh ``python``."""
    job = out.with_name(out.name + ".py")
    job.write_text(script)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [python, "-c", WRAPPER, str(src), str(out), str(job)],
        capture_output=True, text=True, env=env, check=False, cwd=ROOT,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    got = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("@@RSS")]
    if proc.returncode or not got or got[0][2] not in ("0", "None"):
        raise RuntimeError((proc.stderr or proc.stdout)[-600:])
    return wall, int(got[0][0]), float(got[0][1])


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def make_slide(path: Path, side: int) -> Path:
    """A ``side`` x ``side`` RGB slide with JPEG tiles (smooth stains, 0.25 µm)."""
    import dask.array as da
    import numpy as np

    import imgio

    def paint(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        assert block_info is not None
        (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
        y, x = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        r = 200 + 40 * np.sin(x / 97.0) * np.cos(y / 131.0)
        g = 150 + 60 * np.sin((x + y) / 211.0)
        b = 190 + 50 * np.cos(x / 53.0 - y / 71.0)
        return np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)

    arr = da.zeros((side, side, 3), np.uint8, chunks=(2048, 2048, 3)).map_blocks(
        paint, dtype=np.uint8
    )
    imgio.write(arr, path, dims="YXS", compression="jpeg", tile=256, pyramid_levels=1,
                physical_pixel_sizes=(None, 0.25, 0.25), overwrite=True)  # fmt: skip
    return path


def compare(files: list[Path], jobs: dict[str, tuple[str, str]], repeats: int) -> None:
    rows = []
    for src in files:
        runs: dict[str, list[tuple[float, int, float]]] = {k: [] for k in jobs}
        sizes: dict[str, int] = {}
        with tempfile.TemporaryDirectory(prefix="imgio-dicomw-") as tmp:
            for r in range(repeats):
                for name, (python, script) in jobs.items():
                    out = Path(tmp) / f"{name.split()[0]}-{r}"
                    try:
                        runs[name].append(run_job(python, script, src, out))
                    except RuntimeError as exc:
                        say(f"{name} on {src.name} failed: {str(exc).strip().splitlines()[-1]}")
                        continue
                    done = out if out.exists() else out.with_name(out.name + ".ome.tif")
                    sizes[name] = size_of(done)
        ref = median([w for w, _, _ in runs.get("imgio → DICOM", [])])
        for name, got in runs.items():
            if not got:
                continue
            wall = median([w for w, _, _ in got])
            rows.append([
                src.name, name, fmt_ms(wall), fmt_ms(median([c for _, _, c in got])),
                fmt_mb(median([m for _, m, _ in got])), fmt_mb(sizes.get(name)),
                fmt_ratio(wall, ref),
            ])  # fmt: skip
    say(table(["input", "job", "wall ms", "CPU ms", "peak RSS MiB", "output MiB",
               "wall / imgio DICOM"], rows))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wsidicomizer", help="python of an environment with wsidicomizer")
    parser.add_argument("--sizes", type=int, nargs="*", default=[4096, 16384])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    say(f"# DICOM WSI writing\n\n{machine_line()}\n")
    jobs = {
        "imgio → DICOM": (sys.executable, IMGIO_DICOM),
        "imgio → OME-TIFF (JPEG)": (sys.executable, IMGIO_TIFF),
    }
    if args.wsidicomizer:
        jobs["wsidicomizer"] = (args.wsidicomizer, WSIDICOMIZER)
    svs = sorted(SAMPLES.glob("*.svs"), key=lambda p: p.stat().st_size, reverse=True)
    say("## Shared SVS samples\n")
    compare(svs, jobs, args.repeats)
    say("\n## Synthetic JPEG-tiled slides of growing size (peak memory stays flat)\n")
    with tempfile.TemporaryDirectory(prefix="imgio-dicomw-src-") as tmp:
        made = [make_slide(Path(tmp) / f"synthetic-{s}.ome.tif", s) for s in args.sizes]
        compare(made, jobs, args.repeats)


if __name__ == "__main__":
    main()
