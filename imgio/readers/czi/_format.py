"""The ZISRAW container of a CZI file: segments, the subblock directory, attachments.

A CZI file is a chain of segments, each a 32-byte header (16-byte ASCII id, allocated
and used size) and its data. The file header (``ZISRAWFILE``) points at the subblock
directory (``ZISRAWDIRECTORY``: one entry per subblock with its pixel type,
compression, file position and the start/size of every dimension), the metadata
segment (``ZISRAWMETADATA``: the XML document) and the attachment directory
(``ZISRAWATTDIR``: time stamps, thumbnails, ...). Only these are read at open;
subblock segments (``ZISRAWSUBBLOCK``: header, XML, pixel payload) are read when
their pixels are needed.

Everything here raises :class:`struct.error`, ``ValueError`` or ``KeyError`` on
malformed bytes; the reader wraps them once into :class:`~imgio.CorruptFileError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ..._location import Location

__all__ = [
    "MAGIC",
    "PIXEL_TYPES",
    "Attachment",
    "Directory",
    "FileHeader",
    "read_attachments",
    "read_directory",
    "read_file_header",
    "metadata_xml_span",
    "read_metadata_xml",
    "subblock_payload",
]

MAGIC = b"ZISRAWFILE"
SEGMENT_HEADER = 32
ENTRY_FIXED = 32  # schema, pixel type, position, part, compression, pyramid, spares, dim count
DIM_ENTRY = 20  # name (4 bytes), start, size, start coordinate (float), stored size
MAX_DIMS = 24
MAX_EDGE = 1 << 20  # pixels along one edge of one subblock (ZEN writes at most a few 1000)

#: CZI pixel type -> (numpy dtype, samples per pixel); BGR orders are reversed on decode
PIXEL_TYPES: dict[int, tuple[str, int]] = {
    0: ("u1", 1),  # Gray8
    1: ("<u2", 1),  # Gray16
    2: ("<f4", 1),  # Gray32Float
    3: ("u1", 3),  # Bgr24
    4: ("<u2", 3),  # Bgr48
    8: ("<f4", 3),  # Bgr96Float
    9: ("u1", 4),  # Bgra32
    10: ("<c8", 1),  # Gray64ComplexFloat
    11: ("<c8", 3),  # Bgr192ComplexFloat
    12: ("<i4", 1),  # Gray32
    13: ("<f8", 1),  # Gray64
}

#: compressions imgio decodes (the others are camera-specific raw formats)
COMPRESSIONS = {0: "uncompressed", 1: "JPEG", 2: "LZW", 4: "JPEG XR", 5: "zstd0", 6: "zstd1"}


@dataclass(frozen=True)
class FileHeader:
    major: int
    minor: int
    file_part: int
    directory_position: int
    metadata_position: int
    attachment_directory_position: int


AHEAD = 4096  # bytes read with a segment header: small directories come in the same read


def _segment(
    location: Location, offset: int, want: bytes, ahead: int = 0
) -> tuple[int, int, bytes]:
    """Check the segment header at ``offset``: (data offset, used size, first data bytes).

    The first ``ahead`` bytes of the data (fewer when the segment is shorter) come in
    the same read as the header.
    """
    if not 0 <= offset <= location.size - SEGMENT_HEADER:
        raise ValueError(f"a {want.decode()} segment at offset {offset}, outside the file")
    head = location.read_range(offset, SEGMENT_HEADER + ahead, exact=False)
    if len(head) < SEGMENT_HEADER:
        raise ValueError(f"a {want.decode()} segment at offset {offset} is cut short")
    sid = head[:16].rstrip(b"\0")
    if sid != want:
        raise ValueError(f"expected a {want.decode()} segment at offset {offset}, found {sid!r}")
    allocated, used = struct.unpack_from("<qq", head, 16)
    size = used or allocated
    if size < 0 or offset + SEGMENT_HEADER + size > location.size:
        raise ValueError(
            f"{want.decode()} segment at offset {offset} claims {size} bytes, "
            f"file ends at {location.size}"
        )
    return offset + SEGMENT_HEADER, size, head[SEGMENT_HEADER : SEGMENT_HEADER + size]


def _data(location: Location, start: int, first: bytes, offset: int, nbytes: int) -> bytes:
    """``nbytes`` of segment data at ``offset`` (relative to ``start``), from ``first``
    (the bytes read with the header) when they are there."""
    if offset + nbytes <= len(first):
        return first[offset : offset + nbytes]
    return location.read_range(start + offset, nbytes)


def read_file_header(location: Location) -> FileHeader:
    """The ``ZISRAWFILE`` header segment at offset 0."""
    start, _, first = _segment(location, 0, MAGIC, ahead=80)
    data = _data(location, start, first, 0, 80)
    major, minor = struct.unpack_from("<ii", data, 0)
    file_part = struct.unpack_from("<i", data, 48)[0]
    directory, metadata = struct.unpack_from("<qq", data, 52)
    attachments = struct.unpack_from("<q", data, 72)[0]
    return FileHeader(major, minor, file_part, directory, metadata, attachments)


@dataclass
class Directory:
    """The subblock directory as columns: one row per subblock.

    ``starts``/``sizes``/``stored`` are ``(n, len(dims))`` int64 arrays, with dims the
    letters found in the file (``X`` and ``Y`` always among them).
    """

    dims: str
    pixel_type: np.ndarray[Any, Any]
    position: np.ndarray[Any, Any]
    file_part: np.ndarray[Any, Any]
    compression: np.ndarray[Any, Any]
    pyramid_type: np.ndarray[Any, Any]
    starts: np.ndarray[Any, Any]
    sizes: np.ndarray[Any, Any]
    stored: np.ndarray[Any, Any]

    def __len__(self) -> int:
        return len(self.position)

    def column(self, dim: str, what: str = "starts") -> np.ndarray[Any, Any]:
        """One dim's column of ``starts``/``sizes``/``stored`` (zeros when absent)."""
        if dim not in self.dims:
            return np.zeros(len(self), np.int64)
        return getattr(self, what)[:, self.dims.index(dim)]  # type: ignore[no-any-return]


