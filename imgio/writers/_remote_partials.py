"""Hidden partial prefixes of remote writes, and the rule that removes the stale ones.

A remote write that must not touch its target until it is complete (replacing an
OME-Zarr, uploading a file where a move is needed) writes under a hidden prefix beside
it: ``.NAME.HOST-PID-START-UUID.partial``. ``HOST`` names the writer's machine *and*
process namespace (hostname plus the PID-namespace inode on Linux, so two containers
with the same hostname are different hosts), ``START`` is the write's start in Unix
seconds. A killed writer leaves its partial behind; the next write to the same target
(:func:`remove_stale_partials`, called before every remote write) removes:

- partials of **this host** whose process no longer exists (a PID check is exact here);
- partials of **other hosts** that started more than :data:`STALE_AFTER` seconds ago
  (24 h) *and* whose newest object is older than that too: a writer elsewhere that is
  still running, or still uploading after a day, keeps its partial.

A live writer is never removed unless it has written nothing for a day (a writer
suspended that long loses its partial and fails on publish, the target untouched).
Listing or deleting failures never fail the write: cleaning is best effort.
"""

from __future__ import annotations

import os
import re
import socket
import time
from contextlib import suppress
from datetime import datetime
from typing import Any
from uuid import uuid4

from .._location import Location
from ._target import _alive

__all__ = ["STALE_AFTER", "partial_url", "remove_stale_partials"]

#: seconds after which another host's partial, untouched as long, is taken as abandoned
STALE_AFTER = 24 * 3600
_PARTIAL = re.compile(
    r"^\.(?P<name>.+)\.(?P<host>[^.\-]+)-(?P<pid>\d+)-(?P<start>\d+)-[0-9a-f]{12}\.partial$"
)


def _host_id() -> str:
    host = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"
    with suppress(OSError):
        host += f"_{os.stat('/proc/self/ns/pid').st_ino}"
    return host


HOST = _host_id()


def partial_url(loc: Location) -> str:
    """A new hidden partial URL beside ``loc``, named by this host, process and time."""
    base, _, name = loc.url.rstrip("/").rpartition("/")
    stamp = f"{HOST}-{os.getpid()}-{int(time.time())}-{uuid4().hex[:12]}"
    return f"{base}/.{name}.{stamp}.partial"


def remove_stale_partials(
    loc: Location, *, max_age: float = STALE_AFTER, now: float | None = None
) -> list[str]:
    """Delete the abandoned partials of ``loc`` (see the module rule); returns their paths."""
    fs = loc.fs
    parent, _, name = loc.fs_path.rstrip("/").rpartition("/")
    now = time.time() if now is None else now
    with suppress(AttributeError, NotImplementedError):
        fs.invalidate_cache(parent)
    try:
        entries = [str(p) for p in fs.ls(parent, detail=False)]
    except (OSError, ValueError):
        return []
    finally:  # the listing predates the write: it must not answer later existence checks
        with suppress(AttributeError, NotImplementedError):
            fs.invalidate_cache(parent)
    removed = []
    for path in entries:
        found = _PARTIAL.match(path.rstrip("/").rpartition("/")[2])
        if found is None or found["name"] != name:
            continue
        if found["host"] == HOST:
            stale = not _alive(int(found["pid"]))
        else:
            stale = now - int(found["start"]) > max_age and _idle(fs, path, now, max_age)
        if stale:
            with suppress(OSError, ValueError):
                fs.rm(path, recursive=True)
                removed.append(path)
    return removed


def _idle(fs: Any, path: str, now: float, max_age: float) -> bool:
    """Whether nothing under ``path`` was written in the last ``max_age`` seconds."""
    try:
        infos = fs.find(path, detail=True)
    except (OSError, ValueError):
        return False
    stamps = [_mtime(info) for info in infos.values()]
    return all(s is not None and now - s > max_age for s in stamps)


def _mtime(info: dict[str, Any]) -> float | None:
    for key in ("LastModified", "mtime", "last_modified", "created", "updated"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            with suppress(ValueError):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None
