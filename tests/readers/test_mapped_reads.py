"""Large local reads of raw planes (``imgio.readers._mapped``): the bytes are the file's
whatever the output array's address relative to the file offset (a map copies the reads
that would hit the kernel copy's 4K-aliasing stall, a ``read()`` the others)."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
import pytest

import imgio
from imgio._location import Location
from imgio.errors import CorruptFileError
from imgio.readers._mapped import MAP_BYTES, read_local

SIZE = MAP_BYTES + 3000


@pytest.fixture(scope="module")
def blob(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    data = np.random.default_rng(5).integers(0, 256, 3 * 4096 + SIZE, dtype=np.uint8).tobytes()
    path = tmp_path_factory.mktemp("mapped") / "blob.bin"
    path.write_bytes(data)
    return path, data


def _output(shift: int, offset: int) -> np.ndarray:
    """A byte array whose address minus ``offset`` is ``shift`` modulo 4096."""
    raw = np.empty(SIZE + 8192, np.uint8)
    at = (offset + shift - raw.ctypes.data) % 4096
    out = raw[at : at + SIZE]
    assert (out.ctypes.data - offset) % 4096 == shift % 4096
    return out


@pytest.mark.parametrize("offset", [0, 4096, 5000])
@pytest.mark.parametrize("shift", [0, 8, 16, 63, 64, 2048])
def test_read_local_any_alignment(blob: tuple[Path, bytes], offset: int, shift: int) -> None:
    path, data = blob
    out = _output(shift, offset)
    read_local(Location(str(path)), offset, out)
    assert out.tobytes() == data[offset : offset + SIZE]


@pytest.mark.parametrize("shift", [0, 16])
def test_read_local_past_the_end(blob: tuple[Path, bytes], shift: int) -> None:
    path, data = blob
    offset = len(data) - SIZE + 100
    with pytest.raises(CorruptFileError, match="expected .* bytes at offset"):
        read_local(Location(str(path)), offset, _output(shift, offset))


def test_page_aligned_planes_against_mrcfile(tmp_path: Path) -> None:
    """An MRC stack whose planes start on a page (an extended header of 3072 bytes) and
    hold 512 KiB each: the whole read and a plane equal mrcfile's."""
    volume = np.random.default_rng(6).random((4, 256, 512), dtype=np.float32)
    path = tmp_path / "aligned.mrc"
    with mrcfile.new(path) as m:
        m.set_extended_header(np.zeros(3072, dtype="V1"))
        m.set_data(volume)
    with mrcfile.open(path) as m:
        assert m.header.nsymbt == 3072
        want = np.array(m.data)
    img = imgio.Image(path)
    np.testing.assert_array_equal(img.get_image_data("ZYX"), want)
    np.testing.assert_array_equal(img.get_image_data("YX", Z=2), want[2])
