"""Remote region reads (bytes on the wire) and a full-image reduction on 1 vs 2 workers.

``python -m benchmarks.bench_remote [--quick] [--gib 1.0] [--keep DIR]``

1. A tiled pyramidal OME-TIFF and OME-Zarr stores (NGFF 0.4 zarr v2; NGFF 0.5 zarr v3
   sharded) are served by imgio's loopback HTTP server with ``Range`` support, which
   counts body bytes. For seeded region reads at every level the table gives the
   bytes transferred against the stored bytes of the covering tiles/chunks, and
   the header bytes read at open. Target: regions <= 1.2 x covering bytes.
2. A synthetic zlib-tiled OME-TIFF (about ``--gib`` GiB of pixels) is reduced
   (mean per channel) on a ``LocalCluster`` of 1 and then 2 worker processes, one
   thread each and one decode thread each (``IMGIO_DECODE_THREADS=1``), the file
   warm in the page cache. Target: 2 workers >= 1.6 x faster than 1.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "tests"):  # tests/_servers.py: the loopback HTTP server
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _servers import RangeHTTPServer  # noqa: E402

import imgio  # noqa: E402

SEED = 4


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------ files
def smooth_noise(shape: tuple[int, ...], seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    ramp = (np.indices(shape).sum(axis=0) * 5) % 5000
    return (ramp + rng.integers(0, 300, shape)).astype(np.uint16)


def halve(levels: list[np.ndarray[Any, Any]], n: int) -> list[np.ndarray[Any, Any]]:
    while len(levels) < n:
        levels.append(levels[-1][..., ::2, ::2].copy())
    return levels


def write_tiff(path: Path, base: np.ndarray[Any, Any], tile: int, n_levels: int) -> None:
    import tifffile

    levels = halve([base], n_levels)
    opts: dict[str, Any] = {
        "tile": (tile, tile),
        "compression": "zlib",
        "photometric": "minisblack",
    }
    with tifffile.TiffWriter(path, ome=True, bigtiff=True) as tw:
        tw.write(
            base,
            subifds=n_levels - 1,
            metadata={"axes": "CYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5},
            **opts,
        )
        for lv in levels[1:]:
            tw.write(lv, subfiletype=1, **opts)


def write_zarr(
    path: Path, base: np.ndarray[Any, Any], chunk: int, n_levels: int, version: str
) -> None:
    import zarr

    fmt = 2 if version == "0.4" else 3
    root = zarr.open_group(str(path), mode="w", zarr_format=fmt)
    datasets = []
    for i, lv in enumerate(halve([base], n_levels)):
        if fmt == 2:
            from numcodecs import Zlib

            arr = root.create_array(
                str(i),
                shape=lv.shape,
                dtype=lv.dtype,
                chunks=(1, chunk, chunk),
                compressors=[Zlib(level=1)],
                chunk_key_encoding={"name": "v2", "separator": "/"},
            )
        else:
            arr = root.create_array(
                str(i),
                shape=lv.shape,
                dtype=lv.dtype,
                chunks=(1, chunk, chunk),
                shards=(1, 4 * chunk, 4 * chunk),
            )
        arr[...] = lv
        datasets.append(
            {
                "path": str(i),
                "coordinateTransformations": [
                    {"type": "scale", "scale": [1.0, 0.5 * 2**i, 0.5 * 2**i]}
                ],
            }
        )
    axes = [
        {"name": "c", "type": "channel"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]
    ms = {"version": version, "axes": axes, "datasets": datasets}
    if fmt == 2:
        root.attrs["multiscales"] = [ms]
    else:
        root.attrs["ome"] = {"version": version, "multiscales": [ms]}


# ---------------------------------------------------------- covering bytes
def tiff_tile_bytes(path: Path, level: int, ys: slice, xs: slice, channels: int) -> int:
    import tifffile

    total = 0
    with tifffile.TiffFile(path) as tif:
        for c in range(channels):
            page = tif.series[0].levels[level].pages[c].aspage()
            across = math.ceil(page.imagewidth / page.tilewidth)
            for ty in range(ys.start // page.tilelength, (ys.stop - 1) // page.tilelength + 1):
                for tx in range(xs.start // page.tilewidth, (xs.stop - 1) // page.tilewidth + 1):
                    total += int(page.databytecounts[ty * across + tx])
    return total


def zarr_chunk_bytes(
    store: Path, level: int, ys: slice, xs: slice, channels: int, chunk: int
) -> int:
    import zarr

    arr = zarr.open_array(str(store / str(level)), mode="r")
    total = 0
    per = 4
    for c in range(channels):
        for ty in range(ys.start // chunk, (ys.stop - 1) // chunk + 1):
            for tx in range(xs.start // chunk, (xs.stop - 1) // chunk + 1):
                if arr.metadata.zarr_format == 2:
                    total += (store / str(level) / str(c) / str(ty) / str(tx)).stat().st_size
                    continue
                shard = store / str(level) / "c" / str(c) / str(ty // per) / str(tx // per)
                raw = shard.read_bytes()
                n = per * per
                index = np.frombuffer(raw[-(16 * n + 4) : -4], dtype="<u8").reshape(n, 2)
                total += int(index[(ty % per) * per + (tx % per), 1])
    return total


def region_rows(tmp: Path, quick: bool) -> list[list[str]]:
    shape = (2, 2048, 2048) if quick else (2, 4096, 4096)
    tile, n_levels = 256, 3
    base = smooth_noise(shape, SEED)
    write_tiff(tmp / "slide.ome.tif", base, tile, n_levels)
    write_zarr(tmp / "v04.ome.zarr", base, tile, n_levels, "0.4")
    write_zarr(tmp / "v05.ome.zarr", base, tile, n_levels, "0.5")
    rng = np.random.default_rng(SEED)
    rows = []
    with RangeHTTPServer(tmp) as http:
        for label, name in (
            ("OME-TIFF (zlib tiles 256)", "slide.ome.tif"),
            ("OME-Zarr 0.4 (zarr v2, zlib chunks 256)", "v04.ome.zarr"),
            ("OME-Zarr 0.5 (zarr v3, shards 4x4 chunks)", "v05.ome.zarr"),
        ):
            http.reset()
            t0 = time.perf_counter()
            img = imgio.Image(f"{http.url}/{name}")
            for lvl in img.resolution_levels:
                img.source(level=lvl)
            open_s = time.perf_counter() - t0
            header = http.bytes_sent
            open_requests = len(http.requests)
            need = sent = requests = 0
            t_read = 0.0
            for lvl in img.resolution_levels:
                h, w = shape[1] >> lvl, shape[2] >> lvl
                for _ in range(3 if quick else 6):
                    size = min(int(rng.integers(200, 700)), h // 2, w // 2)
                    y, x = int(rng.integers(0, h - size)), int(rng.integers(0, w - size))
                    ys, xs = slice(y, y + size), slice(x, x + size)
                    http.reset()
                    t0 = time.perf_counter()
                    img.get_image_data("CYX", level=lvl, Y=ys, X=xs)
                    t_read += time.perf_counter() - t0
                    sent += http.bytes_sent
                    requests += len(http.requests)
                    if name.endswith(".tif"):
                        need += tiff_tile_bytes(tmp / name, lvl, ys, xs, shape[0])
                    else:
                        need += zarr_chunk_bytes(tmp / name, lvl, ys, xs, shape[0], tile)
            img.close()
            rows.append(
                [
                    label,
                    f"{header / 1024:.0f} KiB / {open_requests} req / {open_s:.2f} s",
                    f"{need / 2**20:.1f} MiB",
                    f"{sent / 2**20:.1f} MiB",
                    f"{sent / need:.3f}",
                    str(requests),
                    f"{t_read:.2f} s",
                    "yes" if sent <= 1.2 * need else "no",
                ]
            )
    return rows


FILES = (
    ("OME-TIFF", "slide.ome.tif"),
    ("OME-Zarr 0.4", "v04.ome.zarr"),
    ("OME-Zarr 0.5 sharded", "v05.ome.zarr"),
)


def latency_rows(tmp: Path, latency: float) -> list[list[str]]:
    """One 1024 x 1024 region (2 channels, 32 tiles/chunks) with ``latency`` s per request."""
    rows = []
    with RangeHTTPServer(tmp, latency=latency) as http:
        for label, name in FILES:
            img = imgio.Image(f"{http.url}/{name}")
            img.source(level=0)
            http.reset()
            t0 = time.perf_counter()
            img.get_image_data("CYX", Y=slice(512, 1536), X=slice(512, 1536))
            elapsed = time.perf_counter() - t0
            n = len(http.requests)
            rows.append([label, str(n), f"{elapsed:.2f} s", f"{elapsed / latency:.1f}"])
            img.close()
    return rows


# ------------------------------------------------------------- reduction
def write_big_tiff(path: Path, gib: float) -> tuple[int, ...]:
    """A zlib-tiled OME-TIFF of about ``gib`` GiB of uint16 pixels, written tile by tile."""
    import tifffile

    channels, tile = 4, 512
    side = int(math.sqrt(gib * 2**30 / (2 * channels)) // tile * tile)
    shape = (channels, side, side)
    proto = smooth_noise((tile, tile), SEED)

    def tiles() -> Any:
        for c in range(channels):
            for i in range(side // tile):
                for j in range(side // tile):
                    yield (proto + np.uint16((c * 977 + i * 31 + j) % 1000))

    with tifffile.TiffWriter(path, ome=True, bigtiff=True) as tw:
        tw.write(
            tiles(),
            shape=shape,
            dtype=np.uint16,
            tile=(tile, tile),
            compression="zlib",
            compressionargs={"level": 1},
            photometric="minisblack",
            metadata={"axes": "CYX"},
            maxworkers=2,
        )
    return shape


def reduction_rows(tmp: Path, gib: float, repeats: int) -> list[list[str]]:
    from imgio.dask_utils import cluster_and_client

    path = tmp / "big.ome.tif"
    t0 = time.perf_counter()
    shape = write_big_tiff(path, gib)
    say(
        f"_synthetic file: {shape} uint16, {path.stat().st_size / 2**30:.2f} GiB on disk, "
        f"written in {time.perf_counter() - t0:.0f} s_\n"
    )
    nbytes = math.prod(shape) * 2
    path.read_bytes()  # warm the page cache
    old = os.environ.get("IMGIO_DECODE_THREADS")
    os.environ["IMGIO_DECODE_THREADS"] = "1"  # inherited by the worker processes
    rows, times = [], {}
    try:
        for workers in (1, 2):
            with cluster_and_client(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as client:
                client.wait_for_workers(workers)
                img = imgio.Image(path, chunks={"Y": 2048, "X": 2048})
                data = img.xarray_dask_data
                reduce = data.mean(dim=["T", "Z", "Y", "X"])
                client.compute(data[0, 0, 0, :512, :512].sum()).result()  # warm the workers
                runs, cpus = [], []
                for _ in range(repeats):
                    cpu0 = client.run(time.process_time)
                    t0 = time.perf_counter()
                    client.compute(reduce).result()
                    runs.append(time.perf_counter() - t0)
                    cpu1 = client.run(time.process_time)
                    cpus.append(sum(cpu1[k] - cpu0[k] for k in cpu0))
                best = statistics.median(runs)
                cpu = statistics.median(cpus)
                times[workers] = best
                rows.append(
                    [
                        f"{workers} worker process{'es' if workers > 1 else ''}",
                        f"{data.data.npartitions}",
                        f"{best:.2f} s",
                        f"{nbytes / best / 2**20:.0f} MiB/s",
                        f"{cpu:.2f} s",
                        f"{cpu / best:.2f}",
                        f"{times[1] / best:.2f}x",
                    ]
                )
    finally:
        if old is None:
            os.environ.pop("IMGIO_DECODE_THREADS", None)
        else:
            os.environ["IMGIO_DECODE_THREADS"] = old
    return rows


def table(header: list[str], rows: list[list[str]]) -> None:
    say("| " + " | ".join(header) + " |")
    say("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        say("| " + " | ".join(row) + " |")
    say()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_remote", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small files, fewer reads")
    parser.add_argument("--gib", type=float, default=None, help="size of the reduction file")
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep the files")
    args = parser.parse_args(argv)
    gib = args.gib if args.gib is not None else (0.25 if args.quick else 1.0)
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="imgio-bench-remote-"))
    tmp.mkdir(parents=True, exist_ok=True)
    status = 0
    try:
        say("## Remote region reads over HTTP (loopback, Range requests)\n")
        rows = region_rows(tmp, args.quick)
        table(
            [
                "file",
                "open: headers",
                "covering tiles/chunks",
                "transferred",
                "ratio",
                "requests",
                "read time",
                "<= 1.2x",
            ],
            rows,
        )
        status |= int(any(r[-1] == "no" for r in rows))
        latency = 0.02
        say(f"### One 1024 x 1024 x 2-channel region with {latency * 1000:.0f} ms per request\n")
        table(
            ["file", "requests", "read time", "round trips (time / latency)"],
            latency_rows(tmp, latency),
        )
        say("## Full-image reduction (mean per channel) on a LocalCluster\n")
        red = reduction_rows(tmp, gib, 2 if args.quick else 3)
        table(
            [
                "cluster",
                "tasks",
                "median time",
                "throughput",
                "worker CPU",
                "cores busy",
                "speed-up",
            ],
            red,
        )
        speedup = float(red[-1][-1].rstrip("x"))
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        say(
            f"_{os.cpu_count()} CPUs; load average {load} after the runs (other work on the "
            "machine slows the 2-worker run most)_\n"
        )
        say(
            f"_target: 2 workers >= 1.6x faster than 1; measured {speedup:.2f}x "
            f"({'met' if speedup >= 1.6 else 'NOT met'})_\n"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
