"""DICOMweb against a real Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) on loopback.

A module fixture starts Orthanc with a temporary storage folder and configuration,
uploads generated slides through its REST API, and puts a small counting proxy (also on
127.0.0.1) in front of it: the proxy records every request and can inject failures
(error statuses, garbage, slowness) to check imgio's errors and retries. Skipped when
Orthanc is not installed.
"""

from __future__ import annotations

import http.client
import json
import pickle
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dicom_wsi import Slide, frames_of, pyramid, shrink, write_level

import imgio
from imgio.errors import CorruptFileError, MissingFileError, RemoteError

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
ORTHANC = shutil.which("Orthanc")
pytestmark = pytest.mark.skipif(
    ORTHANC is None or not PLUGIN.is_file(),
    reason="Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc "
    "orthanc-dicomweb)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proxy:
    """A loopback HTTP proxy that counts requests and injects faults."""

    upstream: int
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    fault: str | None = None  # "500", "503-once", "garbage", "slow", "406-any"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                with proxy.lock:
                    proxy.seen.append((self.path, dict(self.headers)))
                    fault = proxy.fault
                    if fault == "503-once":
                        proxy.fault = None
                if fault == "406-any" and "transfer-syntax=*" in self.headers.get("Accept", ""):
                    self.send_response(406)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault in ("500", "503-once"):
                    self.send_response(int(fault[:3]))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "slow":
                    time.sleep(1.5)
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=30)
                conn.request(
                    "GET", self.path, headers={"Accept": self.headers.get("Accept", "*/*")}
                )
                answer = conn.getresponse()
                body = answer.read()
                if fault == "garbage":
                    body = b"\x00garbage" * 10
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                conn.close()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def frames_requests(self) -> list[str]:
        with self.lock:
            return [p for p, _ in self.seen if "/frames/" in p]


@dataclass
class Server:
    url: str  # through the proxy
    proxy: Proxy
    series: dict[str, str]  # name -> series URL path after the base
    folders: dict[str, Path]


