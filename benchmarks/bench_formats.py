"""Instrument formats and common images: open, whole read, one plane; the JPEG mosaic job.

``python -m benchmarks.bench_formats [--quick] [--samples DIR]`` prints markdown tables.

- open / whole read of every CZI and common-image sample (plus a 64 MiB synthetic
  zstd1 tile-scan CZI written by pylibCZIrw) by imgio, the format's own library
  (aicspylibczi and pylibCZIrw for CZI; Pillow for images) and bioio (bioio-czi,
  bioio-imageio), interleaved in one process (A, B, C, A, B, C, ...), medians and
  ratios to imgio;
- one plane of the T/Z/C CZI through ``get_image_data`` and through the dask DataArray;
- ``imgio convert`` of every CZI sample to OME-TIFF vs bioio's ``BioImage.save``, each
  from the command line in a fresh interpreter (``_convert_cli``);
- ``imgio mosaic`` of 100 JPEG sectors (1024 x 1024 RGB) to a tiled pyramidal JPEG
  OME-TIFF vs pyvips ``arrayjoin`` + ``tiffsave(pyramid=True)``, each from the command
  line in a fresh interpreter (wall time and peak RSS), runs alternated.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._harness import fmt_mb, fmt_ms, fmt_ratio, machine_line, median, rss_peak, say, table

HERE = Path(__file__).resolve().parent
SAMPLES = Path(os.environ.get("IMGIO_SAMPLES", HERE.parents[1] / "shared" / "samples"))
MODULE = "benchmarks.bench_formats"


# ----------------------------------------------------------------- tools
def _quiet() -> None:
    warnings.simplefilter("ignore")
    import logging

    logging.getLogger("bioio").setLevel(logging.ERROR)


def imgio_open(path: Path) -> Any:
    import imgio

    img = imgio.Image(path)
    _ = img.dims, img.channel_names, img.physical_pixel_sizes
    return img


def imgio_read(path: Path) -> Any:
    img = imgio_open(path)
    return [img.get_image_data(scene=s) for s in range(len(img.scenes))]


def bioio_open(path: Path) -> Any:
    from bioio import BioImage

    img = BioImage(path)
    _ = img.dims, img.channel_names, img.physical_pixel_sizes
    return img


def bioio_read(path: Path) -> Any:
    img = bioio_open(path)
    out = []
    for s in range(len(img.scenes)):
        img.set_scene(s)
        out.append(img.data)
    return out


def aics_open(path: Path) -> Any:
    import aicspylibczi

    czi = aicspylibczi.CziFile(path)
    _ = czi.dims, czi.size, czi.pixel_type
    return czi


def aics_read(path: Path) -> Any:
    czi = aics_open(path)
    if not czi.is_mosaic():
        return czi.read_image()[0]
    out = []
    for s in range(len(czi.get_dims_shape())):
        box = czi.get_mosaic_scene_bounding_box(index=s)
        for c in range(czi.get_dims_shape()[s]["C"][1]):
            region = (box.x, box.y, box.w, box.h)
            out.append(czi.read_mosaic(region=region, scale_factor=1.0, C=c))
    return out


def pylibczirw_open(path: Path) -> Any:
    from pylibCZIrw import czi as pyczi

    with pyczi.open_czi(str(path)) as doc:
        return doc.total_bounding_box, doc.scenes_bounding_rectangle, doc.metadata


def pylibczirw_read(path: Path) -> Any:
    from pylibCZIrw import czi as pyczi

    out = []
    with pyczi.open_czi(str(path)) as doc:
        box = doc.total_bounding_box
        rects = doc.scenes_bounding_rectangle or {None: doc.total_bounding_rectangle}
        for scene, r in rects.items():
            for t in range(*box.get("T", (0, 1))):
                for c in range(*box.get("C", (0, 1))):
                    for z in range(*box.get("Z", (0, 1))):
                        plane = {"T": t, "C": c, "Z": z}
                        roi = (r.x, r.y, r.w, r.h)
                        out.append(doc.read(roi=roi, plane=plane, scene=scene))
    return out


def pil_open(path: Path) -> Any:
    from PIL import Image

    with Image.open(path) as im:
        return im.size, im.mode, getattr(im, "n_frames", 1)


def pil_read(path: Path) -> Any:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        frames = []
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            frames.append(
                np.asarray(
                    ImageOps.exif_transpose(
                        im.convert("RGBA" if "transparency" in im.info else "RGB")
                    )
                )
            )
        return np.stack(frames)


CZI_TOOLS = {
    "imgio": (imgio_open, imgio_read),
    "aicspylibczi": (aics_open, aics_read),
    "pylibCZIrw": (pylibczirw_open, pylibczirw_read),
    "bioio-czi": (bioio_open, bioio_read),
}
IMAGE_TOOLS = {
    "imgio": (imgio_open, imgio_read),
    "Pillow": (pil_open, pil_read),
    "bioio-imageio": (bioio_open, bioio_read),
}


# ----------------------------------------------------------------- measuring
def interleaved(funcs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds per tool, the tools alternated run by run (one warm-up each)."""
    times: dict[str, list[float]] = {k: [] for k in funcs}
    for f in funcs.values():
        f()
    for _ in range(repeats):
        for k, f in funcs.items():
            gc.collect()
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: median(v) for k, v in times.items()}


