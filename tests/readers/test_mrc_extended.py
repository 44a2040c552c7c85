"""MRC extended headers: FEI1/FEI2 blocks decoded as mrcfile's ``indexed_extended_header``
reads them, SerialEM (SERI) shorts and Agard (AGAR) numbers per section, the FEI pixel
size as µm when the main header has none; damaged tables never stop the pixels."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np
import pytest
from mrcfile.dtypes import get_ext_header_dtype

import imgio

DATA = np.random.default_rng(55).random((3, 20, 30), dtype=np.float32)
TILTS = [-30.0, 0.0, 30.5]


def _fei(path: Path, kind: bytes, voxel: float | None = None) -> Path:
    with mrcfile.new(path, overwrite=True) as m:
        m.set_data(DATA)
        if voxel is not None:
            m.voxel_size = voxel
        dtype = get_ext_header_dtype(kind, "<")
        ext = np.zeros(3, dtype=dtype)
        ext["Metadata size"] = dtype.itemsize
        ext["Metadata version"] = 0 if kind == b"FEI1" else 2
        ext["Alpha tilt"] = TILTS
        ext["Pixel size X"] = ext["Pixel size Y"] = 1.25e-10  # metres
        ext["HT"] = 300000.0
        ext["Dose"] = [1e20, 2e20, 3e20]
        ext["Microscope type"] = b"TITAN52336320"
        ext["Magnification"] = 105000.0
        ext["Binning Width"] = ext["Binning Height"] = 2
        ext["Integration time"] = 0.5
        ext["Camera name"] = b"BM-Falcon"
        ext["Timestamp"] = 45000.25
        if kind == b"FEI2":
            ext["Tilt per image"] = 30.0
            ext["Start tilt angle"] = -30.0
            ext["End tilt angle"] = 30.5
            ext["Acquisition time stamp"] = 1234567890123
        m.set_extended_header(ext)
        m.header.exttyp = kind
    return path


@pytest.mark.parametrize("kind", [b"FEI1", b"FEI2"])
def test_fei_blocks_match_mrcfile(tmp_path: Path, kind: bytes) -> None:
    path = _fei(tmp_path / "tilt.mrc", kind)
    with mrcfile.open(path) as m:
        theirs = m.indexed_extended_header
        names = theirs.dtype.names
    with imgio.Image(path) as img:
        ext = img.metadata["extended_header"]
        np.testing.assert_array_equal(img.data[0, 0], DATA)
        # no cell in the main header: (Y, X) from the FEI pixel size, metres -> µm
        assert tuple(img.physical_pixel_sizes) == (
            None,
            pytest.approx(1.25e-4),
            pytest.approx(1.25e-4),
        )
    assert ext["type"] == kind.decode() and len(ext["sections"]) == 3
    for mine, row in zip(ext["sections"], theirs, strict=True):
        for field, value in mine.items():
            assert field in names
            want = row[field]
            want = want.split(b"\0")[0].decode() if isinstance(want, bytes) else want.item()
            assert value == want, field
    assert [s["Alpha tilt"] for s in ext["sections"]] == TILTS
    if kind == b"FEI2":
        assert ext["sections"][0]["Tilt per image"] == 30.0
        assert ext["sections"][0]["Acquisition time stamp"] == 1234567890123


def test_main_header_pixel_size_wins(tmp_path: Path) -> None:
    path = _fei(tmp_path / "v.mrc", b"FEI1", voxel=2.0)  # 2 Å in the cell
    with imgio.Image(path) as img:
        assert tuple(img.physical_pixel_sizes) == pytest.approx((2e-4, 2e-4, 2e-4))
        assert img.metadata["extended_header"]["sections"][1]["Alpha tilt"] == 0.0


def _patch(path: Path, exttyp: bytes, nint: int, nreal: int, ext: bytes) -> Path:
    with mrcfile.new(path, overwrite=True) as m:
        m.set_data(DATA)
        m.set_extended_header(np.frombuffer(ext, dtype="V1"))
        m.header.exttyp = exttyp
    raw = bytearray(path.read_bytes())
    struct.pack_into("<2h", raw, 128, nint, nreal)
    path.write_bytes(bytes(raw))
    return path


def test_serialem_shorts(tmp_path: Path) -> None:
    """SerialEM: flags 1 (tilt x 100), 4 (stage x 25), 8 (mag / 100) in 8-byte sections."""
    sections = b"".join(
        struct.pack("<h2hh", round(t * 100), 25 * (10 + k), -25 * k, 1050)
        for k, t in enumerate(TILTS)
    )
    path = _patch(tmp_path / "s.mrc", b"SERI", 8, 1 | 4 | 8, sections)
    with mrcfile.open(path) as m:
        assert m.header.exttyp == b"SERI" and m.extended_header.nbytes == 24
    with imgio.Image(path) as img:
        ext = img.metadata["extended_header"]
        np.testing.assert_array_equal(img.data[0, 0], DATA)
    assert ext["type"] == "SERI"
    got = ext["sections"]
    assert [s["Tilt angle"] for s in got] == pytest.approx(TILTS)
    assert got[2]["Stage position"] == pytest.approx([12.0, -2.0])
    assert got[0]["Magnification"] == 105000.0


def test_agar_numbers(tmp_path: Path) -> None:
    body = b"".join(struct.pack("<2i3f", k, 7, 1.5 * k, 2.0, -1.0) for k in range(3))
    path = _patch(tmp_path / "a.mrc", b"AGAR", 2, 3, body)
    with imgio.Image(path) as img:
        got = img.metadata["extended_header"]["sections"]
    assert got[2] == {"ints": [2, 7], "floats": [3.0, 2.0, -1.0]}


@pytest.mark.parametrize(
    ("exttyp", "nint", "nreal", "ext"),
    [
        (b"FEI1", 0, 0, b"\x00" * 100),  # shorter than one block
        (b"FEI2", 0, 0, struct.pack("<i", 1 << 30) + b"\x00" * 900),  # absurd block size
        (b"SERI", 2, 1 | 2 | 4, b"\x00" * 24),  # flags need more bytes than nint
        (b"AGAR", -5, 3, b"\x00" * 24),
    ],
    ids=["fei-short", "fei-size", "seri-flags", "agar-negative"],
)
def test_damaged_tables_decode_nothing_wrong(
    tmp_path: Path, exttyp: bytes, nint: int, nreal: int, ext: bytes
) -> None:
    path = _patch(tmp_path / "d.mrc", exttyp, nint, nreal, ext)
    with imgio.Image(path) as img:
        decoded: dict[str, Any] = img.metadata["extended_header"]
        np.testing.assert_array_equal(img.data[0, 0], DATA)
    assert decoded["type"] == exttyp.decode()
    assert len(decoded["sections"]) <= 1