def _upload(port: int, folder: Path) -> None:
    for path in sorted(folder.glob("*.dcm")):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/instances", data=path.read_bytes(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert json.loads(r.read())["Status"] in ("Success", "AlreadyStored")


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("orthanc")
    port = _free_port()
    config = {
        "Name": "imgio-test",
        "HttpPort": port,
        "HttpBindAddress": "127.0.0.1",
        "DicomServerEnabled": False,
        "StorageDirectory": str(root / "db"),
        "IndexDirectory": str(root / "db"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpCompressionEnabled": False,
        "Plugins": [str(PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "SeriesMetadata": "Full"},
    }
    (root / "orthanc.json").write_text(json.dumps(config))
    log = (root / "orthanc.log").open("wb")
    proc = subprocess.Popen([str(ORTHANC), str(root / "orthanc.json")], stdout=log, stderr=log)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/system", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"Orthanc did not start: {(root / 'orthanc.log').read_text()[-2000:]}")
        folders: dict[str, Path] = {}
        series: dict[str, str] = {}
        # a JPEG pyramid (2 levels, the second TILED_SPARSE with a missing tile) and a label
        slide = Slide()
        base = pyramid(41, (200, 300))
        f = folders["rgb"] = root / "rgb"
        f.mkdir()
        write_level(f, base, (64, 64), slide=slide, syntax="jpeg", name="L0")
        write_level(
            f,
            shrink(base, 2),
            (48, 48),
            slide=slide,
            syntax="jpegls",
            name="L1",
            sparse=True,
            missing=[(0, 0, 0, 1)],
        )
        write_level(f, pyramid(42, (30, 50)), (30, 50), slide=slide, flavor="LABEL", name="label")
        series["rgb"] = f"/studies/{slide.study}/series/{slide.series}"
        # fluorescence, 16 bit, concatenation of 2 instances, JPEG 2000 lossless (Orthanc 1.10
        # answers 500 for HTJ2K frames: its DCMTK does not know the syntax)
        slide2 = Slide()
        g = folders["fluo"] = root / "fluo"
        g.mkdir()
        write_level(
            g,
            pyramid(43, (120, 140), rgb=False, dtype=np.uint16, nc=2),
            (32, 32),
            slide=slide2,
            syntax="j2k-lossless",
            parts=2,
            paths=[("A", "Cy3", (255, 0, 0)), ("B", "Cy5", (0, 255, 255))],
        )
        series["fluo"] = f"/studies/{slide2.study}/series/{slide2.series}"
        # HTJ2K lossless, RGB: Orthanc 1.10 cannot send it as stored (500)
        slide3 = Slide()
        h = folders["htj2k"] = root / "htj2k"
        h.mkdir()
        write_level(h, pyramid(44, (70, 100)), (32, 48), slide=slide3, syntax="htj2k-lossless")
        series["htj2k"] = f"/studies/{slide3.study}/series/{slide3.series}"
        for folder in folders.values():
            _upload(port, folder)
        proxy = Proxy(port)
        base_url = proxy.start() + "/dicom-web"
        yield Server(base_url, proxy, series, folders)
        proxy.server.shutdown()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_series_reads_like_the_files(orthanc: Server) -> None:
    for name in ("rgb", "fluo"):
        web = imgio.Image(orthanc.url + orthanc.series[name])
        local = imgio.Image(orthanc.folders[name])
        assert web.scenes == local.scenes
        assert web.dims == local.dims
        assert web.channel_names == local.channel_names
        for level in local.resolution_levels:
            web.set_resolution_level(level)
            local.set_resolution_level(level)
            assert np.array_equal(web.data, local.data), (name, level)
    web = imgio.Image(orthanc.url + orthanc.series["rgb"], reader="dicom")
    web.set_scene("label")
    assert np.array_equal(np.asarray(web.data)[0, 0, 0], pyramid(42, (30, 50))[0, 0])


def test_one_frames_request_per_instance(orthanc: Server) -> None:
    img = imgio.Image(orthanc.url + orthanc.series["fluo"])
    local = imgio.Image(orthanc.folders["fluo"])
    src = img.reader.source(0, 0)
    key = (slice(0, 2), slice(20, 110), slice(10, 130))
    orthanc.proxy.seen.clear()
    got = pickle.loads(pickle.dumps(src))[key]  # a pickled source (as on a dask worker)
    assert np.array_equal(got, local.reader.source(0, 0)[key])
    paths = orthanc.proxy.frames_requests()
    # 2 paths x 4 tile rows x 5 tile columns = 40 frames, over the 2 instances (concatenation)
    assert len(paths) == 2
    assert sum(len(p.rsplit("/", 1)[1].split(",")) for p in paths) == 40
    assert len({p.split("/instances/")[1].split("/")[0] for p in paths}) == 2


def test_jpeg_frames_pass_through(orthanc: Server) -> None:
    from imgio.tiles import TileSource

    ts = TileSource(imgio.Image(orthanc.url + orthanc.series["rgb"]))
    path = sorted(orthanc.folders["rgb"].glob("L0-*.dcm"))[0]
    _, frames = frames_of(path)
    assert ts.get_tile(2, 1, ts.levels - 1, format="jpeg") == frames[1 * 5 + 2]


def test_headers_travel(orthanc: Server) -> None:
    orthanc.proxy.seen.clear()
    url = orthanc.url + orthanc.series["rgb"]
    img = imgio.Image(url, storage_options={"headers": {"Authorization": "Bearer xyz"}})
    img.reader.source(0, 0)[(slice(0, 10), slice(0, 10), slice(0, 3))]
    assert orthanc.proxy.seen
    assert all(h.get("Authorization") == "Bearer xyz" for _, h in orthanc.proxy.seen)


def test_missing_series_names_the_request(orthanc: Server) -> None:
    url = orthanc.url + "/studies/1.2.3/series/4.5.6"
    with pytest.raises(MissingFileError, match=r"GET .*/series/4\.5\.6/metadata: HTTP 404"):
        imgio.Image(url)


@pytest.mark.parametrize(
    ("fault", "error", "match"),
    [
        ("500", RemoteError, r"metadata failed after 2 attempt\(s\): HTTP 500"),
        ("garbage", CorruptFileError, "metadata: not JSON"),
        ("slow", RemoteError, "metadata failed after 2 attempt.*(Timeout|timed out)"),
    ],
)
def test_server_faults(orthanc: Server, fault: str, error: type, match: str) -> None:
    orthanc.proxy.fault = fault
    orthanc.proxy.seen.clear()
    try:
        with pytest.raises(error, match=match):
            imgio.Image(
                orthanc.url + orthanc.series["rgb"],
                storage_options={"retries": 1, "timeout": 0.5},
            )
    finally:
        orthanc.proxy.fault = None
    if fault == "500":
        assert len(orthanc.proxy.seen) == 2  # retried once


def test_transient_error_is_retried(orthanc: Server) -> None:
    img = imgio.Image(orthanc.url + orthanc.series["rgb"])
    local = imgio.Image(orthanc.folders["rgb"])
    orthanc.proxy.fault = "503-once"
    key = (slice(0, 64), slice(0, 64), slice(0, 3))
    assert np.array_equal(img.reader.source(0, 0)[key], local.reader.source(0, 0)[key])
    assert orthanc.proxy.fault is None  # the fault was met, and the retry succeeded


def test_server_without_stored_syntax_sends_uncompressed(orthanc: Server) -> None:
    """A server refusing ``transfer-syntax=*`` (406) is asked for uncompressed frames
    (Orthanc then transcodes the JPEG frames with its own decoder: values within 3)."""
    img = imgio.Image(orthanc.url + orthanc.series["rgb"])
    local = imgio.Image(orthanc.folders["rgb"])
    orthanc.proxy.fault = "406-any"
    orthanc.proxy.seen.clear()
    try:
        key = (slice(0, 80), slice(0, 80), slice(0, 3))
        got = img.reader.source(0, 0)[key]
    finally:
        orthanc.proxy.fault = None
    want = local.reader.source(0, 0)[key]
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 3
    accepts = [h.get("Accept", "") for p, h in orthanc.proxy.seen if "/frames/" in p]
    assert len(accepts) == 2 and "transfer-syntax" not in accepts[1]


def test_htj2k_falls_back_to_what_the_server_sends(orthanc: Server) -> None:
    """Asked for HTJ2K frames as stored, Orthanc 1.10 answers 500 ("Unknown transfer
    syntax"); imgio then asks for uncompressed frames, which Orthanc answers with the stored
    HTJ2K codestreams labelled Explicit VR Little Endian: imgio decodes them by their bytes.
    Later reads of the same client go straight to the second form."""
    url = orthanc.url + orthanc.series["htj2k"]
    img = imgio.Image(url, storage_options={"retries": 1})
    local = np.asarray(imgio.Image(orthanc.folders["htj2k"]).data)
    assert np.array_equal(local[0, 0, 0], pyramid(44, (70, 100))[0, 0])  # lossless
    orthanc.proxy.seen.clear()
    src = img.reader.source(0, 0)
    key = (slice(0, 70), slice(0, 100), slice(0, 3))
    assert np.array_equal(src[key], local[0, 0, 0])
    accepts = [h.get("Accept", "") for p, h in orthanc.proxy.seen if "/frames/" in p]
    stored = ["transfer-syntax=*" in a for a in accepts]
    assert stored[0] and not stored[-1] and stored == sorted(stored, reverse=True)
    assert "transfer-syntax" not in accepts[-1]
    orthanc.proxy.seen.clear()
    assert np.array_equal(src[(slice(0, 32), slice(0, 48), slice(0, 3))], local[0, 0, 0, :32, :48])
    accepts = [h.get("Accept", "") for p, h in orthanc.proxy.seen if "/frames/" in p]
    assert accepts and all("transfer-syntax" not in a for a in accepts)


def test_named_properties_from_the_instance_metadata(orthanc: Server) -> None:
    """OpenSlide's dicom.* list from the level-0 instance's metadata (no file meta over
    DICOMweb): the same keys and text as the file's dataset, and the same quickhash-1."""
    web = imgio.Image(orthanc.url + orthanc.series["rgb"]).reader.named_properties(0)
    local = imgio.Image(orthanc.folders["rgb"]).reader.named_properties(0)
    assert web["openslide.quickhash-1"] == local["openslide.quickhash-1"]
    meta_keys = ("dicom.MediaStorage", "dicom.TransferSyntax", "dicom.Implementation")
    dataset = {k: v for k, v in local.items() if not k.startswith(meta_keys)}
    shared = {k for k in dataset if k in web}
    assert len(shared) > 40
    assert {k: web[k] for k in shared} == {k: dataset[k] for k in shared}
    assert web["dicom.TotalPixelMatrixRows"] == "200"
