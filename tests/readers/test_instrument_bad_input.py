"""Truncated and corrupted LIF and ND2 files: an imgio error naming the file and the
memory block / frame, never a crash, a hang or an allocation the bytes cannot fill."""

from __future__ import annotations

import struct
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from samples import DATA

import imgio

LIF = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"
ND2 = DATA / "arcadia-example-zstack.nd2"
Mutation = Callable[[bytes], bytes]


def cut(fraction: float) -> Mutation:
    return lambda data: data[: int(len(data) * fraction)]


def flip(at: Callable[[bytes], int], n: int = 8) -> Mutation:
    def mutate(data: bytes) -> bytes:
        out = bytearray(data)
        start = at(data)
        out[start : start + n] = bytes(b ^ 0xFF for b in out[start : start + n])
        return bytes(out)

    return mutate


def nd2_frame_offset(value: Callable[[bytes], int]) -> Mutation:
    """Point frame 3's chunk-map entry elsewhere (the chunk map sits at the end)."""

    def mutate(data: bytes) -> bytes:
        at = data.rfind(b"ImageDataSeq|3!") + len(b"ImageDataSeq|3!")
        return data[:at] + struct.pack("<Q", value(data)) + data[at + 8 :]

    return mutate


def nd2_chunk_start(name: bytes) -> Callable[[bytes], int]:
    """Where the data of a named ND2 chunk starts (through its chunk-map entry)."""

    def where(data: bytes) -> int:
        at = data.rfind(name) + len(name)
        (offset,) = struct.unpack("<Q", data[at : at + 8])
        _magic, name_len, _size = struct.unpack("<IIQ", data[offset : offset + 16])
        return int(offset + 16 + name_len)

    return where


CASES: list[tuple[str, Path, Mutation, str]] = [
    ("lif-cut10", LIF, cut(0.1), r"corrupted LIF structure"),
    ("lif-cut50", LIF, cut(0.5), r"memory block 'MemBlock_86'.*expected 196608 bytes"),
    ("lif-cut90", LIF, cut(0.9), r"memory block 'MemBlock_86'.*file ends at 204686"),
    ("lif-xml-start", LIF, flip(lambda d: 20), r"corrupted LIF structure: not well-formed"),
    ("lif-xml-middle", LIF, flip(lambda d: 10000), r"corrupted LIF structure"),
    ("lif-block-header", LIF, flip(lambda d: 30821 - 30), r"memory block 'MemBlock_86'"),
    ("nd2-cut10", ND2, cut(0.1), r"corrupted ND2 structure"),
    ("nd2-cut50", ND2, cut(0.5), r"corrupted ND2 structure"),
    ("nd2-cut90", ND2, cut(0.9), r"corrupted ND2 structure"),
    ("nd2-header", ND2, flip(lambda d: 20), r"corrupted ND2 structure.*header"),
    ("nd2-chunkmap", ND2, flip(lambda d: len(d) - 40, 16), r"corrupted ND2 structure.*chunk ?map"),
    (
        "nd2-attributes",
        ND2,
        flip(nd2_chunk_start(b"ImageAttributesLV!"), 16),
        r"corrupted ND2 structure",
    ),
    ("nd2-frame-far", ND2, nd2_frame_offset(lambda d: 10**12), r"frame 3: expected 32768 bytes"),
    ("nd2-frame-tail", ND2, nd2_frame_offset(lambda d: len(d) - 5000), r"frame 3:.*file ends"),
]


@pytest.mark.parametrize(("name", "source", "mutate", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(name: str, source: Path, mutate: Mutation, message: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}{source.suffix}"
    path.write_bytes(mutate(source.read_bytes()))
    tracemalloc.start()
    try:
        with pytest.raises(imgio.ImgioError, match=message) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = imgio.Image(path)
            for scene in range(len(img.scenes)):
                img.set_scene(scene)
                img.data  # noqa: B018 - every pixel
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert peak < 8 * source.stat().st_size + (4 << 20)  # nothing beyond what the file can fill
