"""Fuzz a family whose reader needs a JVM (the Bio-Formats fallback).

``python -m benchmarks.fuzz_jvm --minutes 10 [--families bioformats] [--timeout 120]
[--deadline 10] [--heap 1g] [--memory-gib 3] [--no-replay] [--keep DIR] [--seed N]``

imgio runs Bio-Formats in its own worker process (``imgio.readers._bfclient``), started
on first use, so the cases run in one long-lived Python process, forked from this one,
whose Bio-Formats worker stays warm from case to case (``benchmarks.fuzz`` forks a child
per case: each would start a JVM, seconds). imgio's own deadlines are set to
``--deadline`` s (``IMGIO_BIOFORMATS_TIMEOUT`` and ``IMGIO_BIOFORMATS_READ_TIMEOUT``) and
its worker's heap to ``--heap``: a case imgio does not answer within ``--timeout`` s is a
hang (imgio's deadline failed), one whose Python process grows past ``--memory-gib`` GiB
of resident memory is memory (a runaway allocation on the user's side: the address space
cannot be capped, the JVM child would inherit the cap), and one that ends the process is a
crash; the process is then killed and a fresh one started. The bioformats family
first replays the earlier runs' failures (``fuzzing.mutate_fake.REPRODUCERS``), as they
are. Same exercise, outcomes and table as ``benchmarks.fuzz``.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import os
import random
import select
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import fuzz as harness  # puts tests/ on sys.path: fuzzing.*

fam = harness.fam
#: the earlier runs' failures (the bioformats family replays them first)
REPRODUCERS: dict[str, str] = importlib.import_module("fuzzing.mutate_fake").REPRODUCERS
STARTUP_SECONDS = 60.0  # a fresh process's imports and first JVM start, on top of its timeout
POLL_SECONDS = 0.25


def _worker(requests: int, answers: int, allowed: Path, watched: Path) -> None:
    """The forked process: one case per request line until EOF (no JVM here: imgio starts
    its Bio-Formats worker process on the first case and after each one it stopped)."""
    watch = harness.watch_opens([allowed], [watched])
    with os.fdopen(requests, "r") as inbox:
        for line in inbox:
            watch.outside.clear()
            try:
                harness.exercise(Path(line.rstrip("\n")))
                outcome, detail = harness.classify(None)
            except Exception as exc:  # noqa: BLE001 - every outcome is classified
                outcome, detail = harness.classify(exc)
            if watch.outside:
                outcome, detail = "outside", f"opened {watch.outside[:3]}"
            os.write(answers, json.dumps({"outcome": outcome, "detail": detail}).encode() + b"\n")
    os._exit(0)


def _rss(pid: int) -> int:
    """Resident bytes of a process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


class Worker:
    def __init__(self, work: Path, memory: int) -> None:
        req_r, self.req_w = os.pipe()
        self.ans_r, ans_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.req_w)
            os.close(self.ans_r)
            _worker(req_r, ans_w, work / "case", work)
        os.close(req_r)
        os.close(ans_w)
        self.fresh = True
        self.memory = memory

    def ask(self, entry: Path, timeout: float) -> dict[str, str] | None:
        """The case's outcome, or None when the worker hung (killed) or died."""
        os.write(self.req_w, str(entry).encode() + b"\n")
        limit = timeout + (STARTUP_SECONDS if self.fresh else 0.0)
        self.fresh = False
        buf, end = b"", time.monotonic() + limit
        while b"\n" not in buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.ans_r], [], [], min(POLL_SECONDS, left))
            if not ready:
                rss = _rss(self.pid)
                if rss > self.memory:
                    return {"outcome": "memory", "detail": f"resident memory {rss >> 20} MiB"}
                continue
            chunk = os.read(self.ans_r, 65536)
            if not chunk:
                return {"outcome": "crash", "detail": "the worker died"}
            buf += chunk
        return dict(json.loads(buf.split(b"\n")[0]))

    def stop(self) -> None:
        for fd in (self.req_w, self.ans_r):
            os.close(fd)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--families", default="bioformats")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--deadline", type=float, default=10.0)
    ap.add_argument("--heap", default="1g")
    ap.add_argument("--memory-gib", type=float, default=3.0)
    ap.add_argument("--no-replay", action="store_true", help="mutants only")
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    os.environ["IMGIO_BIOFORMATS_TIMEOUT"] = str(args.deadline)
    os.environ["IMGIO_BIOFORMATS_READ_TIMEOUT"] = str(args.deadline)
    os.environ["IMGIO_BIOFORMATS_HEAP"] = args.heap
    work = Path(tempfile.mkdtemp(prefix="imgio-fuzz-jvm-"))
    wanted = [f for f in args.families.split(",") if f]
    seeds = {n: fam.FAMILIES[n].seeds(work / "seeds" / n) for n in wanted}
    rng = random.Random(args.seed)
    table = {n: collections.Counter[str]() for n in wanted}
    details: collections.Counter[tuple[str, str, str]] = collections.Counter()
    plain = [(n, s) for n in wanted for s in seeds[n]]
    if "bioformats" in wanted and not args.no_replay:  # earlier runs' failures first
        for name in REPRODUCERS:
            (work / "replay" / name).mkdir(parents=True)
            (work / "replay" / name / name).touch()
            plain.append(("bioformats", work / "replay" / name))
    deadline, n, kept = time.monotonic() + args.minutes * 60, 0, 0
    worker: Worker | None = None
    while time.monotonic() < deadline:
        if plain:
            name, seed = plain.pop(0)
            case, what = harness._copy(seed, work / "case"), "seed as is"
        else:
            name, seed = wanted[n % len(wanted)], None
            seed = rng.choice(seeds[name])
            case = harness._copy(seed, work / "case")
            what = fam.FAMILIES[name].mutate(case, random.Random(rng.getrandbits(64)))
        worker = worker or Worker(work, int(args.memory_gib * (1 << 30)))
        result = worker.ask(fam.entry_of(case), args.timeout)
        if result is None or result["outcome"] in ("crash", "memory"):
            worker.stop()
            worker = None
        if result is None:
            result = {"outcome": "hang", "detail": f"no answer within {args.timeout:.0f} s"}
        outcome, detail = result["outcome"], result["detail"]
        n += 1
        table[name][outcome] += 1
        if outcome not in ("ok", "imgio error"):
            details[(name, outcome, detail[:160])] += 1
            if args.keep is not None:
                kept += 1
                dest = args.keep / outcome.replace(" ", "-") / f"{kept:05d}-{name}"
                shutil.copytree(case.parent, dest / "case", symlinks=True)
                (dest / "what.txt").write_text(f"seed: {seed}\nmutation: {what}\n{detail}\n")
    if worker is not None:
        worker.stop()
    harness._report(table, details)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
