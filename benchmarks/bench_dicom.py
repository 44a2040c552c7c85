"""DICOM WSI reading (issue 17): imgio vs wsidicom and OpenSlide 4, and DICOMweb on Orthanc.

``python -m benchmarks.bench_dicom [--quick] [--size 16384] [--only CASE]``. Every
(case, tool) runs in a fresh interpreter (its own peak RSS); tools alternate round by
round and each row is the median over rounds.

Data: a DICOM WSI series written by ``tests/dicom_wsi.py`` into ``benchmarks/_data``:
an RGB JPEG (YBR_FULL_422) pyramid, tiles 256, levels halving down to 256 px, TILED_FULL
with a Basic Offset Table (the layout wsidicom and OpenSlide both read).

Cases: ``open-cold`` (import the library and open the slide in a fresh interpreter, numpy
imported beforehand), ``open`` / ``open-again`` (open the slide and read its level sizes,
imports done: the first and the later opens of a process; three floors: one pydicom parse of
one header, reading every instance's first 64 KiB and walking each header with imgio's
walker, and reading them only), ``tile`` (200 random stored tiles
of level 0, decoded; imgio through ``TileSource.get_tile``), ``tile-jpeg`` (the same tiles'
stored JPEG bytes), ``region`` (a 1024² region of level 0), ``thumbnail`` (512 px);
per-call cases and ``open-again`` report the median of 15 calls of one process. A repeated
call is answered from wsidicom's and OpenSlide's decoded-tile caches (on by default), so
``region`` and ``thumbnail`` run each with its cache and without (``-nocache``), and imgio
without (``Image.tiles``) and with its tile cache (``+cache``, the default of ``imgio.slide``).
``web`` (when Orthanc is installed): the same slide uploaded to a loopback Orthanc; a
1024² region read through imgio (requests per instance counted by a loopback proxy) vs
fetching the same frames with one plain ``requests`` GET.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._harness import emit, fmt_mb, fmt_ms, machine_line, median, rss_peak, run_child, say, table
from ._harness import timed as _timed

MODULE = "benchmarks.bench_dicom"
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "_data"
TILE = 256
N_TILES = 200


def series_path(size: int) -> Path:
    return DATA / f"dicom-wsi-{size}-rgb-jpeg-tile{TILE}-v1"


def make_series(folder: Path, size: int) -> None:
    """A JPEG pyramid written level by level (textured tiles, repeated: fast to encode)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from dicom_wsi import Slide, write_level

    from ._read_data import texture_tile

    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    slide = Slide()
    tex = [texture_tile(seed, TILE) for seed in range(8)]
    side, k = size, 0
    while True:
        n = side // TILE
        rows = [np.concatenate([tex[(y * 7 + x) % 8] for x in range(n)], axis=1) for y in range(n)]
        image = np.concatenate(rows, axis=0)[None, None]
        write_level(
            tmp,
            image,
            (TILE, TILE),
            slide=slide,
            syntax="jpeg",
            name=f"L{k}",
            spacing_mm=0.00025 * 2**k,
        )
        if side <= TILE:
            break
        side //= 2
        k += 1
    tmp.rename(folder)


# ------------------------------------------------------------------ child side
def cold_open(tool: str, folder: str) -> Any:
    """Import the library and open the slide: what a fresh process pays (numpy is imported)."""
    first = str(sorted(Path(folder).glob("L0-*.dcm"))[0])
    if tool == "imgio":
        import imgio

        return imgio.Image(folder).reader.scenes()[0].shapes
    if tool == "wsidicom":
        from wsidicom import WsiDicom

        return [lv.size for lv in WsiDicom.open(folder).levels]
    import openslide

    return openslide.OpenSlide(first).level_dimensions


