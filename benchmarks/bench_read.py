"""Reading benchmarks of issue 2: region reads, open latency, one plane, the whole stack.

``python -m benchmarks.bench_read [--quick] [--tools a,b]`` prints markdown tables.
Every (tool, case) runs in a fresh interpreter (peak RSS per case, no shared caches);
see ``benchmarks/README.md`` for what each row means.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _read_data, _read_tools
from ._harness import (
    emit,
    fmt_mb,
    fmt_ms,
    fmt_ratio,
    machine_line,
    median,
    rss_now,
    rss_peak,
    run_child,
    say,
    table,
    timed,
)

MODULE = "benchmarks.bench_read"
SIZE = 1024
LEVELS = (0, 2)


# ================================================================ child side
def _finish(runs: list[tuple[float, float]], base: int, **extra: Any) -> None:
    emit(
        {
            "times": [r[0] for r in runs],
            "cpu": [r[1] for r in runs],
            "rss_base": base,
            "rss_peak": rss_peak(),
            **extra,
        }
    )


def _runs(func: Callable[[], Any], n: int) -> list[tuple[float, float]]:
    return [timed(func)[:2] for _ in range(n)]


def warm_cache(path: str) -> None:
    """Read the file once (untimed) so that every tool starts from a warm page cache."""
    buf = bytearray(16 << 20)
    with open(path, "rb", buffering=0) as fh:
        while fh.readinto(buf):
            pass


def child_region(spec: dict[str, Any]) -> None:
    warm_cache(spec["path"])
    read = _read_tools.REGION[spec["tool"]](spec["path"], spec["level"], SIZE)
    base = rss_now()
    read(*spec["warm"])
    spots = [tuple(s) for s in spec["spots"]]
    check = float(np.asarray(read(*spots[0]))[..., :3].mean())
    times = [timed(lambda s=s: read(*s))[:2] for _ in range(spec["passes"]) for s in spots]
    extra: dict[str, Any] = {"check": check}
    if spec["tool"] == "imgio":
        extra["lazy"] = _laziness(read, spots, spec["tile"])
    _finish(times, base, **extra)


def _laziness(
    read: Callable[[int, int], Any], spots: list[tuple[int, ...]], tile: int
) -> list[int]:
    """Spots whose read decoded exactly the covering tiles, and how many spots."""
    from imgio.readers.base import STATS

    good = 0
    decoded = []
    for y, x in spots:
        want = ((y + SIZE - 1) // tile - y // tile + 1) * ((x + SIZE - 1) // tile - x // tile + 1)
        STATS.reset()
        read(y, x)
        decoded.append(STATS.chunks_decoded)
        good += STATS.chunks_decoded == want
    return [good, len(spots), want, max(decoded)]


def child_open(spec: dict[str, Any]) -> None:
    warm_cache(spec["path"])
    func = _read_tools.OPEN[spec["tool"]]
    base = rss_now()
    func(spec["path"])  # warm-up: imports, first-use caches of the library
    gc.collect()
    times = _runs(lambda: func(spec["path"]), spec["repeats"])
    _finish(times, base)


def child_plane(spec: dict[str, Any]) -> None:
    warm_cache(spec["path"])
    read = _read_tools.plane_readers(spec["path"])[spec["tool"]]()
    base = rss_now()
    check = float(np.asarray(read()).mean())
    times = _runs(read, spec["repeats"])
    _finish(times, base, check=check)


def child_whole(spec: dict[str, Any]) -> None:
    setup = _read_tools.whole_readers(spec["path"])[spec["tool"]]
    times: list[tuple[float, float]] = []
    base = 0
    check = None
    for i in range(spec["repeats"]):
        warm_cache(spec["path"])
        read = setup()  # fresh per repeat: nothing may come from a cache
        if i == 0:
            base = rss_now()
        seconds, cpu, data = timed(read)
        times.append((seconds, cpu))
        if check is None:
            check = float(np.asarray(data)[:, :, :, ::64, ::64].mean())
        del data, read
        gc.collect()
    _finish(times, base, check=check)


def child_paired(spec: dict[str, Any]) -> None:
    """imgio and the floor in one process, alternating per spot: a ratio robust to load."""
    warm_cache(spec["path"])
    floor = _read_tools.REGION["floor"](spec["path"], spec["level"], SIZE)
    imgio = _read_tools.REGION["imgio"](spec["path"], spec["level"], SIZE)
    base = rss_now()
    floor(*spec["warm"])
    imgio(*spec["warm"])
    mine: list[tuple[float, float]] = []
    ref: list[tuple[float, float]] = []
    for i, (y, x) in enumerate(spec["spots"] * spec["passes"]):
        pair = [(imgio, mine), (floor, ref)]
        for read, into in pair if i % 2 else pair[::-1]:
            into.append(timed(lambda read=read, y=y, x=x: read(y, x))[:2])
    _finish(mine, base, ref=[r[0] for r in ref], ref_cpu=[r[1] for r in ref])


CHILDREN = {
    "region": child_region,
    "paired": child_paired,
    "open": child_open,
    "plane": child_plane,
    "whole": child_whole,
}


def run_rounds(jobs: dict[str, tuple[dict[str, Any], int]]) -> dict[str, dict[str, Any]]:
    """Run every job's child ``rounds`` times, round-robin across jobs, and merge.

    Interleaving spreads changes in the machine's load evenly over the tools. Times
    concatenate; peak RSS and Δ RSS are the largest of any round.
    """
    merged: dict[str, dict[str, Any]] = {}
    for r in range(max((n for _, n in jobs.values()), default=0)):
        for name, (spec, rounds) in jobs.items():
            if r >= rounds or "error" in merged.get(name, {}):
                continue
            res = run_child(MODULE, spec)
            if "error" in res:
                merged[name] = res
                continue
            res["rss_delta"] = max(0, res["rss_peak"] - res["rss_base"])
            have = merged.setdefault(name, {"times": [], "cpu": [], "ref": [], "ref_cpu": []})
            for key in ("times", "cpu", "ref", "ref_cpu"):
                have[key] += res.get(key, [])
            for key in ("rss_peak", "rss_delta"):
                have[key] = max(have.get(key, 0), res[key])
            have.setdefault("check", res.get("check"))
            if "lazy" in res:
                old = have.get("lazy", [0, 0, res["lazy"][2], 0])
                new = res["lazy"]
                have["lazy"] = [old[0] + new[0], old[1] + new[1], new[2], max(old[3], new[3])]
    return merged


# =============================================================== parent side
def spots(
    shape: tuple[int, int], level: int, n: int, tile: int
) -> tuple[list[list[int]], list[int]]:
    """``n`` fixed, seeded, not tile-aligned corners of SIZE regions, plus a warm-up corner."""
    rng = np.random.default_rng(2024 + level)
    out = []
    for _ in range(n + 1):
        y, x = (int(rng.integers(1, s - SIZE)) for s in shape)
        out.append([y + (y % tile == 0), x + (x % tile == 0)])
    return out[1:], out[0]


def _row(name: str, res: dict[str, Any], ref: float, note: str = "") -> list[str]:
    if "error" in res:
        return [name, "-", "-", "-", "-", "-", "-", f"failed: {res['error']}"]
    t = median(res["times"])
    delta = res["rss_delta"]
    return [
        name,
        str(len(res["times"])),
        fmt_ms(t),
        fmt_ratio(t, ref),
        fmt_ms(median(res["cpu"])),
        fmt_mb(res["rss_peak"]),
        fmt_mb(max(delta, 0)),
        note,
    ]


HEAD = ["tool", "n", "median ms", "ratio", "CPU ms", "peak RSS MiB", "Δ RSS MiB", "notes"]


def _check_note(res: dict[str, Any], ref: dict[str, Any], tol: float) -> str:
    if "check" not in res or "check" not in ref or res["check"] is None:
        return ""
    diff = abs(res["check"] - ref["check"])
    return "" if diff <= tol else f"pixels differ from floor (Δmean {diff:.2f})"


def bench_regions(path: str, quick: bool, tools: list[str]) -> tuple[str, dict[str, Any]]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        shapes = {lv: tuple(tif.series[0].levels[lv].shape[:2]) for lv in LEVELS}
    n = 5 if quick else 20
    rounds = 1 if quick else 3
    out, results = [], {}
    for level in LEVELS:
        pts, warm = spots(shapes[level], level, n, _read_data.TILE)
        rows = []
        common = {"path": path, "level": level, "warm": warm, "tile": _read_data.TILE}
        jobs = {}
        for tool in [t for t in _read_tools.REGION if _base(t) in tools]:
            spec = {"case": "region", "tool": tool, "spots": pts, "passes": 1, **common}
            if tool == "bioio":  # decodes the whole plane per read: a few spots, once
                jobs[tool] = ({**spec, "spots": pts[: 1 if quick else 2]}, 1)
            elif tool == "large_image":  # its tile cache would serve later rounds
                jobs[tool] = (spec, 1)
            else:
                jobs[tool] = (spec, rounds)
        if {"floor", "imgio"} <= set(jobs):
            jobs["paired"] = ({"case": "paired", "spots": pts, "passes": 1, **common}, rounds)
        res_level = run_rounds(jobs)
        paired = res_level.pop("paired", None)
        ref = median(res_level.get("floor", {}).get("times", []))
        for tool, res in res_level.items():
            note = {
                "openslide": "returns RGBA; tile cache off",
                "pyvips": "operation cache off",
                "bioio": f"{1 if quick else 2} spots, 1 round (decodes whole planes)",
                "large_image": "1 round (keeps a tile cache)",
            }.get(tool, "")
            if tool == "floor":
                note = "pread + imagecodecs.jpeg_decode on 2 threads"
            if tool == "bioio" and "error" in res and "Resolution level" in res["error"]:
                res = {"error": "bioio-tifffile sees only level 0 of a page pyramid"}
            extra = _check_note(res, res_level.get("floor", {}), 1.0)
            rows.append(_row(tool, res, ref, "; ".join(x for x in (note, extra) if x)))
        side = shapes[level][0]
        out.append(
            f"### Region read 1024 × 1024, level {level} ({side} × {side} RGB JPEG tiles 512), "
            f"{len(pts)} fixed spots × {rounds} rounds; ratio to the floor; load {_load()}\n\n"
            + table(HEAD, rows)
        )
        if paired is not None:
            res_level["paired"] = paired
        results[level] = res_level
    return "\n\n".join(out), results


def _base(tool: str) -> str:
    """The library a row belongs to: "tifffile+zarr" and "tifffile.imread" are tifffile."""
    return tool.split(" ")[0].split(".")[0].split("+")[0]


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def bench_simple(
    case: str,
    paths: dict[str, str],
    tools: list[str],
    repeats: int,
    rounds: int,
    ref_tool: str,
    title: str,
    overrides: dict[str, tuple[int, int]] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Rows of one case for every file; ``overrides`` maps a tool to (repeats, rounds)."""
    out, results = [], {}
    for label, path in paths.items():
        names = {
            "open": list(_read_tools.OPEN),
            "plane": list(_read_tools.plane_readers(path)),
            "whole": list(_read_tools.whole_readers(path)),
        }[case]
        jobs = {}
        for tool in names:
            if _base(tool) not in tools:
                continue
            n, r = (overrides or {}).get(tool, (repeats, rounds))
            jobs[tool] = ({"case": case, "tool": tool, "path": path, "repeats": n}, r)
        res_file = run_rounds(jobs)
        ref = median(res_file.get(ref_tool, {}).get("times", []))
        rows = [
            _row(t, r, ref, _check_note(r, res_file.get("floor", {}), 0.0))
            for t, r in res_file.items()
        ]
        out.append(
            f"### {title.format(label=label)}; ratio to {ref_tool}; load {_load()}\n\n"
            + table(HEAD, rows)
        )
        results[label] = res_file
    return "\n\n".join(out), results


