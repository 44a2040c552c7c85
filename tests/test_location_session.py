"""``Location.session``: one descriptor and one stat while a file is opened or read,
nothing held or remembered afterwards, and threads outside the session unaffected."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import imgio
from imgio._location import Location
from imgio.errors import MissingFileError


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_one_descriptor_in_a_session_none_after(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 64)
    loc = Location(path)
    before = _open_fds()
    with loc.session():
        assert loc.read_range(10, 3) == bytes([10, 11, 12])
        assert loc.head(4) == bytes([0, 1, 2, 3])
        with loc.session():  # sessions nest
            assert loc.read_ranges([(0, 2), (256, 1)]) == [b"\0\1", b"\0"]
        assert _open_fds() == before + 1
    assert _open_fds() == before


def test_facts_are_not_remembered_after_the_session(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abcd")
    loc = Location(path)
    with loc.session():
        assert loc.exists() and not loc.isdir() and loc.head() == b"abcd"
    path.write_bytes(b"wxyz")
    assert loc.head() == b"wxyz"
    path.unlink()
    assert not loc.exists()
    with pytest.raises(MissingFileError):
        loc.read_range(0, 1)


def test_threads_outside_a_session_use_their_own_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(200)))
    loc = Location(path)
    entered, leave = threading.Event(), threading.Event()

    def holder() -> None:
        with loc.session():
            loc.read_range(0, 1)
            entered.set()
            leave.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    entered.wait(5)
    held = loc._held_fd
    leave.set()
    t.join()
    # the session has ended and closed its descriptor; a read outside it still works
    assert held is not None and loc._held_fd is None
    assert loc.read_range(100, 2) == bytes([100, 101])


def test_image_open_holds_no_descriptor(tmp_path: Path) -> None:
    import numpy as np
    import tifffile

    path = tmp_path / "a.tif"
    tifffile.imwrite(path, np.arange(64, dtype=np.uint8).reshape(8, 8))
    before = _open_fds()
    img = imgio.Image(path)
    assert _open_fds() == before
    assert img.get_image_data("YX")[1, 1] == 9
    assert _open_fds() == before