def read_directory(location: Location, position: int) -> Directory:
    """Parse the ``ZISRAWDIRECTORY`` segment (vectorized when entries share one layout)."""
    start, size, first = _segment(location, position, b"ZISRAWDIRECTORY", AHEAD)
    count = struct.unpack("<i", _data(location, start, first, 0, 4))[0]
    if count < 0 or size < 128 or count * (ENTRY_FIXED + 2 * DIM_ENTRY) > size:
        raise ValueError(f"the subblock directory claims {count} entries in {size} bytes")
    buf = _data(location, start, first, 128, size - 128)
    return _entries_uniform(buf, count) or _entries_loop(buf, count)


def _dim_rank(d: str) -> tuple[int, str]:
    order = "XYCZTRISHVMB"
    return (order.index(d) if d in order else len(order), d)


def _build(fixed: np.ndarray[Any, Any], cols: dict[str, tuple[Any, Any, Any]]) -> Directory:
    dims = "".join(sorted(cols, key=_dim_rank))
    if "X" not in dims or "Y" not in dims:
        raise ValueError(f"subblock entries lack X or Y (dims {dims!r})")
    n = len(fixed)
    starts = np.zeros((n, len(dims)), np.int64)
    sizes = np.ones((n, len(dims)), np.int64)
    stored = np.ones((n, len(dims)), np.int64)
    for d, (a, b, c) in cols.items():
        j = dims.index(d)
        starts[:, j], sizes[:, j], stored[:, j] = a, b, c
    f = np.asarray(fixed, dtype=np.int64).reshape(n, 5)
    return Directory(dims, f[:, 0], f[:, 1], f[:, 2], f[:, 3], f[:, 4], starts, sizes, stored)


