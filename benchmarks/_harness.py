"""Shared benchmark plumbing: one fresh subprocess per (tool, case), medians, markdown tables.

Each case runs in its own interpreter (``python -m benchmarks.<module> --child JSON``) so
its peak RSS (``ru_maxrss``) belongs to that case alone and no tool warms another's caches.
The child prints one line ``@@RESULT <json>``; everything else it prints is ignored.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@RESULT "


# ---------------------------------------------------------------- child side
def rss_now() -> int:
    """Resident set size of this process now, in bytes."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return int(psutil.Process().memory_info().rss)


def rss_peak() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) * (1 if sys.platform == "darwin" else 1024)


def timed(func: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds of the whole process (every thread), and the value."""
    c0, t0 = time.process_time(), time.perf_counter()
    value = func()
    return time.perf_counter() - t0, time.process_time() - c0, value


def say(text: str = "") -> None:
    """Print a line of the report (benchmarks report on stdout)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def emit(result: dict[str, Any]) -> None:
    """Print a child's result for the parent (the last line it writes)."""
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------- parent side
def run_child(module: str, spec: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    """Run one case in a fresh interpreter; return its result or ``{"error": ...}``."""
    cmd = [sys.executable, "-m", module, "--child", json.dumps(spec)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK) :]))
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    if proc.returncode < 0:
        tail = f"killed by signal {-proc.returncode} ({tail})"
    return {"error": tail[:200]}


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine_line() -> str:
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        mem = "? GiB"
    return (
        f"{platform.machine()} {cpus} CPUs, {mem}, Python {platform.python_version()}, "
        f"load average {load} (1/5/15 min)"
    )


def fmt_ms(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def fmt_ratio(value: float, reference: float) -> str:
    if not (value == value and reference == reference and reference > 0):
        return "-"
    return f"{value / reference:.2f}×"


def fmt_mb(nbytes: float | None) -> str:
    return "-" if nbytes is None else f"{nbytes / 2**20:.0f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table; numeric-looking columns right-aligned."""
    align = []
    for i in range(len(headers)):
        cells = [r[i] for r in rows if i < len(r)]
        numeric = cells and all(
            c.replace(".", "").replace("×", "").strip("-").isdigit() or c == "-" for c in cells
        )
        align.append("---:" if numeric else "---")
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)
