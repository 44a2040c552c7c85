"""Shared test setup: ``tests/samples.py`` importable, the shared sample folder and
reset decode counters (``stats``) as fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/samples.py importable everywhere

from samples import SHARED  # noqa: E402


@pytest.fixture(scope="session")
def shared_samples() -> Path:
    """The shared sample folder (``IMGIO_SAMPLES``), or skip when it is absent."""
    if not (SHARED / "manifest.json").is_file():
        pytest.skip(f"shared samples not found at {SHARED}")
    return SHARED


@pytest.fixture
def stats() -> Iterator[object]:
    """imgio's process-wide decode counters, reset before and after the test."""
    from imgio.readers.base import STATS

    STATS.reset()
    yield STATS
    STATS.reset()