def setup(tool: str, case: str, folder: str) -> Callable[..., Any]:
    first = str(sorted(Path(folder).glob("L0-*.dcm"))[0])
    if tool.startswith("imgio"):
        import imgio

        # imports done (as wsidicom's import does): open another, tiny slide first
        imgio.Image(ROOT / "tests" / "data" / "dicom" / "sm_image").reader.scenes()

        if case.startswith("open"):
            return lambda: imgio.Image(folder).reader.scenes()[0].shapes
        ts = imgio.Image(folder).tiles
        if tool == "imgio+cache":  # decoded tiles kept, as imgio.slide does by default
            from imgio.slide import DEFAULT_CACHE_SIZE
            from imgio.tiles._cache import TileCache

            ts.set_tile_cache(TileCache(DEFAULT_CACHE_SIZE))
        z = ts.levels - 1
        fmt = "jpeg" if case == "tile-jpeg" else "numpy"
        cases: dict[str, Callable[..., Any]] = {
            "tile": lambda x, y: ts.get_tile(x, y, z, format=fmt),
            "tile-jpeg": lambda x, y: ts.get_tile(x, y, z, format=fmt),
            "region": lambda: ts.get_region(2048, 2048, 3072, 3072),
            "thumbnail": lambda: ts.thumbnail(512, 512),
        }
        return cases[case]
    if tool == "floor-pydicom":  # the least a pydicom-based open does: one header, parsed
        import pydicom

        return lambda: pydicom.dcmread(first, stop_before_pixels=True).TotalPixelMatrixRows
    if tool in ("floor-bytes", "floor-walk"):  # every instance's header bytes read (and
        from imgio.readers.dicom._fastds import parse_dataset  # walked: all a Python open does

        files = sorted(Path(folder).iterdir())
        walk = tool == "floor-walk"

        def read_heads() -> int:
            total = 0
            for f in files:
                with open(f, "rb") as fh:
                    head = fh.read(1 << 16)
                total += parse_dataset(head, 132)[1] if walk else len(head)
            return total

        return read_heads
    if tool.startswith("wsidicom"):
        from wsidicom import WsiDicom

        if tool == "wsidicom-nocache":  # no decoded (or encoded) frame cache
            from wsidicom.config import Settings, set_default_settings

            set_default_settings(Settings(decoded_frame_cache_size=0, encoded_frame_cache_size=0))

        if case.startswith("open"):
            return lambda: [lv.size for lv in WsiDicom.open(folder).levels]
        wsi = WsiDicom.open(folder)
        cases = {
            "tile": lambda x, y: np.asarray(wsi.read_tile(0, (x, y))),
            "tile-jpeg": lambda x, y: wsi.read_encoded_tile(0, (x, y)),
            "region": lambda: np.asarray(wsi.read_region((2048, 2048), 0, (1024, 1024))),
            "thumbnail": lambda: np.asarray(wsi.read_thumbnail((512, 512))),
        }
        return cases[case]
    if tool.startswith("openslide"):
        import openslide

        if case.startswith("open"):
            return lambda: openslide.OpenSlide(first).level_dimensions
        osr = openslide.OpenSlide(first)
        if tool == "openslide-nocache":
            osr.set_cache(openslide.OpenSlideCache(0))
        cases = {
            "tile": lambda x, y: np.asarray(osr.read_region((x * TILE, y * TILE), 0, (TILE, TILE))),
            "region": lambda: np.asarray(osr.read_region((2048, 2048), 0, (1024, 1024))),
            "thumbnail": lambda: np.asarray(osr.get_thumbnail((512, 512))),
        }
        return cases[case]
    raise ValueError(f"no {case!r} case for {tool!r}")


def child(spec: dict[str, Any]) -> None:
    folder, case, tool = spec["path"], spec["case"], spec["tool"]
    if case == "open-cold":
        wall, cpu, _ = _timed(lambda: cold_open(tool, folder))
        emit({"time": wall, "cpu": cpu, "rss": rss_peak()})
        return
    func = setup(tool, case, folder)
    if case.startswith("open"):  # imports are done; "open" is the first open, "open-again"
        first, cpu, _ = _timed(func)  # the later ones (median of REPEAT: a library may cache)
        if case == "open-again":
            first, cpu = _median_of(func)
        emit({"time": first, "cpu": cpu, "rss": rss_peak()})
        return
    if case.startswith("tile"):
        n = spec["size"] // TILE
        rng = np.random.default_rng(0)
        spots = [(int(rng.integers(n)), int(rng.integers(n))) for _ in range(spec["n"])]
        func(*spots[-1])  # warm up (not one of the timed tiles' rows only)
        wall, cpu, _ = _timed(lambda: [func(x, y) for x, y in spots])
        emit({"time": wall / len(spots), "cpu": cpu / len(spots), "rss": rss_peak()})
        return
    func()
    per, cpu = _median_of(func)
    emit({"time": per, "cpu": cpu, "rss": rss_peak()})


