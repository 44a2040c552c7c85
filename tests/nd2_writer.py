"""A small ND2 writer for tests: the layouts the shared samples lack (RGB, zlib-compressed
frames, several stage positions, several channels, time loops), checked against ``nd2``.

The ``nd2`` library cannot write, so a file is built from the metadata of a real one
(``tests/data/arcadia-example-zstack.nd2``: one channel, a Z loop): its CLX-Lite chunks
are decoded into :class:`Node` trees, the attributes, experiment loops and channel
planes are rewritten, and the frames, the frame times and the chunk map are new.

The container: a signature chunk; chunks at 4096-byte boundaries, each
``(magic, name length, data length)``, the name (NUL-padded), then the data; a chunk
map (``name!``, offset, size per chunk) in the last chunk; the file ends with the map's
signature and offset.
"""

from __future__ import annotations

import copy
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Node", "decode", "encode", "write_nd2"]

TEMPLATE = Path(__file__).parent / "data" / "arcadia-example-zstack.nd2"
MAGIC = 0x0ABECEDA
FILE_SIGNATURE = b"ND2 FILE SIGNATURE CHUNK NAME01!"
MAP_SIGNATURE = b"ND2 CHUNK MAP SIGNATURE 0000001!"
FILEMAP_SIGNATURE = b"ND2 FILEMAP SIGNATURE NAME 0001!"
ALIGN = 4096
LEVEL, BYTEARRAY, STRING, COMPRESS = 11, 9, 8, 76
SCALARS = {1: "<B", 2: "<i", 3: "<I", 4: "<q", 5: "<Q", 6: "<d", 7: "<Q"}
LOOP_TYPES = {"T": 1, "P": 2, "Z": 4}


@dataclass
class Node:
    """One CLX-Lite item: ``kind`` (1 bool ... 11 level), ``name`` and ``value`` (the
    child nodes of a level, the bytes of a byte array)."""

    kind: int
    name: str
    value: Any

    def child(self, name: str) -> Node:
        return next(n for n in self.value if n.name == name)

    def set(self, name: str, value: Any) -> None:
        self.child(name).value = value


# ------------------------------------------------------------------ CLX-Lite
def decode(data: bytes, count: int | None = None) -> list[Node]:
    """The items of a CLX-Lite buffer (``count`` of them, else up to its end)."""
    nodes, pos = [], 0
    while pos < len(data) and (count is None or len(nodes) < count):
        start = pos
        kind, name_len = data[pos], data[pos + 1]
        pos += 2
        if kind == COMPRESS:
            return decode(zlib.decompress(data[pos + 10 :]))
        name = data[pos : pos + 2 * name_len].decode("utf-16-le")[:-1]
        pos += 2 * name_len
        value: Any
        if kind == LEVEL:
            n, length = struct.unpack_from("<IQ", data, pos)
            pos += 12
            end = start + length
            value = decode(data[pos:end], n)
            pos = end + 8 * n
        elif kind == BYTEARRAY:
            (size,) = struct.unpack_from("<Q", data, pos)
            value = data[pos + 8 : pos + 8 + size]
            pos += 8 + size
        elif kind == STRING:
            end = pos
            while data[end : end + 2] != b"\0\0":
                end += 2
            value = data[pos:end].decode("utf-16-le")
            pos = end + 2
        else:
            fmt = SCALARS[kind]
            (value,) = struct.unpack_from(fmt, data, pos)
            pos += struct.calcsize(fmt)
        nodes.append(Node(kind, name, value))
    return nodes


def encode(nodes: Sequence[Node]) -> bytes:
    """The CLX-Lite bytes of ``nodes`` (uncompressed)."""
    out = bytearray()
    for node in nodes:
        start = len(out)
        out += bytes([node.kind, len(node.name) + 1]) + (node.name + "\0").encode("utf-16-le")
        if node.kind == LEVEL:
            parts = [encode([child]) for child in node.value]
            head = len(out) - start + 12
            out += struct.pack("<IQ", len(parts), head + sum(len(p) for p in parts))
            offsets, at = [], head
            for part in parts:
                offsets.append(at)
                out += part
                at += len(part)
            out += struct.pack(f"<{len(offsets)}Q", *offsets)
        elif node.kind == BYTEARRAY:
            out += struct.pack("<Q", len(node.value)) + node.value
        elif node.kind == STRING:
            out += (node.value + "\0").encode("utf-16-le")
        else:
            out += struct.pack(SCALARS[node.kind], node.value)
    return bytes(out)