# ============================================================ targets, main
ENGINE = "imgio (xarray engine, no dask)"


def _t(res: dict[str, Any], tool: str, key: str = "times") -> float:
    return median(res.get(tool, {}).get(key, []))


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if a == a and b == b and b > 0 else "-"


def targets(
    regions: dict[int, Any], opens: dict[str, Any], planes: dict[str, Any], wholes: dict[str, Any]
) -> str:
    rows = []

    def add(name: str, res: dict[str, Any], tool: str, ref: str, limit: float) -> None:
        wall, base = _t(res, tool), _t(res, ref)
        cpu = _ratio(_t(res, tool, "cpu"), _t(res, ref, "cpu"))
        met = (
            "-"
            if not (wall == wall and base == base)
            else "met"
            if wall / base <= limit
            else "MISSED"
        )
        rows.append(
            [
                name,
                f"≤ {limit}× {ref}",
                _ratio(wall, base),
                cpu,
                met,
                f"{tool} {fmt_ms(wall)} ms vs {fmt_ms(base)} ms",
            ]
        )

    for level, res in regions.items():
        add(f"region read, level {level}", res, "imgio", "floor", 1.2)
        add(f"region read, level {level}, no dask", res, ENGINE, "floor", 1.2)
        pair = res.get("paired")
        if pair and pair.get("times"):
            mine, ref = median(pair["times"]), median(pair["ref"])
            cpu = _ratio(median(pair["cpu"]), median(pair["ref_cpu"]))
            met = "met" if mine / ref <= 1.2 else "MISSED"
            rows.append(
                [
                    f"region read, level {level}, paired in one process",
                    "≤ 1.2× floor",
                    _ratio(mine, ref),
                    cpu,
                    met,
                    f"imgio {fmt_ms(mine)} ms vs {fmt_ms(ref)} ms, alternating per spot",
                ]
            )
    add("open OME-TIFF (3,000 planes)", opens.get("OME-TIFF", {}), "imgio", "tifffile", 1.5)
    add("open pyramid", opens.get("pyramid", {}), "imgio", "tifffile", 2.0)
    for tool in ("imgio (xarray isel)", "imgio (get_image_data)", ENGINE):
        add(f"one plane, {tool}", planes.get("OME-TIFF", {}), tool, "tifffile+zarr", 1.2)
    for tool in ("imgio (xarray .values)", "imgio (Image.data)", ENGINE):
        add(f"whole OME-TIFF, {tool}", wholes.get("OME-TIFF", {}), tool, "floor", 1.1)
    deltas = {lv: r.get("imgio", {}) for lv, r in regions.items()}
    if deltas and all("rss_peak" in d for d in deltas.values()):
        mb = {lv: d["rss_delta"] / 2**20 for lv, d in deltas.items()}
        spread = max(mb.values()) - min(mb.values())
        text = ", ".join(f"level {lv}: Δ {v:.0f} MiB" for lv, v in mb.items())
        rows.append(
            [
                "region memory independent of image size",
                "same Δ RSS",
                f"±{spread:.0f} MiB",
                "-",
                "met" if spread < 64 else "MISSED",
                text + " (32768² vs 8192² pixels)",
            ]
        )
    lazy = regions.get(0, {}).get("imgio", {}).get("lazy")
    if lazy:
        good, n, want, most = lazy
        rows.append(
            [
                "laziness: a level-0 region decodes only its tiles",
                f"{want} tiles",
                f"{good}/{n} spots",
                "-",
                "met" if good == n else "MISSED",
                f"STATS.chunks_decoded per read, at most {most}",
            ]
        )
    return f"### Targets (issue 2); load {_load()}\n\n" + table(
        ["target", "limit", "wall ratio", "CPU ratio", "status", "medians"], rows
    )