def _entries_loop(buf: bytes, count: int) -> Directory:
    fixed = []
    rows: list[dict[str, tuple[int, int, int]]] = []
    p = 0
    for i in range(count):
        schema, ptype, pos, part, comp, pyr, ndim = struct.unpack_from("<2siqiiB5xi", buf, p)
        if schema != b"DV":
            raise ValueError(f"subblock directory entry {i}: schema {schema!r}, expected b'DV'")
        if not 0 < ndim <= MAX_DIMS:
            raise ValueError(f"subblock directory entry {i}: {ndim} dimensions")
        p += ENTRY_FIXED
        row = {}
        for _ in range(ndim):
            name, a, b, _coord, c = struct.unpack_from("<4siifi", buf, p)
            p += DIM_ENTRY
            row[name.rstrip(b"\0").decode("ascii")] = (a, b, c)
        fixed.append((ptype, pos, part, comp, pyr))
        rows.append(row)
    letters = {d for row in rows for d in row}
    cols = {
        d: tuple(np.array([row.get(d, (0, 1, 1))[k] for row in rows], np.int64) for k in range(3))
        for d in letters
    }
    return _build(np.array(fixed, np.int64).reshape(count, 5), cols)  # type: ignore[arg-type]


_DIM_ENTRY = np.dtype([("n", "S4"), ("a", "<i4"), ("b", "<i4"), ("f", "<f4"), ("c", "<i4")])


@cache
def _entry_dtype(ndim: int) -> np.dtype[Any]:
    """One directory entry with ``ndim`` dimension entries, as a numpy record."""
    return np.dtype(
        [
            ("schema", "S2"),
            ("ptype", "<i4"),
            ("pos", "<i8"),
            ("part", "<i4"),
            ("comp", "<i4"),
            ("pyr", "u1"),
            ("spare", "V5"),
            ("ndim", "<i4"),
            ("dims", _DIM_ENTRY, (ndim,)),
        ]
    )


def _entries_uniform(buf: bytes, count: int) -> Directory | None:
    """All entries with the first one's dims in the same order: one numpy view, no loop."""
    if count == 0 or len(buf) < ENTRY_FIXED:
        return None
    ndim = struct.unpack_from("<i", buf, 28)[0]
    if not 0 < ndim <= MAX_DIMS:
        return None
    width = ENTRY_FIXED + DIM_ENTRY * ndim
    if count * width > len(buf):
        return None
    rec = np.frombuffer(buf, dtype=_entry_dtype(ndim), count=count)
    dims = rec["dims"]
    names = dims["n"][0]
    if not ((rec["schema"] == b"DV").all() and (rec["ndim"] == ndim).all()):
        return None
    if not (dims["n"] == names).all():
        return None
    letters = [n.rstrip(b"\0").decode("ascii") for n in names.tolist()]
    if len(set(letters)) != len(letters):
        return None
    order = "".join(sorted(letters, key=_dim_rank))
    if "X" not in order or "Y" not in order:
        raise ValueError(f"subblock entries lack X or Y (dims {order!r})")
    cols = [letters.index(d) for d in order]
    return Directory(
        order,
        rec["ptype"].astype(np.int64),
        rec["pos"].astype(np.int64),
        rec["part"].astype(np.int64),
        rec["comp"].astype(np.int64),
        rec["pyr"].astype(np.int64),
        dims["a"][:, cols].astype(np.int64),
        dims["b"][:, cols].astype(np.int64),
        dims["c"][:, cols].astype(np.int64),
    )


def metadata_xml_span(location: Location, position: int) -> tuple[int, int]:
    """(offset, size) of the XML document of the ``ZISRAWMETADATA`` segment ((0, 0): none)."""
    if position <= 0:
        return 0, 0
    start, size, first = _segment(location, position, b"ZISRAWMETADATA", 4)
    xml_size = struct.unpack("<i", _data(location, start, first, 0, 4))[0]
    if not 0 <= xml_size <= size - 256:
        raise ValueError(f"the metadata segment claims {xml_size} bytes of XML in {size}")
    return start + 256, xml_size


