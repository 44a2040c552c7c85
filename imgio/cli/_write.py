"""``imgio convert`` and ``imgio mosaic``: short functions over the public writer API."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import ImgioError, SelectionError, TargetExistsError
from ._common import Progress, add_storage_option, storage_options

__all__ = ["Progress", "add_convert_parser", "add_mosaic_parser", "cmd_convert", "cmd_mosaic"]


def _levels(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an int or 'auto', found {text!r}") from exc


def _write_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tile", type=int, help="OME-TIFF tile edge (default: 512)")
    parser.add_argument("--chunks", type=int, help="OME-Zarr chunk edge for Y/X (default: 1024)")
    parser.add_argument(
        "--compression",
        default="auto",
        help="none, zlib, zstd, lzw, jpeg, jpeg2000, jpegxl (OME-Zarr: none, zstd, lz4, zlib; "
        "DICOM: jpeg, jpeg2000, jpeg2000-lossless, jpegls-lossless, none); "
        "auto (default): zstd, for DICOM jpeg for 8-bit RGB else jpeg2000-lossless",
    )
    parser.add_argument("--quality", type=int, help="codec level (JPEG quality)")
    parser.add_argument(
        "--pyramid-levels",
        type=_levels,
        default="auto",
        help="levels in total, full resolution included, or 'auto'",
    )
    parser.add_argument(
        "--downsample",
        choices=("mean", "nearest"),
        default="mean",
        help="how pyramid levels are reduced",
    )
    parser.add_argument(
        "--ngff-version", choices=("0.4", "0.5"), help="OME-Zarr version (default: 0.4)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_storage_option(parser, "remote inputs and output")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _storage(args: argparse.Namespace) -> dict[str, Any] | None:
    return storage_options(getattr(args, "storage_option", None))


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "tile": args.tile,
        "chunks": args.chunks,
        "compression": args.compression,
        "quality": args.quality,
        "pyramid_levels": args.pyramid_levels,
        "downsample": args.downsample,
        "ngff_version": args.ngff_version,
        "overwrite": args.overwrite,
        "storage_options": _storage(args),
    }


def _format(out: str, args: argparse.Namespace) -> str:
    from ..writers import format_of

    given: str | None = getattr(args, "format", None)
    return given if given is not None else format_of(out)


def _write(data: Any, out: str, args: argparse.Namespace, **extra: Any) -> None:
    from ..writers import write

    options = _options(args)
    fmt = _format(out, args)
    drop = {"ome-tiff": ("chunks", "ngff_version"), "dicom": ("chunks", "ngff_version")}.get(
        fmt, ("tile",)
    )
    if getattr(args, "format", None):
        extra["format"] = fmt
    if fmt == "dicom":
        del options["storage_options"]  # a DICOM folder is local: they were for the input
    for key in drop:
        if options[key] is not None:
            raise ImgioError(f"--{key.replace('_', '-')} does not apply to {out!r}")
        del options[key]
    progress = None if args.quiet else Progress(f"writing {out}")
    try:
        write(data, out, progress=progress, **options, **extra)
    except TargetExistsError as exc:  # the API's advice in the CLI's words
        raise TargetExistsError(str(exc).replace("overwrite=True", "--overwrite")) from exc
    finally:
        if progress is not None:
            progress.close()


def cmd_convert(args: argparse.Namespace) -> int:
    """Convert any readable image to OME-TIFF or OME-Zarr."""
    from ..image import Image

    with Image(args.input, storage_options=_storage(args)) as img:
        scenes: list[int | str] | None = None
        if args.scene:
            scenes = [int(s) if s.lstrip("-").isdigit() else s for s in args.scene]
        if args.level or args.select:
            _write(_selected_scenes(img, scenes, args), args.output, args)
        else:
            _write(img, args.output, args, scenes=scenes)
    sys.stdout.write(f"wrote {args.output}\n")
    return 0


def _selected_scenes(img: Any, scenes: list[int | str] | None, args: argparse.Namespace) -> Any:
    """The chosen scenes at ``--level`` with ``--select`` applied, each keeping the source's
    OME metadata (carried into the output, adjusted to what is written)."""
    from dataclasses import replace

    from ..writers._input import as_scenes, standardize

    chosen = scenes if scenes is not None else list(range(len(img.scenes)))
    out = []
    for full, s in zip(as_scenes(img, scenes=chosen), chosen, strict=True):
        arr, picks = _selected(img, s, args.level, args.select or [])
        scene = standardize(arr, name=full.name)
        if full.ome_source is not None:
            scene.ome_source = replace(full.ome_source, picks=picks)
        if full.channel_names == scene.channel_names:
            scene.channel_colors = full.channel_colors
        out.append(scene)
    return out


def _selected(
    img: Any, scene: int | str, level: int, select: list[str]
) -> tuple[Any, dict[str, int]]:
    """One scene at ``level`` with ``--select D=i`` applied to the dims it has (and those)."""
    picks: dict[str, int] = {}
    for item in select:
        dim, _, index = item.partition("=")
        if not dim.strip().isalpha() or not index.strip().lstrip("-").isdigit():
            raise ImgioError(f"--select {item!r}: expected DIM=INDEX, e.g. --select H=0")
        picks[dim.strip().upper()] = int(index)
    arr = img.get_xarray_dask_data(scene=scene, level=level)
    unknown = [d for d in picks if d not in arr.dims]
    if unknown and len(img.scenes) == 1:
        raise ImgioError(f"--select {unknown}: no such dim; the dims are {''.join(arr.dims)}")
    applied = {}
    for d, i in picks.items():
        if d in arr.dims:
            if not -arr.sizes[d] <= i < arr.sizes[d]:
                raise SelectionError(
                    f"--select {d}={i}: out of range 0..{arr.sizes[d] - 1} in scene {scene!r}"
                )
            applied[d] = i % arr.sizes[d]
            arr = arr.isel({d: i})
    return arr, applied


def cmd_mosaic(args: argparse.Namespace) -> int:
    """Join images on a grid and write the result (OME-TIFF without dask: ``_mosaic_stream``)."""
    from ..image import Image
    from ..writers import format_of
    from ..writers._mosaic import mosaic
    from ..writers._mosaic_stream import mosaic_scene

    storage = _storage(args)
    items: list[Any] = [
        Image(p, storage_options=storage) if storage and "://" in p else p for p in args.inputs
    ]
    grid = {"across": args.across, "spacing": args.spacing, "overlap": args.overlap}
    opened: list[Any] = []  # the ImageFiles mosaic_scene opened
    try:
        scene = None
        if format_of(args.output) == "ome-tiff":
            scene, opened = mosaic_scene(items, background=args.background, **grid)
        if scene is not None:
            shape = scene.data.shape
            _write([scene], args.output, args)
        else:
            joined = mosaic(items, background=args.background, **grid)
            shape = joined.shape
            _write(joined, args.output, args)
    finally:
        for item in [*items, *opened]:
            if not isinstance(item, str):
                item.close()
    sys.stdout.write(f"wrote {args.output} ({' x '.join(str(n) for n in shape[-3:])})\n")
    return 0


def add_convert_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``imgio convert IN OUT``."""
    parser = subparsers.add_parser(
        "convert", help="convert an image to tiled OME-TIFF, OME-Zarr or a DICOM WSI series"
    )
    parser.add_argument("input")
    parser.add_argument("output", help=".ome.tif / .ome.tiff or .ome.zarr, or a DICOM folder")
    parser.add_argument(
        "--format",
        choices=("ome-tiff", "ome-zarr", "ome-zarr-zip", "dicom"),
        help="output format (default: from the output's suffix; dicom: a folder of instances)",
    )
    parser.add_argument(
        "--scene", action="append", help="scene index or name (repeatable; default: all)"
    )
    parser.add_argument("--level", type=int, default=0, help="resolution level to convert")
    parser.add_argument(
        "--select",
        action="append",
        metavar="DIM=INDEX",
        help="keep one index of a dim, e.g. --select H=0 for a format without extra dims "
        "(repeatable)",
    )
    _write_options(parser)
    parser.set_defaults(func=cmd_convert)
    return parser  # type: ignore[no-any-return]


def add_mosaic_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``imgio mosaic OUT IN... --across N``."""
    parser = subparsers.add_parser("mosaic", help="join images on a grid into one tiled image")
    parser.add_argument("output", help=".ome.tif / .ome.tiff or .ome.zarr")
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--across", type=int, required=True, help="columns of the grid")
    parser.add_argument("--spacing", type=int, default=0, help="background pixels between cells")
    parser.add_argument(
        "--overlap", type=int, default=0, help="pixels each cell overlaps the previous"
    )
    parser.add_argument("--background", type=float, default=0, help="fill value")
    _write_options(parser)
    parser.set_defaults(func=cmd_mosaic)
    return parser  # type: ignore[no-any-return]