ALL_TOOLS = [
    "floor",
    "imgio",
    "tifffile",
    "tiffslide",
    "openslide",
    "pyvips",
    "large_image",
    "bioio",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_read", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer spots and repeats")
    parser.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated subset")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        CHILDREN[spec["case"]](spec)
        return 0
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    q = args.quick
    made = _read_data.ensure(q)
    pyramid, ome = str(made["pyramid"]), str(made["ome"])
    say(
        f"## Read benchmarks\n\n{machine_line()}; warm page cache; medians of wall time "
        f"(CPU = process CPU time, all threads: less sensitive to other load); "
        f"{'quick' if q else 'full'} mode\n"
    )
    text, regions = bench_regions(pyramid, q, tools)
    say(text + "\n")
    rounds = 1 if q else 3
    text, opens = bench_simple(
        "open",
        {"OME-TIFF": ome, "pyramid": pyramid},
        tools,
        5 if q else 10,
        rounds,
        "tifffile",
        "Open latency, {label}",
    )
    say(text + "\n")
    text, planes = bench_simple(
        "plane",
        {"OME-TIFF": ome},
        tools,
        10 if q else 20,
        rounds,
        "tifffile+zarr",
        "One plane (T=0, C=0, Z=0) of 512 × 512 uint16, {label}",
    )
    say(text + "\n")
    text, wholes = bench_simple(
        "whole",
        {"OME-TIFF": ome},
        tools,
        1 if q else 2,
        rounds,
        "floor",
        "Whole {label} (1.5 GB, 3,000 uncompressed planes)",
        {"bioio": (1, 1 if q else 2)},
    )
    say(text + "\n")
    say(targets(regions, opens, planes, wholes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
