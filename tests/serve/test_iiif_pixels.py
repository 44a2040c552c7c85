"""IIIF pixels, not only sizes: every region form and every size form, on a NON-square
image (x and y percentages differ), against a crop of a plain full-resolution region
read through the tile verbs, over a real server on loopback (issue #21: a ``pct:``
region with x and y swapped passed all 63 serve tests and the official validator,
whose test image is square).

The expected box and output size are worked out here from the IIIF Image API 3.0
text (sections 4.1 and 4.2), not by the server's parser.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

import imgio
from imgio.serve import app

from .conftest import start, texture

W, H = 640, 400  # non-square: a swapped x/y shows in the pixels
NAME = "wide.tif"


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, np.ndarray]]:
    root = tmp_path_factory.mktemp("iiif-pixels")
    data = texture(H, W, 3, seed=7)
    yy, xx = np.mgrid[0:H, 0:W]
    data[..., 2] = (xx * 255 // W).astype(np.uint8)  # blue grows with x, so a box shift
    data[..., 1] = (yy * 255 // H).astype(np.uint8)  # or an x/y swap shows at once
    with tifffile.TiffWriter(root / NAME) as tif:  # lossless, with one stored coarser level
        opts: dict[str, Any] = {"tile": (128, 128), "compression": "zlib", "photometric": "rgb"}
        tif.write(data, subifds=1, **opts)
        tif.write(data[::2, ::2], subfiletype=1, **opts)
    server, thread, url = start(app([root]))
    full = imgio.Image(root / NAME).tiles.get_region(format="numpy")  # a plain region read
    assert full.shape == (H, W, 3)
    np.testing.assert_array_equal(full, data)
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client, full
    server.should_exit = True
    thread.join(10)


def _get(client: httpx.Client, region: str, size: str) -> np.ndarray:
    r = client.get(f"/iiif/3/{NAME}/{region}/{size}/0/default.png")
    assert r.status_code == 200, r.text
    return np.asarray(imagecodecs.png_decode(r.content))


def _box(region: str) -> tuple[int, int, int, int]:
    """x, y, w, h of a region request on the W x H image (IIIF 3.0, 4.1)."""
    if region == "full":
        return 0, 0, W, H
    if region == "square":
        side = min(W, H)
        return (W - side) // 2, (H - side) // 2, side, side
    if region.startswith("pct:"):
        px, py, pw, ph = (float(v) for v in region[4:].split(","))
        x, y = round(px * W / 100), round(py * H / 100)
        w, h = round(pw * W / 100), round(ph * H / 100)
    else:
        x, y, w, h = (int(v) for v in region.split(","))
    return x, y, min(w, W - x), min(h, H - y)


REGIONS = [
    "full",
    "square",
    "125,15,120,140",
    "300,200,500,500",  # crosses the right and bottom edges: cropped
    "pct:41.6,7.5,40,70",
    "pct:10,60,25,30",  # y percentage far from x's: a swap reads another place
    "pct:0,0,100,50",
]


@pytest.mark.parametrize("region", REGIONS)
def test_region_form_pixels_equal_a_crop(
    wide: tuple[httpx.Client, np.ndarray], region: str
) -> None:
    client, full = wide
    x, y, w, h = _box(region)
    got = _get(client, region, "max")
    np.testing.assert_array_equal(got, full[y : y + h, x : x + w])


def _size(size: str, rw: int, rh: int) -> tuple[int, int]:
    """Output w, h of a size request on a rw x rh region (IIIF 3.0, 4.2)."""
    body = size.lstrip("^")
    if body == "max":
        return rw, rh
    if body.startswith("pct:"):
        f = float(body[4:]) / 100
        return round(rw * f), round(rh * f)
    best = body.startswith("!")
    sw, sh = body.lstrip("!").split(",")
    if best:
        f = min(int(sw) / rw, int(sh) / rh)
        return round(rw * f), round(rh * f)
    if not sh:
        return int(sw), round(rh * int(sw) / rw)
    if not sw:
        return round(rw * int(sh) / rh), int(sh)
    return int(sw), int(sh)


SIZES = [
    "max",
    "320,",
    ",100",
    "pct:50",
    "pct:37.5",
    "200,180",  # distorted on purpose: w,h need not keep the aspect
    "!300,300",
    "!300,90",
    "^900,",
    "^,700",
    "^pct:150",
    "^800,300",
    "^!900,900",
]


def _resampled(crop: np.ndarray, w: int, h: int) -> np.ndarray:
    """An independent resample of a crop (Pillow's box/bilinear filter)."""
    method = PILImage.Resampling.BOX if w <= crop.shape[1] else PILImage.Resampling.BILINEAR
    return np.asarray(PILImage.fromarray(crop).resize((w, h), method))


@pytest.mark.parametrize("region", ["full", "pct:41.6,7.5,40,70", "60,30,400,300"])
@pytest.mark.parametrize("size", SIZES)
def test_size_form_pixels_follow_a_resampled_crop(
    wide: tuple[httpx.Client, np.ndarray], region: str, size: str
) -> None:
    client, full = wide
    x, y, w, h = _box(region)
    out_w, out_h = _size(size, w, h)
    if not size.startswith("^") and (out_w > w or out_h > h):  # the spec's 400
        r = client.get(f"/iiif/3/{NAME}/{region}/{size}/0/default.png")
        assert r.status_code == 400 and "prefix it with ^" in r.text
        return
    got = _get(client, region, size)
    assert got.shape == (out_h, out_w, 3)
    want = _resampled(full[y : y + h, x : x + w], out_w, out_h).astype(int)
    # blue follows x and green follows y exactly (ramps): a shifted, swapped or
    # transposed box is off by tens of levels; resampling filters differ by a few
    for band in (1, 2):
        diff = np.abs(got[..., band].astype(int) - want[..., band])
        assert diff.mean() < 3 and np.percentile(diff, 99) <= 8, (band, diff.mean())
    texture_diff = np.abs(got[..., 0].astype(int) - want[..., 0])
    assert texture_diff.mean() < 12, texture_diff.mean()


def test_upscaled_max_fills_the_servers_limits(wide: tuple[httpx.Client, np.ndarray]) -> None:
    # ^max: the region scaled up to the largest size maxWidth/maxHeight/maxArea allow
    client, full = wide
    info = client.get(f"/iiif/3/{NAME}/info.json").json()
    region = "pct:10,60,25,30"
    x, y, w, h = _box(region)
    scale = min(math.sqrt(info["maxArea"] / (w * h)), info["maxWidth"] / w, info["maxHeight"] / h)
    got = _get(client, region, "^max")
    assert abs(got.shape[1] - w * scale) <= 1 and abs(got.shape[0] - h * scale) <= 1
    assert got.shape[0] * got.shape[1] <= info["maxArea"]
    want = _resampled(full[y : y + h, x : x + w], got.shape[1], got.shape[0]).astype(int)
    diff = np.abs(got[..., 1:].astype(int) - want[..., 1:])
    assert diff.mean() < 3, diff.mean()


def test_ramps_make_a_swap_visible() -> None:
    """The check above is not vacuous: the swapped pct box of the issue reads elsewhere."""
    region = "pct:41.6,7.5,40,70"
    x, y, w, h = _box(region)
    sx, sy = round(7.5 * W / 100), round(41.6 * H / 100)
    assert (x, y) != (sx, sy)
    assert abs(x - sx) * 255 // W > 20 or abs(y - sy) * 255 // H > 20
    assert math.isclose(w / W, 0.4) and math.isclose(h / H, 0.7)
