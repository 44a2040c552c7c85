"""``imgio serve`` against DeepZoom servers on openslide and tiffslide (issue 12).

Each server runs in its own process on loopback; one client process sends the same
list of random DeepZoom tile requests (the deepest four levels, each tile equally
likely) from 16 concurrent keep-alive connections. Reported: tiles per second, p50
and p99 latency, and the server's peak RSS (VmHWM). Rounds alternate between servers.

``python -m benchmarks.bench_serve [--quick] [--requests N] [--clients N]``
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ._harness import fmt_mb, machine_line, say, table

HERE = Path(__file__).resolve().parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(kind: str, path: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _port()
    if kind.startswith("imgio"):
        cmd = [sys.executable, "-m", "imgio.cli", "serve", str(path), "--port", str(port)]
        if kind == "imgio (no tile cache)":
            cmd += ["--cache-mb", "0"]
    else:
        cmd = [sys.executable, "-m", "benchmarks._serve_peer", "--lib", kind, str(path), str(port)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    proc = subprocess.Popen(cmd, cwd=HERE.parent, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _levels(width: int, height: int, tile: int = 254) -> list[tuple[int, int, int]]:
    """(level, cols, rows) of every DeepZoom level of a width x height image."""
    dims = [(width, height)]
    while dims[-1] != (1, 1):
        w, h = dims[-1]
        dims.append((max(1, math.ceil(w / 2)), max(1, math.ceil(h / 2))))
    dims.reverse()
    return [(i, math.ceil(w / tile), math.ceil(h / tile)) for i, (w, h) in enumerate(dims)]


def _requests(name: str, width: int, height: int, n: int, seed: int) -> list[str]:
    levels = _levels(width, height)[-4:]
    tiles = [(lv, c, r) for lv, cols, rows in levels for c in range(cols) for r in range(rows)]
    rng = random.Random(seed)
    return [f"/dzi/{name}_files/{lv}/{c}_{r}.jpeg" for lv, c, r in rng.choices(tiles, k=n)]


def _load(port: int, urls: list[str], clients: int) -> dict[str, Any]:
    todo: queue.Queue[str] = queue.Queue()
    for u in urls:
        todo.put(u)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            try:
                url = todo.get_nowait()
            except queue.Empty:
                break
            t0 = time.perf_counter()
            conn.request("GET", url)
            resp = conn.getresponse()
            body = resp.read()
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                if resp.status != 200 or not body:
                    errors[0] += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "rate": len(latencies) / wall,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": errors[0],
    }


def _size(path: Path) -> tuple[int, int]:
    import imgio

    with imgio.Image(path) as img:
        return img.dims.X, img.dims.Y


def bench(path: Path, n: int, clients: int, rounds: int) -> list[list[str]]:
    width, height = _size(path)
    urls = _requests(path.name, width, height, n, seed=7)
    warm = _requests(path.name, width, height, 64, seed=99)
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(rounds):
        for kind in ("imgio", "imgio (no tile cache)", "openslide", "tiffslide"):
            proc, port = _start(kind, path)
            try:
                _load(port, warm, clients)
                res = _load(port, urls, clients)
                res["rss"] = _peak_rss(proc.pid)
            finally:
                proc.terminate()
                proc.wait(30)
            results.setdefault(kind, []).append(res)
    rows = []
    best_rate = {k: max(r["rate"] for r in v) for k, v in results.items()}
    for kind, runs in results.items():
        r = max(runs, key=lambda x: x["rate"])
        rows.append([
            f"{path.name} ({width} x {height})", kind, f"{r['rate']:.0f}",
            f"{best_rate[kind] / best_rate['imgio']:.2f}x", f"{r['p50'] * 1000:.1f}",
            f"{r['p99'] * 1000:.1f}", fmt_mb(r["rss"]), str(r["errors"]),
        ])  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_serve", description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    from ._read_data import DATA, make_pyramid, pyramid_path

    n = 300 if args.quick else args.requests
    rounds = 1 if args.quick else args.rounds
    pyramid = pyramid_path()
    if not pyramid.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        make_pyramid(pyramid)
    files = [pyramid]
    samples = Path(os.environ.get("IMGIO_SAMPLES", HERE.parents[1] / "shared" / "samples"))
    svs = samples / "wsi" / "libvips-CMU-1-Small-Region.svs"
    if svs.is_file():
        files.append(svs)
    say(f"## imgio serve vs openslide / tiffslide DeepZoom servers\n\n{machine_line()}\n")
    say(f"{n} random tiles (deepest 4 DeepZoom levels, 254 px + 1 overlap, JPEG q90), "
        f"{args.clients} concurrent keep-alive clients, best of {rounds} round(s).\n")  # fmt: skip
    rows = []
    for f in files:
        rows += bench(f, n, args.clients, rounds)
    headers = ["image", "server", "tiles/s", "rate vs imgio", "p50 ms", "p99 ms", "peak RSS MiB",
               "errors"]  # fmt: skip
    say(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
