"""Mutants of CZI, LIF/LOF and ND2 files found by the structure-aware fuzz families
(``tests/fuzzing/mutate_*.py``), rebuilt here from ``tests/data`` files and the test CZI
writer with the one edit that broke them. Each opens (with a warning naming what was
dropped) or raises a :class:`~imgio.CorruptFileError`; before the fixes they raised
``OSError``, ``ZeroDivisionError``, ``AssertionError``, ``OverflowError``, a dask
``ValueError`` or ran out of memory.
"""

from __future__ import annotations

import re
import struct
import warnings
from pathlib import Path

import liffile
import nd2
import numpy as np
import pytest
from czi_writer import Sub, write_czi
from fuzzing.exercise import address_space, exercise
from fuzzing.mutate_czi import parse_czi
from fuzzing.mutate_lif import _write_xml, _xml_text, parse_lif
from fuzzing.mutate_nd2 import parse_nd2
from fuzzing.seeds_formats import lif_seeds
from samples import DATA

import imgio

LIF = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"
ND2 = DATA / "arcadia-example-zstack.nd2"


def _lif_xml_edit(src: Path, out: Path, old: str, new: str) -> Path:
    buf = bytearray(src.read_bytes())
    lmap = parse_lif(bytes(buf))
    text = _xml_text(buf, lmap)
    assert old in text
    _write_xml(buf, lmap, text.replace(old, new, 1))
    out.write_bytes(bytes(buf))
    return out


def test_czi_directory_position_before_the_file_is_corrupt(tmp_path: Path) -> None:
    path = write_czi(tmp_path / "a.czi", [Sub(np.zeros((8, 8), "u1"))])
    buf = bytearray(path.read_bytes())
    struct.pack_into("<q", buf, 84, -1)  # file header: directory position
    path.write_bytes(bytes(buf))
    with pytest.raises(imgio.CorruptFileError, match="ZISRAWDIRECTORY segment at offset -1"):
        imgio.Image(path)


def test_czi_dimension_size_beyond_any_image_is_refused_before_coordinates(
    tmp_path: Path,
) -> None:
    """A directory entry's Y size of 2**31-1 made the coordinates ask for 16 GiB."""
    path = write_czi(tmp_path / "y.czi", [Sub(np.zeros((8, 8), "u1"))])
    buf = bytearray(path.read_bytes())
    entry = parse_czi(bytes(buf)).entries[-1]  # the directory's copy (read at open)
    ndims = struct.unpack_from("<i", buf, entry + 28)[0]
    dims = [entry + 32 + 20 * k for k in range(ndims)]
    y = next(d for d in dims if buf[d : d + 1] == b"Y")
    struct.pack_into("<i", buf, y + 8, 2**31 - 1)
    path.write_bytes(bytes(buf))
    with address_space(2**30), pytest.raises(imgio.CorruptFileError, match="axis Y declares"):
        exercise(path)


def test_lif_memory_block_id_length_does_not_allocate_it(tmp_path: Path) -> None:
    buf = bytearray(LIF.read_bytes())
    start, size_at = parse_lif(bytes(buf)).blocks[-1]
    struct.pack_into("<I", buf, size_at + 9, 2**32 - 1)  # UTF-16 characters of the block id
    path = tmp_path / "id.lif"
    path.write_bytes(bytes(buf))
    with address_space(2**30), pytest.raises(imgio.CorruptFileError, match="memory block"):
        imgio.Image(path)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('BitInc="0" BytesInc="64"', 'BitInc="0" BytesInc="0"'),  # ZeroDivisionError
        ("<ChannelDescription", ""),  # AssertionError: one channel element twice
    ],
)
def test_lof_with_unusable_dimensions_is_corrupt(tmp_path: Path, old: str, new: str) -> None:
    lof = lif_seeds(tmp_path / "seeds")[1]
    if "Channel" in old:  # a whole channel element repeated
        text = _xml_text(bytearray(lof.read_bytes()), parse_lif(lof.read_bytes()))
        found = re.search(r"<ChannelDescription [^>]*?(/>|>\s*</ChannelDescription>)", text)
        assert found is not None
        old, new = found.group(0), found.group(0) * 2
    path = _lif_xml_edit(lof, tmp_path / "bad.lof", old, new)
    with pytest.warns(imgio.ImgioWarning, match="skipped"):
        with pytest.raises(imgio.CorruptFileError, match="no readable image"):
            imgio.Image(path)


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ('FieldX="0"', 'FieldX="99999999999"', "unreadable tile positions"),
        ('PosY="0.00015359375"', 'PosY="NaN"', "not finite"),
    ],
)
def test_lif_with_unusable_tile_positions_keeps_the_tiles(
    tmp_path: Path, old: str, new: str, why: str
) -> None:
    path = _lif_xml_edit(LIF, tmp_path / "tiles.lif", old, new)
    with pytest.warns(imgio.ImgioWarning, match=why):
        img = imgio.Image(path)
    assert img.dims.order.startswith("M") and img.dims.M == 4
    with liffile.LifFile(LIF) as f:
        expected = f.images[0].asarray()  # T M Z C Y X
    got = img.get_image_data("MTZCYX")
    np.testing.assert_array_equal(got, np.moveaxis(expected, 1, 0))


def test_nd2_frame_offset_beyond_the_file_is_named_at_read(tmp_path: Path) -> None:
    buf = bytearray(ND2.read_bytes())
    nmap = parse_nd2(bytes(buf))
    name = b"ImageDataSeq|5!"
    entry = next(e for e in nmap.entries if bytes(buf[e - len(name) : e]) == name)
    struct.pack_into("<Q", buf, entry, 2**64 - 1)  # the frame's chunk offset
    path = tmp_path / "far.nd2"
    path.write_bytes(bytes(buf))
    img = imgio.Image(path)
    expected = nd2.imread(ND2)  # Z Y X
    for z in (0, 4, 6):
        np.testing.assert_array_equal(img.get_image_data("YX", Z=z), expected[z])
    with pytest.raises(imgio.CorruptFileError, match="frame 5"):
        img.get_image_data("YX", Z=5)


@pytest.mark.parametrize("family", ["czi", "lif", "nd2", "images"])
def test_family_seeds_open_as_they_are(family: str, tmp_path: Path) -> None:
    """The structure-aware families start from files imgio reads without a warning."""
    from fuzzing.families import FAMILIES

    for seed in FAMILIES[family].seeds(tmp_path):
        with warnings.catch_warnings():
            warnings.simplefilter("error", imgio.ImgioWarning)
            exercise(seed)
