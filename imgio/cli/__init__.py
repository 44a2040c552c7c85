"""Command line: ``imgio info``, ``imgio demo``, ``imgio convert``, ``imgio mosaic``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ImgioError
from ._common import add_storage_option, out, storage_options

__all__ = ["main"]


_out = out
_storage_options = storage_options


def describe(
    path: str, *, reader: str | None = None, storage_options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything ``imgio info`` reports, as plain data."""
    from ..image import Image

    with Image(path, reader=reader, storage_options=storage_options) as img:
        scenes = []
        for s, name in enumerate(img.scenes):
            img.set_scene(s)
            levels = []
            for lvl in img.resolution_levels:
                img.set_resolution_level(lvl)
                src = img.source()
                data = img.xarray_dask_data
                levels.append(
                    {
                        "level": lvl,
                        "dims": img.dims.order,
                        "shape": list(img.shape),
                        "native_chunks": list(src.chunks),
                        "dask_chunks": [c[0] if c else 0 for c in (data.chunks or ())],
                        "pixel_sizes_um": list(img.physical_pixel_sizes),
                    }
                )
            img.set_resolution_level(0)
            scenes.append(
                {
                    "index": s,
                    "name": name,
                    "dtype": str(img.dtype),
                    "channels": img.channel_names,
                    "time_interval_s": img.time_interval,
                    "levels": levels,
                }
            )
        return {"path": img.path, "reader": img.reader.name, "scenes": scenes}


def _cmd_info(args: argparse.Namespace) -> int:
    info = describe(
        args.path, reader=args.reader, storage_options=_storage_options(args.storage_option)
    )
    if args.json:
        _out(json.dumps(info, indent=2))
        return 0
    _out(f"{info['path']}  (reader: {info['reader']})")
    for scene in info["scenes"]:
        _out(f"scene {scene['index']}: {scene['name']!r}  dtype {scene['dtype']}")
        if scene["channels"]:
            _out(f"  channels: {', '.join(scene['channels'])}")
        if scene["time_interval_s"]:
            _out(f"  time interval: {scene['time_interval_s']:.6g} s")
        for lv in scene["levels"]:
            shape = " ".join(f"{d}:{n}" for d, n in zip(lv["dims"], lv["shape"], strict=True))
            sizes = "/".join(f"{v:.4g}" if v else "?" for v in lv["pixel_sizes_um"])
            _out(
                f"  level {lv['level']}: {shape}  native chunk {tuple(lv['native_chunks'])}  "
                f"dask chunk {tuple(lv['dask_chunks'])}  µm (Z/Y/X) {sizes}"
            )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import tempfile

    import numpy as np

    from .. import sample
    from ..image import Image
    from ..readers.base import STATS

    with tempfile.TemporaryDirectory(prefix="imgio-demo-") as tmp:
        folder = Path(args.out) if args.out else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        path = sample.make_sample(folder / "demo.ome.tif")
        _out(
            f"wrote the built-in sample {path.name} ({path.stat().st_size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - t0:.2f} s"
        )
        t0 = time.perf_counter()
        img = Image(path)
        _out(f"opened it lazily in {1e3 * (time.perf_counter() - t0):.1f} ms, no pixels read:")
        _out(repr(img))
        for level, (y, x) in ((0, (700, 900)), (2, (100, 150))):
            data = img.get_xarray_dask_data(level=level)
            # one selection call: dask fuses it into the reader, so only covering tiles decode
            region = data.isel(T=0, Z=0, C=1, Y=slice(y, y + 256), X=slice(x, x + 256))
            STATS.reset()
            t0 = time.perf_counter()
            values = region.values
            ms = 1e3 * (time.perf_counter() - t0)
            ycoord = region.coords["Y"].values
            _out(
                f"level {level}: read GFP region Y[{y}:{y + 256}] X[{x}:{x + 256}] of "
                f"{data.sizes['Y']}x{data.sizes['X']} in {ms:.1f} ms, decoded "
                f"{STATS.chunks_decoded} tiles; Y spans {ycoord[0]:.1f}..{ycoord[-1]:.1f} µm; "
                f"mean {float(np.mean(values)):.1f}"
            )
        img.close()
        for line in _demo_write(folder, path):
            _out(line)
    return 0


def _demo_write(folder: Path, path: Path) -> list[str]:
    """Write the sample to OME-TIFF and OME-Zarr and read them back (needs the writers)."""
    import numpy as np

    from ..image import Image

    try:
        from ..writers import write
    except ImportError:
        return ["(writers not installed: skipped writing OME-TIFF and OME-Zarr copies)"]

    lines = []
    with Image(path) as img:
        want = img.get_image_data("CYX", level=0)
        for name in ("demo-copy.ome.tif", "demo-copy.ome.zarr"):
            target = folder / name
            t0 = time.perf_counter()
            write(img, target, overwrite=True)
            took = time.perf_counter() - t0
            with Image(target) as back:
                same = np.array_equal(back.get_image_data("CYX", level=0), want)
                lines.append(
                    f"wrote {name} in {took:.2f} s; "
                    f"read back {len(back.resolution_levels)} levels, "
                    f"channels {back.channel_names}, pixels identical: {same}"
                )
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgio", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="scenes, dims, levels, chunks, channels and pixel sizes")
    info.add_argument("path")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument("--reader", help="force a reader (e.g. tiff, ome-zarr)")
    add_storage_option(info, "remote paths")
    info.set_defaults(func=_cmd_info)
    demo = sub.add_parser("demo", help="write a built-in sample, open it lazily, read regions")
    demo.add_argument("--out", help="keep the files in this folder")
    demo.set_defaults(func=_cmd_demo)
    try:
        from ._write import add_convert_parser, add_mosaic_parser
    except ImportError:
        pass
    else:
        add_convert_parser(sub)
        add_mosaic_parser(sub)
    from ._slide import add_slide_parsers

    add_slide_parsers(sub)
    from ._serve import add_serve_parser

    add_serve_parser(sub)
    from ._refs import add_refs_parser

    add_refs_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (errors print one line, status 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return status
    except BrokenPipeError:
        return _closed_stdout()
    except ImgioError as exc:
        sys.stderr.write(f"imgio: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("imgio: interrupted\n")
        return 130


def _closed_stdout() -> int:
    """The reader of our stdout went away (``imgio info f | head -1``): stop quietly.

    Python would print a BrokenPipeError traceback when it flushes stdout at exit; pointing
    stdout at devnull stops that. The status is the shell's for SIGPIPE (128 + 13).
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141
