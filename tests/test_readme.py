"""The README's Python examples run as written (blocks after `<!-- norun -->` are skipped)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    out = []
    for match in re.finditer(r"(<!-- norun -->\s*)?```python\n(.*?)```", text, flags=re.S):
        if match.group(1):
            continue
        out.append((text[: match.start()].count("\n") + 1, match.group(2)))
    return out


def test_readme_has_examples() -> None:
    assert len(_blocks()) >= 1


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    for line, code in _blocks():
        exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102
