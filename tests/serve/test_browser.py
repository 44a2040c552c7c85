"""The viewer (OpenSeadragon + imgio's panels) in a real headless Chromium.

One browser and one loopback server for the module, over small generated images whose
colours are known: a pixel drawn at a known image position must have the colour the
file and the display settings give, computed here from the written data. Needs Debian's
``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); outside CI the module
is skipped when they are absent. Screenshots go to ``tests/artifacts/`` (or
``$IMGIO_ARTIFACTS``) to be looked at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import imagecodecs
import numpy as np
import pytest
import tifffile

from imgio.serve import app

from .conftest import start

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("IMGIO_ARTIFACTS", Path(__file__).parents[1] / "artifacts"))

if not (CHROMIUM and DRIVER) and not os.environ.get("CI"):
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)

QUADRANTS = [(220, 40, 40), (40, 200, 40), (40, 40, 220), (230, 230, 60)]  # TL TR BL BR
TOKEN = "s3cret-token"
LABEL, MACRO = (250, 210, 20), (20, 120, 240)
APERIO = "Aperio Image Library v12.0.0 \r\n2048x1536 [0,0 2048x1536] (256x256) JPEG/RGB Q=90"


def _quadrants(h: int, w: int) -> np.ndarray:
    out = np.empty((h, w, 3), np.uint8)
    for i, (ys, xs) in enumerate(
        [(slice(0, h // 2), slice(0, w // 2)), (slice(0, h // 2), slice(w // 2, w)),
         (slice(h // 2, h), slice(0, w // 2)), (slice(h // 2, h), slice(w // 2, w))]
    ):  # fmt: skip
        out[ys, xs] = QUADRANTS[i]
    return out


def write_slide(path: Path) -> None:
    """An Aperio SVS: a 3-level JPEG pyramid of four colour quadrants, label and macro."""
    data = _quadrants(1536, 2048)
    jpeg: dict[str, Any] = {"photometric": "rgb", "compression": "jpeg", "metadata": None}
    with tifffile.TiffWriter(path) as tif:
        tif.write(data, tile=(256, 256), description=APERIO + "|AppMag = 20|MPP = 0.5", **jpeg)
        tif.write(data[::16, ::16], description="Aperio\n2048x1536 -> 128x96", **jpeg)
        for k in (2, 4):
            tif.write(data[::k, ::k], tile=(256, 256), description="Aperio level", **jpeg)
        label = np.full((150, 200, 3), LABEL, np.uint8)
        tif.write(label, photometric="rgb", description="Aperio\nlabel 200x150", metadata=None)
        macro = np.full((100, 300, 3), MACRO, np.uint8)
        tif.write(macro, description="Aperio\nmacro 300x100", subfiletype=9, **jpeg)


def write_cells(path: Path) -> np.ndarray:
    """3 channels (blue, green, red) of uint16 blocks: 1000 where bright, 100 elsewhere."""
    data = np.full((3, 512, 640), 100, np.uint16)
    data[0, :, :320] = 1000  # DAPI: left half
    data[1, :256, :] = 1000  # GFP: top half
    data[2, 300:420, 400:528] = 1000  # mCherry: a square lower right
    tifffile.imwrite(
        path, data, tile=(256, 256), photometric="minisblack",
        metadata={"axes": "CYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
                  "Channel": {"Name": ["DAPI", "GFP", "mCherry"],
                              "Color": [0x0000FFFF, 0x00FF00FF, -16776961]}},
    )  # fmt: skip
    return data


def write_grey(path: Path) -> np.ndarray:
    """One uint16 channel, two Z planes: 3000 | 1000 (left | right), then 2000."""
    data = np.empty((2, 300, 400), np.uint16)
    data[0, :, :200], data[0, :, 200:], data[1] = 3000, 1000, 2000
    tifffile.imwrite(path, data, metadata={"axes": "ZYX"})
    return data


def write_scenes(path: Path) -> None:
    """Two RGB scenes of different sizes and colours."""
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(np.full((300, 400, 3), (200, 40, 40), np.uint8), photometric="rgb")
        tif.write(np.full((200, 500, 3), (40, 40, 200), np.uint8), photometric="rgb")


class Page:
    """The browser on one server: navigation, waiting, screenshots, logs."""

    def __init__(self, driver: Any, url: str, root: Path, guarded_url: str) -> None:
        self.driver, self.url, self.root = driver, url, root
        self.guarded_url = guarded_url  # the same cells.ome.tif behind --token

    def open(self, path: str, base: str | None = None) -> None:
        self.driver.get((base or self.url) + path)
        if "/view/" in path:
            self.wait()

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait(self, timeout: float = 30) -> None:
        """Until the current rendering has every tile of the view and stopped moving."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js("return document.body.dataset.ready === '1' && imgioViewer.idle()"):
                time.sleep(0.15)  # the frame that draws the last tile
                if self.js("return imgioViewer.idle()"):
                    return
            time.sleep(0.05)
        state = self.js("const s = imgioViewer; return [s.loading, s.animating, s.errors]")
        raise AssertionError(f"the viewer did not finish drawing: {state}")

    def images_loaded(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not self.js("return [...document.images].every(i => i.complete)"):
            assert time.monotonic() < deadline, "the page's images did not load"
            time.sleep(0.05)

    def screenshot(self, name: str) -> np.ndarray:
        png = self.driver.get_screenshot_as_png()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"viewer-{name}.png").write_bytes(png)
        return np.asarray(imagecodecs.png_decode(png))[..., :3].astype(np.float64)

    def colour_at(self, shot: np.ndarray, x: float, y: float) -> np.ndarray:
        """The drawn colour around image pixel (x, y) (mean of 5 x 5 screen pixels)."""
        px, py = (round(v) for v in self.js("return imgioViewer.toPage(...arguments)", x, y))
        assert 2 <= px < shot.shape[1] - 2 and 2 <= py < shot.shape[0] - 2, (px, py)
        return shot[py - 2 : py + 3, px - 2 : px + 3].reshape(-1, 3).mean(axis=0)

    def set_value(self, element_id: str, value: str) -> None:
        self.js(
            "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
            "e.dispatchEvent(new Event('change'))",
            element_id,
            value,
        )
        self.wait()

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def requested_urls(self) -> list[str]:
        """Every URL the browser asked for since the last call (DevTools network log)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                urls.append(msg["params"]["request"]["url"])
        return urls


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    root = tmp_path_factory.mktemp("viewer")
    write_slide(root / "slide.svs")
    write_cells(root / "cells.ome.tif")
    write_grey(root / "grey.ome.tif")
    write_scenes(root / "scenes.ome.tif")
    server, thread, url = start(app([root]))
    guarded = start(app([root / "cells.ome.tif"], token=TOKEN))
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,760",
                "--force-device-scale-factor=1", "--disable-dev-shm-usage"):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    driver.set_script_timeout(30)
    try:
        yield Page(driver, url, root, guarded[2])
    finally:
        driver.quit()
        for srv, runner in ((server, thread), guarded[:2]):
            srv.should_exit = True
            runner.join(10)


def close(got: np.ndarray, want: Any, tol: float = 12) -> bool:
    return bool(np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64)).max() <= tol)


def test_pages_load_nothing_from_elsewhere(page: Page) -> None:
    page.requested_urls()
    for path in ("/", "/view/cells.ome.tif"):
        html = httpx.get(page.url + path).text
        refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html)
        assert refs and all(r.startswith("/") and not r.startswith("//") or r == "data:,"
                            for r in refs), refs  # fmt: skip
        assert "url(" not in httpx.get(page.url + "/static/viewer.css").text
        page.open(path)
        page.images_loaded()  # the index's thumbnails load lazily
    urls = page.requested_urls()
    assert any("/static/vendor/openseadragon/openseadragon.min.js" in u for u in urls)
    assert any("/tiles/zxy/" in u for u in urls)
    elsewhere = [u for u in urls if not u.startswith(page.url + "/") and not u.startswith("data:")]
    assert elsewhere == []
    assert page.console_errors() == []


def test_index_is_a_catalogue(page: Page) -> None:
    page.open("/")
    page.images_loaded()
    rows = page.js(
        "return [...document.querySelectorAll('table.images tbody tr')].map(r => "
        "[r.cells[1].querySelector('a').textContent, r.innerText,"
        " r.querySelector('img') && r.querySelector('img').naturalWidth])"
    )
    by_name = {name: (text.replace("\xa0", " "), width) for name, text, width in rows}
    assert set(by_name) == {"cells.ome.tif", "grey.ome.tif", "scenes.ome.tif", "slide.svs"}
    text, width = by_name["slide.svs"]
    assert width > 0  # the thumbnail arrived
    assert "Y 1536 X 2048" in text and "0.5 µm/px" in text and "aperio" in text
    assert "label, macro" in text and "20x objective" in text
    assert "C 3" in by_name["cells.ome.tif"][0] and "2 scenes" in by_name["scenes.ome.tif"][0]
    page.screenshot("index")
    assert page.console_errors() == []


def test_slide_drawn_where_and_as_the_file_says(page: Page) -> None:
    page.open("/view/slide.svs")
    assert page.js("return document.querySelector('.navigator') !== null")
    assert page.js("return document.querySelector('.navigator').offsetWidth") > 50
    shot = page.screenshot("slide")
    for (x, y), want in zip(
        [(512, 384), (1536, 384), (512, 1152), (1536, 1152)], QUADRANTS, strict=True
    ):
        assert close(page.colour_at(shot, x, y), want), ((x, y), want)
    levels = page.js("return imgioViewer.meta.levels")
    before = max(t["z"] for t in page.js("return imgioViewer.requested"))
    assert before < levels - 1  # the whole slide from a reduced level
    page.js("imgioViewer.zoomBy(8)")
    page.wait()
    assert max(t["z"] for t in page.js("return imgioViewer.requested")) == levels - 1
    shot = page.screenshot("slide-zoomed")  # the centre, where the four quadrants meet
    for (x, y), want in zip(
        [(1000, 744), (1048, 744), (1000, 792), (1048, 792)], QUADRANTS, strict=True
    ):
        assert close(page.colour_at(shot, x, y), want), ((x, y), want)
    assert page.js("return document.getElementById('scalebar-label').textContent").endswith("µm")
    assert page.console_errors() == []


def test_slide_metadata_and_label_macro_panel(page: Page) -> None:
    page.open("/view/slide.svs")
    meta = dict(page.js("return [...document.querySelectorAll('#meta tr')]"
                        ".map(r => [r.cells[0].textContent, r.cells[1].textContent])"))  # fmt: skip
    assert meta["dims"] == "T 1, C 1, Z 1, Y 1536, X 2048, S 3"
    assert meta["pixel size X"] == "0.5 µm" and meta["vendor"] == "aperio"
    assert meta["objective"] == "20x" and meta["pixel type"] == "uint8 x 3 samples"
    page.js("document.getElementById('associated-panel').open = true")
    deadline = time.monotonic() + 10
    while not page.js("return document.getElementById('associated-macro').naturalWidth > 0"):
        assert time.monotonic() < deadline, "the macro image did not load"
        time.sleep(0.05)
    for which, want in (("label", LABEL), ("macro", MACRO)):
        box = page.js(f"const e = document.getElementById('associated-{which}');"
                      "e.scrollIntoView(); const r = e.getBoundingClientRect();"
                      "return [r.left, r.top, r.width, r.height]")  # fmt: skip
        shot = page.screenshot(f"slide-{which}")
        x, y = round(box[0] + box[2] / 2), round(box[1] + box[3] / 2)
        assert box[2] > 100 and close(shot[y - 2 : y + 3, x - 2 : x + 3].mean(axis=(0, 1)), want)
    assert page.console_errors() == []


def _composite(channels: list[dict[str, Any]], values: list[int]) -> np.ndarray:
    """The colour imgio's style draws for these channel values (additive, clipped)."""
    out = np.zeros(3)
    for c, v in zip(channels, values, strict=True):
        if c["on"]:
            rgb = np.array([int(c["color"][i : i + 2], 16) for i in (1, 3, 5)], np.float64)
            out += np.clip((v - c["min"]) / (c["max"] - c["min"]), 0, 1) * rgb
    return np.clip(out, 0, 255)


