"""LIF and ND2 benchmark (issue 8): imgio vs the format's own library and vs bioio.

``python -m benchmarks.bench_instruments [--quick] [--samples DIR]`` prints one markdown
table per sample family plus the Targets table. Every sample of ``lif/`` and ``nd2/`` in
the shared sample folder is timed in one process, paired: each round runs every tool once
(the order rotating between rounds) after all libraries are imported and warmed, and the
table gives median wall milliseconds and imgio's ratio to each peer in wall and in CPU
time (the process's CPU over the call, every thread). The Targets are judged on CPU time:
on a shared, loaded machine a millisecond-scale wall time mostly measures preemption.

Rows per file: ``open`` (structure only), ``whole read`` (open + every scene into numpy;
LIF tile scans as tiles on ``M``, the layout both peers return), and for files with
several T/Z planes ``plane (get_image_data)`` and ``plane (dask)``: open + one YX plane
(a fresh object each time, since bioio caches what it read), the plane index cycling.
A synthetic LAS X-style tile scan (``_lif_data.write_lif``: 3 x 3 tiles of 1024², T=2
Z=3 C=2, 113 MB, uint8) adds a big file and ``mosaic 512² region``: open + a 512 x 512
window of one plane at the centre of the reconstructed mosaic. A last table times
synthetic Olympus OIF/OIB and LAS X XLEF projects (written by the test helpers
``tests/oif_writer.py`` and ``tests/xlif_writer.py``) against oiffile and liffile.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._harness import fmt_ms, fmt_ratio, machine_line, median, say, table, timed
from ._lif_data import write_lif

SAMPLES = Path(
    os.environ.get("IMGIO_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "samples")
)
Tool = Callable[[Path, int], Any]


# ================================================================= tool adapters
def _imgio_open(path: Path, _k: int) -> Any:
    import imgio

    return imgio.Image(path, reconstruct_mosaic=False)


def _imgio_read(path: Path, _k: int) -> list[Any]:
    img = _imgio_open(path, 0)
    out = []
    for s in range(len(img.scenes)):
        img.set_scene(s)
        out.append(img.data)
    return out


def _liffile_open(path: Path, _k: int) -> Any:
    import liffile

    with liffile.LifFile(path) as lif:
        return [im.shape for im in lif.images]


def _liffile_read(path: Path, _k: int) -> list[Any]:
    import liffile

    with liffile.LifFile(path) as lif:
        return [im.asarray() for im in lif.images]


def _nd2_open(path: Path, _k: int) -> Any:
    import nd2

    with nd2.ND2File(path) as f:
        return f.sizes


def _nd2_read(path: Path, _k: int) -> Any:
    import nd2

    with nd2.ND2File(path) as f:
        return f.asarray()


def _bioio_reader(path: Path) -> Any:
    if path.suffix == ".lif":
        from bioio_lif import Reader
    else:
        from bioio_nd2 import Reader
    return Reader


def _bioio_open(path: Path, _k: int) -> Any:
    from bioio import BioImage

    img = BioImage(path, reader=_bioio_reader(path))
    return img.dims


def _bioio_read(path: Path, _k: int) -> list[Any]:
    from bioio import BioImage

    img = BioImage(path, reader=_bioio_reader(path))
    out = []
    for s in range(len(img.scenes)):
        img.set_scene(s)
        out.append(img.data)
    return out


def _plane_tools(path: Path, scene: int, dim: str, n: int) -> dict[str, Callable[[int], Any]]:
    """Open + one YX plane (plane ``k % n`` along ``dim``, every other dim at 0)."""
    from bioio import BioImage

    import imgio

    probe = imgio.Image(path)
    probe.set_scene(scene)
    sizes = dict(zip(probe.dims.order, probe.dims.shape, strict=True))
    others = {d: 0 for d, size in sizes.items() if size > 1 and d not in ("Y", "X", dim)}

    def imgio_eager(k: int) -> Any:
        img = imgio.Image(path)
        img.set_scene(scene)
        return img.get_image_data("YX", **others, **{dim: k % n})

    def imgio_dask(k: int) -> Any:
        img = imgio.Image(path)
        img.set_scene(scene)
        return img.xarray_dask_data.isel(others | {dim: k % n}).values

    def bioio_eager(k: int) -> Any:
        ref = BioImage(path, reader=_bioio_reader(path))
        ref.set_scene(scene)
        return ref.get_image_data("YX", **others, **{dim: k % n})

    def bioio_dask(k: int) -> Any:
        ref = BioImage(path, reader=_bioio_reader(path))
        ref.set_scene(scene)
        return ref.xarray_dask_data.isel(others | {dim: k % n}).values

    return {
        "imgio get_image_data": imgio_eager,
        "bioio get_image_data": bioio_eager,
        "imgio dask": imgio_dask,
        "bioio dask": bioio_dask,
    }


def _mosaic_tools(path: Path) -> dict[str, Callable[[int], Any]]:
    """Open + a 512 x 512 region of one plane of the reconstructed mosaic, at its centre."""
    from bioio import BioImage

    import imgio

    def imgio_region(_k: int) -> Any:
        img = imgio.Image(path)
        cy, cx = img.dims.Y // 2, img.dims.X // 2
        window = {"Y": slice(cy - 256, cy + 256), "X": slice(cx - 256, cx + 256)}
        return img.get_image_data("YX", T=0, C=0, Z=0, **window)

    def bioio_region(_k: int) -> Any:
        ref = BioImage(path, reader=_bioio_reader(path))  # reconstruct_mosaic=True
        d = ref.xarray_dask_data
        cy, cx = d.sizes["Y"] // 2, d.sizes["X"] // 2
        window = {"Y": slice(cy - 256, cy + 256), "X": slice(cx - 256, cx + 256)}
        return d.isel(T=0, C=0, Z=0, **window).values

    return {"imgio": imgio_region, "bioio": bioio_region}


# ================================================================= timing
FAILED: dict[str, str] = {}  # "file case tool" -> the error a peer raised


def paired(
    tools: dict[str, Callable[[int], Any]], rounds: int, label: str = ""
) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per tool; each round runs every tool once, order rotating.

    A tool that fails on the file (a peer that cannot read it) gets NaN and its error
    is remembered in :data:`FAILED`.
    """
    names = []
    for name in tools:  # warm-up (imports, first-call caches)
        try:
            tools[name](0)
        except Exception as exc:  # noqa: BLE001 - a peer's failure is a result
            FAILED[f"{label} {name}"] = f"{type(exc).__name__}: {exc}"[:120]
            continue
        names.append(name)
    walls: dict[str, list[float]] = {n: [] for n in tools}
    cpus: dict[str, list[float]] = {n: [] for n in tools}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        gc.collect()  # once per round; no collection pauses inside the timed calls
        gc.disable()
        try:
            for name in order:
                wall, cpu, _value = timed(lambda name=name, r=r: tools[name](r + 1))
                walls[name].append(wall)
                cpus[name].append(cpu)
        finally:
            gc.enable()
    return {n: (median(walls[n]), median(cpus[n])) for n in tools}  # median([]) is NaN


