"""``imgio thumbnail``, ``imgio region`` and ``imgio tiles --format dzi``."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import imagecodecs
import numpy as np
import openslide
from openslide.deepzoom import DeepZoomGenerator as RefDeepZoom

import imgio
from imgio.cli import main


def test_thumbnail_and_region_commands(pyramid, tmp_path, capsys):
    path, levels = pyramid
    out = tmp_path / "thumb.png"
    assert main(["thumbnail", str(path), str(out), "--size", "300"]) == 0
    thumb = imagecodecs.imread(out)
    assert thumb.shape == (225, 300, 3)
    np.testing.assert_array_equal(thumb, imgio.Image(path).tiles.thumbnail(300, 300))
    region = tmp_path / "region.tif"
    args = ["--left", "50", "--top", "25", "--width", "100", "--height", "50", "--units", "um"]
    assert main(["region", str(path), str(region), *args]) == 0
    np.testing.assert_array_equal(imagecodecs.imread(region), levels[0][50:150, 100:300])
    assert main(["region", str(path), str(tmp_path / "x.gif")]) == 2
    assert "cannot tell the image format" in capsys.readouterr().err
    assert main(["region", str(path), str(region), "--left", "5000"]) == 2
    assert "outside the image" in capsys.readouterr().err


def test_tiles_command_writes_a_deepzoom_folder(gap_pyramid, tmp_path):
    path, _ = gap_pyramid
    args = ["tiles", str(path), str(tmp_path / "dz"), "--format", "dzi", "--quiet"]
    assert main([*args, "--image-format", "png"]) == 0
    dzi = tmp_path / "dz" / "gap.dzi"
    ref = RefDeepZoom(openslide.OpenSlide(str(path)))
    assert ET.fromstring(dzi.read_text()).attrib == ET.fromstring(ref.get_dzi("png")).attrib
    files = sorted((tmp_path / "dz" / "gap_files").rglob("*.png"))
    assert len(files) == ref.tile_count
    level = ref.level_count - 1  # full resolution: the stored pixels
    tile = imagecodecs.imread(tmp_path / "dz" / "gap_files" / str(level) / "1_2.png")
    np.testing.assert_array_equal(tile, np.asarray(ref.get_tile(level, (1, 2))))
    assert main(["tiles", str(path), str(tmp_path / "j"), "--quiet"]) == 0  # JPEG by default
    jpeg = imagecodecs.imread(tmp_path / "j" / "gap_files" / str(level) / "1_2.jpeg")
    assert jpeg.shape == tile.shape
