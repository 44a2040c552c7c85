"""Command line: ``imgio info|demo|convert|mosaic|thumbnail|region|tiles|serve|clean``.

Only the verb being run is imported: ``imgio --help``, ``--version`` and ``info`` load
neither dask nor xarray (nor the writers or the server).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ImgioError
from ._common import add_storage_option, out, storage_options

__all__ = ["main"]


_out = out
_storage_options = storage_options


def describe(
    path: str, *, reader: str | None = None, storage_options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything ``imgio info`` reports, as plain data."""
    from ..arrays._lazy import chunk_edges
    from ..image import Image

    with Image(path, reader=reader, storage_options=storage_options) as img:
        scenes = []
        for s, name in enumerate(img.scenes):
            img.set_scene(s)
            levels = []
            for lvl in img.resolution_levels:
                img.set_resolution_level(lvl)
                src = img.source()
                levels.append(
                    {
                        "level": lvl,
                        "dims": img.dims.order,
                        "shape": list(img.shape),
                        "native_chunks": list(src.chunks),
                        "dask_chunks": list(chunk_edges(src, img.file.chunks)),
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


DESCRIPTION = """\
Open microscopy and whole-slide images lazily; convert them to tiled OME-TIFF or
OME-Zarr; render thumbnails, regions and DeepZoom pyramids; serve them to a browser.
Run "imgio COMMAND --help" for the options of one command."""

EPILOG = """\
examples:
  imgio info slide.svs
  imgio convert scan.czi scan.ome.tif
  imgio thumbnail slide.svs thumb.png --size 256
  imgio serve slides/ --port 8000"""

# verb: (module, registrar, one-line help); a registrar may declare several verbs
VERBS: dict[str, tuple[str, str, str]] = {
    "info": ("imgio.cli", "add_info_parser", "scenes, dims, levels, chunks, channels, pixel sizes"),
    "demo": ("imgio.cli", "add_demo_parser", "write a built-in sample, open it lazily, read it"),
    "convert": (
        "imgio.cli._write",
        "add_convert_parser",
        "convert an image to tiled OME-TIFF or OME-Zarr",
    ),
    "mosaic": ("imgio.cli._write", "add_mosaic_parser", "join images on a grid into one image"),
    "thumbnail": (
        "imgio.cli._slide",
        "add_slide_parsers",
        "a PNG/JPEG/TIFF thumbnail of an image",
    ),
    "region": ("imgio.cli._slide", "add_slide_parsers", "a region at an output size or scale"),
    "tiles": ("imgio.cli._slide", "add_slide_parsers", "write a DeepZoom tile pyramid folder"),
    "serve": ("imgio.cli._serve", "add_serve_parser", "serve images to a browser viewer"),
    "clean": ("imgio.cli", "add_clean_parser", "list or remove partial files of killed writes"),
    "refs": ("imgio.cli._refs", "add_refs_parser", "kerchunk reference JSON of a file's chunks"),
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's default after its help (unless it is None or a flag's False);
    descriptions printed as written."""

    _columns: ClassVar[int | None] = None

    def __init__(self, prog: str, **kwargs: Any) -> None:
        # argparse makes a formatter for every argument it declares, and each asks the
        # terminal for its size: ask once
        if HelpFormatter._columns is None:
            import shutil

            HelpFormatter._columns = max(shutil.get_terminal_size().columns - 2, 20)
        kwargs.setdefault("width", HelpFormatter._columns)
        super().__init__(prog, **kwargs)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        shown = not any(default is v for v in (None, False, argparse.SUPPRESS)) and default != []
        if shown and action.option_strings and "default" not in text:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose help shows defaults (subparsers inherit it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


class _Only:
    """A subparsers action that declares only the chosen verbs (others get a bare stub
    so the top-level help still lists them, with the help text of :data:`VERBS`)."""

    def __init__(self, sub: Any, wanted: str) -> None:
        self._sub, self._wanted = sub, wanted

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name != self._wanted:
            return Parser(add_help=False)  # declared, then dropped
        kwargs["help"] = VERBS[name][2]
        return self._sub.add_parser(name, **kwargs)


def build_parser(verbs: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``imgio`` parser with ``verbs`` fully declared (default: all of them).

    The other verbs are listed in the help but their modules are not imported.
    """
    import importlib

    from .. import __version__

    parser = Parser(prog="imgio", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"imgio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = set(VERBS) if verbs is None else set(verbs)
    for name, (module, registrar, text) in VERBS.items():
        if name in wanted:
            getattr(importlib.import_module(module), registrar)(_Only(sub, name))
        elif not wanted:  # no verb given: the help lists them all (a verb's run needs no stubs)
            sub.add_parser(name, help=text, add_help=False)
    return parser


def add_info_parser(sub: Any) -> None:
    """Register ``imgio info PATH``."""
    info = sub.add_parser("info", description="Scenes, dims, levels, chunks, channels, sizes.")
    info.add_argument("path")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument("--reader", help="force a reader (e.g. tiff, ome-zarr)")
    add_storage_option(info, "remote paths")
    info.set_defaults(func=_cmd_info)


def add_demo_parser(sub: Any) -> None:
    """Register ``imgio demo``."""
    demo = sub.add_parser("demo", description="Write a built-in sample, open it, read regions.")
    demo.add_argument("--out", help="keep the files in this folder")
    demo.set_defaults(func=_cmd_demo)


def add_clean_parser(sub: Any) -> None:
    """Register ``imgio clean FOLDER``."""
    clean = sub.add_parser(
        "clean",
        description="List the hidden partial files of interrupted writes in FOLDER and "
        "remove those whose writer process is gone (killed with SIGKILL, crashed). "
        "Partials of running writes and of other hosts are listed, never removed. "
        "(Any write into FOLDER also removes them.)",
    )
    clean.add_argument("folder")
    clean.add_argument("--dry-run", action="store_true", help="list only; remove nothing")
    clean.set_defaults(func=_cmd_clean)


def _cmd_clean(args: argparse.Namespace) -> int:
    from ..writers._target import partials, remove

    folder = Path(args.folder)
    if not folder.is_dir():
        raise ImgioError(f"imgio clean expects a folder; {args.folder!r} is not one")
    found = partials(folder)
    for path, alive in found:
        if alive is None:
            _out(f"kept     {path.name}  (written on another host)")
        elif alive:
            _out(f"kept     {path.name}  (its writer is still running)")
        elif args.dry_run:
            _out(f"stale    {path.name}  ({_size(path) / 1e6:.1f} MB)")
        else:
            size = _size(path)
            remove(path)
            _out(f"removed  {path.name}  ({size / 1e6:.1f} MB)")
    if not found:
        _out(f"no partial files in {args.folder}")
    return 0


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, SLURM, ``docker stop``), raised like Ctrl-C so that every
    write in progress removes its partial files on the way out."""


class _Stop:
    """The interrupt asked for by a signal, raised again every 0.1 s until it lands.

    An exception raised by a signal handler is lost when it lands in a weakref callback,
    a ``__del__`` or a thread's bookkeeping ("Exception ignored in ..."); the write then
    ran on to the end and exited 0. SIGALRM repeats it until ``main`` catches it."""

    pending: type[KeyboardInterrupt] | None = None

    @classmethod
    def on_signal(cls, signum: int, frame: Any) -> None:
        import signal

        cls.pending = _Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        signal.signal(signal.SIGALRM, cls.on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
        raise cls.pending()

    @classmethod
    def on_alarm(cls, signum: int, frame: Any) -> None:
        if cls.pending is not None:
            raise cls.pending()

    @classmethod
    def caught(cls) -> None:
        import signal

        cls.pending = None
        signal.setitimer(signal.ITIMER_REAL, 0)


def _verb(argv: Sequence[str]) -> list[str] | None:
    """The verb of ``argv`` (its first word not starting with ``-``), if it is one."""
    for word in argv:
        if not word.startswith("-"):
            return [word] if word in VERBS else []
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (errors print one line, status 2)."""
    import signal
    import threading

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_verb(argv))
    args = parser.parse_args(argv)
    in_main = threading.current_thread() is threading.main_thread()
    previous = _catch_signals() if in_main else None
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        if _Stop.pending is not None:  # the signal came as the verb finished
            raise _Stop.pending()
        return status
    except BrokenPipeError:
        return _closed_stdout()
    except ImgioError as exc:
        sys.stderr.write(f"imgio: error: {exc}\n")
        return 2
    except _Terminated:
        _Stop.caught()
        _sweep()
        sys.stderr.write("imgio: terminated (SIGTERM)\n")
        return 143
    except KeyboardInterrupt:
        _Stop.caught()
        _sweep()
        sys.stderr.write("imgio: interrupted\n")
        return 130
    finally:
        if previous is not None:
            _Stop.caught()
            for signum, handler in previous.items():
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _catch_signals() -> dict[int, Any]:
    """SIGTERM and SIGINT raise through :class:`_Stop`; returns the handlers they had."""
    import signal

    return {s: signal.signal(s, _Stop.on_signal) for s in (signal.SIGTERM, signal.SIGINT)}


def _sweep() -> None:
    """After an interrupted write: its partial files, gone for good (worker threads may
    have recreated them after the first removal)."""
    target = sys.modules.get("imgio.writers._target")
    if target is not None:
        target.sweep_abandoned()


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