def synthetic_czi(folder: Path) -> Path:
    """A 2-channel 4 x 4 tile scan of 1024 x 1024 uint16 tiles, zstd1 with hi/lo packing."""
    from pylibCZIrw import czi as pyczi

    path = folder / "synthetic-mosaic-zstd1.czi"
    yy, xx = np.mgrid[0:1024, 0:1024]
    with pyczi.create_czi(
        str(path),
        exist_ok=True,
        compression_options="zstd1:ExplicitLevel=1;PreProcess=HiLoByteUnpack",
    ) as w:
        for c in range(2):
            for ty in range(4):
                for tx in range(4):
                    tile = (np.sin(xx / 50 + tx) + np.cos(yy / 70 + ty)) * 8000 + 20000 + c * 99
                    w.write(
                        tile.astype(np.uint16)[..., None],
                        plane={"C": c, "T": 0, "Z": 0},
                        location=(tx * 1024, ty * 1024),
                    )
    return path


def bench_family(title: str, files: list[Path], tools: dict[str, Any], repeats: int) -> None:
    rows_open, rows_read = [], []
    names = list(tools)
    for path in files:
        for what, rows, idx in (("open", rows_open, 0), ("read", rows_read, 1)):
            funcs = {}
            for name in names:
                f = tools[name][idx]
                try:
                    f(path)
                except Exception as exc:  # noqa: BLE001 - a peer that cannot read the file
                    say(
                        f"_{name} cannot {what} {path.name}: {type(exc).__name__}: {str(exc)[:80]}_"
                    )
                    continue
                funcs[name] = lambda f=f, path=path: f(path)
            got = interleaved(funcs, repeats)
            base = got.get("imgio", float("nan"))
            rows.append(
                [
                    path.name,
                    *(fmt_ms(got.get(n, float("nan"))) for n in names),
                    *(fmt_ratio(got.get(n, float("nan")), base) for n in names[1:]),
                ]
            )
    headers = ["file", *(f"{n} ms" for n in names), *(f"{n} / imgio" for n in names[1:])]
    say(f"\n### {title}: open (dims, channels, sizes)\n")
    say(table(headers, rows_open))
    say(f"\n### {title}: whole read (every scene)\n")
    say(table(headers, rows_read))


