"""The long fuzz run's child (``benchmarks/fuzz.py``): a case forked from a parent that has
already computed with dask (building the seeds does) runs every verb to the end.

Before the fix, dask's thread pool made in the parent had no threads in the child, so the
OME-Zarr write of every case that opened hung until the harness killed it (reported as
"hang": the WebP and ND2 timeouts of issue #21's runs).
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import signal
import sys
from pathlib import Path
from types import ModuleType

import dask.array as da
import numpy as np
import pytest
import tifffile

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "imgio_bench_fuzz", ROOT / "benchmarks" / "fuzz.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(sys.platform != "linux", reason="the harness forks and reads /proc")
def test_forked_case_after_a_dask_compute_in_the_parent_finishes(
    fuzz: ModuleType, tmp_path: Path
) -> None:
    case = tmp_path / "case" / "stack.tif"
    case.parent.mkdir()
    # three channels: the OME-Zarr write of its corner computes through dask's pool
    data = np.arange(3 * 64 * 80, dtype=np.uint16).reshape(3, 64, 80)
    tifffile.imwrite(case, data, photometric="minisblack", metadata={"axes": "CYX"})
    # the parent computes with dask's default threaded pool, as building the seeds does
    assert int(da.ones((64, 64), chunks=16).sum().compute()) == 64 * 64
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and exits
        os.close(read_fd)
        fuzz._child(case, case, 2 * 2**30, [tmp_path], write_fd)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 60)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        line = os.read(read_fd, 65536).split(b"\n")[0] if ready else b""
    finally:
        os.waitpid(pid, 0)
        os.close(read_fd)
    assert ready, "the forked case hung (dask's pool from the parent has no threads)"
    assert json.loads(line) == {"outcome": "ok", "detail": ""}


def test_fake_mutants_rename_the_one_fake_file_the_case_opens(tmp_path: Path) -> None:
    import random

    from fuzzing.families import entry_of
    from fuzzing.mutate_fake import SEEDS, fake_seeds, mutate_fake

    seeds = fake_seeds(tmp_path)
    assert [next(s.glob("*.fake")).name for s in seeds] == list(SEEDS)
    for i, seed in enumerate(seeds):
        before = entry_of(seed).name
        what = mutate_fake(seed, random.Random(i))
        (fake,) = seed.glob("*.fake")
        assert entry_of(seed) == fake and what
        assert fake.name != before or "=" in what  # a value may be rewritten to itself


def test_kept_cases_of_runs_sharing_a_keep_folder_do_not_collide(
    fuzz: ModuleType, tmp_path: Path
) -> None:
    # each run numbers its kept cases from 1: a second run used to hit FileExistsError
    assert fuzz._free(tmp_path, "00001-tiff") == tmp_path / "00001-tiff"
    (tmp_path / "00001-tiff").mkdir()
    assert fuzz._free(tmp_path, "00001-tiff") == tmp_path / "00001-tiff-2"
    (tmp_path / "00001-tiff-2").mkdir()
    assert fuzz._free(tmp_path, "00001-tiff") == tmp_path / "00001-tiff-3"
