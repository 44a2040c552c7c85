"""bench_dask's write table: peak RSS and time of streaming writes by image size, vs pyvips.

Each case runs in a fresh interpreter (``bench_dask --child``): imgio writing a lazily
generated RGB image in 2048² dask chunks (OME-TIFF JPEG / zstd, OME-Zarr), and for the
TIFF rows pyvips writing the same pyramid from the same pixels made by libvips operators,
alternated per size.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ._harness import emit, fmt_mb, rss_peak, run_child, table, timed

MODULE = "benchmarks.bench_dask"
CHUNK = 2048


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def _lazy_rgb(height: int, width: int, chunk: int) -> Any:
    """A lazily generated RGB image in ``chunk``² dask chunks (the issue's 2048²)."""
    import dask.array as da

    from .bench_write import _pattern

    def block(block_info: Any = None) -> np.ndarray:
        (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
        y, x = np.ogrid[y0:y1, x0:x1]
        return _pattern(y, x)

    chunks = da.core.normalize_chunks((chunk, chunk, 3), (height, width, 3))
    return da.map_blocks(block, dtype=np.uint8, chunks=chunks, meta=np.empty((0, 0, 0), np.uint8))


def child_write(spec: dict[str, Any]) -> None:
    import imgio
    import imgio.writers.ome_tiff  # noqa: F401 - imports before the clock

    data = _lazy_rgb(*spec["shape"], CHUNK)
    kind = spec["kind"]
    out = spec["out"] + (".ome.zarr" if kind == "zarr" else ".ome.tif")
    opts: dict[str, Any] = {"dims": "YXS"}
    if kind == "jpeg":
        opts.update(tile=512, compression="jpeg", quality=85)
    elif kind == "zstd":
        opts.update(tile=512, compression="zstd")
    seconds, used, _ = timed(lambda: imgio.write(data, out, **opts))
    emit({"seconds": seconds, "cpu": used, "peak": rss_peak()})


def _vips_pattern(height: int, width: int) -> Any:
    """The same pixels as ``bench_write._pattern``, generated lazily by libvips."""
    import pyvips

    from .bench_write import _WAVE

    xyz = pyvips.Image.xyz(width, height)
    x8, y8 = xyz[0] & 255, xyz[1] & 255
    red = (((x8 / 3).floor() + (y8 / 5).floor()).cast("uint") & 255).cast("uchar")
    green = (((((x8 * 7) & 255) ^ ((y8 * 3) & 255)) >> 1) + 64).cast("uchar")
    lut = pyvips.Image.new_from_memory(_WAVE.tobytes(), 256, 1, 1, "uchar")
    blue = (((x8 >> 1) + (y8 >> 1)) & 255).cast("uchar").maplut(lut)
    return red.bandjoin([green, blue]).copy(interpretation="srgb")


def child_vips(spec: dict[str, Any]) -> None:
    """pyvips writing the same pyramid (tiled, 512², SubIFD levels) from a lazy source."""
    height, width = spec["shape"]
    image = _vips_pattern(height, width)
    # this libvips has no zstd in its libtiff: deflate at its fastest level stands in
    opts: dict[str, Any] = (
        {"compression": "jpeg", "Q": 85}
        if spec["kind"] == "jpeg"
        else {"compression": "deflate", "level": 1}
    )
    big = height * width * 3 * 4 // 3 > 2**32 - 2**27  # imgio's BigTIFF rule
    seconds, used, _ = timed(
        lambda: image.tiffsave(
            spec["out"] + ".tif",
            tile=True,
            tile_width=512,
            tile_height=512,
            pyramid=True,
            subifd=True,
            bigtiff=big,
            **opts,
        )
    )
    emit({"seconds": seconds, "cpu": used, "peak": rss_peak()})


SHAPES = {"6k": (6000, 6000), "24k": (24000, 24000), "40x60k": (40000, 60000)}


def _write_once(case: str, kind: str, shape: tuple[int, int], folder: Path) -> dict[str, Any]:
    spec = {"case": case, "kind": kind, "shape": list(shape), "out": str(folder / "w")}
    r = run_child(MODULE, spec, timeout=3600)
    for p in folder.iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return r


def bench_write(quick: bool, sizes: list[str] | None = None, kinds: list[str] | None = None) -> str:
    """imgio's streaming writes by size; for TIFF, pyvips writing the same pyramid, alternated."""
    names = sizes or ["6k", "24k", "40x60k"]
    shapes = [(2000, 2000), (6000, 6000)] if quick else [SHAPES[n] for n in names]
    folder = Path(tempfile.mkdtemp(prefix="imgio-bench-dask-", dir="/tmp"))
    rows = []
    try:
        for kind in kinds or ["jpeg", "zstd", "zarr"]:
            for shape in shapes:
                size = f"{shape[0]:,} × {shape[1]:,}"
                ref = None if kind == "zarr" else _write_once("vips", kind, shape, folder)
                got = _write_once("write", kind, shape, folder)
                peer = "pyvips" if kind == "jpeg" else "pyvips (deflate 1)"
                for tool, r in (("imgio", got), (peer, ref)):
                    if r is None:
                        continue
                    if "error" in r:
                        rows.append([kind, size, tool, "failed", "-", "-", r["error"][:60]])
                        continue
                    ratio = (
                        f"{r['seconds'] / ref['seconds']:.2f}×"
                        if ref is not None and "seconds" in ref
                        else "-"
                    )
                    rows.append(
                        [
                            kind,
                            size,
                            tool,
                            f"{r['seconds']:.1f}",
                            f"{r['cpu']:.1f}",
                            ratio,
                            fmt_mb(r["peak"]),
                        ]
                    )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    head = ["output", "size", "tool", "wall s", "CPU s", "time / pyvips", "peak RSS MiB"]
    return (
        f"### Streaming write of a lazily generated RGB image (dask chunks {CHUNK}²; pyvips: "
        f"the same pixels from libvips operators), pyramidal, 512² tiles; load {_load()}\n\n"
        + table(head, rows)
    )