def bench_plane(path: Path, repeats: int) -> None:
    from bioio import BioImage

    import imgio

    sel = {"T": 1, "C": 1, "Z": 2}
    img, bio = imgio.Image(path), BioImage(path)
    funcs = {
        "imgio get_image_data": lambda: img.get_image_data("YX", **sel),
        "bioio get_image_data": lambda: bio.get_image_data("YX", **sel),
        "imgio dask DataArray": lambda: img.xarray_dask_data.isel(**sel).values,
        "bioio dask DataArray": lambda: bio.xarray_dask_data.isel(**sel).values,
    }
    np.testing.assert_array_equal(funcs["imgio get_image_data"](), funcs["bioio get_image_data"]())
    got = interleaved(funcs, repeats)
    rows = [[k, fmt_ms(v), fmt_ratio(v, got[k.replace("bioio", "imgio")])] for k, v in got.items()]
    say(f"\n### one plane (T=1, C=1, Z=2) of {path.name}, Image opened once\n")
    say(table(["call", "ms", "/ imgio"], rows))


# ----------------------------------------------------------------- mosaic job
def make_sectors(folder: Path, n: int) -> list[Path]:
    from PIL import Image

    yy, xx = np.mgrid[0:1024, 0:1024]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        base = ((np.sin(xx / 40 + i) + np.cos(yy / 33 - i)) * 60 + 128).astype(np.uint8)
        rgb = np.stack([base, np.roll(base, i, 0), np.roll(base, 2 * i, 1)], -1)
        rgb = rgb + rng.integers(0, 20, rgb.shape, dtype=np.uint8)
        paths.append(folder / f"sector_{i:03d}.jpg")
        Image.fromarray(rgb).save(paths[-1], quality=90)
    return paths


VIPS_SCRIPT = """
import glob, sys, pyvips
files = sorted(glob.glob(sys.argv[2] + "/sector_*.jpg"))
imgs = [pyvips.Image.new_from_file(f, access="sequential") for f in files]
pyvips.Image.arrayjoin(imgs, across=int(sys.argv[3])).tiffsave(
    sys.argv[1], tile=True, tile_width=512, tile_height=512, pyramid=True,
    compression="jpeg", Q=85, bigtiff=True)
"""

IMGIO_SCRIPT = """
import glob, sys
from imgio.cli import main
files = sorted(glob.glob(sys.argv[2] + "/sector_*.jpg"))
sys.exit(main(["mosaic", sys.argv[1], *files, "--across", sys.argv[3], "--compression", "jpeg",
               "--quality", "85", "--tile", "512", "--overwrite"]))
"""


def run_cli(script: str, out: Path, folder: Path, across: int) -> tuple[float, int, float]:
    """Wall seconds, peak RSS and CPU seconds of one fresh interpreter running ``script``.

    Bytecode is cached under ``folder`` (as an installed package has it: pyvips's is
    compiled at install, an editable imgio under ``PYTHONDONTWRITEBYTECODE`` is not).
    """
    import subprocess

    wrapper = (
        "import resource, runpy, sys, json\n"
        f"sys.argv = ['x', {str(out)!r}, {str(folder)!r}, '{across}']\n"
        "try:\n    exec(compile(" + repr(script) + ", 'job', 'exec'))\n"
        "except SystemExit:\n    pass\n"
        "u = resource.getrusage(resource.RUSAGE_SELF)\n"
        # VmHWM, not ru_maxrss: that one keeps the forking parent's RSS across exec
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
        "print('@@RSS', int(hwm[0].split()[1]) * 1024, u.ru_utime + u.ru_stime)\n"
    )
    env = dict(os.environ, PYTHONWARNINGS="ignore", PYTHONPYCACHEPREFIX=str(folder / "pyc"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, env=env, check=False
    )
    wall = time.perf_counter() - t0
    got = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("@@RSS")]
    if proc.returncode or not got:
        raise RuntimeError(proc.stderr[-500:])
    return wall, int(got[0][0]), float(got[0][1])


