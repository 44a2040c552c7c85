"""A small CZI (ZISRAW) writer for tests: subblocks with any dims, compression and pyramid.

Written from the published segment layout (file header, subblocks, metadata,
directory, attachments), enough for pylibCZIrw/aicspylibczi to read the files back,
so synthetic cases (pyramids, zstd0/zstd1, JPEG XR, BGR, overlapping tiles, time stamps)
are checked against an independent reader as well as against the arrays written.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np

PIXEL_TYPE = {"u1": 0, "<u2": 1, "<f4": 2}
BGR_TYPE = {"u1": 3, "<u2": 4}


@dataclass
class Sub:
    """One subblock: pixels as stored (``Y X`` or ``Y X S`` in RGB order), where, how."""

    data: np.ndarray[Any, Any]
    x: int = 0
    y: int = 0
    dims: dict[str, int] = field(default_factory=dict)  # C/Z/T/S/M/... start values
    size: tuple[int, int] | None = None  # logical (h, w) when a pyramid subblock
    compression: str = "none"  # none, zstd0, zstd1, zstd1-hilo, jpegxr


def _segment(sid: bytes, data: bytes) -> bytes:
    pad = (-len(data)) % 32
    return (
        sid.ljust(16, b"\0") + struct.pack("<qq", len(data) + pad, len(data)) + data + b"\0" * pad
    )


def _pixel_type(arr: np.ndarray[Any, Any]) -> int:
    key = arr.dtype.str if arr.dtype.itemsize > 1 else "u1"
    return BGR_TYPE[key] if arr.ndim == 3 else PIXEL_TYPE[key]


def _payload(sub: Sub) -> tuple[bytes, int]:
    arr = sub.data[..., ::-1] if sub.data.ndim == 3 else sub.data  # BGR in the file
    arr = np.ascontiguousarray(arr)
    if sub.compression == "none":
        return arr.tobytes(), 0
    if sub.compression == "zstd0":
        return imagecodecs.zstd_encode(arr.tobytes()), 5
    if sub.compression == "zstd1":
        return b"\x01" + imagecodecs.zstd_encode(arr.tobytes()), 6
    if sub.compression == "zstd1-hilo":
        raw = arr.view(np.uint8).reshape(-1, 2)
        packed = np.concatenate([raw[:, 0], raw[:, 1]]).tobytes()
        return b"\x03\x01\x01" + imagecodecs.zstd_encode(packed), 6
    if sub.compression == "jpegxr":
        # JPEG XR carries its own pixel format: RGB samples coded as RGB, and ZEN labels
        # 8-bit colour 24bppBGR (pylibCZIrw refuses 24bppRGB). imagecodecs writes RGB only:
        # code the RGB samples and relabel them; a decoder honouring the label (jxrlib,
        # libCZI, imagecodecs) returns the image's colours. 16-bit stays 48bppRGB.
        coded = imagecodecs.jpegxr_encode(np.ascontiguousarray(sub.data), level=1.0)
        rgb24 = bytes.fromhex("24c3dd6f034efe4bb1853d77768dc90d")
        if sub.data.ndim == 3 and sub.data.dtype.itemsize == 1:
            assert coded.count(rgb24) == 1
            coded = coded.replace(rgb24, rgb24[:-1] + b"\x0c")
        return coded, 4
    raise ValueError(sub.compression)


def _entry(sub: Sub, position: int, compression: int) -> bytes:
    h, w = sub.data.shape[:2]
    lh, lw = sub.size or (h, w)
    pyramid = 0 if (lh, lw) == (h, w) else 2
    dims = [("X", sub.x, lw, w), ("Y", sub.y, lh, h)]
    dims += [(k, v, 1, 1) for k, v in sub.dims.items()]
    out = struct.pack(
        "<2siqiiB5xi", b"DV", _pixel_type(sub.data), position, 0, compression, pyramid, len(dims)
    )
    for name, start, size, stored in dims:
        out += struct.pack("<4siifi", name.encode().ljust(4, b"\0"), start, size, 0.0, stored)
    return out


def write_czi(
    path: Path,
    subs: list[Sub],
    *,
    xml: str = "",
    timestamps: list[float] | None = None,
) -> Path:
    """Write ``subs`` (and metadata ``xml``, optional ``TimeStamps``) as a CZI file."""
    body = bytearray(b"\0" * 544)  # file header segment, filled in last
    entries = []
    for sub in subs:
        payload, comp = _payload(sub)
        entry = _entry(sub, len(body), comp)
        head = struct.pack("<iiq", 0, 0, len(payload)) + entry
        head = head.ljust(max(256, len(head)), b"\0")
        body += _segment(b"ZISRAWSUBBLOCK", head + payload)
        entries.append(entry)
    meta_pos = len(body)
    xml_bytes = xml.encode()
    body += _segment(
        b"ZISRAWMETADATA", struct.pack("<ii", len(xml_bytes), 0).ljust(256, b"\0") + xml_bytes
    )
    att_pos = 0
    if timestamps is not None:
        data = struct.pack("<ii", 8 + 8 * len(timestamps), len(timestamps))
        data += struct.pack(f"<{len(timestamps)}d", *timestamps)
        a1 = _attachment_entry(len(body), "CZTIMS", "TimeStamps")
        stamp_seg = struct.pack("<i", len(data)).ljust(16, b"\0") + a1 + b"\0" * 112
        body += _segment(b"ZISRAWATTACH", stamp_seg + data)
        att_pos = len(body)
        body += _segment(b"ZISRAWATTDIR", struct.pack("<i", 1).ljust(256, b"\0") + a1)
    dir_pos = len(body)
    body += _segment(
        b"ZISRAWDIRECTORY", struct.pack("<i", len(entries)).ljust(128, b"\0") + b"".join(entries)
    )
    guid = uuid.uuid4().bytes
    header = struct.pack("<iiii", 1, 0, 0, 0) + guid + guid
    header += struct.pack("<iqqiq", 0, dir_pos, meta_pos, 0, att_pos)
    body[:544] = _segment(b"ZISRAWFILE", header.ljust(512, b"\0"))
    path.write_bytes(bytes(body))
    return path


def _attachment_entry(position: int, ctype: str, name: str) -> bytes:
    out = b"A1" + b"\0" * 10 + struct.pack("<qi", position, 0) + uuid.uuid4().bytes
    return out + ctype.encode().ljust(8, b"\0") + name.encode().ljust(80, b"\0")


def metadata_xml(
    channels: list[tuple[str, str]] = (),  # type: ignore[assignment]
    scaling_m: dict[str, float] | None = None,
    scenes: list[str] | None = None,
) -> str:
    """A minimal ZEN-like metadata document: channels (name, #AARRGGBB), scaling, scenes."""
    chans = "".join(
        f'<Channel Id="Channel:{i}" Name="{n}"><Color>{c}</Color></Channel>'
        for i, (n, c) in enumerate(channels)
    )
    dist = "".join(
        f'<Distance Id="{k}"><Value>{v}</Value></Distance>' for k, v in (scaling_m or {}).items()
    )
    sc = "".join(f'<Scene Index="{i}" Name="{n}"/>' for i, n in enumerate(scenes or []))
    return (
        "<ImageDocument><Metadata><Information><Image><Dimensions>"
        f"<Channels>{chans}</Channels><S><Scenes>{sc}</Scenes></S>"
        "</Dimensions></Image></Information>"
        f"<Scaling><Items>{dist}</Items></Scaling></Metadata></ImageDocument>"
    )
