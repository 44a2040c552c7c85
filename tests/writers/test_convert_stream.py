"""``imgio convert`` to OME-TIFF without dask (``_convert_stream``): the same file as
``imgio.write(Image(...))`` writes through dask, pixel for pixel at every level and in
its OME-XML, for instrument formats, multi-scene files and OME sources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from czi_writer import Sub, metadata_xml, write_czi
from nd2_writer import write_nd2
from samples import DATA

import imgio
from imgio.cli import main

RNG = np.random.default_rng(21)


def _pages(path: Path) -> tuple[list[list[np.ndarray]], str]:
    """Every series' levels and the OME-XML of a written OME-TIFF."""
    with tifffile.TiffFile(path) as tif:
        levels = [[level.asarray() for level in s.levels] for s in tif.series]
        return levels, tif.ome_metadata or ""


def _czi(folder: Path) -> Path:
    xml = metadata_xml([("DAPI", "#FFFF8000"), ("GFP", "#FF00FF33")], {"X": 3e-7, "Y": 3e-7})
    subs = [
        Sub(RNG.integers(0, 4000, (70, 90), "<u2"), dims={"T": t, "C": c, "Z": z})
        for t in range(2)
        for c in range(2)
        for z in range(3)
    ]
    return write_czi(folder / "cells.czi", subs, xml=xml, timestamps=[0.0, 1.75])


def _nd2(folder: Path) -> Path:
    frames = RNG.integers(0, 250, (2, 3, 40, 56, 2), dtype=np.uint8)  # P Z Y X C
    return write_nd2(
        folder / "wells.nd2", frames, [("P", 2), ("Z", 3)], channels=("DAPI", "GFP"),
        positions=("A1", "B2"),
    )  # fmt: skip


def _ome_pyramid(folder: Path) -> Path:
    data = RNG.integers(0, 60000, (1, 2, 1, 600, 700), dtype=np.uint16)
    out = folder / "pyramid.ome.tif"
    imgio.write(
        data, out, dims="TCZYX", channel_names=["DAPI", "Cy5"], physical_pixel_sizes=0.25,
        tile=256, pyramid_levels=3,
    )  # fmt: skip
    return out


def _png(folder: Path) -> Path:
    out = folder / "photo.png"
    out.write_bytes(imagecodecs.png_encode(RNG.integers(0, 255, (130, 170, 3), dtype=np.uint8)))
    return out


SOURCES = {"czi": _czi, "nd2-positions": _nd2, "ome-pyramid": _ome_pyramid, "rgb-png": _png}


@pytest.mark.parametrize("kind", list(SOURCES))
def test_convert_equals_the_dask_path(tmp_path: Path, kind: str) -> None:
    src = SOURCES[kind](tmp_path)
    streamed, reference = tmp_path / "streamed.ome.tif", tmp_path / "dask.ome.tif"
    assert main(["convert", str(src), str(streamed), "--tile", "64"]) == 0
    imgio.write(imgio.Image(src), reference, tile=64)
    got, want = _pages(streamed), _pages(reference)
    assert len(got[0]) == len(want[0]) >= 1
    for a, b in zip(got[0], want[0], strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    assert got[1] == want[1]  # names, colours, sizes, time increment, carried OME
    back = imgio.Image(streamed)
    img = imgio.Image(src)
    assert back.scenes == img.scenes and back.channel_names == img.channel_names
    np.testing.assert_array_equal(back.data, img.data)


def test_convert_selected_scene_and_fallback(tmp_path: Path) -> None:
    src = _nd2(tmp_path)
    out = tmp_path / "b2.ome.tif"
    assert main(["convert", str(src), str(out), "--scene", "B2"]) == 0
    back = imgio.Image(out)
    assert back.scenes == ("B2",)
    np.testing.assert_array_equal(back.data, imgio.Image(src).get_image_data(scene=1))
    # a LIF lambda sweep has an extra dim (E): written through dask, as before
    lif = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"
    out = tmp_path / "lif.ome.tif"
    assert main(["convert", str(lif), str(out), "--scene", "0"]) == 0
    want = imgio.Image(lif).get_image_data("TCZYX", scene=0)
    np.testing.assert_array_equal(imgio.Image(out).get_image_data("TCZYX"), want)


def test_cli_convert_imports_no_dask(tmp_path: Path) -> None:
    src = _czi(tmp_path)
    script = (
        "import sys\nfrom imgio.cli import main\n"
        f"assert main(['convert', {str(src)!r}, {str(tmp_path / 'c.ome.tif')!r}]) == 0\n"
        "print(sorted(m for m in ('dask', 'xarray', 'pandas') if m in sys.modules))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(imgio.__file__).parents[1]))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert imgio.Image(tmp_path / "c.ome.tif").channel_names == ["DAPI", "GFP"]


def test_convert_refuses_what_the_dask_path_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Grey + alpha (two samples) has no OME-TIFF layout: the same error, no file."""
    src = tmp_path / "la.tif"
    tifffile.imwrite(
        src,
        RNG.integers(0, 255, (20, 30, 2), dtype=np.uint8),
        photometric="minisblack",
        extrasamples=[2],
        planarconfig="contig",
    )
    with pytest.raises(imgio.ImgioError, match="samples axis S has 2 values") as info:
        imgio.write(imgio.Image(src), tmp_path / "dask.ome.tif")
    assert main(["convert", str(src), str(tmp_path / "out.ome.tif")]) == 2
    assert capsys.readouterr().err.strip() == f"imgio: error: {info.value}"
    assert not (tmp_path / "out.ome.tif").exists() and not (tmp_path / "dask.ome.tif").exists()
