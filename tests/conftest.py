"""Shared test setup: ``tests/samples.py`` importable, the shared sample folder as a fixture."""

from __future__ import annotations

import sys
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