def test_channels_toggle_colour_and_contrast(page: Page) -> None:
    page.open("/view/cells.ome.tif")
    data = tifffile.imread(page.root / "cells.ome.tif")
    spots = [(64, 64), (480, 200), (464, 360), (600, 480)]  # (x, y): cyan, green, red, black

    def check(name: str) -> None:
        shot = page.screenshot(name)
        chans = page.js("return imgioViewer.channels")
        for x, y in spots:
            want = _composite(chans, [int(v) for v in data[:, y, x]])
            assert close(page.colour_at(shot, x, y), want), (name, (x, y), want)

    chans = page.js("return imgioViewer.channels")
    assert [c["name"] for c in chans] == ["DAPI", "GFP", "mCherry"]
    assert [c["color"] for c in chans] == ["#0000ff", "#00ff00", "#ff0000"]
    check("channels")
    page.js("imgioViewer.osd.canvas.focus()")
    page.driver.switch_to.active_element.send_keys("3")  # mCherry off
    page.wait()
    assert not page.js("return imgioViewer.channels[2].on")
    check("channels-red-off")
    page.set_value("max-1", "2000")  # GFP: 1000 is now about half bright
    page.set_value("color-0", "#ff00ff")  # DAPI drawn magenta
    check("channels-contrast")
    green = page.colour_at(page.screenshot("channels-contrast"), 480, 200)[1]
    assert 90 < green < 160
    assert page.console_errors() == []


