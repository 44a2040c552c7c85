"""Start-up cost of the command line verbs that compute nothing (issue 20: < 0.3 s).

Each verb runs ``repeats`` times in a fresh interpreter; the table shows the fastest wall
time and the fastest CPU time (user + system) of those runs, so other load on the machine
counts as little as possible. ``--against DIR`` adds rows for another checkout (e.g. an
older commit made with ``git worktree add``)::

    python -m benchmarks.bench_cli --repeats 10 --against /tmp/imgio-old

``--file PATH`` (repeatable) adds ``imgio info PATH`` rows (the issue's case is an 800 KB
file); the ``python`` rows are the floor any verb pays: the interpreter, and numpy with
tifffile, which ``info`` of a TIFF needs.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ._harness import say

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]


def _run(argv: list[str], path: Path, *, module: bool = True) -> tuple[float, float]:
    """Wall and CPU seconds of ``python -m imgio.cli ARGV`` (or ``python ARGV``) importing
    imgio from ``path``."""
    env = dict(os.environ, PYTHONPATH=str(path))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its .pyc files
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "imgio-bench-pyc")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "imgio.cli", *argv] if module else [sys.executable, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tempfile.gettempdir(),  # python -m puts the working folder first on sys.path
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _sized(path: str) -> str:
    return f"{Path(path).name} ({os.path.getsize(path) / 1000:.0f} KB)"


def main(argv: Sequence[str] | None = None) -> int:
    """Print a markdown table of the verbs' start-up times."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another imgio checkout to compare")
    parser.add_argument("--file", action="append", default=[], help="add `imgio info FILE` rows")
    args = parser.parse_args(argv)
    from imgio.sample import make_sample

    with tempfile.TemporaryDirectory() as tmp:
        demo = str(make_sample(Path(tmp) / "demo.ome.tif"))
        verbs = [["--version"], ["--help"], ["info", demo], ["convert", "--help"]]
        verbs += [["info", f] for f in args.file]
        checkouts = [("this", ROOT)] + ([("against", args.against)] if args.against else [])
        say("| checkout | command | wall (best) | CPU (best) |")
        say("|---|---|---|---|")
        for floor in (["-c", "pass"], ["-c", "import numpy, tifffile"]):
            runs = [_run(floor, ROOT, module=False) for _ in range(args.repeats + 1)][1:]
            wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
            say(f"| - | python {' '.join(floor)} | {wall:.3f} s | {cpu:.3f} s |")
        for label, path in checkouts:
            for verb in verbs:
                _run(verb, path)  # writes the .pyc files
                runs = [_run(verb, path) for _ in range(args.repeats)]
                shown = " ".join(
                    "demo.ome.tif" if a == demo else a if a not in args.file else _sized(a)
                    for a in verb
                )
                wall = min(r[0] for r in runs)
                cpu = min(r[1] for r in runs)
                say(f"| {label} | imgio {shown} | {wall:.3f} s | {cpu:.3f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
