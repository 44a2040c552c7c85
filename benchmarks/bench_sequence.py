"""File sequences (issue 18): imgio's pattern reader vs tifffile's ``TiffSequence``.

``python -m benchmarks.bench_sequence [--rounds 3]`` writes two generated sequences
(uncompressed and zstd TIFF planes, T x C x Z files over 10 MB in all) and times, each
case in a fresh interpreter (so its peak RSS is its own): ``open`` (structure only) and
``open + whole read`` into numpy, after one untimed run of the same task (first-call costs
such as lazy imports are not the format's), with imgio
(``imgio.Image("t{T}_c{C}_z{Z}.tif").data``) and with tifffile
(``TiffSequence(glob, pattern=...).asarray()``). The table gives median wall and CPU
milliseconds (CPU of every thread: on a shared machine the wall times of a threaded read
suffer most), imgio's ratios to tifffile and peak RSS in MiB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ._harness import (
    emit,
    fmt_mb,
    fmt_ms,
    fmt_ratio,
    machine_line,
    median,
    rss_peak,
    run_child,
    say,
    table,
    timed,
)

SHAPE = (10, 2, 8, 512, 512)  # T C Z Y X: 160 files, 80 MiB uint16


def write(folder: Path, compression: str | None) -> int:
    import tifffile

    rng = np.random.default_rng(0)
    base = rng.integers(0, 4096, SHAPE[-2:], dtype=np.uint16)
    total = 0
    for t, c, z in np.ndindex(*SHAPE[:3]):
        plane = np.roll(base, t * 7 + c * 3 + z, axis=1)
        path = folder / f"img_t{t:03d}_c{c}_z{z:02d}.tif"
        tifffile.imwrite(path, plane, compression=compression, tile=(256, 256))
        total += path.stat().st_size
    return total


def child(spec: dict[str, Any]) -> None:
    folder = Path(spec["folder"])
    if spec["tool"] == "imgio":
        import imgio
        import imgio.image
        import imgio.readers.sequence  # noqa: F401 - imported before timing, as tifffile is
        from imgio.readers import BUILTIN_READERS
        from imgio.readers._registry import reader_class

        for name in BUILTIN_READERS:  # the registry imports every reader on a first open
            reader_class(name)

        def run() -> Any:
            img = imgio.Image(str(folder / "img_t{T}_c{C}_z{Z}.tif"))
            return img.data if spec["read"] else img.dims
    else:
        import tifffile

        def run() -> Any:
            seq = tifffile.TiffSequence(
                str(folder / "img_t*_c*_z*.tif"), pattern=r"_t(\d+)_c(\d+)_z(\d+)"
            )
            return seq.asarray() if spec["read"] else seq.shape

    run()  # first-call costs (lazy imports, byte-compiling) paid, as in bench_microscope
    wall, cpu, value = timed(run)
    if spec["read"]:
        assert value.shape == SHAPE, value.shape
    emit({"wall": wall, "cpu": cpu, "peak": rss_peak()})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    say(f"# File sequences vs tifffile TiffSequence\n\n{machine_line()}\n")
    rows = []
    work = Path(tempfile.mkdtemp(prefix="imgio-seq-bench-"))
    try:
        for compression in (None, "zstd"):
            folder = work / (compression or "raw")
            folder.mkdir()
            nbytes = write(folder, compression)
            for read in (False, True):
                res: dict[str, list[dict[str, Any]]] = {"imgio": [], "tifffile": []}
                for k in range(args.rounds):
                    for tool in ("imgio", "tifffile")[:: 1 if k % 2 == 0 else -1]:
                        spec = {"tool": tool, "folder": str(folder), "read": read}
                        res[tool].append(run_child("benchmarks.bench_sequence", spec))
                walls = {
                    t: median([r.get("wall", float("nan")) for r in v]) for t, v in res.items()
                }
                cpus = {t: median([r.get("cpu", float("nan")) for r in v]) for t, v in res.items()}
                peaks = {t: max((r.get("peak", 0) for r in v), default=0) for t, v in res.items()}
                rows.append(
                    [
                        f"{compression or 'raw'} ({nbytes / 2**20:.0f} MiB, 160 files)",
                        "open + whole read" if read else "open",
                        fmt_ms(walls["imgio"]),
                        fmt_ms(walls["tifffile"]),
                        fmt_ratio(walls["imgio"], walls["tifffile"]),
                        fmt_ms(cpus["imgio"]),
                        fmt_ms(cpus["tifffile"]),
                        fmt_ratio(cpus["imgio"], cpus["tifffile"]),
                        fmt_mb(peaks["imgio"]),
                        fmt_mb(peaks["tifffile"]),
                    ]
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(
        table(
            [
                "sequence",
                "task",
                "imgio wall ms",
                "tifffile wall ms",
                "wall ratio",
                "imgio CPU ms",
                "tifffile CPU ms",
                "CPU ratio",
                "imgio MiB",
                "tifffile MiB",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
