"""Safe writes: write to a hidden partial name beside the target, rename on success.

An interrupted or failed write (any exception, ``KeyboardInterrupt`` included)
removes the partial and never leaves anything under the target name. Replacing an
existing directory (a ``.zarr`` store) moves the old one aside first, renames the
new one in, then deletes the old one.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

from ..errors import ImgioError, TargetExistsError, WriteError

__all__ = [
    "atomic_target",
    "check_target",
    "partial_name",
    "partials",
    "publish",
    "remove",
    "remove_stale",
    "stale_partials",
    "sweep_abandoned",
]


def partial_name(target: Path) -> Path:
    """A unique hidden name in the target's folder (same filesystem, so rename is atomic).

    The name carries the writer's host and process id (``.name.host-pid-uuid.partial``)
    so a later write can tell a partial whose writer died (:func:`remove_stale`).
    """
    remove_stale(target)
    return target.with_name(f".{target.name}.{_HOST}-{os.getpid()}-{uuid4().hex[:12]}.partial")


_HOST = platform.node().replace(".", "_").replace("-", "_") or "host"
_STALE = re.compile(r"^\.(?P<name>.+)\.(?P<host>[^.\-]+)-(?P<pid>\d+)-[0-9a-f]{12}\.(partial|old)$")


def remove_stale(target: Path) -> list[Path]:
    """Delete the hidden partials (and set-aside old copies) in ``target``'s folder whose
    writer is gone: written on this host by a process that no longer exists (killed by
    SIGKILL, a crash, a power cut). Partials of live writers and of other hosts are left
    alone. Returns what was removed."""
    removed = stale_partials(target.parent)
    for path in removed:
        remove(path)
    return removed


def stale_partials(folder: Path) -> list[Path]:
    """The hidden partials and set-aside old copies in ``folder`` whose writer is gone."""
    return [p for p, alive in partials(folder) if alive is False]


def partials(folder: Path) -> list[tuple[Path, bool | None]]:
    """Every hidden partial or set-aside copy imgio left in ``folder``, with whether its
    writer is alive (``None``: written on another host, so not known here)."""
    found: list[tuple[Path, bool | None]] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        match = _STALE.match(entry.name)
        if match is None:
            continue
        alive = _alive(int(match["pid"])) if match["host"] == _HOST else None
        found.append((Path(entry.path), alive))
    return found


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def check_target(target: Path, *, overwrite: bool) -> None:
    """Raise :class:`TargetExistsError` when ``target`` exists and ``overwrite`` is false."""
    if (target.exists() or target.is_symlink()) and not overwrite:
        kind = "directory" if target.is_dir() else "file"
        raise TargetExistsError(
            f"{str(target)!r} exists (a {kind}); expected a new path: "
            "pass overwrite=True to replace it"
        )
    if not target.parent.is_dir():
        raise ImgioError(
            f"cannot write {str(target)!r}: expected an existing folder {str(target.parent)!r}"
        )


def remove(path: Path) -> None:
    """Delete a file or directory tree if it exists; never raises for a missing path."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def publish(partial: Path, target: Path) -> None:
    """Rename ``partial`` to ``target``, replacing whatever is there."""
    if target.is_dir() and not target.is_symlink():
        trash = target.with_name(f".{target.name}.{_HOST}-{os.getpid()}-{uuid4().hex[:12]}.old")
        os.replace(target, trash)
        try:
            os.replace(partial, target)
        except BaseException:
            os.replace(trash, target)
            raise
        remove(trash)
    elif partial.is_dir() and target.exists():
        remove(target)
        os.replace(partial, target)
    else:
        os.replace(partial, target)


ABANDONED: set[Path] = set()  # partials of interrupted writes, removed once already


def sweep_abandoned(settle: float = 0.3, timeout: float = 10.0) -> None:
    """Remove the partials of interrupted writes until they stay gone.

    Ctrl-C or SIGTERM stops the main thread, but a worker thread may be finishing a
    chunk into the partial folder after it was removed, recreating it. The command line
    calls this before it exits: remove, wait ``settle`` seconds, repeat while anything
    came back (at most ``timeout`` seconds).
    """
    import time

    deadline = time.monotonic() + timeout
    while ABANDONED:
        for path in list(ABANDONED):
            remove(path)
        time.sleep(settle)
        back = {p for p in ABANDONED if p.exists() or p.is_symlink()}
        if not back or time.monotonic() > deadline:
            ABANDONED.clear()
            return


def write_error(exc: OSError, target: str | os.PathLike[str]) -> OSError:
    """``exc`` as a :class:`WriteError` naming ``target`` (imgio errors pass unchanged)."""
    if isinstance(exc, ImgioError):
        return exc
    err = WriteError(exc.errno, f"cannot write {str(target)!r}: {exc}")
    err.__cause__ = exc
    return err


@contextmanager
def atomic_target(target: str | os.PathLike[str], *, overwrite: bool) -> Iterator[Path]:
    """Yield a partial path to write; rename it to ``target`` when the block succeeds.

    Raises
    ------
    TargetExistsError
        ``target`` exists and ``overwrite`` is false.
    WriteError
        The disk refused the write (read-only, full, no permission); an ``OSError``.
    """
    target = Path(target).expanduser().absolute()
    check_target(target, overwrite=overwrite)
    partial = partial_name(target)
    try:
        yield partial
        if not partial.exists():
            raise ImgioError(
                f"the writer produced nothing at {str(partial)!r}; expected a file or folder"
            )
        check_target(target, overwrite=overwrite)  # someone else may have created it meanwhile
        publish(partial, target)
    except OSError as exc:
        remove(partial)
        raise write_error(exc, target) from exc
    except BaseException:
        remove(partial)
        ABANDONED.add(partial)  # worker threads may still write into it: see sweep_abandoned
        raise
