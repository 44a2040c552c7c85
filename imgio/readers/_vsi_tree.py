"""The metadata tag tree of a cellSens ``.vsi`` file, and what a scene needs from it.

After the TIFF header (byte 8) a ``.vsi`` holds a tree of *volumes*: a 24-byte header
(``<HHIqII``: header size 24, magic 21321, version, offset of the first field from the
volume's start, flags whose low 28 bits count the fields) and a chain of *fields*
(``<iiiI``: type, tag, offset of the next field from the volume's start (0 ends the
chain), data size), each followed by a second tag when type bit 27 is set. Type bit
28 marks an extended field: for value types 0-2 its data is a nested volume. Bit 30
marks inline data: the value is the data size itself. Other fields carry their value
after the header: UTF-16 text (types 13, 8192, 8194), numbers (1-12), vectors of ints
or doubles (256-280, 8195...). A *property* is a volume holding its unit (tag
268435456) and value (268435458).

Used here (tags as cellSens writes them): the image collection (2000) holds one image
volume (2001) per stack, second tag = the stack number (the ``stack<N>`` folder). In it:
2005 the image properties (2019 pixel size X, Y and 2020 its unit; 2043 the devices,
whose objective row 120114 has 120060 magnification and 120065 its name), 2003 the
plane dimension sizes and 2007 one dimension slot each (2008 entries: 2023 kind, 1 Z,
2 T, 4 C; 2021 channel name; 2012 / 2013 Z start / step properties), and 2002 one
frame per plane (second tag: the plane index, first slot fastest) whose 2006 holds the
2017 time property (ms). Parsing is bounded (fields,
depth, forward-only chains, byte bounds): a damaged tree yields what was read before
the damage, and the pixels do not depend on it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

__all__ = ["VsiStack", "Node", "parse_tree", "stack_metadata"]

_VOLUME = struct.Struct("<HHIqII")
_FIELD = struct.Struct("<iiiI")
_MAGIC = 21321
#: fields parsed at most: each takes 16 bytes or more, so a tree whose chains revisit
#: bytes (nested volumes overlapping their siblings) stops at the file's size / 16
MAX_NODES = 1 << 20
MAX_DEPTH = 48
UNIT, VALUE = 268435456, 268435458
UM, MS = "10^-6m^1", "10^-3s^1"
_TEXT = {13, 8192, 8194}
_NUMBERS = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "q", 8: "Q", 9: "f", 10: "d"}
_NUMBERS |= {11: "d", 12: "B", 14: "I", 17: "q", 18: "q", 271: "I", 272: "I", 273: "I"}
_INTS = {256, 257, 258, 259, 267, 274, 275, 276, 277, 8195, 8199, 8200}
_DOUBLES = {260, 261, 262, 263, 264, 265, 266, 268, 279, 280}
_KINDS = {1: "Z", 2: "T", 4: "C"}


@dataclass
class Node:
    """One field: its tag, second tag, value type, value and nested fields."""

    tag: int
    second: int | None
    vtype: int
    value: Any = None
    children: list[Node] = field(default_factory=list)

    def child(self, tag: int, second: int | None = None) -> Node | None:
        return next(
            (c for c in self.children if c.tag == tag and (second is None or c.second == second)),
            None,
        )

    def value_of(self, tag: int) -> Any:
        found = self.child(tag)
        return None if found is None else found.value

    def prop(self, unit: str) -> float | None:
        """A property's value when its unit is ``unit`` (or unstated)."""
        stated = self.value_of(UNIT)
        value = self.value_of(VALUE)
        if stated not in (None, unit) or not isinstance(value, (int, float)):
            return None
        return float(value) if math.isfinite(value) else None


