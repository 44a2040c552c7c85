"""``imgio convert`` of each CZI sample to OME-TIFF from the command line, against
bioio's ``BioImage(...).save`` (bioio-czi + bioio-ome-tiff), each a fresh interpreter:
wall time, CPU and peak RSS, runs alternated. Part of ``bench_formats --only convert``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ._harness import fmt_mb, fmt_ms, fmt_ratio, median, say, table

__all__ = ["bench_convert"]

IMGIO = """
import sys
from imgio.cli import main
sys.exit(main(["convert", sys.argv[2] + "/in.czi", sys.argv[1], "--overwrite"]))
"""

BIOIO = """
import sys, warnings
warnings.simplefilter("ignore")
from bioio import BioImage
BioImage(sys.argv[2] + "/in.czi").save(sys.argv[1])
"""


def bench_convert(files: list[Path], repeats: int) -> None:
    """One row per file and tool: medians of ``repeats`` alternated fresh runs."""
    from .bench_formats import run_cli

    rows = []
    for path in files:
        with tempfile.TemporaryDirectory(prefix="imgio-convert-") as tmp:
            folder = Path(tmp)
            shutil.copyfile(path, folder / "in.czi")
            runs: dict[str, list[tuple[float, int, float]]] = {
                "imgio convert": [],
                "bioio save": [],
            }
            for script, key in ((IMGIO, "imgio convert"), (BIOIO, "bioio save")):
                run_cli(script, folder / f"{key[:5]}.ome.tif", folder, 0)  # warm-up, bytecode
            for _ in range(repeats):
                runs["imgio convert"].append(run_cli(IMGIO, folder / "a.ome.tif", folder, 0))
                runs["bioio save"].append(run_cli(BIOIO, folder / "b.ome.tif", folder, 0))
        wall = {k: median(w for w, _, _ in v) for k, v in runs.items()}
        cpu = {k: median(c for _, _, c in v) for k, v in runs.items()}
        rss = {k: median(r for _, r, _ in v) for k, v in runs.items()}
        for k in runs:
            rows.append(
                [path.name, k, fmt_ms(wall[k]), fmt_ms(cpu[k]), fmt_mb(rss[k]),
                 fmt_ratio(wall[k], wall["bioio save"])]
            )  # fmt: skip
    say(
        f"\n### CZI to OME-TIFF from the command line (fresh interpreter, median of {repeats}, "
        "alternated)\n"
    )
    say(table(["file", "job", "wall ms", "CPU ms", "peak RSS MiB", "wall / bioio"], rows))
