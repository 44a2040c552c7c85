"""Plain values out of a dataset (pydicom's or imgio's walker's), checked; and the error
a header parse raises."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["HeaderError", "first", "number", "whole"]


class HeaderError(ValueError):
    """The dataset lacks or garbles what a whole-slide instance needs."""


def whole(ds: Any, name: str, default: int | None = None) -> int:
    value = getattr(ds, name, None)
    if value is None or value == "":
        if default is None:
            raise HeaderError(f"{name} is missing")
        return default
    try:
        out = int(value)
    except (TypeError, ValueError) as exc:
        raise HeaderError(f"{name} is {value!r}, not an integer") from exc
    return out


def first(seq: Any) -> Any:
    try:
        return seq[0] if seq is not None and len(seq) else None
    except (TypeError, IndexError, KeyError):
        return None


def number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
