"""Open and read one case the way a user would, and classify what happened."""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OUTCOMES", "address_space", "classify", "exercise", "watch_opens"]

OUTCOMES = ("ok", "imgio error", "other exception", "hang", "memory", "crash", "outside")


def exercise(path: Path, max_scenes: int = 3, *, verbs: bool = True) -> None:
    """``Image(path)``, then every public property and verb a user reaches for.

    Per scene (up to ``max_scenes``): dims, sizes, names, the dask graph and a corner read
    of two levels; then ``metadata``, ``ome_metadata``, ``standard_metadata``, the tile
    verbs (``tiles.metadata``, a region, a tile, the thumbnail, associated images),
    ``imgio.slide`` (properties, associated images, ``read_region`` of two levels) and a
    write of a small region to OME-TIFF and to OME-Zarr in a temporary folder (``verbs=False``:
    the open, scene and read part only, for quick in-process runs). Each verb runs
    even when an earlier one refused with an imgio error; the first exception that is no
    imgio error is raised, else the first imgio error.
    """
    import imgio
    from imgio.errors import ImgioError

    first: list[ImgioError] = []

    def attempt(verb: Any, *args: Any) -> None:
        try:
            verb(*args)
        except ImgioError as exc:
            first.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with imgio.Image(path) as img:
            for i in range(min(len(img.scenes), max_scenes)):
                attempt(_scene, img, i)
            img.set_scene(0)
            img.set_resolution_level(0)
            for verb in (_metadata, _tiles, _slide, _writes) if verbs else ():
                attempt(verb, img, path)
    if first:
        raise first[0]


def _corner(img: Any) -> tuple[slice, ...]:
    return tuple(
        slice(0, min(n, 48 if d in "YXS" else 3 if d == "C" else 1))
        for d, n in zip(img.dims.order, img.shape, strict=True)
    )


def _scene(img: Any, i: int) -> None:
    img.set_scene(i)
    _ = img.dims, img.physical_pixel_sizes, img.channel_names, img.channel_colors
    for level in img.resolution_levels[:2]:
        img.set_resolution_level(level)
        data = img.dask_data
        np.asarray(data[_corner(img)].compute(scheduler="synchronous"))
    img.set_resolution_level(0)


def _metadata(img: Any, path: Path) -> None:
    _ = img.metadata
    _ = img.ome_metadata.to_xml()
    _ = img.standard_metadata


def _tiles(img: Any, path: Path) -> None:
    ts = img.tiles
    meta = ts.metadata()
    w, h = int(meta.get("sizeX", 1)), int(meta.get("sizeY", 1))
    ts.get_region(left=w // 3, top=h // 3, width=40, height=24, output_width=32)
    ts.get_tile(0, 0, 0)
    ts.thumbnail(64, 64)
    for name in list(ts.associated_images)[:2]:
        ts.get_associated_image(name, max_width=64)


def _slide(img: Any, path: Path) -> None:
    import imgio.slide

    with imgio.slide.open_slide(path) as slide:
        _ = dict(slide.properties)
        for name in list(slide.associated_images)[:2]:
            slide.associated_images[name]
        for level in range(min(slide.level_count, 2)):
            slide.read_region((0, 0), level, (32, 32))
        slide.get_thumbnail((48, 48))


def _writes(img: Any, path: Path) -> None:
    import imgio

    region = img.xarray_dask_data[_corner(img)]
    with tempfile.TemporaryDirectory(prefix="imgio-exercise-") as out:
        for name in ("small.ome.tif", "small.ome.zarr"):
            imgio.write(region, Path(out) / name, pyramid_levels=1)


def classify(exc: BaseException | None) -> tuple[str, str]:
    """(outcome, detail) of an exercise that raised ``exc`` (None: it succeeded)."""
    from imgio.errors import ImgioError

    if exc is None:
        return "ok", ""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    detail = f"{type(exc).__name__}: {str(exc)[:200]}"
    if any(isinstance(e, MemoryError) for e in chain):
        return "memory", detail
    if isinstance(exc, ImgioError):
        return "imgio error", detail
    return "other exception", detail + _where(exc)


def _where(exc: BaseException) -> str:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    code = last.tb_frame.f_code
    return f" @ {os.path.basename(code.co_filename)}:{last.tb_lineno} {code.co_name}"


class watch_opens:
    """Record files opened outside ``allowed`` folders (an audit hook, kept for the process).

    Only paths under ``watched`` roots count (the fuzz folder, /proc, /etc): Python's own
    imports and libraries are not the reader's doing.
    """

    def __init__(self, allowed: list[Path], watched: list[Path]) -> None:
        self.allowed = [str(p.resolve()) for p in allowed]
        self.watched = [str(p) for p in watched]
        self.outside: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path = os.fsdecode(args[0])
        try:
            real = os.path.realpath(path)
        except (OSError, ValueError):
            return
        if any(real == a or real.startswith(a + os.sep) for a in self.allowed):
            return
        if any(real == w or real.startswith(w + os.sep) for w in self.watched):
            self.outside.append(real)


@contextlib.contextmanager
def address_space(extra: int) -> Iterator[None]:
    """Cap this process's address space at what it maps now plus ``extra`` bytes (tests of
    runaway allocations: an allocation sized by a flipped length field fails inside)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
