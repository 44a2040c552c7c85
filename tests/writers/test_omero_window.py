"""The NGFF ``omero`` display settings imgio writes: a window over the data (not the dtype
range, which opens 12-bit data nearly black) and colours by fluorophore name."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

import imgio
from imgio import napari as _napari


def test_window_from_smallest_level_and_colours_by_name(tmp_path):
    rng = np.random.default_rng(7)
    a = rng.integers(0, 4096, (3, 2, 90, 120), dtype=np.uint16)  # 12-bit data in uint16
    a[1] //= 8
    names = ["DAPI", "GFP", "Channel:0:2"]
    out = imgio.write(
        a, tmp_path / "w.ome.zarr", dims="CZYX", channel_names=names, pyramid_levels=2, chunks=32
    )
    group = zarr.open_group(out, mode="r")
    channels = dict(group.attrs)["omero"]["channels"]
    smallest = group["1"][...]  # T C Z Y X
    for c, ch in enumerate(channels):
        plane = smallest[0, c, smallest.shape[2] // 2]  # the middle Z plane
        lo, hi = np.percentile(plane, [0.1, 99.9])
        assert ch["window"]["start"] == pytest.approx(lo)
        assert ch["window"]["end"] == pytest.approx(hi)
        assert (ch["window"]["min"], ch["window"]["max"]) == (0.0, 65535.0)
    assert channels[1]["window"]["end"] < 600  # the dimmer channel has its own window
    # DAPI blue, GFP green by name, an unnamed third by position: as imgio reads colours
    assert [ch["color"] for ch in channels] == ["0000FF", "00FF00", "00FFFF"]
    # imgio's napari reader shows the OME-Zarr as it shows the same data as OME-TIFF
    tif = imgio.write(a, tmp_path / "w.ome.tif", dims="CZYX", channel_names=names)
    (_, zmeta, _), (_, tmeta, _) = _napari.read(str(out))[0], _napari.read(str(tif))[0]
    assert zmeta["colormap"][:2] == tmeta["colormap"][:2] == ["blue", "green"]
    pairs = zip(zmeta["contrast_limits"], tmeta["contrast_limits"], strict=True)
    for (_, zarr_high), (_, tiff_high) in pairs:
        assert zarr_high < 4096 and abs(zarr_high - tiff_high) < 0.1 * tiff_high


def test_float_and_bool_windows(tmp_path):
    f = np.random.default_rng(1).normal(5.0, 2.0, (2, 40, 50)).astype(np.float32)
    f[0, 0, 0] = np.nan
    out = imgio.write(f, tmp_path / "f.ome.zarr", dims="CYX", pyramid_levels=1)
    window = dict(zarr.open_group(out, mode="r").attrs)["omero"]["channels"][1]["window"]
    assert window["start"] == pytest.approx(np.percentile(f[1], 0.1))
    assert (window["min"], window["max"]) == (float(f[1].min()), float(f[1].max()))
    b = np.random.default_rng(2).random((2, 40, 50)) > 0.5
    out = imgio.write(b, tmp_path / "b.ome.zarr", dims="CYX", pyramid_levels=1)
    window = dict(zarr.open_group(out, mode="r").attrs)["omero"]["channels"][0]["window"]
    assert window == {"start": 0.0, "end": 1.0, "min": 0.0, "max": 1.0}
