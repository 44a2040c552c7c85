"""Long fuzzing run: mutants of every family's seeds, each opened and read in a child process.

``python -m benchmarks.fuzz --minutes 30 [--jobs 2] [--families tiff,ome-zarr*2,bad]
[--seeds NAME=DIR] [--timeout 10] [--memory-gib 3] [--keep DIR]``

Families: ``tiff``, ``ome-zarr`` (structure-aware), ``czi``, ``lif``, ``nd2``, ``images``,
``imaris``, ``mrc`` (structure-aware, seeds from ``tests/data`` and generated), ``bad``
(the shared ``bad/`` files, byte mutator); ``NAME*N`` gives a family N turns in each
round of mutants. ``--seeds czi=DIR`` adds DIR's files to a family's seeds.

The parent imports imgio once and forks one child per case (cheap, warm imports). A child
limits its address space (``--memory-gib`` above what it has at fork), runs
``fuzzing.exercise.exercise`` (open, dims, sizes, names, dask graph, a corner read of two
levels of up to three scenes, then every public verb: metadata, the OME model,
standard_metadata, the tile verbs, ``imgio.slide``, a small OME-TIFF and OME-Zarr write)
and reports one outcome: ok, imgio error, other exception,
hang (killed after ``--timeout`` s), memory (MemoryError anywhere in the chain), crash
(died from a signal) or outside (opened a file outside the case folder: confinement).
Cases other than ok/imgio error are copied to ``--keep`` with what was mutated.
The table printed at the end is family x outcome (markdown).

A new reader family plugs in with an entry in ``tests/fuzzing/families.py`` (seed builder +
mutator) or, with no code, ``--seeds NAME=DIR`` (files of DIR, generic byte mutator).
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import random
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from fuzzing import families as fam  # noqa: E402
from fuzzing import mutate_text, mutate_zarr  # noqa: E402
from fuzzing.exercise import OUTCOMES, classify, exercise, watch_opens  # noqa: E402
from fuzzing.seeds import write_secret  # noqa: E402

# the shared samples beside the checkout (as tests/samples.py finds them), or $IMGIO_SAMPLES
SHARED_BAD = Path(os.environ.get("IMGIO_SAMPLES", ROOT.parent / "shared" / "samples")) / "bad"


def _copy(seed: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    target = dest / seed.name
    if seed.is_dir():
        shutil.copytree(seed, target, symlinks=True)
    else:
        shutil.copyfile(seed, target)
    return target


def _child(case: Path, entry: Path, memory: int, watched: list[Path], write_fd: int) -> None:
    """Runs in the forked child: limits, audit hook, exercise, one JSON line, exit."""
    try:
        _fresh_dask_pools()
        soft = _vm_size() + memory
        resource.setrlimit(resource.RLIMIT_AS, (soft, soft))
        watch = watch_opens([case], watched)
        try:
            exercise(entry)
            exc: BaseException | None = None
        except BaseException as e:  # noqa: BLE001 - every outcome is classified
            exc = e
        outcome, detail = classify(exc)
        if watch.outside and outcome != "memory":
            outcome, detail = "outside", f"opened {watch.outside[:3]}"
        msg = json.dumps({"outcome": outcome, "detail": detail})
    except BaseException as e:  # noqa: BLE001
        msg = json.dumps({"outcome": "crash", "detail": f"harness: {e!r}"[:300]})
    os.write(write_fd, msg.encode() + b"\n")
    os._exit(0)


def _warm_imports() -> None:
    """Import what every child needs once, in the parent (no store opened: no zarr loop
    thread may exist when forking)."""
    import importlib

    for name in (
        "imgio",
        "imgio.image",
        "imgio.arrays._lazy",
        "imgio.readers.tiff",
        "imgio.readers.tiff.companion",
        "imgio.readers.ome_zarr",
        "imgio.readers.czi",
        "imgio.readers.lif",
        "imgio.readers.nd2",
        "imgio.readers.images",
        "imgio.readers.imaris",
        "imgio.readers.mrc",
        "h5py",
        "imgio.readers.xlif",
        "imgio.readers.oif",
        "imgio.image._standard",
        "imgio.tiles",
        "imgio.tiles.source",
        "imgio.tiles._render",
        "imgio.tiles._encode",
        "imgio.slide",
        "imgio.writers",
        "imgio.writers.ome_tiff",
        "imgio.writers.ome_zarr",
        "ome_types.model",
        "PIL.PngImagePlugin",
        "PIL.JpegImagePlugin",
        "PIL.GifImagePlugin",
        "PIL.WebPImagePlugin",
        "imgio.readers.dicom",
        "pydicom",
        "pydicom.filereader",
        "pydicom.encaps",
        "nd2",
        "liffile",
        "PIL.Image",
        "dask.array",
        "xarray",
        "zarr",
        "zarr.codecs",
        "numcodecs",
        "imagecodecs",
        "ome_types",
        "distributed",
    ):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    _warm_ome_model()


def _warm_exercise(folder: Path, first_seeds: list[Path]) -> None:
    """Exercise one seed of each family in the parent: the lazily built parts (imports
    inside functions, pydantic validators, codec tables) are then built once, not again in
    every child. A failure here is no finding (the seeds run again as cases)."""
    for i, seed in enumerate(first_seeds):
        case = _copy(seed, folder / str(i))
        try:
            exercise(fam.entry_of(case))
        except Exception:  # noqa: BLE001, S110 - warming only
            pass
    shutil.rmtree(folder, ignore_errors=True)
    # the parent's objects move to the permanent generation: a child's collections neither
    # scan them nor write to their pages (each write copies a page of the parent)
    gc.collect()
    gc.freeze()


def _fresh_dask_pools() -> None:
    """In a forked child: forget dask's thread pools made in the parent (building the seeds
    computes with dask). Their threads do not exist in the child, so a ``compute`` there
    would queue work that no thread runs: every write in a child hung until killed."""
    import dask.threaded

    dask.threaded.default_pool = None
    dask.threaded.pools.clear()


def _warm_ome_model() -> None:
    """Build one small OME model (pydantic builds its validators on first use: seconds
    that every child would pay again); no threads are started."""
    import numpy as np

    from imgio._ome import build_ome
    from imgio.readers.base import SceneInfo

    scene = SceneInfo("warm", "YX", ((2, 2),), np.dtype("u1"))
    build_ome(None, [scene]).to_xml()


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


class Running:
    def __init__(self, pid: int, fd: int, family: str, seed: Path, case: Path, what: str) -> None:
        self.pid, self.fd, self.family, self.seed, self.case, self.what = (
            pid,
            fd,
            family,
            seed,
            case,
            what,
        )
        self.start = time.monotonic()
        self.buf = b""


def _finish(run: Running, timed_out: bool) -> dict[str, Any]:
    if timed_out:
        os.kill(run.pid, signal.SIGKILL)
    _, status = os.waitpid(run.pid, 0)
    os.close(run.fd)
    if timed_out:
        return {"outcome": "hang", "detail": f"killed after {time.monotonic() - run.start:.0f} s"}
    line = run.buf.split(b"\n", 1)[0]
    if line:
        return dict(json.loads(line))
    return {"outcome": "crash", "detail": f"died with status {status}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--cases", type=int, default=0, help="stop after this many (0: no limit)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--families", default="tiff,ome-zarr,bad")
    ap.add_argument("--seeds", action="append", default=[], metavar="NAME=DIR")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--memory-gib", type=float, default=3.0)
    ap.add_argument("--keep", type=Path, default=None, help="folder for failing cases")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="imgio-fuzz-"))
    outside = work / "outside"
    mutate_text.SECRET[0] = str(write_secret(outside))
    mutate_zarr.SECRET_ZARR[0] = str(_secret_zarr(outside))
    families = dict(fam.FAMILIES)
    if SHARED_BAD.is_dir():
        families["bad"] = fam.Family("bad", fam.folder_seeds(SHARED_BAD), fam.mutate_bytes)
    for spec in args.seeds:  # a known family keeps its seeds and mutator, and gains DIR's files
        name, _, folder = spec.partition("=")
        known = families.get(name)
        seeds = fam.folder_seeds(Path(folder), known.seeds if known else None)
        families[name] = fam.Family(name, seeds, known.mutate if known else fam.mutate_bytes)
    _warm_imports()
    turns = _turns(args.families) + [s.split("=")[0] for s in args.seeds]
    wanted = list(dict.fromkeys(turns))
    seeds = {name: families[name].seeds(work / "seeds" / name) for name in wanted}
    _warm_exercise(work / "warm", [seeds[name][0] for name in wanted if seeds[name]])
    watched = [work, Path("/proc"), Path("/etc"), Path("/work/shared")]
    rng = random.Random(args.seed)
    table: dict[str, collections.Counter[str]] = {n: collections.Counter() for n in wanted}
    details: collections.Counter[tuple[str, str, str]] = collections.Counter()
    deadline = time.monotonic() + args.minutes * 60
    running: dict[int, Running] = {}
    n_started = kept = 0
    # each seed as is first, then mutants round-robin over families
    plain = [(name, s) for name in wanted for s in seeds[name]]
    slots = list(range(args.jobs))
    while True:
        more = time.monotonic() < deadline and (not args.cases or n_started < args.cases)
        while more and slots:
            slot = slots.pop()
            if plain:
                name, seed = plain.pop(0)
                case = _copy(seed, work / "cases" / str(slot))
                what = "seed as is"
            else:
                name = turns[n_started % len(turns)]
                seed = rng.choice(seeds[name])
                case = _copy(seed, work / "cases" / str(slot))
                try:
                    what = families[name].mutate(case, random.Random(rng.getrandbits(64)))
                except Exception as exc:  # noqa: BLE001 - a mutator bug must not end the run
                    what = f"mutator failed ({exc!r}); case as far as mutated"
                    sys.stderr.write(f"{name}: {what}\n")
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                _child(case, fam.entry_of(case), int(args.memory_gib * 2**30), watched, write_fd)
            os.close(write_fd)
            running[read_fd] = Running(pid, read_fd, name, seed, case, what)
            running[read_fd].slot = slot  # type: ignore[attr-defined]
            n_started += 1
            more = time.monotonic() < deadline and (not args.cases or n_started < args.cases)
        if not running:
            break
        ready, _, _ = select.select(list(running), [], [], 0.2)
        done = []
        for fd in ready:
            chunk = os.read(fd, 65536)
            running[fd].buf += chunk
            if not chunk or b"\n" in running[fd].buf:
                done.append((fd, False))
        now = time.monotonic()
        done += [
            (fd, True)
            for fd, r in running.items()
            if now - r.start > args.timeout and (fd, False) not in done
        ]
        for fd, timed_out in done:
            run = running.pop(fd)
            result = _finish(run, timed_out)
            outcome = result["outcome"]
            table[run.family][outcome] += 1
            if outcome not in ("ok", "imgio error"):
                details[(run.family, outcome, result["detail"][:160])] += 1
                if args.keep is not None:
                    kept += 1
                    dest = _free(args.keep / outcome.replace(" ", "-"), f"{kept:05d}-{run.family}")
                    shutil.copytree(run.case.parent, dest / "case", symlinks=True)
                    (dest / "what.txt").write_text(
                        f"seed: {run.seed}\nmutation: {run.what}\n{result['detail']}\n"
                    )
            slots.append(run.slot)  # type: ignore[attr-defined]
        total = sum(sum(c.values()) for c in table.values())
        if total and total % 500 == 0 and done:
            sys.stderr.write(f"... {total} cases\n")
    _report(table, details)
    return 0


def _free(folder: Path, name: str) -> Path:
    """``folder / name``, or with a ``-2``, ``-3``... suffix when an earlier run sharing the
    ``--keep`` folder kept a case under that name."""
    dest, k = folder / name, 1
    while dest.exists():
        k += 1
        dest = folder / f"{name}-{k}"
    return dest


def _turns(spec: str) -> list[str]:
    """The round-robin order of ``--families``: ``dicom*3`` takes three turns in a round."""
    turns: list[str] = []
    for item in (f for f in spec.split(",") if f):
        name, _, times = item.partition("*")
        turns += [name] * (int(times) if times else 1)
    return turns


def _secret_zarr(folder: Path) -> Path:
    import numpy as np
    import zarr
    from fuzzing.seeds import SECRET_VALUE

    path = folder / "secret.zarr"
    if not path.exists():
        arr = zarr.create_array(path, shape=(8, 8), chunks=(8, 8), dtype="u1", zarr_format=3)
        arr[:] = np.full((8, 8), SECRET_VALUE, "u1")
    return path


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _report(
    table: dict[str, collections.Counter[str]],
    details: collections.Counter[tuple[str, str, str]],
) -> None:
    _say("| family | cases | " + " | ".join(OUTCOMES) + " |")
    _say("|---|---:|" + "---:|" * len(OUTCOMES))
    for name, counts in table.items():
        cells = " | ".join(str(counts.get(o, 0)) for o in OUTCOMES)
        _say(f"| {name} | {sum(counts.values())} | {cells} |")
    if details:
        _say("\nfailures by kind (most frequent first):")
        for (family, outcome, detail), n in details.most_common(40):
            _say(f"  {n:5d}  {family:9s} {outcome:16s} {detail}")


if __name__ == "__main__":
    sys.exit(main())