# ------------------------------------------------------------------ template
def _chunks(path: Path) -> dict[bytes, bytes]:
    data = path.read_bytes()
    (where,) = struct.unpack("<Q", data[-8:])
    _, name_len, length = struct.unpack_from("<IIQ", data, where)
    table = data[where + 16 + name_len : where + 16 + name_len + length]
    out, pos = {}, 0
    while True:
        end = table.index(b"!", pos) + 1
        name = table[pos:end]
        if name == MAP_SIGNATURE:
            return out
        offset, _ = struct.unpack_from("<QQ", table, end)
        _, n, size = struct.unpack_from("<IIQ", data, offset)
        out[name] = data[offset + 16 + n : offset + 16 + n + size]
        pos = end + 16


def _level(name: str, children: list[Node]) -> Node:
    return Node(LEVEL, name, children)


def _loop(template: Node, axis: str, count: int, inner: Node, positions: Sequence[str]) -> Node:
    """An experiment level of ``axis`` with ``count`` items around ``inner``."""
    node = copy.deepcopy(template)
    node.name = ""
    node.set("eType", LOOP_TYPES[axis])
    if axis == "Z":
        pars = copy.deepcopy(template.child("uLoopPars"))
        pars.set("uiCount", count)
        pars.set("dZLow", 0.0)
        pars.set("dZHigh", 1.5 * (count - 1))
        pars.set("dZStep", 1.5)
    elif axis == "T":
        pars = _level("uLoopPars", [
            Node(5, "uiCount", count), Node(6, "dStart", 0.0), Node(6, "dPeriod", 250.0),
            Node(6, "dDuration", 250.0 * count), Node(6, "dMinPeriodDiff", 249.0),
            Node(6, "dMaxPeriodDiff", 251.0), Node(6, "dAvgPeriodDiff", 250.0),
        ])  # fmt: skip
    else:
        points = [
            _level(
                "",
                [
                    Node(6, "dPosX", 100.0 * i),
                    Node(6, "dPosY", -50.0 * i),
                    Node(6, "dPosZ", 3.0),
                    Node(6, "dPFSOffset", -1.0),
                    Node(STRING, "pPosName", positions[i]),
                ],
            )
            for i in range(count)
        ]
        pars = _level("uLoopPars", [
            Node(1, "bUseZ", 0), Node(1, "bRelativeXY", 0), Node(3, "uiCount", count),
            _level("Points", points),
        ])  # fmt: skip
    node.value = [n for n in node.value if n.name not in ("uLoopPars", "pItemValid")]
    node.value.append(pars)
    node.value.append(Node(BYTEARRAY, "pItemValid", b"\x01" * count))
    node.set("ppNextLevelEx", [_level("", inner.value)])
    node.set("uiNextLevelCount", 1)
    return node


def _experiment(chunks: dict[bytes, bytes], loops: Sequence[tuple[str, int]],
                positions: Sequence[str]) -> bytes:  # fmt: skip
    (root,) = decode(chunks[b"ImageMetadataLV!"])
    top = root  # SLxExperiment: the Z loop, its next level the channel (spectral) loop
    inner = top.child("ppNextLevelEx").value[0]
    for axis, count in reversed(loops):
        inner = _loop(top, axis, count, inner, positions)
    inner.name = "SLxExperiment"
    return encode([inner])


def _planes(chunks: dict[bytes, bytes], names: Sequence[str], colors: Sequence[int],
            comps: int) -> bytes:  # fmt: skip
    (root,) = decode(chunks[b"ImageMetadataSeqLV|0!"])
    planes = root.child("sPicturePlanes")
    new = planes.child("sPlaneNew")
    first = new.value[0]
    new.value = []
    for i, (name, color) in enumerate(zip(names, colors, strict=True)):
        plane = copy.deepcopy(first)
        plane.name = f"a{i}"
        plane.set("sDescription", name)
        plane.set("uiColor", color)
        plane.set("uiCompCount", comps)
        plane.set("uiSampleIndex", i)
        new.value.append(plane)
    planes.set("uiCount", len(names))
    planes.set("uiCompCount", comps * len(names))
    settings = planes.child("sSampleSetting")
    settings.value = [copy.deepcopy(settings.value[0]) for _ in names]
    for i, s in enumerate(settings.value):
        s.name = f"s{i}"
    return encode([root])


