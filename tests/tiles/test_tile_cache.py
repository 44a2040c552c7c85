"""The decoded-tile cache behind ``OpenSlide.set_cache``: reads through it equal tifffile's
pixels for any region (hits, misses and partial hits), and it never holds more than its
capacity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

import imgio
from imgio.readers.base import STATS
from imgio.tiles._cache import CachedSource, TileCache


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(7)
    data = rng.integers(0, 65535, (4, 200, 300), dtype=np.uint16)
    path = tmp_path_factory.mktemp("cache") / "stack.tif"
    tifffile.imwrite(
        path,
        data,
        photometric="minisblack",
        tile=(64, 64),
        compression="zlib",
        metadata={"axes": "ZYX"},
    )
    return path, data


@pytest.mark.parametrize("capacity", [0, 40_000, 10 << 20])
def test_reads_through_the_cache_equal_tifffile(
    stack: tuple[Path, np.ndarray], capacity: int
) -> None:
    path, data = stack
    rng = np.random.default_rng(capacity)
    with imgio.Image(path) as img:
        src = img.file.source(0, 0)
        cache = TileCache(capacity)
        cached = CachedSource(src, cache)
        assert (cached.shape, cached.chunks, cached.token) == (src.shape, src.chunks, src.token)
        zyx = [src.dims.index(d) for d in "ZYX"]
        for _ in range(40):
            lo = [int(rng.integers(0, n)) for n in data.shape]
            hi = [int(rng.integers(a + 1, n + 1)) for a, n in zip(lo, data.shape, strict=True)]
            key = [slice(0, n) for n in src.shape]
            for axis, a, b in zip(zyx, lo, hi, strict=True):
                key[axis] = slice(a, b)
            got = cached[tuple(key)].reshape([b - a for a, b in zip(lo, hi, strict=True)])
            want = data[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
            np.testing.assert_array_equal(got, want)
            assert cache.nbytes <= capacity
        assert (cache.hits > 0) == (capacity >= 64 * 64 * 2)


def test_a_cached_region_decodes_nothing(stack: tuple[Path, np.ndarray]) -> None:
    path, data = stack
    with imgio.Image(path) as img:
        src = img.file.source(0, 0)
        cached = CachedSource(src, TileCache(1 << 20))
        key = tuple(slice(0, n) for n in src.shape[:-2]) + (slice(10, 150), slice(20, 280))
        first = cached[key].copy()
        STATS.reset()
        again = cached[key]
        assert STATS.chunks_decoded == 0
        np.testing.assert_array_equal(first, again)
        again[...] = 0  # the caller's array: the cache keeps its own copy
        np.testing.assert_array_equal(cached[key], first)
    with pytest.raises(ValueError, match="capacity"):
        TileCache(-1)
