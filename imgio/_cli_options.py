"""Option parsing shared by ``imgio.cli`` and ``imgio.writers.cli`` (imports neither)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .errors import ImgioError

__all__ = ["storage_options"]


def storage_options(pairs: Sequence[str] | None) -> dict[str, Any] | None:
    """``--storage-option KEY=VALUE`` pairs as fsspec options (a VALUE may be JSON)."""
    if not pairs:
        return None
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ImgioError(f"--storage-option expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
