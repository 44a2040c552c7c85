"""Fuzz a family whose reader needs a JVM (the Bio-Formats fallback).

``python -m benchmarks.fuzz_jvm --minutes 10 [--families bioformats] [--timeout 30]
[--heap 1g] [--keep DIR] [--seed N]``

``benchmarks.fuzz`` forks a child per case from a warm parent; a JVM does not survive a
fork, and starting one per case costs seconds (about 14 s on the shared machine against
0.6 s for a warm case). Here one worker process, forked before any JVM exists, starts
Java once (heap capped at ``--heap``) and runs case after case, answering one JSON line
each; a case that gives no answer within ``--timeout`` s is a hang and one that ends the
worker is a crash: the worker is killed or reaped and a fresh one started (its JVM start
is not counted against the next case's timeout). Same exercise, outcomes and table as
``benchmarks.fuzz``; no address space cap (the JVM reserves its heap up front).
"""

from __future__ import annotations

import argparse
import collections
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
STARTUP_SECONDS = 120.0  # a fresh worker's JVM start, on top of its first case's timeout


def _worker(requests: int, answers: int, allowed: Path, watched: Path, heap: str) -> None:
    """The forked worker: start Java, then one case per request line until EOF."""
    import jpype

    from imgio.readers.bioformats import bioformats_jar

    jar = bioformats_jar()
    jpype.startJVM(f"-Xmx{heap}", "-Djava.awt.headless=true", classpath=[str(jar)])
    jpype.JClass("loci.common.DebugTools").setRootLevel("ERROR")
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


class Worker:
    def __init__(self, work: Path, heap: str) -> None:
        req_r, self.req_w = os.pipe()
        self.ans_r, ans_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.req_w)
            os.close(self.ans_r)
            _worker(req_r, ans_w, work / "case", work, heap)
        os.close(req_r)
        os.close(ans_w)
        self.fresh = True

    def ask(self, entry: Path, timeout: float) -> dict[str, str] | None:
        """The case's outcome, or None when the worker hung (killed) or died."""
        os.write(self.req_w, str(entry).encode() + b"\n")
        limit = timeout + (STARTUP_SECONDS if self.fresh else 0.0)
        self.fresh = False
        buf, end = b"", time.monotonic() + limit
        while b"\n" not in buf:
            ready, _, _ = select.select([self.ans_r], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                return None
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
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--heap", default="1g")
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="imgio-fuzz-jvm-"))
    wanted = [f for f in args.families.split(",") if f]
    seeds = {n: fam.FAMILIES[n].seeds(work / "seeds" / n) for n in wanted}
    rng = random.Random(args.seed)
    table = {n: collections.Counter[str]() for n in wanted}
    details: collections.Counter[tuple[str, str, str]] = collections.Counter()
    plain = [(n, s) for n in wanted for s in seeds[n]]
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
        worker = worker or Worker(work, args.heap)
        result = worker.ask(fam.entry_of(case), args.timeout)
        if result is None or result["outcome"] == "crash":
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