def _decode(vtype: int, raw: bytes) -> Any:
    if vtype in _TEXT:
        return raw.decode("utf-16-le", "replace").split("\0", 1)[0]
    fmt = _NUMBERS.get(vtype) or ("i" if vtype in _INTS else "d" if vtype in _DOUBLES else None)
    if fmt is None:
        return None
    n = len(raw) // struct.calcsize(fmt)
    values = struct.unpack_from(f"<{n}{fmt}", raw)
    return values[0] if n == 1 and vtype in _NUMBERS else list(values)


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data, self.nodes = data, 0
        self.limit = min(MAX_NODES, len(data) // 16 + 1)

    def volume(self, pos: int, depth: int) -> list[Node]:
        data = self.data
        if depth > MAX_DEPTH or pos < 0 or pos + _VOLUME.size > len(data):
            return []
        size, magic, _, first, flags, _ = _VOLUME.unpack_from(data, pos)
        if size != _VOLUME.size or magic != _MAGIC or first < _VOLUME.size:
            return []
        out: list[Node] = []
        p = pos + first
        for _ in range(flags & 0x0FFFFFFF):
            if self.nodes >= self.limit or p + _FIELD.size > len(data):
                break
            self.nodes += 1
            kind, tag, nxt, nbytes = _FIELD.unpack_from(data, p)
            q = p + _FIELD.size
            node = Node(tag, None, kind & 0xFFFFFF)
            if kind & 0x08000000:
                if q + 4 > len(data):
                    break
                node.second = struct.unpack_from("<i", data, q)[0]
                q += 4
            if kind & 0x10000000:
                if node.vtype in (0, 1, 2):
                    node.children = self.volume(q, depth + 1)
            elif kind & 0x40000000:
                node.value = nbytes - (1 << 32) if node.vtype == 5 and nbytes >> 31 else nbytes
            elif 0 < nbytes <= len(data) - q:
                node.value = _decode(node.vtype, data[q : q + nbytes])
            out.append(node)
            following = pos + (nxt & 0xFFFFFFFF)
            if nxt == 0 or following <= p:
                break
            p = following
        return out


def parse_tree(data: bytes) -> list[Node]:
    """The root fields of the tree starting at byte 8 of the ``.vsi`` bytes."""
    return _Parser(data).volume(8, 0)


@dataclass(frozen=True)
class VsiStack:
    """What one stack's image volume says (None where it says nothing)."""

    number: int
    name: str | None = None
    plane_dims: str | None = None  # the dimension slots' kinds, slot order
    pixel_size_yx: tuple[float, float] | None = None
    z_start: float | None = None
    z_step: float | None = None
    channel_names: tuple[str, ...] | None = None
    emission_nm: tuple[float | None, ...] | None = None
    frame_ms: dict[int, float] = field(default_factory=dict)
    objective_magnification: float | None = None
    objective_name: str | None = None


def _slots(volume: Node) -> tuple[str | None, dict[str, Any]]:
    kinds: list[str] = []
    found: dict[str, Any] = {}
    for slot in (c for c in volume.children if c.tag == 2007):
        entries = [c for c in slot.children if c.tag == 2008]
        if not entries:
            continue  # an unused slot
        code = entries[0].value_of(2023)
        kind = _KINDS.get(code) if isinstance(code, int) else None
        if kind is None or kind in kinds:
            return None, found
        kinds.append(kind)
        if kind == "Z":
            start, step = entries[0].child(2012), entries[0].child(2013)
            found["z_start"] = start.prop(UM) if start else None
            found["z_step"] = step.prop(UM) if step else None
        elif kind == "C":
            names = [e.value_of(2021) or e.value_of(2419) for e in entries]
            if all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names):
                found["channel_names"] = tuple(names)
            em = [e.child(2417) for e in entries]
            found["emission_nm"] = tuple(e.prop("10^-9m^1") if e else None for e in em)
    return "".join(kinds), found


def _objective(props: Node) -> tuple[float | None, str | None]:
    devices = props.child(2043)
    for device in devices.children if devices else []:
        row = device if device.tag == 120114 else device.child(120114)
        mag = row.value_of(120060) if row else None
        if row is not None and isinstance(mag, float) and 0 < mag < 1000:
            name = row.value_of(120065)
            return mag, name if isinstance(name, str) else None
    return None, None


def stack_metadata(roots: list[Node]) -> dict[int, VsiStack]:
    """Every image volume of the collection, by stack number."""
    collection = next((n for n in roots if n.tag == 2000), None)
    out: dict[int, VsiStack] = {}
    for volume in collection.children if collection else []:
        if volume.tag != 2001 or volume.second is None or volume.second in out:
            continue
        props = volume.child(2005) or Node(0, None, 0)
        size = props.value_of(2019)
        unit = props.value_of(2020)
        yx = None
        if isinstance(size, list) and len(size) == 2 and unit in (None, UM):
            if all(isinstance(v, float) and 0 < v < 1e6 for v in size):
                yx = (float(size[1]), float(size[0]))
        dims, slots = _slots(volume)
        frames = {}
        for frame in (c for c in volume.children if c.tag == 2002 and c.second is not None):
            plane = frame.child(2006)
            when = plane.child(2017) if plane else None
            ms = when.prop(MS) if when else None
            if ms is not None and frame.second is not None:
                frames[frame.second] = ms
        mag, objective = _objective(props)
        name = props.value_of(2030)
        out[volume.second] = VsiStack(
            number=volume.second,
            name=name if isinstance(name, str) else None,
            plane_dims=dims,
            pixel_size_yx=yx,
            frame_ms=frames,
            objective_magnification=mag,
            objective_name=objective,
            **slots,
        )
    return out
