"""Property tests: mutated files of every family (TIFF, OME-Zarr, CZI, LIF/LOF, ND2, common
images, DICOM, the microscope formats) give an imgio error or open, never another exception
(a smoke run of under a minute; ``python -m benchmarks.fuzz`` runs the campaigns).

Each example copies one seed, applies the family's structure-aware mutator with a drawn
random seed and runs the same exercise as the long mode (every public verb on one example
in four, open and read on the others), in process, under an alarm so a hang fails the
test instead of blocking it.
"""

from __future__ import annotations

import random
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzzing import mutate_text, mutate_zarr
from fuzzing.exercise import classify, exercise
from fuzzing.families import FAMILIES, entry_of
from fuzzing.seeds import write_secret
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# a smoke run per family in the suite (about 40 s on two idle cores in all); the
# campaigns of thousands of mutants per family are ``python -m benchmarks.fuzz``
EXAMPLES = {
    **{"tiff": 60, "ome-zarr": 40, "czi": 75, "lif": 60, "nd2": 45, "images": 120},
    **{"olympus": 30, "xlif": 30, "dicom": 75, "metamorph": 30, "sequence": 30, "vsi": 30},
    **{"imaris": 30, "mrc": 60, "ngff-0.6": 30},
}
HANG_SECONDS = 10
# every public verb (metadata, OME model, tiles, imgio.slide, writes) on one example in
# VERBS_EVERY (they cost four times the open-and-read); benchmarks.fuzz runs them on all
VERBS_EVERY = 4


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("fuzz-seeds")
    mutate_text.SECRET[0] = str(write_secret(root / "outside"))
    mutate_zarr.SECRET_ZARR[0] = str(root / "outside" / "secret.zarr")
    out = {name: FAMILIES[name].seeds(root / name) for name in EXAMPLES}
    # every verb on one seed first: the lazily imported parts (tiles, slide, writers) load
    # here, not inside the first timed example (on a loaded machine that import alone
    # came near HANG_SECONDS)
    exercise(out["tiff"][0])
    return out


class _Hang(Exception):
    pass


@pytest.fixture
def alarm() -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise _Hang(f"no answer within {HANG_SECONDS} s")

    old = signal.signal(signal.SIGALRM, ring)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _case(seeds: list[Path], family: str, index: int, rng_seed: int, work: Path) -> tuple:
    seed = seeds[index % len(seeds)]
    case_dir = work / f"case-{index}-{rng_seed}"
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    case = case_dir / seed.name
    if seed.is_dir():
        shutil.copytree(seed, case)
    else:
        shutil.copyfile(seed, case)
    what = FAMILIES[family].mutate(case, random.Random(rng_seed))
    return case, what


def _check(case: Path, what: str, verbs: bool) -> None:
    signal.alarm(HANG_SECONDS)
    try:
        exercise(entry_of(case), verbs=verbs)
        exc = None
    except _Hang:
        pytest.fail(f"{case.name} ({what}) hangs")
    except Exception as e:  # noqa: BLE001 - classified below
        exc = e
    finally:
        signal.alarm(0)
    outcome, detail = classify(exc)
    assert outcome in ("ok", "imgio error"), f"{case.name} ({what}): {outcome}: {detail}"


@pytest.mark.parametrize("family", list(EXAMPLES))
def test_mutants_open_or_raise_imgio_errors(
    family: str, seeds: dict[str, list[Path]], tmp_path: Path, alarm: None
) -> None:
    @settings(
        max_examples=EXAMPLES[family],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(index=st.integers(0, 1000), rng_seed=st.integers(0, 2**32 - 1))
    def run(index: int, rng_seed: int) -> None:
        case, what = _case(seeds[family], family, index, rng_seed, tmp_path)
        try:
            _check(case, what, verbs=index % VERBS_EVERY == 0)
        finally:
            shutil.rmtree(case.parent, ignore_errors=True)

    run()
