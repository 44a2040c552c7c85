"""Arguments of ``TileSink.add_tile``: the tile's axes, frame indices, values and units.

Frame axes are named as large_image names them (``t``/``time``, ``c``/``channel``,
``z``) or by any other single letter (an extra axis: ``p=3`` is position 3). Each may
come with its physical value (``z_value=6.0``) and unit (``z_unit="µm"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ImgioError

__all__ = [
    "FRAME_ORDER",
    "TileArgs",
    "axis_letter",
    "frame_key",
    "parse",
    "parse_key",
    "parse_mask",
    "to_base_unit",
]

NAMES = {"t": "T", "time": "T", "c": "C", "channel": "C", "z": "Z"}
FRAME_ORDER = "TCZ"  # extras (sorted) come first, as imgio presents dims
LENGTH = {"nm": 1e-3, "um": 1.0, "µm": 1.0, "micron": 1.0, "micrometer": 1.0, "mm": 1e3}
LENGTH |= {"cm": 1e4, "m": 1e6, "nanometer": 1e-3, "millimeter": 1e3, "meter": 1e6}
TIME = {"ms": 1e-3, "millisecond": 1e-3, "s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0}
TIME |= {"minute": 60.0, "h": 3600.0, "hour": 3600.0, "us": 1e-6, "µs": 1e-6}


def axis_letter(name: str) -> str:
    """The dims letter of an axis name (``time`` -> ``T``; ``p`` -> ``P``)."""
    low = name.lower()
    if low in NAMES:
        return NAMES[low]
    if len(low) == 1 and low.isalpha() and low not in "yxs":
        return low.upper()
    raise ImgioError(
        f"unknown axis {name!r}: expected t/time, c/channel, z, or one letter for an extra "
        "axis (e.g. p=3); Y and X are given by y=, x= and bands by the tile's last axis"
    )


def frame_key(index: Mapping[str, int]) -> str:
    """Folder name of a frame: ``"C2.Z1"`` (zero indices left out; ``"0"`` for none)."""
    parts = [f"{d}{i}" for d, i in sorted(index.items()) if i]
    return ".".join(parts) or "0"


def parse_key(key: str) -> dict[str, int]:
    return {} if key == "0" else {p[0]: int(p[1:]) for p in key.split(".")}


def to_base_unit(letter: str, unit: str | None) -> float | None:
    """Factor to µm (Z and extras) or seconds (T) for ``unit``; None when it has no factor."""
    if unit is None:
        return None
    table = TIME if letter == "T" else LENGTH
    return table.get(unit.strip().lower())


@dataclass
class TileArgs:
    """A tile standardized to ``(frame axes..., Y, X, bands)`` plus where it goes."""

    data: np.ndarray[Any, Any]
    frame_axes: str  # letters of the tile's own frame axes, in data order
    index: dict[str, int]  # start index of every frame axis named
    values: dict[str, tuple[float | None, str | None]] = field(default_factory=dict)

    @property
    def bands(self) -> int:
        return int(self.data.shape[-1])


def _index(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ImgioError(f"{name}={value!r}: expected an index >= 0")
    return int(value)


def _tile_axes(tile: np.ndarray[Any, Any], axes: str | None) -> str:
    if axes is None:
        if tile.ndim in (2, 3):
            return "YXS"[: tile.ndim]
        raise ImgioError(
            f"tile of shape {tile.shape}: expected (Y, X) or (Y, X, bands), or name its axes "
            "with axes= (e.g. axes='zyxs')"
        )
    text = "".join(axes).upper()
    letters = [d if d in "YXS" else axis_letter(d) for d in text]
    if (
        len(letters) != tile.ndim
        or len(set(letters)) != len(letters)
        or not {"Y", "X"} <= set(letters)
    ):
        raise ImgioError(
            f"axes={axes!r} for a tile of shape {tile.shape}: expected one letter per axis, "
            "each once, with Y and X"
        )
    return "".join(letters)


def parse(tile: Any, axes: str | None, kwargs: Mapping[str, Any]) -> TileArgs:
    """Check and standardize ``add_tile``'s arguments."""
    arr = np.asarray(tile)
    if arr.dtype.kind not in "uifb" or arr.dtype.itemsize > 8:
        raise ImgioError(f"tile dtype {arr.dtype}: expected integers, floats or booleans")
    text = _tile_axes(arr, axes)
    index: dict[str, int] = {}
    values: dict[str, list[Any]] = {}
    for key, value in kwargs.items():
        base, _, what = key.rpartition("_")
        if what in ("value", "unit") and base:
            entry = values.setdefault(axis_letter(base), [None, None])
            if what == "unit":
                entry[1] = None if value is None else str(value)
            else:
                entry[0] = None if value is None else float(value)
            continue
        letter = axis_letter(key)
        if letter in index:
            raise ImgioError(f"axis {letter} given twice (as {key}=)")
        index[letter] = _index(key, value)
    frames = "".join(d for d in text if d not in "YXS")
    if "S" not in text:
        arr, text = arr[..., None], text + "S"
    order = frames + "YXS"
    arr = np.transpose(arr, [text.index(d) for d in order])
    for d in frames:
        index.setdefault(d, 0)
    out_values: dict[str, tuple[float | None, str | None]] = {}
    for d, (value, unit) in values.items():
        if unit is not None and to_base_unit(d, unit) is None:
            kind = "time" if d == "T" else "length"
            raise ImgioError(f"{d.lower()}_unit={unit!r}: expected a {kind} unit")
        if len(frames.replace(d, "")) != len(frames) and value is not None:
            raise ImgioError(
                f"{d.lower()}_value= for a tile that holds several {d} indices: give the "
                f"values one index at a time"
            )
        out_values[d] = (value, unit)
    return TileArgs(arr, frames, index, out_values)


def parse_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray[Any, Any] | None:
    if mask is None:
        return None
    keep = np.asarray(mask)
    if keep.ndim == 3 and keep.shape[-1] == 1:
        keep = keep[..., 0]
    if keep.shape != tuple(shape):
        raise ImgioError(f"mask of shape {keep.shape}: expected the tile's (Y, X) {tuple(shape)}")
    return keep.astype(bool, copy=False)