def _row(
    name: str, case: str, t: dict[str, tuple[float, float]], mine: str, own: str, peer: str
) -> list[str]:
    """file, case, wall ms of imgio / own / bioio, then imgio's wall and CPU ratios."""
    get = {k: t.get(k, (float("nan"), float("nan"))) for k in (mine, own, peer)}
    return [
        name,
        case,
        fmt_ms(get[mine][0]),
        fmt_ms(get[own][0]),
        fmt_ms(get[peer][0]),
        f"{fmt_ratio(get[mine][0], get[own][0])} / {fmt_ratio(get[mine][1], get[own][1])}",
        f"{fmt_ratio(get[mine][0], get[peer][0])} / {fmt_ratio(get[mine][1], get[peer][1])}",
    ]


def plane_case(path: Path) -> tuple[int, str, int] | None:
    """(scene, dim, size) of the largest T or Z loop of a file, None without one."""
    import imgio

    img = imgio.Image(path)
    best = None
    for s in range(len(img.scenes)):
        img.set_scene(s)
        for dim in "TZ":
            n = int(getattr(img.dims, dim))
            if n > 1 and (best is None or n > best[2]):
                best = (s, dim, n)
    return best


Check = tuple[str, tuple[float, float], tuple[float, float], float]


def bench_file(path: Path, rounds: int) -> tuple[list[list[str]], list[Check]]:
    own = "liffile" if path.suffix == ".lif" else "nd2"
    opens = {
        "imgio": lambda k: _imgio_open(path, k),
        own: lambda k: (_liffile_open if own == "liffile" else _nd2_open)(path, k),
        "bioio": lambda k: _bioio_open(path, k),
    }
    reads = {
        "imgio": lambda k: _imgio_read(path, k),
        own: lambda k: (_liffile_read if own == "liffile" else _nd2_read)(path, k),
        "bioio": lambda k: _bioio_read(path, k),
    }
    rows, checks = [], []
    for case, tools in (("open", opens), ("whole read", reads)):
        t = paired(tools, rounds, f"{path.name} {case}")
        rows.append(_row(path.name, case, t, "imgio", own, "bioio"))
        checks.append((f"{path.name} {case}: imgio / bioio", t["imgio"], t["bioio"], 1.0))
        if case == "whole read":
            checks.append((f"{path.name} {case}: imgio / {own}", t["imgio"], t[own], 1.1))
    if path.name.startswith("synthetic"):  # a big tile scan: a region of the mosaic
        t = paired(_mosaic_tools(path), rounds, f"{path.name} mosaic")
        label = "mosaic 512² region"
        rows.append(_row(path.name, label, t, "imgio", "-", "bioio"))
        checks.append((f"{path.name} {label}: imgio / bioio", t["imgio"], t["bioio"], 1.0))
    found = plane_case(path)
    if found is not None:
        scene, dim, n = found
        t = paired(_plane_tools(path, scene, dim, n), rounds * 2, f"{path.name} plane")
        for how in ("get_image_data", "dask"):
            label = f"plane {dim} ({how})"
            a, b = f"imgio {how}", f"bioio {how}"
            rows.append(_row(path.name, label, t, a, "-", b))
            checks.append((f"{path.name} {label}: imgio / bioio", t[a], t[b], 1.0))
    return rows, checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_instruments")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    parser.add_argument("--rounds", type=int, default=None, help="paired rounds (default 21)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 21)
    warnings.simplefilter("ignore")
    say(f"## LIF and ND2 (issue 8)\n\n{machine_line()}; {rounds} paired rounds, median ms\n")
    status = 0
    tmp = Path(tempfile.mkdtemp(prefix="imgio-bench-lif-"))
    synthetic = write_lif(tmp / "synthetic-tilescan.lif", tile=1024, grid=(3, 3))
    for family in ("lif", "nd2"):
        files = sorted((args.samples / family).glob(f"*.{family}"))
        if family == "lif":
            files.append(synthetic)
        if not files:
            say(f"_no {family} samples in {args.samples}_\n")
            continue
        own = "liffile" if family == "lif" else "nd2"
        rows: list[list[str]] = []
        checks: list[Check] = []
        for path in files:
            r, c = bench_file(path, rounds)
            rows += r
            checks += c
        headers = ["file", "case", "imgio ms", f"{own} ms", "bioio ms"]
        headers += [f"imgio/{own} wall / CPU", "imgio/bioio wall / CPU"]
        say(table(headers, rows) + "\n")
        target_rows = []
        for label, a, b, limit in checks:
            if b[0] != b[0]:  # the peer failed on this file
                target_rows.append([label, f"≤ {limit}", "-", "-", "peer fails"])
                continue
            ok = a[1] <= b[1] * limit  # on CPU time: the machine is shared
            status = status or (0 if ok else 1)
            target_rows.append(
                [
                    label,
                    f"≤ {limit}",
                    fmt_ratio(a[0], b[0]),
                    fmt_ratio(a[1], b[1]),
                    "met" if ok else "MISSED",
                ]
            )
        say(table(["target", "limit", "wall", "CPU", "status (CPU)"], target_rows) + "\n")
    bench_projects(tmp, rounds)
    for where, error in FAILED.items():
        say(f"- {where} fails: {error}")
    shutil.rmtree(tmp, ignore_errors=True)
    return status


