"""``imgio thumbnail``, ``imgio region``, ``imgio tiles``: whole-slide verbs on the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ImgioError

__all__ = ["add_slide_parsers", "write_dzi"]


def _format_for(path: str) -> str:
    from ..tiles._encode import SUFFIX_FORMATS

    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUFFIX_FORMATS:
        raise ImgioError(
            f"cannot tell the image format of {path!r}; use one of {sorted(SUFFIX_FORMATS)}"
        )
    return SUFFIX_FORMATS[suffix]


def _style(text: str | None) -> Any:
    """``--style``: a large_image style as JSON (``{...}``) or a style name."""
    if text is None:
        return "auto"
    if not text.strip().startswith("{"):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImgioError(
            f"--style: expected a large_image style as JSON, e.g. "
            f'\'{{"bands": [{{"band": 0, "palette": "#0f0"}}]}}\'; '
            f"found invalid JSON ({exc.msg} at character {exc.pos}): {text!r}"
        ) from None


def _open(args: argparse.Namespace) -> Any:
    from ..image import Image

    img = Image(args.slide)
    if args.scene is not None:
        img.set_scene(int(args.scene) if args.scene.isdigit() else args.scene)
    return img


def _write(path: str, data: bytes) -> None:
    Path(path).write_bytes(data)


def _cmd_thumbnail(args: argparse.Namespace) -> int:
    with _open(args) as img:
        data = img.tiles.thumbnail(
            args.size, args.size, style=_style(args.style), format=_format_for(args.out)
        )
    _write(args.out, data)
    return 0


def _cmd_region(args: argparse.Namespace) -> int:
    with _open(args) as img:
        data = img.tiles.get_region(
            args.left,
            args.top,
            args.right,
            args.bottom,
            width=args.width,
            height=args.height,
            units=args.units,
            output_width=args.output_width,
            output_height=args.output_height,
            scale=args.scale,
            magnification=args.magnification,
            frame=args.frame,
            style=_style(args.style),
            format=_format_for(args.out),
        )
    _write(args.out, data)
    return 0


def write_dzi(
    slide: str,
    outdir: str,
    *,
    tile_size: int = 254,
    overlap: int = 1,
    image_format: str = "jpeg",
    quality: int = 90,
    progress: bool = True,
    overwrite: bool = False,
) -> str:
    """Write a DeepZoom folder (``NAME.dzi`` and ``NAME_files/<level>/<col>_<row>.<fmt>``).

    Both are written under hidden partial names and renamed when complete, so an
    interrupted run (Ctrl-C, SIGTERM from the CLI) leaves nothing half written.
    Returns the path of the ``.dzi`` file.

    Raises
    ------
    TargetExistsError
        ``NAME.dzi`` or ``NAME_files`` exists and ``overwrite`` is false.
    """
    from ..slide import OpenSlide
    from ..slide.deepzoom import DeepZoomGenerator
    from ..writers._target import atomic_target, check_target

    fmt = {"jpg": "jpeg"}.get(image_format.lower(), image_format.lower())
    if fmt not in ("jpeg", "png"):
        raise ImgioError(f"DeepZoom tiles are jpeg or png, not {image_format!r}")
    name = Path(slide.rstrip("/")).name.split(".")[0] or "slide"
    root = Path(outdir)
    root.mkdir(parents=True, exist_ok=True)
    dzi, files = root / f"{name}.dzi", root / f"{name}_files"
    for target in (dzi, files):
        check_target(target, overwrite=overwrite)
    with OpenSlide(slide) as osr:
        dz = DeepZoomGenerator(osr, tile_size=tile_size, overlap=overlap)
        with (
            atomic_target(dzi, overwrite=overwrite) as dzi_partial,
            atomic_target(files, overwrite=overwrite) as files_partial,
        ):
            _write_tiles(dz, files_partial, fmt, quality, progress)
            dzi_partial.write_text(dz.get_dzi(fmt))
    return str(dzi)


def _write_tiles(dz: Any, files: Path, fmt: str, quality: int, progress: bool) -> None:
    """Every tile of every level of ``dz`` into ``files/<level>/<col>_<row>.<fmt>``."""
    import numpy as np

    from .. import _threads
    from ..tiles._encode import encode
    from ._common import Progress

    jobs: list[tuple[int, int, int]] = []
    for level, (cols, rows) in enumerate(dz.level_tiles):
        (files / str(level)).mkdir(parents=True, exist_ok=True)
        jobs.extend((level, col, row) for row in range(rows) for col in range(cols))

    def one(job: tuple[int, int, int]) -> None:
        level, col, row = job
        arr = np.asarray(dz.get_tile(level, (col, row), as_array=True))
        (files / str(level) / f"{col}_{row}.{fmt}").write_bytes(encode(arr, fmt, quality=quality))

    bar = Progress("tiles") if progress else None
    for done, _ in enumerate(_threads.map_threaded(one, jobs), 1):
        if bar is not None:
            bar(done, len(jobs))
    if bar is not None:
        bar.close()


def _cmd_tiles(args: argparse.Namespace) -> int:
    from ..errors import TargetExistsError

    if args.format != "dzi":
        raise ImgioError(f"--format {args.format!r} is not supported; use dzi")
    try:
        path = write_dzi(
            args.slide,
            args.outdir,
            tile_size=args.tile_size,
            overlap=args.overlap,
            image_format=args.image_format,
            quality=args.quality,
            progress=not args.quiet,
            overwrite=args.overwrite,
        )
    except TargetExistsError as exc:  # the API's advice in the CLI's words
        raise TargetExistsError(str(exc).replace("overwrite=True", "--overwrite")) from exc
    sys.stdout.write(path + "\n")
    return 0


def add_slide_parsers(sub: Any) -> None:
    """Register ``thumbnail``, ``region`` and ``tiles`` on the ``imgio`` parser."""
    thumb = sub.add_parser("thumbnail", help="a thumbnail (PNG/JPEG/TIFF) of a slide or image")
    thumb.add_argument("slide")
    thumb.add_argument("out", help="output file; .png, .jpg or .tif")
    thumb.add_argument("--size", type=int, default=512, help="largest edge in pixels")
    _common(thumb)
    thumb.set_defaults(func=_cmd_thumbnail)
    region = sub.add_parser("region", help="a region at an output size, scale or magnification")
    region.add_argument("slide")
    region.add_argument("out", help="output file; .png, .jpg or .tif")
    for name in ("left", "top", "right", "bottom", "width", "height"):
        region.add_argument(f"--{name}", type=float, help=f"region {name} (in --units)")
    region.add_argument(
        "--units",
        default="base_pixels",
        choices=["base_pixels", "um", "mm", "fraction"],
        help="units of the region's numbers",
    )
    region.add_argument("--output-width", type=int, help="largest output width in pixels")
    region.add_argument("--output-height", type=int, help="largest output height in pixels")
    region.add_argument("--scale", type=float, help="base pixels per output pixel")
    region.add_argument("--magnification", type=float, help="objective magnification to render at")
    region.add_argument("--frame", type=int, help="frame number (large_image numbering)")
    _common(region)
    region.set_defaults(func=_cmd_region)
    tiles = sub.add_parser("tiles", help="write a tile pyramid folder (DeepZoom .dzi)")
    tiles.add_argument("slide")
    tiles.add_argument("outdir")
    tiles.add_argument("--format", default="dzi", help="folder layout: dzi")
    tiles.add_argument("--tile-size", type=int, default=254, help="tile edge in pixels")
    tiles.add_argument("--overlap", type=int, default=1, help="pixels shared by neighbours")
    tiles.add_argument(
        "--image-format", default="jpeg", choices=["jpeg", "jpg", "png"], help="tile encoding"
    )
    tiles.add_argument("--quality", type=int, default=90, help="JPEG quality")
    tiles.add_argument("--overwrite", action="store_true", help="replace an existing pyramid")
    tiles.add_argument("--quiet", action="store_true", help="no progress bar")
    tiles.set_defaults(func=_cmd_tiles)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scene", help="scene index or name (default: 0)")
    parser.add_argument("--style", help="large_image style JSON (default: channel colours)")
