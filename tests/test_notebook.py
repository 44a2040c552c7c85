"""What a notebook user sees: CF attributes so ``.plot()`` labels itself, the repr's
levels in dims order, thumbnails of tiny images and x-z scans, and why a large image
without a pyramid has none (issue 20)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile

import imgio
from imgio.sample import make_sample


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("nb") / "demo.ome.tif", size=512)


def test_units_live_on_the_coordinates(demo: Path) -> None:
    data = imgio.Image(demo).xarray_dask_data
    assert "units" not in data.attrs  # the values (pixel values) have none
    assert data.attrs["long_name"] == "imgio demo"
    for d in "YX":
        assert data.coords[d].attrs == {"units": "µm", "long_name": d}
    assert data.coords["C"].attrs == {"long_name": "channel"}
    lazy = imgio.Image(demo).xarray_lazy_data
    assert lazy.coords["X"].attrs["units"] == "µm"


def test_time_coordinate_in_seconds_and_written_back(tmp_path: Path) -> None:
    data = np.zeros((3, 8, 8), dtype=np.uint8)
    path = tmp_path / "t.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "TYX", "TimeIncrement": 2.5})
    arr = imgio.Image(path).xarray_dask_data
    assert arr.coords["T"].attrs == {"units": "s", "long_name": "time"}
    # the writers read the T unit from the coordinate (CF), keeping the time step
    out = imgio.write(arr, tmp_path / "t2.ome.zarr")
    assert imgio.Image(out).time_interval == pytest.approx(2.5)


def test_plot_labels_itself(demo: Path) -> None:
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    plane = imgio.Image(demo).xarray_dask_data.isel(T=0, Z=0, C=1)
    artist = plane.plot(yincrease=False)
    ax = artist.axes
    assert ax.get_xlabel() == "X [µm]" and ax.get_ylabel() == "Y [µm]"
    assert artist.colorbar.ax.get_ylabel() == "imgio demo"
    # yincrease=False (documented) puts row 0 at the top, as in the thumbnail
    assert ax.get_ylim()[0] > ax.get_ylim()[1]
    plt.close("all")


def test_repr_levels_are_in_dims_order() -> None:
    img = imgio.Image(np.zeros((3, 64, 80), dtype=np.uint8), dim_order="ZYX")
    rows = dict(line.strip().split(None, 1) for line in repr(img).splitlines()[1:] if line.strip())
    dims = [int(part.split(":")[1]) for part in rows["dims"].split()]
    first = rows["levels"].split(",")[0].split()[0]
    assert [int(v) for v in first.split("x")] == dims


def _picture(html: str) -> tuple[np.ndarray, int, int, str]:
    tag = re.search(
        r"base64,([^']+)' width='(\d+)' height='(\d+)' style='image-rendering:(\w+)'", html
    )
    assert tag, html
    return imagecodecs.png_decode(base64.b64decode(tag[1])), int(tag[2]), int(tag[3]), tag[4]


def test_tiny_image_is_shown_enlarged() -> None:
    img = imgio.Image(np.arange(256, dtype=np.uint8).reshape(16, 16))
    pixels, width, height, rendering = _picture(img._repr_html_())
    assert pixels.shape[:2] == (16, 16)
    assert (width, height, rendering) == (128, 128, "pixelated")


def test_xz_scan_thumbnail_shows_the_z_x_plane(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    zx = rng.integers(0, 255, (40, 1, 120), dtype=np.uint8)
    path = imgio.write(
        zx, tmp_path / "xz.ome.tif", dims="ZYX", physical_pixel_sizes=(0.5, 0.2, 0.2)
    )
    pixels, width, height, _ = _picture(imgio.Image(path)._repr_html_())
    # 40 planes of 0.5 µm over 120 px of 0.2 µm: 20 x 24 µm, shown 213 x 256
    assert (pixels.shape[0], pixels.shape[1]) == (height, width) == (213, 256)
    assert pixels.std() > 10  # the scan itself, not a blank or a one-pixel strip


def test_large_image_without_pyramid_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgio.tiles import _html

    path = tmp_path / "flat.tif"
    tifffile.imwrite(path, np.zeros((300, 400), dtype=np.uint8))
    monkeypatch.setattr(_html, "MAX_PIXELS", 100 * 100)  # a 300 x 400 "large" image
    html = imgio.Image(path)._repr_html_()
    assert "No thumbnail: the image has no pyramid and is 400 x 300 px" in html
    assert "<img" not in html


def test_repr_pixel_sizes_row(demo: Path) -> None:
    def row(img: imgio.Image) -> str:
        (line,) = [ln for ln in repr(img).splitlines() if "pixel sizes" in ln]
        return line.split("pixel sizes", 1)[1].strip().rstrip(">")

    assert row(imgio.Image(demo)) == "Y 0.325 X 0.325 µm"  # one plane: no Z step to show
    stack = imgio.Image(
        np.zeros((4, 8, 8), np.uint8), dims="ZYX", physical_pixel_sizes=(2, 0.5, 0.5)
    )
    assert row(stack) == "Z 2 Y 0.5 X 0.5 µm"
    stack = imgio.Image(
        np.zeros((4, 8, 8), np.uint8), dims="ZYX", physical_pixel_sizes=(None, 0.5, 0.5)
    )
    assert row(stack) == "Z unknown Y 0.5 X 0.5 µm"
    assert row(imgio.Image(np.zeros((8, 8), np.uint8), dims="YX")) == "unknown"
