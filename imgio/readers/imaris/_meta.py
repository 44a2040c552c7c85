"""Imaris attributes: text stored as arrays of one-byte strings, parsed leniently.

Imaris writes every attribute as a fixed-length string array (``[b"1", b"2", b"8"]``),
sometimes NUL-padded; numbers are decimal text. Channel colours are ``"r g b"`` in
0..1, display ranges ``"min max"``, time points ``"YYYY-MM-DD HH:MM:SS.fff"``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np

from ...errors import ImgioWarning

__all__ = [
    "UM",
    "attr_float",
    "attr_int",
    "attr_text",
    "attrs_text",
    "color",
    "read_attrs",
    "time_stamps",
]

#: µm per Imaris ``Unit``
UM = {"um": 1.0, "µm": 1.0, "micron": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}
#: longest attribute text kept (a damaged attribute may hold megabytes)
MAX_TEXT = 1 << 16
#: largest attribute read (a damaged header may declare any dataspace)
MAX_BYTES = 1 << 24
#: what h5py's low-level calls raise on absent or damaged attributes
_H5_ERRORS = (OSError, KeyError, TypeError, ValueError, RuntimeError, OverflowError)


def attr_text(attrs: Any, name: str) -> str | None:
    """The attribute ``name`` as text (None when absent or unreadable)."""
    try:
        if name not in attrs:
            return None
        value = attrs[name]
    except (OSError, KeyError, TypeError, ValueError, RuntimeError):
        return None
    return _text(value)


def _text(value: Any) -> str | None:
    """An attribute's value (string array, bytes, number) as text, or None."""
    if isinstance(value, np.ndarray):
        flat = value.reshape(-1)[:MAX_TEXT]
        if value.dtype.kind == "S":
            value = b"".join(bytes(v) for v in flat.tolist())
        elif value.dtype.kind == "U":
            value = "".join(str(v) for v in flat.tolist())
        elif value.dtype.kind in "iuf" and flat.size == 1:
            value = str(flat[0].item())
        else:
            return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (np.generic, int, float)):
        value = str(value)
    if not isinstance(value, str):
        return None
    return value[:MAX_TEXT].replace("\0", "").strip()


def read_attrs(oid: Any, names: Iterable[str]) -> dict[str, str]:
    """The attributes ``names`` of an HDF5 object (an h5py low-level id) that read as text.

    h5py's low-level calls: Imaris' attributes are fixed-length string arrays, which this
    reads in about a third of the time of ``attrs[name]`` (no type conversion, no
    existence check before the open); absent or unreadable attributes are left out."""
    from h5py import h5a

    out: dict[str, str] = {}
    for name in names:
        try:
            aid = h5a.open(oid, name.encode())
        except _H5_ERRORS:
            continue
        try:
            text = _text(_attr_value(aid))
        except _H5_ERRORS:
            continue
        if text is not None:
            out[name] = text
    return out


def _attr_value(aid: Any) -> Any:
    """An open attribute's value: fixed-length strings as bytes, else a numpy value."""
    from h5py import h5t

    tid = aid.get_type()
    shape = aid.shape  # the buffer must hold every element: h5py does not check its size
    if shape is None:  # an empty (null) dataspace
        return None
    if isinstance(tid, h5t.TypeStringID) and not tid.is_variable_str():
        size = tid.get_size()
        if math.prod(shape) * size > MAX_BYTES:
            return None
        raw = np.empty(shape, f"S{size}")
        aid.read(raw, mtype=tid)  # the file's own type: no conversion
        # numpy drops each element's trailing NULs, as h5py's attrs[name] does
        return raw.reshape(-1)[:MAX_TEXT] if size > 1 else raw.tobytes()[:MAX_TEXT]
    dtype = aid.dtype
    if math.prod(shape) * max(1, dtype.itemsize) > MAX_BYTES:
        return None
    value = np.empty(shape, dtype)
    aid.read(value)
    return value if value.ndim else value[()]


def attrs_text(attrs: Any) -> dict[str, str]:
    """Every attribute of a group that reads as text."""
    out: dict[str, str] = {}
    try:
        names = list(attrs.keys())[:1000]
    except (OSError, KeyError, TypeError, ValueError, RuntimeError):
        return out
    for name in names:
        text = attr_text(attrs, name)
        if text is not None:
            out[str(name)] = text
    return out


def attr_float(attrs: Any, name: str) -> float | None:
    text = attr_text(attrs, name)
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def attr_int(attrs: Any, name: str) -> int | None:
    value = attr_float(attrs, name)
    return int(value) if value is not None and value == int(value) and value >= 0 else None


def color(info: Mapping[str, str]) -> int | None:
    """A channel's base colour as packed RGBA (None for colour tables or bad text)."""
    text = info.get("Color")
    if not text or info.get("ColorMode", "BaseColor") != "BaseColor":
        return None
    try:
        rgb = [float(v) for v in text.split()]
    except ValueError:
        return None
    if len(rgb) != 3 or not all(math.isfinite(v) and 0 <= v <= 1 for v in rgb):
        return None
    r, g, b = (round(v * 255) for v in rgb)
    return (r << 24) | (g << 16) | (b << 8) | 0xFF


def display_range(info: Mapping[str, str]) -> tuple[float, float] | None:
    """A channel's ``ColorRange`` (low, high)."""
    try:
        values = [float(v) for v in info.get("ColorRange", "").split()]
    except ValueError:
        return None
    if len(values) != 2 or not all(math.isfinite(v) for v in values) or values[1] <= values[0]:
        return None
    return values[0], values[1]


def _moment(text: str) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    return None


def time_stamps(info: Mapping[str, str], n: int, where: str) -> tuple[float, ...] | None:
    """Seconds of each of ``n`` time points from the first (``TimePoint1`` ...), or None."""
    if n < 2:
        return None
    moments = [_moment(info.get(f"TimePoint{t + 1}", "")) for t in range(n)]
    if any(m is None for m in moments):
        return None
    first = moments[0]
    assert first is not None
    stamps = tuple((m - first).total_seconds() for m in moments if m is not None)
    if any(b < a for a, b in zip(stamps, stamps[1:], strict=False)):
        warnings.warn(
            f"{where}: TimeInfo time points go backwards; T has no time stamps",
            ImgioWarning,
            stacklevel=4,
        )
        return None
    return stamps if stamps[-1] > 0 else None
