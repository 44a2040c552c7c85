"""Loopback servers for remote-storage tests and benchmarks.

:class:`RangeHTTPServer` serves a directory over HTTP/1.1 with ``Range`` support
(206 responses) and counts the requests and body bytes it sends.
:class:`CountingProxy` forwards TCP connections (for example to a moto S3 server)
and counts the bytes each way. Both bind 127.0.0.1 on a free port and run in
daemon threads; use them as context managers.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["CountingProxy", "RangeHTTPServer", "ServedRequest"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class ServedRequest:
    """One request as the server answered it."""

    method: str
    path: str
    status: int
    range: tuple[int, int] | None  # [start, stop) of a 206 answer
    body_bytes: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Log:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[ServedRequest] = field(default_factory=list)

    def add(self, item: ServedRequest) -> None:
        with self.lock:
            self.requests.append(item)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    _sent = 0

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs stall every response by tens of milliseconds
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return  # quiet: the log is kept in ServedRequest records

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _file(self) -> Path | None:
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        root = self.server.root
        target = (root / rel).resolve()
        if root != target and root not in target.parents:
            return None
        return target if target.is_file() else None

    def _reply(self, status: int, length: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _serve(self, body: bool) -> None:
        if self.server.latency:
            time.sleep(self.server.latency)  # a far-away server: per request, not per byte
        path = self._file()
        if path is None:
            self._reply(404, 0)
            record = ServedRequest(self.command, self.path, 404, None, 0, self._headers())
            self.server.log.add(record)
            return
        size = path.stat().st_size
        header = self.headers.get("Range")
        start, stop, status = 0, size, 200
        extra: dict[str, str] = {}
        if header:
            match = _RANGE.match(header.strip())
            first = match.group(1) if match else ""
            last = match.group(2) if match else ""
            if match is None or (not first and not last):
                start, stop = -1, -1
            elif not first:  # suffix range: the last N bytes
                start, stop = max(0, size - int(last)), size
            else:
                start = int(first)
                stop = min(size, int(last) + 1) if last else size
            if not 0 <= start < stop:
                self._reply(416, 0, {"Content-Range": f"bytes */{size}"})
                self.server.log.add(
                    ServedRequest(self.command, self.path, 416, None, 0, self._headers())
                )
                return
            status = 206
            extra["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        # logged before the body goes out, so a client never sees data the log lacks
        served = (start, stop) if status == 206 else None
        record = ServedRequest(
            self.command, self.path, status, served, stop - start if body else 0, self._headers()
        )
        self.server.log.add(record)
        self._reply(status, stop - start, extra)
        self._sent = 0
        if body:
            try:
                self._copy(path, start, stop)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client hung up: count what went out
                with self.server.log.lock:
                    record.body_bytes = self._sent

    def _copy(self, path: Path, start: int, stop: int) -> None:
        with open(path, "rb") as fh:
            fh.seek(start)
            remaining = stop - start
            while remaining > 0:
                chunk = fh.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                self.wfile.write(chunk)
                self._sent += len(chunk)
                remaining -= len(chunk)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._serve(body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self._serve(body=False)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # clients open many connections at once (the default is 5)
    root: Path
    log: _Log
    latency: float = 0.0


class RangeHTTPServer:
    """A directory served on ``http://127.0.0.1:<port>/`` with byte-range support.

    ``latency`` (seconds) delays every answer, as a distant object store would.
    """

    def __init__(self, root: str | os.PathLike[str], *, latency: float = 0.0) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.root = Path(root).resolve()
        self._server.log = _Log()
        self._server.latency = latency
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[ServedRequest]:
        with self._server.log.lock:
            return list(self._server.log.requests)

    @property
    def bytes_sent(self) -> int:
        """Body bytes sent since the last :meth:`reset`."""
        return sum(r.body_bytes for r in self.requests)

    def reset(self) -> None:
        with self._server.log.lock:
            self._server.log.requests.clear()

    def start(self) -> RangeHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RangeHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CountingProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` and counts bytes each way."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self.to_client = 0
        self.to_server = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        with self._lock:
            self.to_client = self.to_server = 0

    def _count(self, towards_client: bool, n: int) -> None:
        with self._lock:
            if towards_client:
                self.to_client += n
            else:
                self.to_server += n

    def _pump(self, src: socket.socket, dst: socket.socket, towards_client: bool) -> None:
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                self._count(towards_client, len(data))  # before the peer can see it
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._stopping.is_set():
                client.close()
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            for a, b, towards in ((client, server, False), (server, client, True)):
                threading.Thread(target=self._pump, args=(a, b, towards), daemon=True).start()

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:  # wake the accept() call; closing alone does not on Linux
            socket.create_connection(self._listener.getsockname()[:2], timeout=1).close()
        except OSError:
            pass
        self._thread.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
