"""``imgio serve`` as a client outside the server sees its errors: a 401 that names its
scheme, details without the server's paths, damaged DeepZoom tiles as 422 (like zxy and
IIIF), and default caps on generated images (issue 20)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
import tifffile

from imgio.serve import app
from imgio.serve._views import Limits

from .conftest import start


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bad/x.tif``: a tiled 512 x 512 TIFF whose first tile is garbage."""
    root = tmp_path_factory.mktemp("damaged")
    (root / "bad").mkdir()
    path = root / "bad" / "x.tif"
    data = np.random.default_rng(0).integers(0, 255, (512, 512), dtype=np.uint8)
    tifffile.imwrite(path, data, tile=(256, 256), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[0].dataoffsets[0], tif.pages[0].databytecounts[0]
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * count)
    (root / "bad" / "junk.tif").write_bytes(b"II*\x00" + b"\x07" * 200)  # no IFD
    return root


def test_damaged_tiles_are_422_everywhere_without_server_paths(damaged: Path) -> None:
    server, thread, url = start(app([damaged]))
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            for path in (
                "/api/images/bad/x.tif/tiles/zxy/0/0/0.png",
                "/dzi/bad/x.tif_files/9/0_0.jpeg",  # the full-resolution level
                "/iiif/3/bad%2Fx.tif/0,0,256,256/max/0/default.png",
            ):
                r = c.get(path)
                assert r.status_code == 422, (path, r.status_code, r.text)
                detail = r.json()["detail"]
                assert detail.startswith("the file cannot be read: "), detail
                assert str(damaged) not in detail and "/tmp" not in detail, detail
                assert "x.tif" in detail, detail
            assert c.get("/dzi/bad/x.tif_files/99/0_0.jpeg").status_code == 404  # no level
            r = c.get("/api/images/bad/junk.tif/metadata")  # cannot even be opened
            assert r.status_code == 422
            detail = r.json()["detail"]
            assert str(damaged) not in detail and "/tmp" not in detail, detail
            assert "bad/junk.tif" in detail, detail
    finally:
        server.should_exit = True
        thread.join(10)


def test_401_names_its_scheme(damaged: Path) -> None:
    server, thread, url = start(app([damaged], token="s3cret"))
    try:
        with httpx.Client(base_url=url) as c:
            r = c.get("/api/images")
            assert r.status_code == 401
            assert r.headers["www-authenticate"] == 'Bearer realm="imgio"'
            assert c.get("/api/images", headers={"Authorization": "Bearer s3cret"}).is_success
    finally:
        server.should_exit = True
        thread.join(10)


def test_generated_images_are_capped_at_5000_px_by_default(tmp_path: Path) -> None:
    assert (Limits().max_side, Limits().max_area) == (5000, 4096 * 4096)
    path = tmp_path / "wide.tif"
    tifffile.imwrite(path, np.zeros((64, 6000), dtype=np.uint8), tile=(64, 512))
    server, thread, url = start(app([tmp_path]))
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            r = c.get("/api/images/wide.tif/region?output_width=6000")
            assert r.status_code == 400 and "exceeds 5000 px a side" in r.json()["detail"]
            info = c.get("/iiif/3/wide.tif/info.json").json()
            assert info["maxWidth"] == 5000 and info["maxHeight"] == 5000
            assert c.get("/api/images/wide.tif/region?output_width=5000").status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)


def test_token_cookie_holds_a_digest_and_is_lax_over_http(damaged: Path) -> None:
    import hashlib

    server, thread, url = start(app([damaged], token="s3cret"))
    try:
        with httpx.Client(base_url=url) as c:
            first = c.get("/?token=s3cret")
            cookie = first.headers["set-cookie"]
            assert "s3cret" not in cookie
            assert f"imgio_token={hashlib.sha256(b's3cret').hexdigest()};" in cookie
            assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Secure" not in cookie
            assert c.get("/api/images").status_code == 200  # the cookie lets it in
        with httpx.Client(base_url=url, cookies={"imgio_token": "s3cret"}) as raw:
            assert raw.get("/api/images").status_code == 401  # the raw token is no cookie
    finally:
        server.should_exit = True
        thread.join(10)


def test_token_in_the_path_for_viewers_on_other_origins(tmp_path: Path) -> None:
    """A IIIF client on another origin sends no cookie: the info.json id carries the
    token (``/t/TOKEN/iiif/3/NAME``) and every URL built from it is let in."""
    data = np.random.default_rng(2).integers(0, 255, (300, 400), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "ok.tif", data, tile=(256, 256))
    server, thread, url = start(app([tmp_path], token="s3cret"))
    try:
        with httpx.Client(base_url=url) as c:
            info = c.get("/iiif/3/ok.tif/info.json?token=s3cret").json()
            assert info["id"] == f"{url}/t/s3cret/iiif/3/ok.tif"
        with httpx.Client(timeout=60) as other:  # no cookie, no header
            r = other.get(info["id"] + "/full/max/0/default.png")
            assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
            again = other.get(info["id"] + "/info.json").json()
            assert again["id"] == info["id"]
            dzi = other.get(f"{url}/t/s3cret/dzi/ok.tif.dzi")
            assert dzi.status_code == 200 and dzi.headers["access-control-allow-origin"] == "*"
            assert other.get(f"{url}/t/s3cret/dzi/ok.tif_files/9/0_0.jpeg").status_code == 200
            assert other.get(f"{url}/t/wrong/iiif/3/ok.tif/info.json").status_code == 401
            assert other.get(f"{url}/iiif/3/ok.tif/info.json").status_code == 401
    finally:
        server.should_exit = True
        thread.join(10)


def test_cors_echoes_allowed_origins_with_credentials(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "ok.tif", np.zeros((64, 64), dtype=np.uint8))
    viewer = "http://viewer.example"
    server, thread, url = start(app([tmp_path], token="s3cret", cors_origins=[viewer]))
    try:
        with httpx.Client(base_url=url) as c:
            pre = c.options(
                "/iiif/3/ok.tif/info.json",
                headers={
                    "Origin": viewer,
                    "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "authorization",
                },
            )
            assert pre.status_code == 200
            assert pre.headers["access-control-allow-origin"] == viewer
            assert "authorization" in pre.headers["access-control-allow-headers"].lower()
            auth = {"Authorization": "Bearer s3cret", "Origin": viewer}
            r = c.get("/iiif/3/ok.tif/info.json", headers=auth)
            assert r.status_code == 200
            assert r.headers["access-control-allow-origin"] == viewer
            assert r.headers["access-control-allow-credentials"] == "true"
            other = c.get("/api/images", headers={**auth, "Origin": "http://evil.example"})
            assert other.headers.get("access-control-allow-origin") != "http://evil.example"
            denied = c.get("/api/images", headers={"Origin": viewer})
            assert denied.status_code == 401
            assert denied.headers["access-control-allow-origin"] == viewer  # readable 401
    finally:
        server.should_exit = True
        thread.join(10)