def bench_projects(tmp: Path, rounds: int) -> None:
    """Synthetic Olympus OIF/OIB (``tests/oif_writer``: T3 C2 Z8 of 512² uint16, a TIFF per
    plane) and a LAS X XLEF (``tests/xlif_writer``: the tile-scan LIF of ``tests/data``
    as per-plane TIFFs and as a LOF): open and whole read vs oiffile / liffile."""
    import liffile
    import oiffile

    here = Path(__file__).resolve().parents[1] / "tests"
    sys.path.insert(0, str(here))
    from oif_writer import write_oib, write_oif
    from xlif_writer import write_xlef, write_xlif

    data = np.random.default_rng(0).integers(0, 4096, (3, 2, 8, 512, 512), dtype=np.uint16)
    files = {
        "synthetic.oif": write_oif(tmp / "oif", "synthetic", data, dyes=["DAPI", "GFP"]),
        "synthetic.oib": write_oib(tmp / "synthetic.oib", data, dyes=["DAPI", "GFP"]),
    }
    lif = here / "data" / "readlif-PR2729_frameOrderCombinedScanTypes.lif"
    write_xlif(lif, tmp / "xlef" / "Images", kind="tif", name="tifs")
    write_xlif(lif, tmp / "xlef" / "Images", kind="lof", name="lof")
    files["synthetic.xlef"] = write_xlef(
        tmp / "xlef" / "p.xlef", ["Images/tifs.xlif", "Images/lof.xlif"]
    )

    def own_open(path: Path) -> Any:
        if path.suffix == ".xlef":
            with liffile.LifFile(path) as lf:
                return [im.shape for im in lf.images]
        with oiffile.OifFile(path) as of:
            return of.shape

    def own_read(path: Path) -> Any:
        if path.suffix == ".xlef":
            with liffile.LifFile(path) as lf:
                return [im.asarray() for im in lf.images]
        with oiffile.OifFile(path) as of:
            return of.asarray()

    rows = []
    for name, path in files.items():
        for case, tools in (
            (
                "open",
                {
                    "imgio": lambda k, p=path: _imgio_open(p, k),
                    "own": lambda k, p=path: own_open(p),
                },
            ),
            (
                "whole read",
                {
                    "imgio": lambda k, p=path: _imgio_read(p, k),
                    "own": lambda k, p=path: own_read(p),
                },
            ),
        ):
            t = paired(tools, rounds, f"{name} {case}")
            rows.append(_row(name, case, t, "imgio", "own", "-"))
    say("\n### Olympus OIF/OIB and LAS X XLEF (synthetic), vs oiffile / liffile\n")
    headers = ["file", "case", "imgio ms", "own ms", "-", "imgio/own wall / CPU", "-"]
    say(table(headers, [r[:5] + r[5:6] + ["-"] for r in rows]) + "\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
