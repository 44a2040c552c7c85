"""``imgio serve`` over real HTTP on loopback: protocols, pixels, caching, security."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import imagecodecs
import numpy as np
import pytest
import tifffile

import imgio
from imgio.serve._cache import ByteLRU
from imgio.slide import OpenSlide
from imgio.slide.deepzoom import DeepZoomGenerator

from .conftest import Served, start

SLIDE = "slide.tif"
CELLS = "sub/cells.ome.tif"


def png(body: bytes) -> np.ndarray:
    return np.asarray(imagecodecs.png_decode(body))


def jpeg(body: bytes) -> np.ndarray:
    return np.asarray(imagecodecs.jpeg8_decode(body))


def test_index_lists_images_only_inside_the_root(served: Served) -> None:
    names = {e["name"] for e in served.client.get("/api/images").json()}
    assert names == {SLIDE, CELLS}  # no notes.txt, no symlinks leading outside
    page = served.client.get("/")
    assert page.status_code == 200 and f'href="/view/{CELLS}"' in page.text


def test_metadata_matches_the_tile_api(served: Served) -> None:
    meta = served.client.get(f"/api/images/{CELLS}/metadata").json()
    ts = imgio.Image(served.root / CELLS).tiles
    for key in ("levels", "sizeX", "sizeY", "tileWidth", "tileHeight"):
        assert meta[key] == ts.metadata()[key]
    assert meta["mm_x"] == pytest.approx(0.0005)
    assert [c["name"] for c in meta["channels"]] == ["DAPI", "GFP", "mCherry"]
    assert [c["color"] for c in meta["channels"]] == ["#0000ff", "#00ff00", "#ff0000"]
    assert all(c["min"] < c["max"] for c in meta["channels"])


@pytest.mark.parametrize("z", [0, 1, 2, 3])
def test_zxy_png_tiles_equal_the_tile_api(served: Served, z: int) -> None:
    ts = imgio.Image(served.root / SLIDE).tiles
    nx, ny = ts.geometry.tile_grid(z)
    for x, y in {(0, 0), (nx - 1, ny - 1)}:
        r = served.client.get(f"/api/images/{SLIDE}/tiles/zxy/{z}/{x}/{y}.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        np.testing.assert_array_equal(png(r.content), ts.get_tile(x, y, z, format="numpy"))


def test_stored_jpeg_tiles_pass_through_undecoded(served: Served, stats: object) -> None:
    ts = imgio.Image(served.root / SLIDE).tiles
    z = ts.levels - 1  # full resolution: a stored level
    stats.reset()  # type: ignore[attr-defined]
    r = served.client.get(f"/api/images/{SLIDE}/tiles/zxy/{z}/1/2?encoding=JPEG&nocache=1")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert stats.chunks_decoded == 0  # type: ignore[attr-defined]
    with tifffile.TiffFile(served.root / SLIDE) as tif:
        page = tif.pages[0]
        index = 2 * page.chunked[1] + 1
        stored = tif.filehandle
        stored.seek(page.dataoffsets[index])
        raw = stored.read(page.databytecounts[index])
        want = page.decode(raw, index, jpegtables=page.jpegtables)[0]
    np.testing.assert_array_equal(jpeg(r.content), np.squeeze(want))


def test_fluorescence_tile_with_style_and_frames(served: Served) -> None:
    ts = imgio.Image(served.root / CELLS).tiles
    style = {"bands": [{"channel": 1, "palette": "#00ff00", "min": 0, "max": 1000}]}
    q = {"style": json.dumps(style)}
    r = served.client.get(f"/api/images/{CELLS}/tiles/zxy/2/0/0.png", params=q)
    assert r.status_code == 200
    got = png(r.content)
    np.testing.assert_array_equal(got, ts.get_tile(0, 0, 2, style=style, format="numpy"))
    assert got[..., 0].max() == 0 and got[..., 2].max() == 0 and got[..., 1].max() > 100


def test_dzi_matches_the_deepzoom_generator(served: Served) -> None:
    dz = DeepZoomGenerator(OpenSlide(served.root / SLIDE), tile_size=254, overlap=1)
    xml = served.client.get(f"/dzi/{SLIDE}.dzi").text
    assert xml == dz.get_dzi("jpeg")
    for level in (dz.level_count - 1, dz.level_count - 3, 3):
        cols, rows = dz.level_tiles[level]
        for col, row in {(0, 0), (cols - 1, rows - 1)}:
            r = served.client.get(f"/dzi/{SLIDE}_files/{level}/{col}_{row}.png")
            assert r.status_code == 200
            want = dz.get_tile(level, (col, row), as_array=True)
            np.testing.assert_array_equal(png(r.content), want)
    bad = served.client.get(f"/dzi/{SLIDE}_files/{dz.level_count}/0_0.jpeg")
    assert bad.status_code == 404 and "level" in bad.json()["detail"].lower()


def test_iiif_info_json(served: Served) -> None:
    r = served.client.get("/iiif/3/sub%2Fcells.ome.tif/info.json")
    assert r.status_code == 200
    info = r.json()
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["type"] == "ImageService3" and info["protocol"] == "http://iiif.io/api/image"
    assert info["id"].endswith("/iiif/3/sub%2Fcells.ome.tif")
    assert (info["width"], info["height"]) == (640, 512)
    assert info["tiles"][0]["scaleFactors"][0] == 1
    base = served.client.get("/iiif/3/sub%2Fcells.ome.tif", follow_redirects=False)
    assert base.status_code == 303 and base.headers["location"].endswith("/info.json")


# (region, size, expected output width, height) from the spec's examples on a 640 x 512 image
IIIF_CASES = [
    ("full", "max", 640, 512),
    ("square", "max", 512, 512),
    ("125,15,120,140", "max", 120, 140),
    ("pct:41.6,7.5,40,70", "max", 256, 358),
    ("full", "320,", 320, 256),
    ("full", ",128", 160, 128),
    ("full", "pct:50", 320, 256),
    ("full", "200,100", 200, 100),
    ("full", "!300,300", 300, 240),
    ("0,0,100,100", "^200,", 200, 200),
    ("600,500,100,100", "max", 40, 12),  # cropped at the image edge
]


@pytest.mark.parametrize(("region", "size", "w", "h"), IIIF_CASES)
def test_iiif_region_and_size(served: Served, region: str, size: str, w: int, h: int) -> None:
    r = served.client.get(f"/iiif/3/sub%2Fcells.ome.tif/{region}/{size}/0/default.png")
    assert r.status_code == 200, r.text
    got = png(r.content)
    assert got.shape[:2] == (h, w)


def test_iiif_pixels_rotation_mirror_gray(served: Served) -> None:
    ts = imgio.Image(served.root / CELLS).tiles
    want = ts.get_region(100, 50, 300, 150, style="auto", format="numpy")
    base = "/iiif/3/sub%2Fcells.ome.tif/100,50,200,100/max"
    np.testing.assert_array_equal(png(served.client.get(f"{base}/0/default.png").content), want)
    rot = png(served.client.get(f"{base}/90/default.png").content)
    np.testing.assert_array_equal(rot, np.rot90(want, k=-1))
    mir = png(served.client.get(f"{base}/!0/default.png").content)
    np.testing.assert_array_equal(mir, want[:, ::-1])
    gray = png(served.client.get(f"{base}/0/gray.png").content)
    ref = np.rint(want[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    assert gray.ndim == 2 and np.abs(gray.astype(int) - ref.astype(int)).max() <= 1
    assert set(np.unique(png(served.client.get(f"{base}/0/bitonal.png").content))) <= {0, 255}


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/iiif/3/sub%2Fcells.ome.tif/0,0,10/max/0/default.png", 400, "region"),
        ("/iiif/3/sub%2Fcells.ome.tif/full/700,/0/default.png", 400, "larger than the region"),
        ("/iiif/3/sub%2Fcells.ome.tif/full/max/45/default.png", 501, "multiples of 90"),
        ("/iiif/3/sub%2Fcells.ome.tif/full/max/0/sepia.png", 400, "quality"),
        ("/iiif/3/sub%2Fcells.ome.tif/full/max/0/default.bmp", 400, "format"),
        ("/iiif/3/sub%2Fcells.ome.tif/9000,0,10,10/max/0/default.png", 400, "outside"),
        ("/iiif/3/sub%2Fcells.ome.tif/full/^99999,/0/default.png", 400, "limit"),
        (f"/api/images/{SLIDE}/tiles/zxy/99/0/0", 400, "out of range"),
        (f"/api/images/{SLIDE}/tiles/zxy/1/50/0", 400, "outside level"),
        (f"/api/images/{SLIDE}/tiles/zxy/-1/0/0", 404, "no such page"),
        (f"/api/images/{SLIDE}/tiles/zxy/1/0/0?style=%7Bnot-json", 400, "json"),
        (f"/api/images/{SLIDE}/tiles/zxy/1/0/0?style=%7B%22bogus%22%3A1%7D", 400, "bogus"),
        (f"/api/images/{SLIDE}/tiles/zxy/1/0/0?encoding=gif", 400, "encoding"),
        (f"/api/images/{SLIDE}/region?left=-5000&top=-5000&width=10&height=10", 400, "outside"),
        (f"/api/images/{SLIDE}/region?left=abc", 400, "not a number"),
        (f"/api/images/{SLIDE}/thumbnail?width=100000", 400, "within"),
        (f"/api/images/{SLIDE}/pixel?x=99999&y=0", 400, "outside"),
        (f"/api/images/{SLIDE}/histogram?bins=0", 400, "bins"),
        (f"/api/images/{SLIDE}/metadata?scene=7", 400, "scene"),
        (f"/api/images/{SLIDE}/associated/label", 400, "no associated image"),
        (f"/api/images/{CELLS}/tiles/zxy/0/0/0?C=9", 400, "out of range"),
        ("/api/images/escape.ome.tif/metadata", 404, "no image"),
        ("/api/images/linkdir/secret.ome.tif/metadata", 404, "no image"),
        ("/api/images/notes.txt/metadata", 404, "no image"),
        ("/api/images/%2Fetc%2Fpasswd/metadata", 404, "no image"),
        ("/api/images/sub/..%2Fslide.tif/metadata", 404, "no image"),
        ("/dzi/escape.ome.tif.dzi", 404, "no image"),
        ("/iiif/3/..%2F..%2Fetc%2Fpasswd/info.json", 404, "no image"),
        ("/view/..%2Foutside", 404, "no image"),
        (f"/dzi/{SLIDE}.dzi?format=gif", 400, "jpeg or png"),
        (f"/dzi/{SLIDE}_files/1/0_0.jpeg?tile_size=100000", 400, "tile_size"),
    ],
)
def test_bad_requests_get_a_clear_4xx(served: Served, path: str, status: int, words: str) -> None:
    r = served.client.get(path)
    assert r.status_code == status, (path, r.status_code, r.text)
    assert words.lower() in r.json()["detail"].lower()


def test_caching_headers_and_revalidation(served: Served) -> None:
    path = f"/api/images/{SLIDE}/tiles/zxy/2/1/1.png"
    first = served.client.get(path)
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public, max-age=")
    again = served.client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = served.client.get(f"/api/images/{SLIDE}/tiles/zxy/2/0/1.png")
    assert other.headers["etag"] != etag


def test_tile_cache_is_bounded() -> None:
    cache = ByteLRU(1000)
    for i in range(20):
        cache.put(i, b"x" * 300, "image/png")
    assert cache.nbytes <= 1000 and len(cache) == 3
    assert cache.get(0) is None and cache.get(19) is not None
    cache.put("huge", b"x" * 5000, "image/png")
    assert cache.get("huge") is None


def test_fifty_concurrent_clients_get_correct_tiles(served: Served) -> None:
    ts = imgio.Image(served.root / SLIDE).tiles
    rng = random.Random(3)
    jobs = []
    for _ in range(100):
        z = rng.randrange(ts.levels)
        nx, ny = ts.geometry.tile_grid(z)
        jobs.append((z, rng.randrange(nx), rng.randrange(ny)))
    want = {j: ts.get_tile(j[1], j[2], j[0], format="numpy") for j in set(jobs)}

    def fetch(job: tuple[int, int, int]) -> bool:
        z, x, y = job
        with httpx.Client(base_url=served.url, timeout=120) as c:
            r = c.get(f"/api/images/{SLIDE}/tiles/zxy/{z}/{x}/{y}.png?concurrency=1")
        return r.status_code == 200 and np.array_equal(png(r.content), want[job])

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(fetch, jobs))
    assert all(results)


def test_access_token(image_dir: Path) -> None:
    from imgio.serve import app

    server, thread, url = start(app([image_dir / "sub"], token="s3cret"))
    try:
        with httpx.Client(base_url=url) as c:
            assert c.get("/api/images").status_code == 401
            r = c.get("/api/images", headers={"Authorization": "Bearer s3cret"})
            assert r.status_code == 200
            assert c.get("/api/images?token=wrong").status_code == 401
            first = c.get("/?token=s3cret")  # the browser's first visit sets a cookie
            assert first.status_code == 200 and "imgio_token" in first.headers["set-cookie"]
            assert c.get("/api/images/cells.ome.tif/metadata").status_code == 200
            tile = c.get("/api/images/cells.ome.tif/tiles/zxy/0/0/0.png")
            assert tile.headers["cache-control"].startswith("private")
    finally:
        server.should_exit = True
        thread.join(10)


def test_requests_are_capped_by_the_limits(image_dir: Path) -> None:
    from imgio.serve import app
    from imgio.serve._views import Limits

    limits = Limits(max_side=1024, max_area=1024 * 800, max_read=1100 * 800)
    server, thread, url = start(app([image_dir], limits=limits))
    try:
        with httpx.Client(base_url=url) as c:
            r = c.get(f"/api/images/{SLIDE}/region?left=0&top=0&width=1500&height=400")
            assert r.status_code == 400 and "exceeds 1024 px a side" in r.json()["detail"]
            # a small output of a large region reads a coarse level: allowed
            r = c.get(f"/api/images/{SLIDE}/region?output_width=256")
            assert r.status_code == 200 and png(r.content).shape[1] == 256
            # a scale of 1.9 can only be served from level 0: 1900 x 1425 read, refused
            r = c.get(
                f"/api/images/{SLIDE}/region?left=0&top=0&width=1900&height=1425&output_width=1000"
            )
            assert r.status_code == 400 and "more than this server reads" in r.json()["detail"]
            r = c.get(f"/iiif/3/{SLIDE}/full/max/0/default.png")
            assert r.status_code == 200 and png(r.content).shape[:2] == (768, 1024)
    finally:
        server.should_exit = True
        thread.join(10)


def test_single_file_root_serves_only_that_file(image_dir: Path) -> None:
    from imgio.serve import app

    server, thread, url = start(app([image_dir / SLIDE]))
    try:
        with httpx.Client(base_url=url) as c:
            assert [e["name"] for e in c.get("/api/images").json()] == [SLIDE]
            assert c.get(f"/api/images/{SLIDE}/metadata").status_code == 200
            assert c.get(f"/api/images/{CELLS}/metadata").status_code == 404
    finally:
        server.should_exit = True
        thread.join(10)


def test_openslide_deepzoom_parity_on_svs(shared_samples: Path) -> None:
    """DZI tiles from the server's generator against openslide's own (JPEG tolerance)."""
    import openslide
    from openslide.deepzoom import DeepZoomGenerator as OsDeepZoom

    from imgio.serve import app

    svs = shared_samples / "wsi" / "libvips-CMU-1-Small-Region.svs"
    server, thread, url = start(app([svs]))
    try:
        ref = OsDeepZoom(openslide.OpenSlide(svs), tile_size=254, overlap=1)
        with httpx.Client(base_url=url, timeout=60) as c:
            xml = c.get(f"/dzi/{svs.name}.dzi").text
            assert 'Width="2220"' in xml and 'Height="2967"' in xml
            for level in (ref.level_count - 1, ref.level_count - 2, 8):
                cols, rows = ref.level_tiles[level]
                for col, row in {(0, 0), (cols // 2, rows // 2), (cols - 1, rows - 1)}:
                    r = c.get(f"/dzi/{svs.name}_files/{level}/{col}_{row}.png")
                    got = png(r.content).astype(int)
                    want = np.asarray(ref.get_tile(level, (col, row))).astype(int)
                    assert got.shape == want.shape
                    # same stored JPEG tiles decoded; resampling differs (area vs Lanczos)
                    assert np.abs(got - want).mean() < 6, (level, col, row)
    finally:
        server.should_exit = True
        thread.join(10)


def test_cli_serve_starts_on_loopback(image_dir: Path) -> None:
    import subprocess
    import sys
    import time

    from .conftest import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "imgio.cli", "serve", str(image_dir / "sub"), "--port", str(port)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/images", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert r.json() == [{"name": "cells.ome.tif"}]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in err


def test_cli_serve_refuses_a_missing_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from imgio.cli import main

    assert main(["serve", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_remote_url_is_served_as_one_image(image_dir: Path) -> None:
    """An image on an HTTP server (Range requests through fsspec) behind imgio serve."""
    from _servers import RangeHTTPServer

    from imgio.serve import app

    with RangeHTTPServer(image_dir / "sub") as remote:
        url = f"{remote.url}/cells.ome.tif"
        server, thread, base = start(app([url]))
        try:
            with httpx.Client(base_url=base, timeout=60) as c:
                assert c.get("/api/images").json() == [{"name": "cells.ome.tif"}]
                r = c.get("/api/images/cells.ome.tif/tiles/zxy/1/0/0.png?C=0&style=")
                assert r.status_code == 200
                local = imgio.Image(image_dir / CELLS).tiles
                want = png(local.get_tile(0, 0, 1, format="png", C=0))
                np.testing.assert_array_equal(png(r.content), want)
                assert c.get("/dzi/cells.ome.tif.dzi").status_code == 200
                assert c.get("/api/images/other.tif/metadata").status_code == 404
                assert any(req.path.endswith("cells.ome.tif") for req in remote.requests)
        finally:
            server.should_exit = True
            thread.join(10)


def test_viewer_openseadragon_is_vendored_as_pinned(served: Served) -> None:
    """The package carries the OpenSeadragon that tools/viewer/package-lock.json pins
    (``python tools/vendor_viewer.py`` or any build of the package puts it there), with
    its licence, and serves it from loopback."""
    from importlib import resources

    lock = json.loads((Path(__file__).parents[2] / "tools/viewer/package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/openseadragon"]
    vendor = resources.files("imgio.serve").joinpath("static", "vendor", "openseadragon")
    assert vendor.joinpath("VERSION").is_file(), "run: python tools/vendor_viewer.py"
    assert vendor.joinpath("VERSION").read_text().split() == [
        "openseadragon",
        pinned["version"],
        pinned["integrity"],
    ]
    assert "BSD" in vendor.joinpath("LICENSE.txt").read_text() or "Redistribution" in (
        vendor.joinpath("LICENSE.txt").read_text()
    )
    script = vendor.joinpath("openseadragon.min.js").read_bytes()
    assert f"openseadragon {pinned['version']}".encode() in script[:200]
    r = served.client.get("/static/vendor/openseadragon/openseadragon.min.js")
    assert r.status_code == 200 and r.content == script
    assert r.headers["content-type"].startswith("text/javascript")
    icon = served.client.get("/static/vendor/openseadragon/images/zoomin_rest.png")
    assert icon.status_code == 200 and icon.content.startswith(b"\x89PNG")
    for bad in ("../_app.py", "vendor/../../_app.py", "vendor/openseadragon/nothing.js"):
        assert served.client.get(f"/static/{bad}").status_code == 404


def test_index_catalogue_describes_each_image_and_says_why_not(tmp_path: Path) -> None:
    from imgio.serve import app

    from .conftest import write_fluorescence

    write_fluorescence(tmp_path / "cells.ome.tif")
    (tmp_path / "broken.tif").write_bytes(b"II*\x00" + b"\xff" * 60)
    server, thread, url = start(app([tmp_path]))
    try:
        page = httpx.get(url + "/").text
    finally:
        server.should_exit = True
        thread.join(10)
    rows = {r.split('href="/view/', 1)[1].split('"', 1)[0]: r for r in page.split("<tr")[2:]}
    assert set(rows) == {"cells.ome.tif", "broken.tif"}
    good = rows["cells.ome.tif"].replace("&nbsp;", " ")
    assert "C 3 Z 1 Y 512 X 640" in good and "0.5 µm/px" in good and "ome-tiff" in good
    assert 'src="/api/images/cells.ome.tif/thumbnail?width=160&amp;height=120"' in good
    size = (tmp_path / "cells.ome.tif").stat().st_size
    assert f"{size / 1000:.1f} KB" in good or f"{size / 1e6:.1f} MB" in good
    assert "cannot be read" in rows["broken.tif"] and "<img" not in rows["broken.tif"]
    assert str(tmp_path) not in page  # no server paths in the page


def test_planar_rgb_and_one_bit_images_are_served(tmp_path: Path) -> None:
    """Found by opening every shared sample in the viewer: a planar RGB TIFF's tiles and a
    1-bit image's metadata answered 500."""
    from imgio.serve import app

    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 255, (3, 300, 200), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", rgb, photometric="rgb", planarconfig="separate",
                     tile=(64, 64))  # fmt: skip
    mask = rng.random((40, 64)) > 0.5
    tifffile.imwrite(tmp_path / "mask.tif", mask)
    server, thread, url = start(app([tmp_path]))
    try:
        with httpx.Client(base_url=url) as c:
            top = c.get("/api/images/planar.tif/metadata").json()["levels"] - 1
            for z in range(top + 1):
                r = c.get(f"/api/images/planar.tif/tiles/zxy/{z}/0/0.png")
                assert r.status_code == 200, r.text
            tile = png(r.content)  # full resolution: the stored samples
            np.testing.assert_array_equal(tile, rgb.transpose(1, 2, 0)[:64, :64])
            meta = c.get("/api/images/mask.tif/metadata")
            assert meta.status_code == 200, meta.text
            assert meta.json()["dtype"] == "bool"
            [channel] = meta.json()["channels"]
            assert (channel["min"], channel["max"]) == (0, 1)
            band = {"channel": 0, "palette": "#ffffff", "min": 0, "max": 1}
            style = json.dumps({"bands": [band]})
            r = c.get("/api/images/mask.tif/tiles/zxy/0/0/0.png", params={"style": style})
            assert r.status_code == 200
            np.testing.assert_array_equal(png(r.content)[..., 0] == 255, mask)
    finally:
        server.should_exit = True
        thread.join(10)
