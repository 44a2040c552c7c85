"""References read through zarr vs imgio's own read (issue 18: within 1.2x).

``python -m benchmarks.bench_refs [--quick]``

Files (written once into a cache folder with tifffile): a tiled zstd 16-bit image, a tiled
JPEG RGB slide, uncompressed 16-bit strips, plus the shared ``largeimage-yb10kx5k.zstd.tiff``
when present. Per file and tool, in a fresh interpreter: open + read of level 0 whole and of
a 1024 x 1024 region; the best of the repeats (the machine is shared) and the child's peak
RSS (VmHWM).

- ``imgio``: ``imgio.Image(path)``, ``get_image_dask_data().compute()`` (its decode pool);
- ``zarr+refs``: ``imgio.references(path)`` once (timed apart: "refs build"), then plain
  ``zarr`` over fsspec's ``reference://`` filesystem (imgio not used for the read).

``--split`` shows where the zarr read's time goes, per file in one interpreter (best of 3,
wall and CPU): imgio's whole read; zarr over ``reference://``; zarr over a plain ``LocalStore``
holding the very same chunk bytes as files (no fsspec: zarr's own per-chunk cost); the
reference filesystem's ``cat`` of every chunk without decoding (fsspec's cost); plain
``pread`` of the chunks; the numcodecs codec decoding every chunk on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ._harness import emit, fmt_mb, fmt_ms, fmt_ratio, run_child, say, table

CACHE = Path(os.environ.get("IMGIO_BENCH_CACHE", "/tmp/imgio-bench-refs"))
SHARED = Path(
    os.environ.get("IMGIO_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "samples")
)


def _files(quick: bool) -> dict[str, Path]:
    import numpy as np
    import tifffile

    CACHE.mkdir(parents=True, exist_ok=True)
    n = 4096 if quick else 8192
    rng = np.random.default_rng(18)
    yy, xx = np.mgrid[0:n, 0:n]
    smooth = ((np.sin(yy / 97.0) + np.cos(xx / 53.0)) * 8000 + 20000).astype(np.uint16)
    out = {}
    specs: dict[str, tuple[Any, dict[str, Any]]] = {
        f"zstd-u16-{n}": (smooth, {"tile": (512, 512), "compression": "zstd"}),
        f"jpeg-rgb-{n}": (
            np.stack([smooth >> 8, (smooth >> 7) & 255, xx & 255], -1).astype(np.uint8),
            {"tile": (256, 256), "compression": "jpeg", "photometric": "rgb"},
        ),
        f"raw-strips-u16-{n}": (smooth, {"rowsperstrip": 64}),
    }
    for name, (data, options) in specs.items():
        path = CACHE / f"{name}.tif"
        if not path.exists():
            noisy = data + rng.integers(0, 4, data.shape, dtype=data.dtype)
            tifffile.imwrite(path, noisy, metadata=None, **options)
        out[name] = path
    shared = SHARED / "tiff" / "largeimage-yb10kx5k.zstd.tiff"
    if shared.exists() and not quick:
        out["shared yb10kx5k zstd"] = shared
    return out


def _hwm() -> int:
    """Peak RSS of this process image (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(spec: dict[str, Any]) -> None:
    import time

    import dask.array  # noqa: F401 - warm imports: both tools pay them before timing
    import numpy as np
    import xarray  # noqa: F401
    import zarr  # noqa: F401

    path, tool, repeats = spec["path"], spec["tool"], spec["repeats"]
    whole, region, build = [], [], float("nan")
    if tool == "imgio":
        import imgio

        for _ in range(repeats):
            t0 = time.perf_counter()
            img = imgio.Image(path)
            full = img.reader.source(0, 0)
            arr = img.get_image_dask_data().compute()
            whole.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            part = imgio.Image(path).get_image_dask_data(Y=slice(1000, 2024), X=slice(1000, 2024))
            part.compute()
            region.append(time.perf_counter() - t0)
        checksum = int(np.asarray(arr, dtype=np.uint64).sum())
        shape = list(full.shape)
    else:
        import fsspec
        import zarr
        from imagecodecs.numcodecs import register_codecs

        import imgio

        register_codecs(verbose=False)
        t0 = time.perf_counter()
        refs = imgio.references(path)
        build = time.perf_counter() - t0
        for _ in range(repeats):
            t0 = time.perf_counter()
            fs = fsspec.filesystem("reference", fo=refs, asynchronous=True)
            group = zarr.open_group(zarr.storage.FsspecStore(fs, read_only=True), mode="r")
            arr = group["0"][...]
            whole.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fs = fsspec.filesystem("reference", fo=refs, asynchronous=True)
            group = zarr.open_group(zarr.storage.FsspecStore(fs, read_only=True), mode="r")
            dims = json.loads(refs["refs"]["0/.zattrs"])["_ARRAY_DIMENSIONS"]
            key = tuple(slice(1000, 2024) if d in ("y", "x") else slice(None) for d in dims)
            group["0"][key]
            region.append(time.perf_counter() - t0)
        checksum = int(np.asarray(arr, dtype=np.uint64).sum())
        shape = list(arr.shape)
    emit(
        {
            "whole": min(whole),  # the least disturbed run on a shared machine
            "region": min(region),
            "build": build,
            "rss": _hwm(),
            "checksum": checksum,
            "shape": shape,
        }
    )


def _split_child(spec: dict[str, Any]) -> None:
    import shutil
    import tempfile
    import time

    import dask.array  # noqa: F401 - warm imports
    import fsspec
    import numcodecs
    import numpy as np
    import zarr
    from imagecodecs.numcodecs import register_codecs

    import imgio

    register_codecs(verbose=False)
    path = spec["path"]
    refs = imgio.references(path)
    r = refs["refs"]
    keys = [k for k in r if k.startswith("0/") and not k.rsplit("/", 1)[-1].startswith(".")]
    zarray = json.loads(r["0/.zarray"])
    folder = tempfile.mkdtemp(prefix="imgio-refs-split-")
    try:
        for key, ref in r.items():  # the same chunk bytes as files of a plain zarr v2 store
            os.makedirs(os.path.dirname(os.path.join(folder, key)), exist_ok=True)
            with open(os.path.join(folder, key), "wb") as fh:
                if isinstance(ref, str):
                    fh.write(ref.encode())
                else:
                    with open(ref[0], "rb") as src:
                        src.seek(ref[1])
                        fh.write(src.read(ref[2]))

        def plain_reads() -> list[bytes]:
            fd = os.open(path, os.O_RDONLY)
            try:
                return [os.pread(fd, r[k][2], r[k][1]) for k in keys]
            finally:
                os.close(fd)

        blobs = plain_reads()
        codec = numcodecs.get_codec(zarray["compressor"]) if zarray["compressor"] else None
        steps = {
            "imgio": lambda: imgio.Image(path).get_image_dask_data().compute(),
            "zarr + reference://": lambda: zarr.open_group(
                zarr.storage.FsspecStore(
                    fsspec.filesystem("reference", fo=refs, asynchronous=True), read_only=True
                ),
                mode="r",
            )["0"][...],
            "zarr + LocalStore, same chunks": lambda: zarr.open_group(
                zarr.storage.LocalStore(folder, read_only=True), mode="r"
            )["0"][...],
            "reference:// cat, no decode": lambda: fsspec.filesystem("reference", fo=refs).cat(
                keys
            ),
            "pread of the chunks": plain_reads,
            "codec alone, 1 thread": lambda: [
                codec.decode(b) if codec else np.frombuffer(b, np.uint8).copy() for b in blobs
            ],
        }
        out = {}
        for name, step in steps.items():
            step()  # warm
            best = (float("inf"), float("inf"))
            for _ in range(3):
                t0, c0 = time.perf_counter(), time.process_time()
                step()
                best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
            out[name] = best
        codec_id = zarray["compressor"]["id"] if zarray["compressor"] else "none"
        emit({"chunks": len(keys), "shape": zarray["chunks"], "codec": codec_id, "steps": out})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _split(quick: bool) -> None:
    say("## Where a zarr read over the references spends its time\n")
    rows = []
    for name, path in _files(quick).items():
        got = run_child("benchmarks.bench_refs", {"path": str(path), "split": True})
        if "error" in got:
            rows.append([name, str(got["error"])[:60], "-", "-", "-", "-"])
            continue
        base_wall, base_cpu = got["steps"]["imgio"]
        chunk = "x".join(str(n) for n in got["shape"])
        for step, (wall, cpu) in got["steps"].items():
            rows.append(
                [
                    f"{name} ({got['chunks']} chunks of {chunk}, {got['codec']})",
                    step,
                    fmt_ms(wall),
                    fmt_ms(cpu),
                    fmt_ratio(wall, base_wall),
                    fmt_ratio(cpu, base_cpu),
                ]
            )
    say(table(["file", "step", "wall ms", "CPU ms", "wall / imgio", "CPU / imgio"], rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_refs")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--split", action="store_true", help="where the zarr read's time goes")
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        if spec.get("split"):
            _split_child(spec)
        else:
            _child(spec)
        return 0
    if args.split:
        _split(args.quick)
        return 0
    repeats = 2 if args.quick else 3
    say("## References read through zarr vs imgio's own read\n")
    rows = []
    for name, path in _files(args.quick).items():
        got = {
            tool: run_child(
                "benchmarks.bench_refs", {"path": str(path), "tool": tool, "repeats": repeats}
            )
            for tool in ("imgio", "zarr+refs")
        }
        if any("error" in r for r in got.values()):
            rows.append([name] + [str(r.get("error", ""))[:60] for r in got.values()] + ["-"] * 6)
            continue
        mine, refs = got["imgio"], got["zarr+refs"]
        same = "yes" if mine["checksum"] == refs["checksum"] else "NO"
        size = f"{path.stat().st_size / 2**20:.0f}"
        rows.append(
            [
                name,
                size,
                fmt_ms(refs["build"]),
                fmt_ms(mine["whole"]),
                fmt_ms(refs["whole"]),
                fmt_ratio(refs["whole"], mine["whole"]),
                fmt_ms(mine["region"]),
                fmt_ms(refs["region"]),
                fmt_ratio(refs["region"], mine["region"]),
                f"{fmt_mb(mine['rss'])} / {fmt_mb(refs['rss'])}",
                same,
            ]
        )
    headers = [
        "file",
        "MiB",
        "refs build ms",
        "imgio whole ms",
        "zarr whole ms",
        "zarr/imgio",
        "imgio 1024² ms",
        "zarr 1024² ms",
        "zarr/imgio",
        "peak RSS MiB imgio / zarr",
        "same sum",
    ]
    say(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
