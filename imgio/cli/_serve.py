"""``imgio serve PATH... [--host] [--port] [--token]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import add_storage_option, storage_options

__all__ = ["add_serve_parser"]


def _cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..serve import run
    from ..serve._views import Limits

    missing = [p for p in args.paths if "://" not in p and not Path(p).exists()]
    if missing:
        sys.stderr.write(f"imgio: error: {missing[0]} does not exist\n")
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.token:
        sys.stderr.write(
            f"imgio: serving on {args.host} without --token: anyone who reaches this "
            "machine can read the images\n"
        )
    limits = Limits(max_side=args.max_size, max_area=args.max_pixels)
    options: dict[str, Any] = {"cache_bytes": args.cache_mb << 20, "limits": limits}
    if args.cors_origin:
        options["cors_origins"] = args.cors_origin
    if args.storage_option:
        options["storage_options"] = storage_options(args.storage_option)

    def announce(url: str) -> None:  # called once the socket listens
        sys.stderr.write(f"imgio: serving {', '.join(args.paths)} on {url}\n")
        sys.stderr.flush()

    run(
        args.paths,
        host=args.host,
        port=args.port,
        token=args.token,
        access_log=args.access_log,
        announce=announce,
        **options,
    )
    return 0


def add_serve_parser(sub: Any) -> None:
    """Register ``serve`` on the ``imgio`` command line."""
    p = sub.add_parser(
        "serve",
        help="serve images as tiles (DeepZoom, IIIF, JSON) with a viewer in the browser",
    )
    p.add_argument("paths", nargs="+", help="files, folders or URLs to serve (nothing else is)")
    add_storage_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port)")
    p.add_argument("--token", help="require this access token (?token= once in the browser)")
    p.add_argument("--cache-mb", type=int, default=256, help="tile cache size (MiB)")
    p.add_argument(
        "--max-size", type=int, default=5000, help="largest generated image side (pixels)"
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=4096 * 4096,
        help="largest generated image area (pixels)",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web origin whose pages may read with the token (repeatable)",
    )
    p.add_argument("--access-log", action="store_true", help="print one line per request on stdout")
    p.set_defaults(func=_cmd_serve)
