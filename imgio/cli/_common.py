"""Helpers shared by :mod:`imgio.cli` and :mod:`imgio.cli._write` (neither imports the other's
module-level code through them)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import ImgioError

__all__ = ["add_storage_option", "out", "storage_options"]


def out(text: str = "") -> None:
    """One line on stdout."""
    sys.stdout.write(text + "\n")


def add_storage_option(parser: Any, what: str = "URLs") -> None:
    """Declare ``--storage-option KEY=VALUE`` (repeatable) on an argparse (sub)parser."""
    parser.add_argument(
        "--storage-option",
        action="append",
        metavar="KEY=VALUE",
        help=f"fsspec option for {what} (repeatable; VALUE may be JSON)",
    )


def storage_options(pairs: Sequence[str] | None) -> dict[str, Any] | None:
    """``--storage-option KEY=VALUE`` pairs as a dict (VALUE parsed as JSON when it is)."""
    if not pairs:
        return None
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ImgioError(f"--storage-option expects KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options
