"""Helpers shared by :mod:`imgio.cli` and :mod:`imgio.cli._write` (neither imports the other's
module-level code through them)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..errors import ImgioError

__all__ = ["Progress", "add_storage_option", "out", "storage_options"]


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


class Progress:
    """The one progress display of every verb: ``progress(done, total)``.

    On a terminal: a tqdm bar when tqdm is installed, else one updating stderr line
    (percent, done/total, seconds). When stderr is not a terminal (CI logs, pipes,
    ``2> file``) nothing is printed at all.
    """

    def __init__(self, label: str, unit: str = "tiles", *, stream: Any = None) -> None:
        self.label, self.unit = label, unit
        self._stream = sys.stderr if stream is None else stream
        self._bar: Any = None
        self._start = self._last = time.monotonic()
        self._shown = False
        isatty = getattr(self._stream, "isatty", None)
        self.enabled = bool(isatty is not None and isatty())
        self._tqdm: Any = None
        if self.enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self._tqdm = tqdm

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._tqdm is not None:
            if self._bar is None:
                self._bar = self._tqdm(
                    total=total, desc=self.label, unit=self.unit, file=self._stream
                )
            self._bar.update(done - self._bar.n)
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.25:
            return
        self._last = now
        self._shown = True
        pct = 100.0 * done / total if total else 100.0
        took = now - self._start
        self._stream.write(
            f"\r{self.label}: {pct:5.1f}% ({done}/{total} {self.unit}, {took:.1f} s)"
        )
        self._stream.flush()

    def close(self) -> None:
        """End the display (a newline after the stderr line)."""
        if self._bar is not None:
            self._bar.close()
        elif self._shown:
            self._stream.write("\n")