def bench_mosaic(n: int, repeats: int) -> None:
    across = int(round(n**0.5))
    with tempfile.TemporaryDirectory(prefix="imgio-mosaic-") as tmp:
        folder = Path(tmp)
        make_sectors(folder, n)
        results: dict[str, list[tuple[float, int, float]]] = {
            "imgio mosaic": [],
            "pyvips arrayjoin": [],
        }
        for script, name in ((IMGIO_SCRIPT, "a.ome.tif"), (VIPS_SCRIPT, "b.tif")):
            run_cli(script, folder / name, folder, across)  # warm-up: bytecode, file cache
        for _ in range(repeats):
            results["imgio mosaic"].append(
                run_cli(IMGIO_SCRIPT, folder / "a.ome.tif", folder, across)
            )
            results["pyvips arrayjoin"].append(
                run_cli(VIPS_SCRIPT, folder / "b.tif", folder, across)
            )
        import tifffile

        with tifffile.TiffFile(folder / "a.ome.tif") as a, tifffile.TiffFile(folder / "b.tif") as b:
            shapes = a.series[0].shape, b.pages[0].shape
            levels = len(a.series[0].levels), len(b.pages)
        sizes = [(folder / name).stat().st_size / 2**20 for name in ("a.ome.tif", "b.tif")]
    t = {k: median([w for w, _, _ in v]) for k, v in results.items()}
    m = {k: median([r for _, r, _ in v]) for k, v in results.items()}
    cpu = {k: median([c for _, _, c in v]) for k, v in results.items()}
    rows = [
        [
            k,
            fmt_ms(t[k]),
            fmt_mb(m[k]),
            fmt_ratio(t[k], t["pyvips arrayjoin"]),
            fmt_ratio(m[k], m["pyvips arrayjoin"]),
            fmt_ms(cpu[k]),
            fmt_ratio(cpu[k], cpu["pyvips arrayjoin"]),
        ]
        for k in results
    ]
    say(
        f"\n### mosaic of {n} JPEG sectors (1024 x 1024 RGB, {across} across) to a tiled "
        f"pyramidal JPEG TIFF, from the command line (median of {repeats}, alternated)\n"
    )
    headers = ["job", "wall ms", "peak RSS MiB", "time / pyvips", "RSS / pyvips"]
    say(table([*headers, "CPU ms", "CPU / pyvips"], rows))
    say(
        f"\n_outputs: imgio {shapes[0]} {levels[0]} levels, {sizes[0]:.1f} MiB; "
        f"pyvips {shapes[1]} {levels[1]} pages, {sizes[1]:.1f} MiB; "
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}_"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    parser.add_argument(
        "--only", choices=("czi", "images", "plane", "mosaic", "convert"), action="append"
    )
    parser.add_argument("--repeats", type=int, help="mosaic runs of each job (default 3)")
    args = parser.parse_args(argv)
    _quiet()
    repeats = 3 if args.quick else 7
    wanted = args.only or ["czi", "images", "plane", "convert", "mosaic"]
    say(f"## bench_formats\n\n{machine_line()}\n")
    with tempfile.TemporaryDirectory(prefix="imgio-formats-") as tmp:
        czis = sorted((args.samples / "czi").glob("*.czi"))
        if "czi" in wanted:
            bench_family("CZI", [*czis, synthetic_czi(Path(tmp))], CZI_TOOLS, repeats)
        if "images" in wanted:
            images = sorted((args.samples / "common").glob("*.*"))
            bench_family("common images", images, IMAGE_TOOLS, repeats)
        if "plane" in wanted:
            bench_plane(
                args.samples / "czi" / "czitools-CellDivision_T3_Z5_CH2_X240_Y170.czi", 5 * repeats
            )
    if "convert" in wanted:
        from ._convert_cli import bench_convert

        bench_convert(sorted((args.samples / "czi").glob("*.czi")), 3 if args.quick else 5)
    if "mosaic" in wanted:
        bench_mosaic(25 if args.quick else 100, args.repeats or (1 if args.quick else 3))
    say(f"\n_peak RSS of this process: {fmt_mb(rss_peak())} MiB_")
    return 0


if __name__ == "__main__":
    sys.exit(main())
