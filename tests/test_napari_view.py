"""What napari users see: files opened through the plugin in a real viewer, screenshots checked.

The viewer runs in its own process (``tests/napari_view.py``) on an Xvfb display with Qt's
xcb platform, so that the OpenGL canvas really draws (the rest of the suite keeps Qt
offscreen). Expected values come from tifffile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from imageio import v3 as iio
from samples import SHARED

import imgio
from imgio.napari import scene_layers
from imgio.napari._reader import shown_scenes
from imgio.readers.base import SceneInfo
from imgio.readers.tiff import TiffReader
from imgio.sample import CHANNELS, PIXEL_SIZE_UM, make_sample

HERE = Path(__file__).resolve().parent


def _view(files: Sequence[Path], out: Path) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    env.pop("QT_QPA_PLATFORM", None)
    done = subprocess.run(
        [sys.executable, str(HERE / "napari_view.py"), str(out), *map(str, files)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    report: list[dict[str, Any]] = json.loads((out / "layers.json").read_text())
    return report


SVS = SHARED / "wsi" / "libvips-CMU-1-Small-Region.svs"


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    """One viewer process: the demo sample, then (when the shared samples are there) an SVS."""
    folder = tmp_path_factory.mktemp("view")
    sample = make_sample(folder / "demo.ome.tif", size=512)
    files = [sample] + ([SVS] if SVS.is_file() else [])
    return _view(files, folder), folder


@pytest.fixture(scope="module")
def demo_view(views: tuple[list[dict[str, Any]], Path]) -> tuple[Path, dict[str, Any], Path]:
    reports, folder = views
    return Path(reports[0]["file"]), reports[0], folder / "0.png"


def test_demo_sample_layers(demo_view: tuple[Path, dict[str, Any], Path]) -> None:
    sample, report, _ = demo_view
    layers = report["layers"]
    assert [layer["name"] for layer in layers] == list(CHANNELS)
    assert [layer["colormap"] for layer in layers] == ["blue", "green", "red"]  # by name
    with tifffile.TiffFile(sample) as tif:
        levels = [lvl.asarray() for lvl in tif.series[0].levels]
    for c, layer in enumerate(layers):
        assert layer["type"] == "Image" and layer["visible"]
        assert layer["scale"] == pytest.approx([PIXEL_SIZE_UM, PIXEL_SIZE_UM])
        assert layer["levels"] == [list(lvl.shape[1:]) for lvl in levels]
        # robust percentiles of the smallest level, nowhere near the uint16 range
        want = np.percentile(levels[-1][c], [0.1, 99.9])
        assert layer["contrast_limits"] == pytest.approx(list(want), rel=1e-6)
        assert layer["contrast_limits"][1] < 0.1 * 65535
        full = levels[0][c]
        assert np.mean(full > layer["contrast_limits"][1]) < 0.01  # few pixels saturate
        assert np.mean(full < layer["contrast_limits"][0]) < 0.01


def test_demo_sample_screenshot(demo_view: tuple[Path, dict[str, Any], Path]) -> None:
    """The canvas shows the cells: not black, and each channel's colour is drawn."""
    _, _, png = demo_view
    shot = iio.imread(png)[..., :3].astype(int)
    assert shot.shape[0] > 200 and shot.shape[1] > 200
    lit = shot.max(axis=-1) > 60
    assert lit.mean() > 0.02, f"canvas nearly black: {lit.mean():.4f} of pixels lit"
    r, g, b = shot[..., 0], shot[..., 1], shot[..., 2]
    for name, mine, others in (("red", r, (g, b)), ("green", g, (r, b)), ("blue", b, (r, g))):
        dominant = (mine > 100) & (mine > 2 * others[0]) & (mine > 2 * others[1])
        assert dominant.mean() > 0.001, f"no {name} cells on the canvas"


# ----------------------------------------------------------- whole slides
class _SlideReader(TiffReader):
    """A TIFF reader that marks every scene after the first as an associated image."""

    name = "tiff"

    def scenes(self) -> Sequence[SceneInfo]:
        import dataclasses

        infos = super().scenes()
        kinds = ("thumbnail", "label", "macro")
        return [infos[0]] + [
            dataclasses.replace(info, associated=kinds[i % 3]) for i, info in enumerate(infos[1:])
        ]


def test_associated_images_are_not_layers(tmp_path: Path) -> None:
    path = tmp_path / "slide.ome.tif"
    slide = np.random.default_rng(1).integers(0, 255, (128, 160, 3), dtype=np.uint8)
    with tifffile.TiffWriter(path, ome=True) as tw:
        tw.write(slide, photometric="rgb", metadata={"Name": "Baseline", "PhysicalSizeX": 0.5})
        tw.write(slide[::8, ::8], photometric="rgb", metadata={"Name": "Thumbnail"})
        tw.write(slide[:20, :30], photometric="rgb", metadata={"Name": "Label"})
    img = imgio.Image(path, reader=_SlideReader)
    assert shown_scenes(img.file) == [0]
    data, kwargs, kind = scene_layers(img.file, 0)
    assert kind == "image" and kwargs["rgb"] and kwargs["name"] == "slide"
    np.testing.assert_array_equal(np.asarray(data), slide)
    plain = imgio.Image(path)  # the same file without associated images: every scene
    assert shown_scenes(plain.file) == [0, 1, 2]


def test_svs_opens_as_the_slide(
    shared_samples: Path, views: tuple[list[dict[str, Any]], Path]
) -> None:
    """An SVS opens as one RGB layer at the slide's 0.499 µm; label/macro/thumbnail are not
    drawn over it; the canvas shows tissue (neither black nor blank white)."""
    reports, folder = views
    (layer,) = reports[1]["layers"]
    assert layer["name"] == SVS.name.split(".")[0] and layer["type"] == "Image"
    assert layer["scale"] == pytest.approx([0.499, 0.499])
    with tifffile.TiffFile(SVS) as tif:
        assert layer["levels"][0] == list(tif.series[0].levels[0].shape)
    shot = iio.imread(folder / "1.png")[..., :3].astype(int)
    tissue = (shot.max(axis=-1) - shot.min(axis=-1)) > 40  # coloured (stained) pixels
    assert tissue.mean() > 0.05
