"""Whole-slide verbs (issue 7): imgio's tile verbs, slide facade and DeepZoom vs peers.

``python -m benchmarks.bench_wsi [--quick]``. Every (case, tool) runs in a fresh
interpreter (its own peak RSS), tools alternate round by round (paired on a loaded
machine), and each row reports the median over rounds of the per-call time.

Data: the 32768² RGB JPEG pyramid of :mod:`benchmarks._read_data` (tiles of 512,
levels halving to 512) and the CMU-1-Small-Region SVS sample when present.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import _read_data
from ._harness import (
    emit,
    fmt_mb,
    fmt_ms,
    machine_line,
    median,
    rss_peak,
    run_child,
    say,
    table,
    timed,
)

MODULE = "benchmarks.bench_wsi"
SVS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "samples"
    / "wsi"
    / "libvips-CMU-1-Small-Region.svs"
)
N_TILES = 200


# ------------------------------------------------------------------ child side
def _grid(path: str) -> tuple[int, int, int, int]:
    """(columns, rows, tile width, tile height) of level 0's stored tiles."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        return page.chunked[1], page.chunked[0], page.tilewidth, page.tilelength


def _floor(path: str, decode: bool) -> Callable[[int, int], Any]:
    """Read (and decode) exactly one stored tile with tifffile's offsets and imagecodecs."""
    import imagecodecs
    import tifffile

    tif = tifffile.TiffFile(path)
    page = tif.pages[0]
    offsets, counts, cols = page.dataoffsets, page.databytecounts, page.chunked[1]
    tables = page.jpegtables
    rgb = page.photometric == 2
    fh = open(path, "rb")  # noqa: SIM115 - held for the whole run

    def one(x: int, y: int) -> Any:
        i = y * cols + x
        fh.seek(offsets[i])
        data = fh.read(counts[i])
        if not decode:
            return tables[:-2] + data[2:] if tables else data
        space = "RGB" if rgb else None
        return imagecodecs.jpeg8_decode(data, tables=tables, colorspace=space, outcolorspace="RGB")

    return one


def setup(tool: str, case: str, path: str) -> Callable[..., Any]:
    """A callable doing one unit of ``case`` with ``tool`` (tile cases take tile indices)."""
    cols, rows, tw, th = _grid(path)
    if tool.startswith("imgio"):
        import imgio
        import imgio.slide as sl
        from imgio.slide.deepzoom import DeepZoomGenerator

        ts = imgio.Image(path).tiles
        z = ts.levels - 1
        fmt = "jpeg" if tool == "imgio-jpeg" else "numpy"
        osr = sl.OpenSlide(path)
        dz = DeepZoomGenerator(osr)
        imgio_cases: dict[str, Callable[..., Any]] = {
            "tile": lambda x, y: ts.get_tile(x, y, z, format=fmt),
            "region": lambda: ts.get_region(4096, 4096, 8192, 8192, output_width=1024),
            "thumbnail": lambda: ts.thumbnail(512, 512),
            "iterate": lambda: sum(t["tile"].size > 0 for t in ts.tile_iterator(512, 32, scale=4)),
            "read_region": lambda x, y: osr.read_region((x, y), 0, (512, 512)),
            "deepzoom": lambda x, y: dz.get_tile(dz.level_count - 2, (x, y)),
        }
        return imgio_cases[case]
    if tool in ("floor", "bytes"):
        return _floor(path, decode=tool == "floor")
    if tool == "large_image":
        import large_image

        src = large_image.open(path)
        npy = large_image.constants.TILE_FORMAT_NUMPY
        z = src.levels - 1
        box = {"left": 4096, "top": 4096, "right": 8192, "bottom": 8192}
        tiling = {
            "tile_size": {"width": 512, "height": 512},
            "tile_overlap": {"x": 32, "y": 32},
            "output": {"maxWidth": 8192, "maxHeight": 8192},
            "format": npy,
        }
        li_cases: dict[str, Callable[..., Any]] = {
            "tile": lambda x, y: src.getTile(x, y, z, numpyAllowed="always"),
            "tile-jpeg": lambda x, y: src.getTile(x, y, z),
            "region": lambda: src.getRegion(region=box, output={"maxWidth": 1024}, format=npy),
            "thumbnail": lambda: src.getThumbnail(width=512, height=512, format=npy),
            "iterate": lambda: sum(t["tile"].size > 0 for t in src.tileIterator(**tiling)),
        }
        return li_cases[case]
    if tool in ("openslide", "tiffslide"):
        mod: Any = __import__(tool)
        osr = mod.OpenSlide(path)
        extra = {"as_array": True} if tool == "tiffslide" else {}
        if case == "tile":
            return lambda x, y: osr.read_region((x * tw, y * th), 0, (tw, th), **extra)
        if case == "read_region":
            return lambda x, y: osr.read_region((x, y), 0, (512, 512), **extra)
        if case == "region":
            level = osr.get_best_level_for_downsample(4)
            return lambda: osr.read_region((4096, 4096), level, (1024, 1024), **extra)
        if case == "thumbnail":
            return lambda: osr.get_thumbnail((512, 512))
        if case == "deepzoom":
            from openslide.deepzoom import DeepZoomGenerator as RefDeepZoom

            ref = RefDeepZoom(osr)
            return lambda x, y: ref.get_tile(ref.level_count - 2, (x, y))
    if tool == "pyvips":
        import pyvips

        if case == "thumbnail":
            return lambda: pyvips.Image.thumbnail(path, 512).numpy()
        if case == "region":
            return lambda: pyvips.Image.tiffload(path, page=2).crop(1024, 1024, 1024, 1024).numpy()
    raise ValueError(f"no {case!r} case for {tool!r}")