def read_metadata_xml(location: Location, position: int) -> bytes:
    """The XML document of the ``ZISRAWMETADATA`` segment (empty when the file has none)."""
    offset, size = metadata_xml_span(location, position)
    return location.read_range(offset, size) if size else b""


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    position: int


def read_attachments(location: Location, position: int) -> list[Attachment]:
    """Entries of the ``ZISRAWATTDIR`` segment (name, type, segment position)."""
    if position <= 0:
        return []
    start, size, first = _segment(location, position, b"ZISRAWATTDIR", AHEAD)
    count = struct.unpack("<i", _data(location, start, first, 0, 4))[0]
    if not 0 <= count <= (size - 256) // 128:
        raise ValueError(f"the attachment directory claims {count} entries in {size} bytes")
    buf = _data(location, start, first, 256, 128 * count)
    out = []
    for i in range(count):
        entry = buf[128 * i : 128 * (i + 1)]
        pos = struct.unpack_from("<q", entry, 12)[0]
        ctype = entry[40:48].rstrip(b"\0").decode("ascii", errors="replace")
        name = entry[48:128].rstrip(b"\0").decode("utf-8", errors="replace")
        out.append(Attachment(name, ctype, pos))
    return out


def read_attachment_data(location: Location, attachment: Attachment) -> bytes:
    """The payload of one ``ZISRAWATTACH`` segment."""
    start, size, first = _segment(location, attachment.position, b"ZISRAWATTACH", 4)
    data_size = struct.unpack("<i", _data(location, start, first, 0, 4))[0]
    if not 0 <= data_size <= size - 256:
        raise ValueError(f"attachment {attachment.name!r} claims {data_size} bytes in {size}")
    return location.read_range(start + 256, data_size)


def subblock_payload(segment: bytes, position: int) -> memoryview:
    """The pixel payload inside the bytes of one ``ZISRAWSUBBLOCK`` segment.

    ``segment`` starts at the segment header; it may run past the segment's end.
    """
    sid = segment[:16].rstrip(b"\0")
    if sid != b"ZISRAWSUBBLOCK":
        raise ValueError(f"expected a ZISRAWSUBBLOCK segment at offset {position}, found {sid!r}")
    meta_size, _att_size, data_size = struct.unpack_from("<iiq", segment, SEGMENT_HEADER)
    ndim = struct.unpack_from("<i", segment, SEGMENT_HEADER + 16 + 28)[0]
    if not 0 < ndim <= MAX_DIMS or meta_size < 0 or data_size < 0:
        raise ValueError(f"malformed subblock header at offset {position}")
    header = max(256, 16 + ENTRY_FIXED + DIM_ENTRY * ndim)
    begin = SEGMENT_HEADER + header + meta_size
    if begin + data_size > len(segment):
        raise ValueError(
            f"subblock at offset {position} claims {data_size} bytes of pixels at "
            f"{position + begin}, only {len(segment) - begin} are there"
        )
    return memoryview(segment)[begin : begin + data_size]


def subblock_header_size(segment: bytes) -> tuple[int, int]:
    """(offset of the payload within the segment, payload size) from its first 512 bytes."""
    meta_size, _att_size, data_size = struct.unpack_from("<iiq", segment, SEGMENT_HEADER)
    ndim = struct.unpack_from("<i", segment, SEGMENT_HEADER + 16 + 28)[0]
    if not 0 < ndim <= MAX_DIMS or meta_size < 0 or data_size < 0:
        raise ValueError("malformed subblock header")
    header = max(256, 16 + ENTRY_FIXED + DIM_ENTRY * ndim)
    return SEGMENT_HEADER + header + meta_size, int(data_size)
