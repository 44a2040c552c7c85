"""``imgio info`` and ``imgio demo``, through ``main(argv)`` and as a real process in a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr

import imgio
from imgio.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def two_scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scene 0: TCZYX uint16, 2 levels, 0.5 µm, 2 s; scene 1: RGB (no calibration)."""
    path = tmp_path_factory.mktemp("cli") / "two.ome.tif"
    data = np.arange(2 * 2 * 3 * 64 * 80, dtype=np.uint16).reshape(2, 2, 3, 64, 80)
    with tifffile.TiffWriter(path, ome=True) as tw:
        meta = {
            "axes": "TCZYX",
            "Name": "cells",
            "Channel": {"Name": ["DAPI", "GFP"]},
            "PhysicalSizeX": 0.5,
            "PhysicalSizeY": 0.5,
            "PhysicalSizeZ": 2.0,
            "TimeIncrement": 2.0,
        }
        tw.write(data, tile=(32, 32), subifds=1, metadata=meta)
        tw.write(data[..., ::2, ::2], tile=(16, 16), subfiletype=1)
        tw.write(np.zeros((10, 12, 3), "uint8"), photometric="rgb", metadata={"Name": "rgb"})
    return path


def test_info_text(two_scenes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(two_scenes)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("two.ome.tif  (reader: tiff)")
    assert lines[1] == "scene 0: 'cells'  dtype uint16"
    assert lines[2] == "  channels: DAPI, GFP"
    assert lines[3] == "  time interval: 2 s"
    assert lines[4].startswith("  level 0: T:2 C:2 Z:3 Y:64 X:80  native chunk (1, 1, 1, 32, 32)")
    assert lines[4].endswith("µm (Z/Y/X) 2/0.5/0.5")
    assert lines[5].startswith("  level 1: T:2 C:2 Z:3 Y:32 X:40  native chunk (1, 1, 1, 16, 16)")
    assert lines[5].endswith("µm (Z/Y/X) 2/1/1")
    assert lines[6] == "scene 1: 'rgb'  dtype uint8"
    assert lines[7] == "  channels: Channel:1:0"
    assert lines[8].startswith("  level 0: T:1 C:1 Z:1 Y:10 X:12 S:3")
    assert lines[8].endswith("µm (Z/Y/X) ?/?/?")
    assert len(lines) == 9


def test_info_json(two_scenes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json", str(two_scenes)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["reader"] == "tiff" and info["path"].endswith("two.ome.tif")
    s0, s1 = info["scenes"]
    assert (s0["index"], s0["name"], s0["dtype"]) == (0, "cells", "uint16")
    assert s0["channels"] == ["DAPI", "GFP"] and s0["time_interval_s"] == 2.0
    # shapes against tifffile's own reading of each level
    with tifffile.TiffFile(two_scenes) as tif:
        want = [lvl.shape for lvl in tif.series[0].levels]
    assert [tuple(lv["shape"]) for lv in s0["levels"]] == want
    assert [lv["dims"] for lv in s0["levels"]] == ["TCZYX", "TCZYX"]
    assert s0["levels"][0]["native_chunks"] == [1, 1, 1, 32, 32]
    assert s0["levels"][1]["pixel_sizes_um"] == [2.0, 1.0, 1.0]
    assert s1["name"] == "rgb" and s1["levels"][0]["shape"] == [1, 1, 1, 10, 12, 3]
    assert s1["levels"][0]["pixel_sizes_um"] == [None, None, None]
    assert s1["channels"] == ["Channel:1:0"]


def test_info_ome_zarr_and_reader_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    arr = group.create_array("0", shape=(20, 30), dtype="float32", chunks=(10, 10))
    arr[...] = 1.5
    group.attrs["multiscales"] = [
        {
            "version": "0.4",
            "axes": [{"name": d, "type": "space", "unit": "nanometer"} for d in "yx"],
            "datasets": [
                {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [500, 250]}]}
            ],
        }
    ]
    assert main(["info", "--json", "--reader", "ome-zarr", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    level = info["scenes"][0]["levels"][0]
    assert info["reader"] == "ome-zarr" and level["shape"] == [1, 1, 1, 20, 30]
    assert level["native_chunks"] == [1, 1, 1, 10, 10]
    assert level["pixel_sizes_um"] == [None, 0.5, 0.25]


def test_info_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tmp_path / "absent.tif")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("imgio: error: ") and "absent.tif" in err and err.count("\n") == 1
    assert main(["info", "--storage-option", "anon", str(tmp_path / "x.tif")]) == 2
    assert "--storage-option expects KEY=VALUE, got 'anon'" in capsys.readouterr().err


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "imgio.cli", *args],
        env=env,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def test_info_into_a_closed_pipe_is_quiet(two_scenes: Path) -> None:
    """``imgio info f | head -1``: the reader leaves; no BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: the first write fails with EPIPE
    try:
        proc = _run(["info", str(two_scenes)], stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 141


def test_info_head_in_a_shell(two_scenes: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = f'"{sys.executable}" -m imgio.cli info --json "{two_scenes}" | head -1'
    proc = subprocess.run(
        ["sh", "-c", cmd], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.stdout == "{\n" and "Traceback" not in proc.stderr and proc.stderr == ""


def test_convert_existing_target_says_overwrite_flag(
    two_scenes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.ome.tif"
    target.write_bytes(b"keep")
    assert main(["convert", str(two_scenes), str(target), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "pass --overwrite to replace it" in err and "overwrite=True" not in err
    assert target.read_bytes() == b"keep"
    with pytest.raises(imgio.TargetExistsError, match=r"pass overwrite=True"):
        imgio.write(np.zeros((4, 4), "uint8"), target)  # the API keeps its own words


def test_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imgio.sample import CHANNELS, PIXEL_SIZE_UM

    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    sample = tmp_path / "demo.ome.tif"
    assert out[0].startswith("wrote the built-in sample demo.ome.tif")
    assert any("decoded 4 tiles" in line and line.startswith("level 0:") for line in out)
    assert any("decoded 4 tiles" in line and line.startswith("level 2:") for line in out)
    copies = [line for line in out if line.startswith("wrote demo-copy")]
    assert len(copies) == 2 and all(line.endswith("pixels identical: True") for line in copies)
    # the files it leaves, checked with tifffile and zarr
    with tifffile.TiffFile(sample) as tif:
        series = tif.series[0]
        assert series.axes == "CYX" and series.shape == (3, 2048, 2048) and len(series.levels) == 3
        want = series.asarray()
    with tifffile.TiffFile(tmp_path / "demo-copy.ome.tif") as tif:
        np.testing.assert_array_equal(tif.series[0].asarray(), want)
    level0 = zarr.open_group(str(tmp_path / "demo-copy.ome.zarr"), mode="r")["0"]
    np.testing.assert_array_equal(np.squeeze(level0[...]), want)
    img = imgio.Image(sample)
    assert img.channel_names == list(CHANNELS)
    assert img.physical_pixel_sizes.X == pytest.approx(PIXEL_SIZE_UM)
    # the region the demo reports (level 0, GFP, Y 700:956 X 900:1156): its mean
    mean = float(np.mean(want[1, 700:956, 900:1156]))
    assert any(f"mean {mean:.1f}" in line for line in out if line.startswith("level 0:"))
