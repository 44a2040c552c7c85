"""The shared decode thread pool (codecs release the GIL, so threads decode in parallel)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["decode_threads", "map_threaded", "set_decode_threads"]

T = TypeVar("T")
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_threads: int | None = None


def decode_threads() -> int:
    """How many threads decode tiles in one read (``IMGIO_DECODE_THREADS`` or the CPU count)."""
    if _threads is not None:
        return _threads
    env = os.environ.get("IMGIO_DECODE_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def set_decode_threads(n: int | None) -> None:
    """Set the decode pool size (``None`` restores the default)."""
    global _threads, _pool
    if n is not None and n < 1:
        raise ValueError(f"decode threads must be >= 1, got {n}")
    with _lock:
        _threads = n
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None


def _get_pool() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        with _lock:
            if _pool is None or _pool_pid != os.getpid():
                _pool = ThreadPoolExecutor(decode_threads(), thread_name_prefix="imgio-decode")
                _pool_pid = os.getpid()
    return _pool


def map_threaded(func: Callable[[Any], T], items: Iterable[Any]) -> Iterator[T]:
    """``map(func, items)`` on the decode pool; serial for a single item or one thread."""
    items = list(items)
    if (
        len(items) <= 1
        or decode_threads() <= 1
        or threading.current_thread().name.startswith("imgio-decode")
    ):
        return map(func, items)
    threads = decode_threads()
    if len(items) <= 8 * threads:
        return _get_pool().map(func, items)
    # many small jobs (e.g. thousands of planes): hand them out in ordered batches,
    # a few per thread, so the pool's per-job cost does not add up
    size = -(-len(items) // (4 * threads))
    batches = [items[i : i + size] for i in range(0, len(items), size)]
    done = _get_pool().map(lambda batch: [func(item) for item in batch], batches)
    return (result for batch in done for result in batch)
