"""A selective decoder of Nikon's CLX-Lite variant (the binary metadata chunks of ND2 files).

An item is ``type (u8), name length (u8, UTF-16 units), name (UTF-16LE, NUL-terminated)``
and a value: bool (u8), int32, uint32, int64, uint64, double, void pointer (u64),
string (UTF-16LE up to a NUL unit), byte array (u64 size + bytes, sometimes itself a
CLX-Lite item), a level (u32 item count, u64 length from the item's start to the end
of its items, then a u64 offset per item) or a compressed rest (type 76: 10 bytes,
then a zlib stream of items). Items of a level named ``""`` form a list, presented as a
dict ``{"i0000000000": ..., ...}``.

:func:`decode` gives the same dicts as the ``nd2`` library's decoder (no prefix
stripping), but skips the levels named in ``skip`` by their length without decoding
them: an ND2's ``ImageMetadataSeqLV|0!`` chunk holds hundreds of kilobytes of
per-channel device settings that nothing in imgio reads, and decoding them dominated
the time to open a file. Damaged input raises ``ValueError`` (or ``struct.error`` /
``zlib.error``), never recurses without bound and never inflates beyond a limit.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

__all__ = ["decode"]

_HEAD = struct.Struct("<BB")
_LEVEL = struct.Struct("<IQ")
_SCALARS = {
    1: struct.Struct("<B"),  # bool (any non-zero byte is True)
    2: struct.Struct("<i"),
    3: struct.Struct("<I"),
    4: struct.Struct("<q"),
    5: struct.Struct("<Q"),
    6: struct.Struct("<d"),
    7: struct.Struct("<Q"),  # void pointer
}
_U64 = struct.Struct("<Q")
LEVEL, STRING, BYTEARRAY, COMPRESSED = 11, 8, 9, 76
MAX_DEPTH = 64
MAX_INFLATED = 256 << 20


def decode(data: bytes, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The first item of ``data`` as ``{name: value}``; levels named in ``skip`` are left out."""
    return _Decoder(data, skip).items(0, len(data), 1, 0)


class _Decoder:
    def __init__(self, data: bytes, skip: frozenset[str]) -> None:
        self.data = data
        self.skip = skip

    def items(self, pos: int, end: int, count: int, depth: int) -> dict[str, Any]:
        """Decode up to ``count`` items of ``data[pos:end]``."""
        if depth > MAX_DEPTH:
            raise ValueError(f"CLX-Lite levels nested deeper than {MAX_DEPTH}")
        data = self.data
        out: dict[str, Any] = {}
        for _ in range(count):
            if pos + 2 > end:
                break
            start = pos
            kind, name_len = _HEAD.unpack_from(data, pos)
            pos += 2
            if kind == COMPRESSED:
                return self.inflated(data[pos + 10 : end], depth)
            if kind in (0, 10):
                raise ValueError(f"unknown CLX-Lite data type {kind} at byte {start}")
            name_end = pos + 2 * name_len
            if name_end > end:
                raise ValueError(f"CLX-Lite name runs past its chunk at byte {start}")
            name = data[pos:name_end].decode("utf16")[:-1]
            pos = name_end
            value, pos, keep = self.value(kind, name, start, pos, end, depth)
            if not keep:
                continue
            if name == "" and name in out:
                if not isinstance(out[name], list):
                    out[name] = [out[name]]
                out[name].append(value)
            else:
                out[name] = value
        return out

    def value(
        self, kind: int, name: str, start: int, pos: int, end: int, depth: int
    ) -> tuple[Any, int, bool]:
        """(value, position after it, whether to keep it) of one item's value at ``pos``."""
        data = self.data
        scalar = _SCALARS.get(kind)
        if scalar is not None:
            if pos + scalar.size > end:
                raise ValueError(f"CLX-Lite value runs past its chunk at byte {start}")
            (raw,) = scalar.unpack_from(data, pos)
            return (bool(raw) if kind == 1 else raw), pos + scalar.size, True
        if kind == STRING:
            return self.string(pos, end)
        if kind == BYTEARRAY:
            if pos + 8 > end:
                raise ValueError(f"CLX-Lite byte array runs past its chunk at byte {start}")
            (size,) = _U64.unpack_from(data, pos)
            pos += 8
            raw_bytes = data[pos : min(end, pos + size)]
            return self.byte_array(raw_bytes, depth), pos + len(raw_bytes), True
        if kind == LEVEL:
            if pos + _LEVEL.size > end:
                raise ValueError(f"CLX-Lite level runs past its chunk at byte {start}")
            count, length = _LEVEL.unpack_from(data, pos)
            stop = min(end, start + length)
            after = min(end, stop + 8 * count)
            if name in self.skip:
                return None, after, False
            val = self.items(pos + _LEVEL.size, stop, count, depth + 1)
            if len(val) == 1 and "" in val:
                listed = val[""] if isinstance(val[""], list) else [val[""]]
                return {f"i{n:010}": x for n, x in enumerate(listed)}, after, True
            return val, after, True
        return None, end, True  # a type nd2 leaves undecoded too

    def string(self, pos: int, end: int) -> tuple[str, int, bool]:
        data = self.data
        stop = pos
        while True:  # the first NUL *unit* (two zero bytes at an even distance)
            stop = data.find(b"\x00\x00", stop, end)
            if stop < 0:
                stop = end - (end - pos) % 2
                raw = data[pos:stop]
                break
            if (stop - pos) % 2 == 0:
                stop += 2
                raw = data[pos:stop]
                break
            stop += 1
        try:
            text = raw.decode("utf16")[:-1]
        except UnicodeDecodeError:
            text = raw.decode("utf8")
        return text, stop, True

    def byte_array(self, raw: bytes, depth: int) -> Any:
        """A nested CLX-Lite item when the bytes look like one, else the list of bytes."""
        value: Any = None
        if len(raw) >= 4 and (raw[0] == COMPRESSED or (1 <= raw[0] <= 11 and raw[1] >= 2)):
            try:
                value = _Decoder(raw, self.skip).items(0, len(raw), 1, depth + 1)
            except Exception:  # noqa: BLE001 - not CLX-Lite after all: plain bytes (as nd2)
                value = None
        return value if value else list(raw)

    def inflated(self, stream: bytes, depth: int) -> dict[str, Any]:
        inflater = zlib.decompressobj()
        data = inflater.decompress(stream, MAX_INFLATED)
        if inflater.unconsumed_tail:
            raise ValueError(f"compressed CLX-Lite metadata inflates beyond {MAX_INFLATED} bytes")
        return _Decoder(data, self.skip).items(0, len(data), 1, depth + 1)