def _spots(case: str, path: str, n: int) -> list[tuple[int, int]]:
    cols, rows, _, _ = _grid(path)
    rng = np.random.default_rng(0)
    if case in ("tile", "tile-jpeg"):
        return [(int(rng.integers(cols)), int(rng.integers(rows))) for _ in range(n)]
    if case == "read_region":
        import tifffile

        with tifffile.TiffFile(path) as tif:
            h, w = tif.pages[0].shape[:2]
        return [(int(rng.integers(w - 512)), int(rng.integers(h - 512))) for _ in range(n)]
    return [(int(rng.integers(32)), int(rng.integers(32))) for _ in range(n)]  # deepzoom


def child(spec: dict[str, Any]) -> None:
    path, case, tool = spec["path"], spec["case"], spec["tool"]
    func = setup(tool, case if tool == "large_image" else case.replace("-jpeg", ""), path)
    if case in ("tile", "tile-jpeg", "read_region", "deepzoom"):
        spots = _spots(case, path, spec["n"])
        func(*spots[0])  # warm up: open handles, parse the IFD
        wall, cpu, _ = timed(lambda: [func(x, y) for x, y in spots])
        per, cpu = wall / len(spots), cpu / len(spots)
    else:
        if case != "iterate":
            func()  # warm up
        if tool == "large_image":  # its caches would serve the timed call from memory
            import large_image.cache_util

            large_image.cache_util.cachesClear()
        per, cpu, value = timed(func)
        if case == "iterate":
            emit({"time": per, "cpu": cpu, "rss": rss_peak(), "count": int(value)})
            return
    emit({"time": per, "cpu": cpu, "rss": rss_peak()})


# ----------------------------------------------------------------- parent side
CASES: list[tuple[str, str, list[str], str]] = [
    # (case, data, tools, what the time is)
    ("tile", "pyramid", ["floor", "imgio", "large_image", "openslide", "tiffslide"], "per tile"),
    ("tile-jpeg", "pyramid", ["bytes", "imgio-jpeg", "large_image"], "per tile"),
    ("region", "pyramid", ["imgio", "large_image", "openslide", "tiffslide", "pyvips"], "per call"),
    (
        "thumbnail",
        "pyramid",
        ["imgio", "large_image", "openslide", "tiffslide", "pyvips"],
        "per call",
    ),
    ("iterate", "pyramid", ["imgio", "large_image"], "whole level"),
    ("read_region", "pyramid", ["imgio", "openslide", "tiffslide"], "per region"),
    ("deepzoom", "pyramid", ["imgio", "openslide"], "per tile"),
    ("tile", "svs", ["floor", "imgio", "large_image", "openslide", "tiffslide"], "per tile"),
    ("thumbnail", "svs", ["imgio", "large_image", "openslide", "tiffslide", "pyvips"], "per call"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_wsi", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--only", action="append", help="only these cases")
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    pyramid = _read_data.pyramid_path()
    if not pyramid.exists():
        _read_data.DATA.mkdir(parents=True, exist_ok=True)
        _read_data.make_pyramid(pyramid)
    paths = {"pyramid": str(pyramid)}
    if SVS.is_file():
        paths["svs"] = str(SVS)
    rounds = 1 if args.quick else 3
    n = 50 if args.quick else N_TILES
    say("## Whole-slide verbs (issue 7)\n")
    say(machine_line() + "\n")
    rows = []
    for case, data, tools, unit in CASES:
        if data not in paths or (args.only and case not in args.only):
            continue
        path = paths[data]
        spec = {"path": path, "case": case, "n": n}
        results: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
        for _ in range(rounds):
            for tool in tools:
                results[tool].append(run_child(MODULE, {**spec, "tool": tool}))
        ref = median([r["time"] for r in results[tools[0]] if "time" in r])
        for tool in tools:
            ok = [r for r in results[tool] if "time" in r]
            if not ok:
                err = results[tool][0].get("error", "?")
                rows.append([case, data, tool, "-", "-", "-", "-", f"error: {err[:60]}"])
                continue
            t = median([r["time"] for r in ok])
            rss = max(r["rss"] for r in ok)
            cpu = median([r["cpu"] for r in ok])
            note = unit + (f", {ok[0]['count']} tiles" if "count" in ok[0] else "")
            rows.append(
                [case, data, tool, fmt_ms(t), f"{t / ref:.2f}×", fmt_ms(cpu), fmt_mb(rss), note]
            )
        say(
            table(
                ["case", "data", "tool", "ms", "ratio", "CPU ms", "peak RSS MB", "time is"],
                rows[-len(tools) :],
            )
        )
        say()
    say("Ratios are to the first tool of each case (the floor where there is one).\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
