"""What imgio takes from a CZI's XML metadata: channels, colours, scaling, scenes, time.

Read leniently: a value that is missing or malformed is dropped (with an
:class:`~imgio.ImgioWarning` when it was present but unreadable), never fatal.
"""

from __future__ import annotations

import functools
import re
import struct
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ...errors import ImgioWarning

__all__ = ["CziMeta", "light_document", "light_parses", "parse_meta", "parse_timestamps"]


@dataclass
class CziMeta:
    channel_names: list[str] = field(default_factory=list)
    channel_colors: list[int | None] = field(default_factory=list)  # packed RGBA
    scaling_um: dict[str, float] = field(default_factory=dict)  # X/Y/Z in µm
    scene_names: dict[int, str] = field(default_factory=dict)
    time_offsets: list[float] = field(default_factory=list)  # seconds
    timestamps_attachment: bool = False


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: ET.Element | None, *path: str) -> ET.Element | None:
    for name in path:
        if node is None:
            return None
        node = next((c for c in node if _local(c.tag) == name), None)
    return node


def _children(node: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if node is None else [c for c in node if _local(c.tag) == name]


def color_from_argb(text: str | None) -> int | None:
    """ZEN's ``#AARRGGBB`` (or ``#RRGGBB``) as OME's packed RGBA int; None if unreadable."""
    if not text:
        return None
    value = text.strip().lstrip("#")
    try:
        if len(value) == 8:
            a, r, g, b = (int(value[i : i + 2], 16) for i in range(0, 8, 2))
        elif len(value) == 6:
            a, (r, g, b) = 255, (int(value[i : i + 2], 16) for i in range(0, 6, 2))
        else:
            return None
    except ValueError:
        return None
    if a == 0:  # ZEN writes #00FFFFFF for "no colour"
        return None
    return (r << 24) | (g << 16) | (b << 8) | 255


_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"  # a namespace prefix, as in <zen:Scaling>


@functools.lru_cache(maxsize=32)
def _tag_patterns(tag: str) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """An element's start tag (any attributes, a prefix, self-closing) and its end tag."""
    name = re.escape(tag.encode())
    return (
        re.compile(rb"<" + _PREFIX + name + rb"(?=[\s/>])[^>]*>"),
        re.compile(rb"</" + _PREFIX + name + rb"\s*>"),
    )


def _span(xml: bytes, tag: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """Where the first ``<tag ...>...</tag>`` in ``xml[start:end]`` lies (no bytes copied).

    The start tag may carry attributes (``<DisplaySetting HistogramRange="8">``) or a
    namespace prefix, and may close itself (``<DisplaySetting/>``).
    """
    stop = len(xml) if end is None else end
    opening, closing = _tag_patterns(tag)
    first = opening.search(xml, start, stop)
    if first is None:
        return None
    if first.group().endswith(b"/>"):
        return first.start(), first.end()
    last = closing.search(xml, first.end(), stop)
    return (first.start(), last.end()) if last is not None else None


_CLOSES_METADATA = re.compile(
    rb"</" + _PREFIX + rb"Metadata\s*>\s*</" + _PREFIX + rb"ImageDocument\s*>[\s\0]*\Z"
)


def _closes_metadata(tail: bytes) -> bool:
    """Whether ``tail`` (what follows an element) is balanced siblings, then the ends of
    ``Metadata`` and ``ImageDocument``: that element is then a child of ``Metadata``."""
    if b"<!" in tail or b"<?" in tail:
        return False
    if _CLOSES_METADATA.search(tail) is None:
        return False
    closes = tail.count(b"</")
    opens = tail.count(b"<") - closes - tail.count(b"/>")
    return closes - opens == 2


def _information(xml: bytes, *, tail: bool = False) -> tuple[int, int] | None:
    """The ``Information`` section that is a child of ``Metadata``.

    ZEN writes it near the end, after up to megabytes of ``Experiment`` and hardware
    settings: the last one is taken when the tags after it show that its parent is
    ``Metadata`` (a few kilobytes to check); otherwise the first one in the document.
    """
    opening, closing = _tag_patterns("Information")
    ends = [m.end() for m in closing.finditer(xml)]
    if not ends:
        return None
    starts = [m.start() for m in opening.finditer(xml, 0, ends[-1])]
    if not starts:
        return None
    if _closes_metadata(xml[ends[-1] :]):
        return starts[-1], ends[-1]
    return None if tail else _span(xml, "Information")


def light_document(xml: bytes, *, tail: bool = False) -> bytes | None:
    """Only the sections read here (ZEN documents run to megabytes of settings).

    ``Information/Image/Dimensions``, then the ``Scaling`` and ``DisplaySetting`` that
    follow ``Information`` (an ``Experiment`` block before it has its own ``Scaling``);
    None when the document is laid out otherwise (it is then parsed whole). With
    ``tail``, ``xml`` is the end of the document only, and an ``Information`` section
    is taken from it only when the tags after it show it is the one under ``Metadata``.
    """
    info = _information(xml, tail=tail)
    if info is None:
        return None
    image = _span(xml, "Image", *info)
    dims = _span(xml, "Dimensions", *image) if image else None
    scaling = _span(xml, "Scaling", info[1])
    display = _span(xml, "DisplaySetting", info[1])
    if not (dims and scaling):
        return None
    return b"".join(
        (
            b"<Metadata><Information><Image>",
            xml[dims[0] : dims[1]],
            b"</Image></Information>",
            xml[scaling[0] : scaling[1]],
            xml[display[0] : display[1]] if display else b"",
            b"</Metadata>",
        )
    )


def _light_root(xml: bytes) -> ET.Element:
    light = light_document(xml)
    if light is not None:
        try:
            return ET.fromstring(light)
        except ET.ParseError:
            pass  # e.g. prefixes declared on elements left out: the whole document
    return ET.fromstring(xml)


def light_parses(light: bytes) -> bool:
    """Whether a :func:`light_document` is well formed on its own."""
    try:
        ET.fromstring(light)
    except ET.ParseError:
        return False
    return True


def parse_meta(xml: bytes, where: str, *, light: bool = False) -> CziMeta:
    """Parse the metadata XML document (an empty or broken document gives empty metadata).

    ``light``: ``xml`` is already the :func:`light_document` of the file's document.
    """
    meta = CziMeta()
    if not xml.strip():
        return meta
    try:
        root = ET.fromstring(xml) if light else _light_root(xml)
    except ET.ParseError as exc:
        warnings.warn(
            f"{where}: the metadata XML is not well formed ({exc}); channel names, colours "
            "and pixel sizes are unknown",
            ImgioWarning,
            stacklevel=4,
        )
        return meta
    md = _child(root, "Metadata") if _local(root.tag) == "ImageDocument" else root
    _channels(md, meta)
    for dist in _children(_child(md, "Scaling", "Items"), "Distance"):
        axis, value = dist.get("Id"), _child(dist, "Value")
        if axis not in ("X", "Y", "Z") or value is None:
            continue
        try:
            metres = float((value.text or "").strip())
        except ValueError:
            warnings.warn(
                f"{where}: unreadable {axis} scaling {value.text!r}; ignored",
                ImgioWarning,
                stacklevel=4,
            )
            continue
        if metres > 0 and metres < 1:  # metres per pixel; 0 means unknown
            meta.scaling_um[axis] = metres * 1e6
    dims = _child(md, "Information", "Image", "Dimensions")
    for scene in _children(_child(dims, "S", "Scenes"), "Scene"):
        try:
            meta.scene_names[int(scene.get("Index", ""))] = scene.get("Name") or ""
        except ValueError:
            continue
    positions = _child(dims, "T", "Positions")
    offsets = _child(positions, "List", "Offsets")
    if offsets is not None and offsets.text:
        try:
            meta.time_offsets = [float(v) for v in offsets.text.split()]
        except ValueError:
            meta.time_offsets = []
    meta.timestamps_attachment = _child(positions, "BinaryList") is not None
    return meta


def _name(ch: ET.Element | None) -> str:
    """A channel's ``Name`` attribute (or ``Name`` element), stripped; "" when absent."""
    if ch is None:
        return ""
    name = ch.get("Name")
    if name is None:
        node = _child(ch, "Name")
        name = node.text if node is not None else None
    return (name or "").strip()


def _color(ch: ET.Element | None) -> int | None:
    node = _child(ch, "Color")
    return color_from_argb(node.text if node is not None else None)


def _channels(md: ET.Element | None, meta: CziMeta) -> None:
    """Names and colours of ``Information/Image/Dimensions/Channels``, each completed from
    the ``DisplaySetting/Channels`` entry with the same ``Id`` (else the same index): ZEN
    keeps the name and colour there when the acquisition channel has none."""
    dims = _child(md, "Information", "Image", "Dimensions")
    display_list = _children(_child(md, "DisplaySetting", "Channels"), "Channel")
    display = {ch.get("Id"): ch for ch in display_list if ch.get("Id")}
    acquired = _children(_child(dims, "Channels"), "Channel")
    for i, ch in enumerate(acquired or display_list):
        shown = display.get(ch.get("Id")) or (display_list[i] if i < len(display_list) else None)
        fluor = _child(ch, "Fluor")
        name = _name(ch) or _name(shown) or (fluor.text or "" if fluor is not None else "")
        meta.channel_names.append(name.strip())
        color = _color(ch)
        meta.channel_colors.append(color if color is not None else _color(shown))


def parse_timestamps(data: bytes) -> list[float]:
    """The ``CZTIMS`` attachment: a size, a count, then float64 seconds."""
    if len(data) < 8:
        return []
    _size, count = struct.unpack_from("<ii", data, 0)
    count = max(0, min(count, (len(data) - 8) // 8))
    return list(struct.unpack_from(f"<{count}d", data, 8))


def time_interval(times: list[float]) -> float | None:
    """The mean step of increasing time points, in seconds (None when unknown)."""
    if len(times) < 2:
        return None
    step = (times[-1] - times[0]) / (len(times) - 1)
    return step if step > 0 else None