def test_grey_image_contrast_and_z_keys(page: Page) -> None:
    page.open("/view/grey.ome.tif")
    assert [c["name"] for c in page.js("return imgioViewer.channels")] != []
    page.set_value("min-0", "0")
    page.set_value("max-0", "4000")
    shot = page.screenshot("grey")
    assert close(page.colour_at(shot, 100, 150), [3000 / 4000 * 255] * 3)
    assert close(page.colour_at(shot, 300, 150), [1000 / 4000 * 255] * 3)
    page.js("imgioViewer.osd.canvas.focus()")
    page.driver.switch_to.active_element.send_keys("]")  # next Z
    page.wait()
    assert page.js("return document.getElementById('frame-Z').value") == "1"
    shot = page.screenshot("grey-z1")
    assert close(page.colour_at(shot, 100, 150), [2000 / 4000 * 255] * 3)
    for want in (True, False):  # F: full screen, and back (the browser answers later)
        page.driver.switch_to.active_element.send_keys("f")
        deadline = time.monotonic() + 5
        while page.js("return imgioViewer.osd.isFullPage()") != want:
            assert time.monotonic() < deadline, f"full screen did not become {want}"
            time.sleep(0.05)
    assert page.console_errors() == []


def test_scene_switch(page: Page) -> None:
    page.open("/view/scenes.ome.tif")
    assert close(page.colour_at(page.screenshot("scene0"), 200, 150), (200, 40, 40))
    page.set_value("scene", "1")
    deadline = time.monotonic() + 10
    while page.js("return imgioViewer.meta.sizeX") != 500:
        assert time.monotonic() < deadline, "scene 1 was not loaded"
        time.sleep(0.05)
    page.wait()
    assert close(page.colour_at(page.screenshot("scene1"), 250, 100), (40, 40, 200))
    assert page.console_errors() == []


@pytest.mark.parametrize("form", ["path", "query"])
def test_viewer_behind_a_token(page: Page, form: str) -> None:
    """``/t/TOKEN/view/...`` (every URL of the page carries the token) and ``?token=``
    (the first visit sets the cookie) both draw the image."""
    page.requested_urls()
    base = page.guarded_url
    if form == "path":
        page.open(f"/t/{TOKEN}/view/cells.ome.tif", base)
    else:
        page.open(f"/view/cells.ome.tif?token={TOKEN}", base)
    shot = page.screenshot(f"token-{form}")
    assert close(page.colour_at(shot, 64, 64), (0, 255, 255))  # DAPI + GFP
    urls = [u for u in page.requested_urls() if not u.startswith("data:")]
    assert any("/tiles/zxy/" in u for u in urls)
    if form == "path":
        assert all(u.startswith(f"{base}/t/{TOKEN}/") for u in urls), urls
    assert page.console_errors() == []
    page.driver.delete_all_cookies()
    page.driver.get(f"{base}/view/cells.ome.tif")  # no token, no cookie: refused
    assert "access token" in page.js("return document.body.innerText")
    assert any("401" in e for e in page.console_errors())
