"""Fixtures for the writer tests: synthetic data and an independent numpy pyramid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest


def halve(a: np.ndarray[Any, Any], method: str = "mean") -> np.ndarray[Any, Any]:
    """Reference 2x2 downsampling of the last two axes (odd edges replicated)."""
    if method == "nearest":
        return a[..., ::2, ::2]
    h, w = a.shape[-2:]
    padded = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(0, h % 2), (0, w % 2)], mode="edge")
    blocks = padded.reshape(*a.shape[:-2], (h + 1) // 2, 2, (w + 1) // 2, 2).astype(np.int64)
    return ((blocks.sum(axis=(-3, -1)) + 2) // 4).astype(a.dtype)


def halve_rgb(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Reference downsampling of a ``Y X S`` array."""
    return np.moveaxis(halve(np.moveaxis(a, -1, 0)), 0, -1)


@pytest.fixture
def ref_halve() -> Callable[..., np.ndarray[Any, Any]]:
    return halve


@pytest.fixture
def ref_halve_rgb() -> Callable[..., np.ndarray[Any, Any]]:
    return halve_rgb


@pytest.fixture
def cyx() -> np.ndarray[Any, Any]:
    """Two channels of uint16 noise plus a gradient, odd sizes on purpose."""
    rng = np.random.default_rng(42)
    base = rng.integers(0, 4000, (2, 301, 517), dtype=np.uint16)
    base[1] += np.arange(517, dtype=np.uint16)[None, :]
    return base


@pytest.fixture
def rgb() -> np.ndarray[Any, Any]:
    y, x = np.mgrid[0:300, 0:410]
    return np.stack([(x % 256), (y % 256), ((x + y) // 3 % 256)], axis=-1).astype(np.uint8)
