"""The viewer in a real headless Chromium: tiles drawn, zoom fetches deeper tiles, channels.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); outside
CI the test is skipped when they are absent. The screenshots are kept in
``tests/artifacts/`` (or ``$IMGIO_ARTIFACTS``) to be looked at.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
import pytest

from .conftest import Served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("IMGIO_ARTIFACTS", Path(__file__).parents[1] / "artifacts"))

if not (CHROMIUM and DRIVER) and not os.environ.get("CI"):
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,760",
                "--force-device-scale-factor=1", "--disable-dev-shm-usage"):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def wait_idle(driver: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = driver.execute_script(
            "return document.body.dataset.ready === '1' && window.imgioViewer.idle()"
        )
        if ready:
            time.sleep(0.2)  # let the last onload redraw
            return
        time.sleep(0.1)
    raise AssertionError("the viewer did not finish loading its tiles")


def canvas_pixels(driver: Any) -> np.ndarray:
    url = driver.execute_script("return document.getElementById('canvas').toDataURL('image/png')")
    return np.asarray(imagecodecs.png_decode(base64.b64decode(url.split(",", 1)[1])))[..., :3]


def drawn_box(driver: Any) -> tuple[int, int, int, int]:
    """Where the whole image lies on the canvas (x0, y0, x1, y1), from the viewer's state."""
    s = driver.execute_script(
        "const s = window.imgioViewer, c = document.getElementById('canvas');"
        "return [s.cx, s.cy, s.scale, c.width, c.height, s.meta.sizeX, s.meta.sizeY];"
    )
    cx, cy, scale, w, h, sx, sy = s
    x0, y0 = w / 2 - cx * scale, h / 2 - cy * scale
    return round(x0), round(y0), round(x0 + sx * scale), round(y0 + sy * scale)


def block_mean(a: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    ys = np.linspace(0, a.shape[0], out_h + 1).astype(int)
    xs = np.linspace(0, a.shape[1], out_w + 1).astype(int)
    return np.array([[a[ys[i]:ys[i + 1], xs[j]:xs[j + 1]].mean(axis=(0, 1))
                      for j in range(out_w)] for i in range(out_h)])  # fmt: skip


def viewer_style(meta: dict[str, Any], off: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    bands = [
        {"channel": i, "palette": c["color"], "min": c["min"], "max": c["max"]}
        for i, c in enumerate(meta["channels"])
        if i not in off
    ]
    return json.dumps({"bands": bands})


def test_viewer_shows_the_slide_and_zooms(browser: Any, served: Served) -> None:
    browser.get(f"{served.url}/view/slide.tif")
    wait_idle(browser)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "viewer-slide.png"))
    shot = canvas_pixels(browser)
    x0, y0, x1, y1 = drawn_box(browser)
    assert x1 - x0 > 400 and y1 - y0 > 300
    drawn = shot[max(y0, 0) : y1, max(x0, 0) : x1].astype(np.float64)
    assert drawn.std() > 10  # not a blank canvas
    thumb = served.client.get("/api/images/slide.tif/thumbnail?width=64&height=48").content
    want = np.asarray(imagecodecs.png_decode(thumb))[..., :3].astype(np.float64)
    got = block_mean(drawn, *want.shape[:2])
    assert np.abs(got - want).mean() < 12
    levels = browser.execute_script("return window.imgioViewer.meta.levels")
    before = max(t["z"] for t in browser.execute_script("return window.imgioViewer.requested"))
    assert before < levels - 1
    browser.execute_script("window.imgioZoom(6)")
    wait_idle(browser)
    after = max(t["z"] for t in browser.execute_script("return window.imgioViewer.requested"))
    assert after > before and after == levels - 1
    browser.save_screenshot(str(ARTIFACTS / "viewer-slide-zoomed.png"))


def test_viewer_channel_toggle_changes_colour(browser: Any, served: Served) -> None:
    browser.get(f"{served.url}/view/sub/cells.ome.tif")
    wait_idle(browser)
    meta = browser.execute_script("return window.imgioViewer.meta")
    assert [c["name"] for c in meta["channels"]] == ["DAPI", "GFP", "mCherry"]
    x0, y0, x1, y1 = drawn_box(browser)
    before = canvas_pixels(browser)[y0:y1, x0:x1].astype(np.float64)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "viewer-channels.png"))
    assert before[..., 0].mean() > 40  # mCherry (red) is on
    browser.find_element("id", "channel-2").click()  # mCherry off
    wait_idle(browser)
    after = canvas_pixels(browser)[y0:y1, x0:x1].astype(np.float64)
    browser.save_screenshot(str(ARTIFACTS / "viewer-channels-red-off.png"))
    assert after[..., 0].mean() < 0.2 * before[..., 0].mean()
    assert abs(after[..., 1].mean() - before[..., 1].mean()) < 3  # GFP unchanged
    style = viewer_style(meta, off={2})
    thumb = served.client.get(
        "/api/images/sub/cells.ome.tif/thumbnail",
        params={"width": 80, "height": 64, "style": style},
    ).content
    want = np.asarray(imagecodecs.png_decode(thumb))[..., :3].astype(np.float64)
    assert np.abs(block_mean(after, *want.shape[:2]) - want).mean() < 12