#: calls timed one by one for a per-call case; the median is reported (noise of a shared box)
REPEAT = 15


def _median_of(func: Callable[[], Any]) -> tuple[float, float]:
    """Median wall and median CPU seconds of REPEAT calls."""
    walls, cpus = [], []
    for _ in range(REPEAT):
        wall, cpu, _ = _timed(func)
        walls.append(wall)
        cpus.append(cpu)
    return median(walls), median(cpus)


# ----------------------------------------------------------------- parent side
FLOORS = ["floor-pydicom", "floor-walk", "floor-bytes"]
#: a repeated call is answered from the peers' decoded-tile caches (on by default in both):
#: each with its cache and without, and imgio with and without its tile cache (on by default
#: in ``imgio.slide``, off for ``Image.tiles``)
CACHED = ["imgio", "imgio+cache", "wsidicom", "wsidicom-nocache", "openslide", "openslide-nocache"]
CASES: list[tuple[str, list[str], str]] = [
    ("open-cold", ["imgio", "wsidicom", "openslide"], "import + first open"),
    ("open", ["imgio", "wsidicom", "openslide"], "first open"),
    ("open-again", ["imgio", "wsidicom", "openslide", *FLOORS], "later open"),
    ("tile", ["imgio", "wsidicom", "openslide"], "per tile"),
    ("tile-jpeg", ["imgio", "wsidicom"], "per tile"),
    ("region", CACHED, "per call"),
    ("thumbnail", CACHED, "per call"),
]


def _local(folder: Path, size: int, rounds: int, n: int, only: list[str] | None) -> None:
    for case, tools, unit in CASES:
        if only and case not in only:
            continue
        spec = {"path": str(folder), "case": case, "n": n, "size": size}
        results: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
        for _ in range(rounds):
            for tool in tools:
                results[tool].append(run_child(MODULE, {**spec, "tool": tool}))
        ref = median([r["time"] for r in results[tools[0]] if "time" in r])
        rows = []
        for tool in tools:
            ok = [r for r in results[tool] if "time" in r]
            if not ok:
                err = results[tool][0].get("error", "?")
                rows.append([case, tool, "-", "-", "-", "-", f"error: {err[:60]}"])
                continue
            t = median([r["time"] for r in ok])
            rows.append(
                [
                    case,
                    tool,
                    fmt_ms(t),
                    f"{t / ref:.2f}×",
                    fmt_ms(median([r["cpu"] for r in ok])),
                    fmt_mb(max(r["rss"] for r in ok)),
                    unit,
                ]
            )
        say(table(["case", "tool", "ms", "vs imgio", "CPU ms", "peak RSS MB", "time is"], rows))
        say()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_dicom", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--child")
    parser.add_argument("--make", action="store_true", help="only write the slide")
    parser.add_argument("--only", action="append", help="only these cases (web for DICOMweb)")
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    folder = series_path(args.size)
    if args.make:
        make_series(folder, args.size)
        return 0
    if not folder.exists():  # in a child: its memory must not count in the children's peaks
        subprocess.run(
            [sys.executable, "-m", MODULE, "--make", "--size", str(args.size)], cwd=ROOT, check=True
        )
    rounds = 1 if args.quick else 3
    say("## DICOM WSI reading (issue 17)\n")
    say(machine_line() + "\n")
    say(f"Slide: {args.size}² RGB JPEG, tiles {TILE}, TILED_FULL, one instance per level.\n")
    _local(folder, args.size, rounds, 50 if args.quick else N_TILES, args.only)
    if not args.only or "web" in args.only:
        from ._dicom_web import web_rows

        rows = web_rows(folder, rounds)
        if rows:
            say(table(["case", "tool", "ms", "vs plain GET", "frames requests", "frames"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
