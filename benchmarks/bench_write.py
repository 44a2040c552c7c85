"""Writer benchmarks (issue 3): mosaic of JPEGs, 2-channel pyramids, lazy RGB at scale.

``python -m benchmarks.bench_write [--quick] [--only a|b|c] [--repeats N]`` prints one markdown
table. Cases that are compared run round-robin, ``N`` times each (median wall and CPU
time, largest peak RSS), because the machine's load changes from minute to minute.
Every (case, tool) runs in a fresh interpreter; wall time is the write only (imports,
input data and one warm-up run on a tiny input come before the clock starts), peak RSS is
the child's ``ru_maxrss`` (whole
process: interpreter, libraries, inputs held in memory and the write).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._harness import emit, fmt_mb, fmt_ratio, median, rss_peak, run_child, table

MODULE = "benchmarks.bench_write"
JPEG_SHAPE = (2048, 1450, 3)  # height, width, samples: 10 x 10 of them make 20,480 x 14,500


# ------------------------------------------------------------------ inputs
_WAVE = (128 + 100 * np.sin(np.arange(256) * 2 * np.pi / 256)).astype(np.uint8)


def _pattern(y: np.ndarray, x: np.ndarray, k: int = 0) -> np.ndarray:
    """A cheap synthetic RGB pattern with some texture (uint8 arithmetic wraps around)."""
    y8, x8 = (y % 256).astype(np.uint8), (x % 256).astype(np.uint8)
    out = np.empty((y.shape[0], x.shape[1], 3), np.uint8)
    out[..., 0] = x8 // 3 + y8 // 5 + np.uint8(7 * k % 256)
    out[..., 1] = ((x8 * np.uint8(7)) ^ (y8 * np.uint8(3))) // 2 + 64
    out[..., 2] = _WAVE[(x8 // 2 + y8 // 2 + np.uint8(k % 256))]
    return out


def make_jpegs(folder: Path, n: int) -> list[str]:
    import imagecodecs

    y, x = np.ogrid[: JPEG_SHAPE[0], : JPEG_SHAPE[1]]
    paths = []
    for k in range(n):
        path = folder / f"sector-{k:03d}.jpg"
        path.write_bytes(imagecodecs.jpeg_encode(_pattern(y, x, k), level=90))
        paths.append(str(path))
    return paths


def _two_channel(size: int) -> np.ndarray:
    """Two uint16 channels (gradient + noise), built row band by row band (no big temporaries)."""
    rng = np.random.default_rng(0)
    out = np.empty((2, size, size), np.uint16)
    x = np.arange(size, dtype=np.uint16)[None, :]
    for y0 in range(0, size, 1024):
        y = np.arange(y0, min(size, y0 + 1024), dtype=np.uint16)[:, None]
        rows = slice(y0, y0 + y.shape[0])
        out[0, rows] = (x * np.uint16(3) + y) % np.uint16(4096)
        out[1, rows] = (x ^ y) % np.uint16(2048)
        out[:, rows] += rng.integers(0, 64, (2, y.shape[0], size), dtype=np.uint16)
    return out


def _halve(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[-2:]
    b = a[..., : h // 2 * 2, : w // 2 * 2].astype(np.uint32)
    return (
        (b[..., ::2, ::2] + b[..., 1::2, ::2] + b[..., ::2, 1::2] + b[..., 1::2, 1::2] + 2) // 4
    ).astype(a.dtype)


def _lazy_rgb(height: int, width: int) -> Any:
    import dask.array as da

    def block(block_info: Any = None) -> np.ndarray:
        (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
        y, x = np.ogrid[y0:y1, x0:x1]
        return _pattern(y, x)

    return da.map_blocks(
        block,
        dtype=np.uint8,
        chunks=da.core.normalize_chunks((512, 4096, 3), (height, width, 3)),
        meta=np.empty((0, 0, 0), np.uint8),
    )


# ------------------------------------------------------------------ cases (child side)
def a_imgio(spec: dict[str, Any]) -> Callable[[], None]:
    import dask
    import dask.array as da
    import imagecodecs

    import imgio

    def read(path: str) -> np.ndarray:
        with open(path, "rb") as fh:
            return imagecodecs.jpeg8_decode(fh.read())  # type: ignore[no-any-return]

    items = [
        da.from_delayed(dask.delayed(read)(p), shape=JPEG_SHAPE, dtype=np.uint8)
        for p in spec["inputs"]
    ]

    def run() -> None:
        joined = imgio.mosaic(items, across=10, dims="YXS")
        imgio.write(
            joined,
            spec["out"] + ".ome.tif",
            tile=256,
            compression="jpeg",
            quality=75,
            pyramid_levels=1,
        )

    return run


def a_pyvips(spec: dict[str, Any]) -> Callable[[], None]:
    import pyvips

    def run() -> None:
        images = [pyvips.Image.new_from_file(p, access="sequential") for p in spec["inputs"]]
        pyvips.Image.arrayjoin(images, across=10).tiffsave(
            spec["out"] + ".tif",
            tile=True,
            tile_width=256,
            tile_height=256,
            compression="jpeg",
            Q=75,
        )

    return run


def b_imgio_zarr(spec: dict[str, Any], data: np.ndarray) -> Callable[[], None]:
    import imgio.writers.ome_zarr  # noqa: F401 - imports before the clock

    return lambda: imgio.write(
        data, spec["out"] + ".ome.zarr", dims="CYX", chunks=1024, pyramid_levels=3
    )


def b_ngff_zarr(spec: dict[str, Any], data: np.ndarray) -> Callable[[], None]:
    import ngff_zarr as nz

    def run() -> None:
        image = nz.to_ngff_image(data, dims=["c", "y", "x"])
        ms = nz.to_multiscales(
            image,
            scale_factors=[2, 4],
            method=nz.Methods.ITKWASM_BIN_SHRINK,
            chunks={"c": 1, "y": 1024, "x": 1024},
        )
        nz.to_ngff_zarr(spec["out"] + ".ome.zarr", ms, version="0.4")

    return run


def b_ome_zarr_py(spec: dict[str, Any], data: np.ndarray) -> Callable[[], None]:
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image

    def run() -> None:
        root = zarr.open_group(spec["out"] + ".ome.zarr", mode="w", zarr_format=2)
        write_image(
            data,
            root,
            scale_factors=(2, 4),
            axes="cyx",
            fmt=FormatV04(),
            storage_options={"chunks": (1, 1024, 1024)},
        )

    return run


def b_imgio_tiff(spec: dict[str, Any], data: np.ndarray) -> Callable[[], None]:
    import imgio.writers.ome_tiff  # noqa: F401 - imports before the clock

    return lambda: imgio.write(
        data, spec["out"] + ".ome.tif", dims="CYX", tile=512, compression="zstd", pyramid_levels=3
    )


def b_tifffile(spec: dict[str, Any], data: np.ndarray) -> Callable[[], None]:
    import tifffile

    def run() -> None:
        levels = [data]
        for _ in range(2):
            levels.append(_halve(levels[-1]))
        options = {
            "tile": (512, 512),
            "compression": "zstd",
            "maxworkers": os.cpu_count(),
            "photometric": "minisblack",
        }
        with tifffile.TiffWriter(spec["out"] + ".ome.tif", ome=True) as tif:
            tif.write(levels[0], subifds=2, metadata={"axes": "CYX"}, **options)
            for level in levels[1:]:
                tif.write(level, subfiletype=1, **options)

    return run


def c_imgio(spec: dict[str, Any]) -> Callable[[], None]:
    import imgio.writers.ome_tiff  # noqa: F401 - imports before the clock

    data = _lazy_rgb(*spec["shape"])
    return lambda: imgio.write(
        data, spec["out"] + ".ome.tif", dims="YXS", tile=512, compression="jpeg", quality=85
    )


CASES: dict[str, Callable[..., Callable[[], None]]] = {
    f.__name__: f
    for f in (
        a_imgio,
        a_pyvips,
        b_imgio_zarr,
        b_ngff_zarr,
        b_ome_zarr_py,
        b_imgio_tiff,
        b_tifffile,
        c_imgio,
    )
}


def _warm_up(spec: dict[str, Any]) -> None:
    """Run the case once on a tiny input, so first-call costs stay off the clock."""
    folder = Path(tempfile.mkdtemp(prefix="warm-", dir=Path(spec["out"]).parent))
    tiny = {
        **spec,
        "out": str(folder / "warm"),
        "inputs": spec.get("inputs", [])[:2],
        "shape": [512, 512],
    }
    try:
        args = [_two_channel(64)] if spec["case"].startswith("b_") else []
        CASES[spec["case"]](tiny, *args)()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def child(spec: dict[str, Any]) -> None:
    func = CASES[spec["case"]]
    _warm_up(spec)
    args = [_two_channel(spec["size"])] if spec["case"].startswith("b_") else []
    run = func(spec, *args)  # imports and inputs, before the clock
    t0, c0 = time.perf_counter(), time.process_time()
    run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = [
        p for p in Path(spec["out"]).parent.iterdir() if p.name.startswith(Path(spec["out"]).name)
    ]
    size = sum(
        f.stat().st_size for p in out for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()
    )
    emit({"seconds": seconds, "cpu": cpu, "peak": rss_peak(), "bytes": size})


# ------------------------------------------------------------------ parent side
def _run(case: str, folder: Path, **spec: Any) -> dict[str, Any]:
    out = folder / case
    result = run_child(MODULE, {"case": case, "out": str(out), **spec}, timeout=1800)
    for p in folder.iterdir():
        if p.name.startswith(case + "."):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return result


def _compare(cases: list[str], folder: Path, repeats: int, **spec: Any) -> list[dict[str, Any]]:
    """Run ``cases`` round-robin ``repeats`` times (fresh interpreters); medians, max RSS."""
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in cases}
    for _ in range(repeats):
        for case in cases:
            runs[case].append(_run(case, folder, **spec))
    out = []
    for case in cases:
        good = [r for r in runs[case] if "error" not in r]
        if not good:
            out.append(runs[case][0])
            continue
        out.append(
            {
                "seconds": median([r["seconds"] for r in good]),
                "cpu": median([r["cpu"] for r in good]),
                "peak": max(r["peak"] for r in good),
                "bytes": good[0]["bytes"],
                "n": len(good),
            }
        )
    return out


def _row(
    label: str, tool: str, r: dict[str, Any], ref: dict[str, Any] | None, target: str
) -> list[str]:
    if "error" in r:
        return [label, tool, "error", "-", "-", "-", "-", "-", target + f" ({r['error'][:80]})"]
    ok_t = fmt_ratio(r["seconds"], ref["seconds"]) if ref and "seconds" in ref else "-"
    ok_m = fmt_ratio(r["peak"], ref["peak"]) if ref and "peak" in ref else "-"
    return [
        label,
        tool,
        f"{r['seconds']:.2f}",
        f"{r['cpu']:.2f}",
        fmt_mb(r["peak"]),
        ok_t,
        ok_m,
        fmt_mb(r["bytes"]),
        target,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m " + MODULE, description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", action="append", choices=["a", "b", "c"])
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per case, round-robin (median)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    wanted = args.only or ["a", "b", "c"]
    repeats = 1 if args.quick else args.repeats
    rows: list[list[str]] = []
    folder = Path(tempfile.mkdtemp(prefix="imgio-bench-write-", dir="/tmp"))
    try:
        if "a" in wanted:
            n = 16 if args.quick else 100
            inputs = make_jpegs(folder, n)
            size = "5,800 x 8,192" if args.quick else "14,500 x 20,480"
            label = f"(a) {n} JPEGs -> {size} tiled JPEG TIFF"
            ref, got = _compare(["a_pyvips", "a_imgio"], folder, repeats, inputs=inputs)
            rows.append(_row(label, "pyvips arrayjoin+tiffsave", ref, None, "reference"))
            rows.append(_row(label, "imgio mosaic+write", got, ref, "time <= 1.00x, RSS <= 1.50x"))
            for p in inputs:
                os.unlink(p)
        if "b" in wanted:
            size = 2048 if args.quick else 8192
            label = f"(b) 2 x {size}^2 uint16, 3 levels"
            cases = ["b_ngff_zarr", "b_ome_zarr_py", "b_imgio_zarr", "b_tifffile", "b_imgio_tiff"]
            ngff, omezarr, zarr_, tiff, tiff_ = _compare(cases, folder, repeats, size=size)
            zl, tl = label + ", OME-Zarr 0.4", label + ", OME-TIFF zstd"
            rows.append(_row(zl, "ngff-zarr (bin-shrink)", ngff, None, "reference"))
            rows.append(_row(zl, "ome-zarr-py", omezarr, ngff, ""))
            rows.append(_row(zl, "imgio", zarr_, ngff, "time <= 1.00x ngff-zarr"))
            rows.append(_row(tl, "tifffile by hand", tiff, None, "reference"))
            rows.append(_row(tl, "imgio", tiff_, tiff, "time <= 1.00x tifffile"))
        if "c" in wanted:
            small = [(2500, 2500), (10000, 15000)]
            shapes = small if args.quick else [(10000, 10000), (40000, 60000)]
            first = None
            for shape in shapes:
                (r,) = _compare(["c_imgio"], folder, 1, shape=list(shape))
                label = f"(c) lazy RGB {shape[0]:,} x {shape[1]:,} -> pyramidal JPEG OME-TIFF"
                rows.append(_row(label, "imgio", r, first, "RSS < 1 GiB, flat"))
                first = first or r
            # glibc keeps freed buffers per thread arena; with fewer arenas the peak stays flat
            os.environ["MALLOC_ARENA_MAX"] = "2"
            try:
                (r,) = _compare(["c_imgio"], folder, 1, shape=list(shapes[-1]))
            finally:
                del os.environ["MALLOC_ARENA_MAX"]
            rows.append(_row(label, "imgio, MALLOC_ARENA_MAX=2", r, first, "RSS < 1 GiB, flat"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    headers = ["benchmark", "tool", "wall s", "CPU s", "peak RSS MiB", "time ratio", "RSS ratio"]
    headers += ["output MiB", "target"]
    print(table(headers, rows), flush=True)  # noqa: T201 - the report
    return 0


if __name__ == "__main__":
    sys.exit(main())