def _attributes(chunks: dict[bytes, bytes], shape: tuple[int, ...], dtype: np.dtype[Any],
                n_seq: int, compress: bool) -> bytes:  # fmt: skip
    (root,) = decode(chunks[b"ImageAttributesLV!"])
    height, width, comps = shape
    bits = dtype.itemsize * 8
    for name, value in (
        ("uiWidth", width), ("uiHeight", height), ("uiWidthBytes", width * comps * dtype.itemsize),
        ("uiComp", comps), ("uiBpcInMemory", bits), ("uiBpcSignificant", bits),
        ("uiSequenceCount", n_seq), ("uiTileWidth", width), ("uiTileHeight", height),
        ("eCompression", 0 if compress else 2), ("uiVirtualComponents", comps),
    ):  # fmt: skip
        root.set(name, value)
    return encode([root])


# ------------------------------------------------------------------ container
def _chunk(name: bytes, data: bytes) -> bytes:
    """A chunk at a 4096-aligned offset, with the name field NIS-Elements writes: 4072
    bytes, so a frame's pixels (after its 8-byte time) start at the next 4096 bytes
    (readers, ``nd2`` among them, rely on that)."""
    name_len = ALIGN - 24
    return struct.pack("<IIQ", MAGIC, name_len, len(data)) + name.ljust(name_len, b"\0") + data


def _container(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = bytearray(
        struct.pack("<IIQ", MAGIC, 32, 64) + FILE_SIGNATURE + b"Ver3.0".ljust(64, b"\0")
    )
    table = bytearray()
    for name, data in chunks:
        out += b"\0" * (-len(out) % ALIGN)
        table += name + struct.pack("<QQ", len(out), len(data))
        out += _chunk(name, data)
    table += MAP_SIGNATURE + struct.pack("<Q", 0)
    out += b"\0" * (-len(out) % ALIGN)
    where = len(out)
    out += _chunk(FILEMAP_SIGNATURE, bytes(table))
    out += MAP_SIGNATURE + struct.pack("<Q", where)
    return bytes(out)


def write_nd2(
    path: Path,
    frames: np.ndarray[Any, Any],
    loops: Sequence[tuple[str, int]],
    *,
    channels: Sequence[str] = ("DAPI",),
    colors: Sequence[int] | None = None,
    rgb: bool = False,
    compress: bool = False,
    positions: Sequence[str] = (),
    template: Path = TEMPLATE,
) -> Path:
    """Write ``frames`` (``loops`` sizes..., Y, X, channels or RGB samples) as an ND2.

    ``loops`` are ``(axis, count)`` pairs of T, P (stage positions, named ``positions``)
    and Z, outermost first; the last axis of ``frames`` holds the channels (or the 3
    samples of one RGB channel when ``rgb``). ``colors`` are ND2 ``uiColor`` values
    (0xBBGGRR). ``compress`` stores each frame zlib-deflated (ND2 "lossless").
    """
    chunks = _chunks(template)
    counts = tuple(n for _, n in loops)
    if frames.shape[: len(counts)] != counts or frames.ndim != len(counts) + 3:
        raise ValueError(f"frames {frames.shape} do not match loops {loops} + (Y, X, C)")
    seq = frames.reshape(-1, *frames.shape[-3:])
    names = list(channels) if not rgb else [channels[0]]
    comps = frames.shape[-1]
    colors = (
        list(colors)
        if colors is not None
        else [0xFF0000 >> (8 * (i % 3)) for i in range(len(names))]
    )
    times = np.arange(len(seq), dtype="<f8") * 250.0 + 12.5
    out: list[tuple[bytes, bytes]] = [
        (b"ImageAttributesLV!", _attributes(chunks, seq.shape[1:], seq.dtype, len(seq), compress)),
        (b"ImageMetadataLV!", _experiment(chunks, loops, positions)),
        (b"ImageMetadataSeqLV|0!", _planes(chunks, names, colors, comps // len(names))),
        (b"ImageCalibrationLV|0!", chunks[b"ImageCalibrationLV|0!"]),
        (b"ImageTextInfoLV!", chunks[b"ImageTextInfoLV!"]),
        (b"CustomData|AcqTimesCache!", times.tobytes()),
    ]
    for i, frame in enumerate(seq):
        pixels = np.ascontiguousarray(frame, dtype=seq.dtype.newbyteorder("<")).tobytes()
        body = zlib.compress(pixels) if compress else pixels
        out.append((f"ImageDataSeq|{i}!".encode(), struct.pack("<d", times[i]) + body))
    path.write_bytes(_container(out))
    return path
