"""DICOMweb rows of bench_dicom: a loopback Orthanc serving the benchmark slide.

Timed reads go straight to Orthanc; one more read goes through a counting proxy (also on
127.0.0.1) to report how many frames requests imgio sent per instance touched.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ._harness import fmt_ms, median, say

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
REGION = (slice(2048, 3072), slice(2048, 3072), slice(0, 3))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proxy(upstream: int, seen: list[str]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            seen.append(self.path)
            conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
            conn.request("GET", self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
            answer = conn.getresponse()
            body = answer.read()
            self.send_response(answer.status)
            for k, v in answer.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _start(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _port()
    config = {
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
    exe = shutil.which("Orthanc") or "Orthanc"
    proc = subprocess.Popen([exe, str(root / "orthanc.json")], stdout=log, stderr=log)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/system", timeout=1).read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("Orthanc did not start")


def web_rows(folder: Path, rounds: int) -> list[list[str]]:
    """Rows (imgio, plain GET) for a 1024² region of level 0 read over DICOMweb."""
    if shutil.which("Orthanc") is None or not PLUGIN.is_file():
        say("(DICOMweb rows skipped: Orthanc with its DICOMweb plugin is not installed)\n")
        return []
    import pydicom
    import requests

    import imgio

    with tempfile.TemporaryDirectory() as tmp:
        proc, port = _start(Path(tmp))
        try:
            files = sorted(folder.glob("*.dcm"))
            for path in files:
                requests.post(f"http://127.0.0.1:{port}/instances", data=path.read_bytes())
            ds = pydicom.dcmread(sorted(folder.glob("L0-*.dcm"))[0], stop_before_pixels=True)
            series = f"/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
            direct = f"http://127.0.0.1:{port}/dicom-web{series}"
            gx = -(-int(ds.TotalPixelMatrixColumns) // int(ds.Columns))
            tr = int(ds.Rows)
            frames = [
                y * gx + x + 1
                for y in range(REGION[0].start // tr, REGION[0].stop // tr)
                for x in range(REGION[1].start // tr, REGION[1].stop // tr)
            ]
            url = f"{direct}/instances/{ds.SOPInstanceUID}/frames/{','.join(map(str, frames))}"
            accept = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
            ours, plain = [], []
            session = requests.Session()  # both warm: one connection each, reused
            src = imgio.Image(direct).reader.source(0, 0)
            src[REGION]
            session.get(url, headers={"Accept": accept}).content  # noqa: B018
            for i in range(max(10, rounds)):  # alternate who goes first (the server caches)

                def ours_once() -> None:
                    t0 = time.perf_counter()
                    src[REGION]
                    ours.append(time.perf_counter() - t0)

                def plain_once() -> None:
                    t0 = time.perf_counter()
                    session.get(url, headers={"Accept": accept}).content  # noqa: B018
                    plain.append(time.perf_counter() - t0)

                for once in (ours_once, plain_once) if i % 2 else (plain_once, ours_once):
                    once()
            seen: list[str] = []
            proxy = _proxy(port, seen)
            via = f"http://127.0.0.1:{proxy.server_address[1]}/dicom-web{series}"
            imgio.Image(via).reader.source(0, 0)[REGION]
            proxy.shutdown()
            asked = [p for p in seen if "/frames/" in p]
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    t, ref = median(ours), median(plain)
    n = str(len(frames))
    return [
        ["web region 1024²", "imgio", fmt_ms(t), f"{t / ref:.2f}×", str(len(asked)), n],
        ["web region 1024²", "plain GET (no decode)", fmt_ms(ref), "1.00×", "1", n],
    ]
