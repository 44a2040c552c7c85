"""Opening a file that a built-in reader recognises never scans installed entry points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import imgio
from imgio.readers import _registry


@pytest.fixture
def counted_scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = _registry.entry_points

    def scan(**kwargs: Any) -> Any:
        calls.append(kwargs.get("group", ""))
        return real(**kwargs)

    monkeypatch.setattr(_registry, "entry_points", scan)
    _registry._specs.cache_clear()
    yield calls
    _registry._specs.cache_clear()


def test_builtin_formats_open_without_entry_point_scan(
    counted_scans: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "a.tif"
    data = np.arange(64, dtype=np.uint8).reshape(8, 8)
    tifffile.imwrite(path, data)
    np.testing.assert_array_equal(imgio.Image(path).get_image_data("YX"), data)
    assert counted_scans == []
    odd = tmp_path / "a.unknown"
    odd.write_bytes(b"not an image at all")
    with pytest.raises(imgio.UnsupportedFormatError, match="no reader accepts"):
        imgio.Image(odd)
    assert counted_scans == [_registry.ENTRY_POINT_GROUP]  # unknown files scan, once
    assert "tiff" in _registry.available_readers()
