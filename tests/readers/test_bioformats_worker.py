"""Bio-Formats runs in a worker process: deadlines, a killed or dying worker, forks, and
no JVM in the test process (h5py's LZF encoder, which a JVM on the main thread breaks,
works after a Bio-Formats read).

Each test that stops the worker makes the next request start a fresh JVM (seconds), so
the module keeps to the few that must.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imgio
from imgio.readers import _bfclient
from imgio.readers import bioformats as bf

pytestmark = pytest.mark.skipif(not bf.available(), reason="imgio[bioformats] not installed")

#: a fake name on which Bio-Formats' setId never finishes (fuzz reproducer: a hang)
HANGS = "hang&sizeX=96&sizeY=64&series=2147483647.fake"
RAMP = np.broadcast_to(np.arange(96) % 256, (44, 96))  # a fake plane below its first rows


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bfw")
    for name in (HANGS, "ok&sizeX=96&sizeY=64&sizeZ=3.fake", "notes.txt", "tool.py", "a.xyz1"):
        (folder / name).write_bytes(b"" if name.endswith(".fake") else b"print('hello')\n")
    return folder


def _kill_worker() -> int:
    """SIGKILL this process's worker and wait until it is gone; its pid."""
    proc = _bfclient._current
    assert proc is not None
    os.kill(proc.proc.pid, signal.SIGKILL)
    proc.proc.wait(10)
    return proc.proc.pid


def test_other_suffixes_never_start_java(folder: Path) -> None:
    """The automatic fallback tries only suffixes Bio-Formats lists (minus generic ones)."""
    assert "fake" in bf.bioformats_suffixes() and "py" not in bf.bioformats_suffixes()
    _bfclient._shutdown()
    for name, why in [
        ("notes.txt", "lists no reader"),
        ("tool.py", "lists no reader"),
        ("a.xyz1", "lists no reader"),
    ]:
        with pytest.raises(imgio.UnsupportedFormatError, match=f"bioformats: not tried: .*{why}"):
            imgio.Image(folder / name)
    assert _bfclient.worker_pid() is None


def test_h5py_lzf_works_after_a_bioformats_read(folder: Path, tmp_path: Path) -> None:
    """No JVM in this process: h5py's LZF encoder (SIGSEGV once JPype's JVM attached the
    main thread) writes and reads back after Bio-Formats served a read."""
    h5py = pytest.importorskip("h5py")
    img = imgio.Image(folder / "ok&sizeX=96&sizeY=64&sizeZ=3.fake")
    np.testing.assert_array_equal(img.get_image_data("YX", Z=2)[20:], RAMP)
    assert _bfclient.worker_pid() is not None
    assert "jpype" not in sys.modules or not sys.modules["jpype"].isJVMStarted()
    data = np.arange(6 * 96 * 96, dtype=np.uint16).reshape(6, 96, 96)
    with h5py.File(tmp_path / "lzf.h5", "w") as f:
        f.create_dataset("d", data=data, chunks=(2, 32, 32), compression="lzf")
    with h5py.File(tmp_path / "lzf.h5", "r") as f:
        assert f["d"].compression == "lzf"
        np.testing.assert_array_equal(f["d"][...], data)


def test_a_killed_worker_is_replaced_between_two_reads(folder: Path) -> None:
    img = imgio.Image(folder / "ok&sizeX=96&sizeY=64&sizeZ=3.fake")
    first = img.get_image_data("YX", Z=1)
    pid = _kill_worker()
    np.testing.assert_array_equal(img.get_image_data("YX", Z=1), first)  # a fresh worker
    np.testing.assert_array_equal(img.get_image_data("YX", Z=2)[20:], RAMP)
    assert _bfclient.worker_pid() not in (None, pid)


def test_a_worker_dying_during_a_request_is_an_imgio_error(folder: Path) -> None:
    """The worker is killed while Bio-Formats hangs in setId: the caller gets an error."""
    imgio.Image(folder / "ok&sizeX=96&sizeY=64&sizeZ=3.fake")  # a worker runs
    pid = _bfclient.worker_pid()
    assert pid is not None
    caught: list[BaseException] = []

    def hang() -> None:
        try:
            imgio.Image(folder / HANGS, reader="bioformats")
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            caught.append(exc)

    opener = threading.Thread(target=hang)
    opener.start()
    time.sleep(1.0)  # the request is in the worker (the deadline is 120 s)
    os.kill(pid, signal.SIGKILL)
    opener.join(30)
    assert not opener.is_alive()
    assert len(caught) == 1 and isinstance(caught[0], imgio.errors.CorruptFileError)
    assert "worker process died while opening" in str(caught[0])
    assert "signal 9" in str(caught[0]) and HANGS in str(caught[0])


def test_a_hostile_fake_hits_the_deadline(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fuzz reproducer (a hang before): Bio-Formats never finishes opening it; imgio stops
    the worker at the deadline and says so (the next request starts a fresh worker: the
    fork test below)."""
    imgio.Image(folder / "ok&sizeX=96&sizeY=64&sizeZ=3.fake")  # the worker is warm
    monkeypatch.setenv("IMGIO_BIOFORMATS_TIMEOUT", "2")
    start = time.monotonic()
    with pytest.raises(imgio.errors.CorruptFileError, match="did not finish opening") as info:
        imgio.Image(folder / HANGS, reader="bioformats")
    assert time.monotonic() - start < 12  # 2 s, then the kill
    assert HANGS in str(info.value) and "within 2 s" in str(info.value)
    assert _bfclient.worker_pid() is None


def test_a_worker_that_cannot_start_java_is_a_missing_dependency(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A jar without Bio-Formats in it: the worker reports why it could not start."""
    _bfclient._shutdown()
    monkeypatch.setenv("IMGIO_BIOFORMATS_JAR", str(folder / "notes.txt"))
    with pytest.raises(imgio.MissingDependencyError, match="cannot start Bio-Formats' Java"):
        imgio.Image(folder / "ok&sizeX=96&sizeY=64&sizeZ=3.fake", reader="bioformats")
    assert _bfclient.worker_pid() is None


def _read_in_child(source: Any) -> Any:
    whole = tuple(slice(0, n) for n in source.shape)
    return source[whole], _bfclient.worker_pid(), os.getpid()


def test_a_forked_process_starts_its_own_worker(folder: Path) -> None:
    """A source pickled (or inherited) into another process reads through that process's
    own worker; the parent's worker is untouched and keeps serving it."""
    img = imgio.Image(folder / "ok&sizeX=96&sizeY=64&sizeZ=3.fake")
    source, mine = img.reader.source(0), _bfclient.worker_pid()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        data, theirs, child = pool.apply(_read_in_child, (source,))
    assert child != os.getpid() and theirs not in (None, mine)
    np.testing.assert_array_equal(data[0, 0, 2, 20:], RAMP)
    np.testing.assert_array_equal(img.get_image_data("ZYX"), data[0, 0])
    assert _bfclient.worker_pid() == mine
