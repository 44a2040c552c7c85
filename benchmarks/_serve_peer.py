"""A DeepZoom tile server on openslide or tiffslide, for ``bench_serve`` (not imgio code).

The same logic as openslide-python's example DeepZoom server (a ``DeepZoomGenerator``
per slide, ``get_tile`` then JPEG), as a plain WSGI app under waitress, a production
WSGI server: ``python -m benchmarks._serve_peer --lib openslide FILE PORT``.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

TILE = re.compile(r"^/dzi/(?P<name>.+)_files/(?P<level>\d+)/(?P<col>\d+)_(?P<row>\d+)\.jpeg$")


def make_app(lib: str, path: Path, quality: int) -> Callable[..., Iterable[bytes]]:
    from openslide.deepzoom import DeepZoomGenerator

    if lib == "openslide":
        import openslide

        slide: Any = openslide.OpenSlide(path)
    else:  # tiffslide has no DeepZoom generator of its own: openslide's, over TiffSlide
        import tiffslide

        class RGBASlide(tiffslide.TiffSlide):  # type: ignore[misc]
            """openslide's generator composites RGBA regions; tiffslide returns RGB."""

            def read_region(self, *args: Any, **kwargs: Any) -> Any:
                return super().read_region(*args, **kwargs).convert("RGBA")

        slide = RGBASlide(path)
    dz = DeepZoomGenerator(slide, tile_size=254, overlap=1, limit_bounds=False)

    def app(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        m = TILE.match(environ.get("PATH_INFO", ""))
        if m is None:
            start("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        try:
            tile = dz.get_tile(int(m["level"]), (int(m["col"]), int(m["row"])))
        except ValueError:
            start("404 Not Found", [("Content-Type", "text/plain")])
            return [b"bad tile"]
        buf = io.BytesIO()
        tile.save(buf, "jpeg", quality=quality)
        body = buf.getvalue()
        start("200 OK", [("Content-Type", "image/jpeg"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--lib", choices=("openslide", "tiffslide"), required=True)
    p.add_argument("file", type=Path)
    p.add_argument("port", type=int)
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--quality", type=int, default=90)
    args = p.parse_args(argv)
    import waitress

    app = make_app(args.lib, args.file, args.quality)
    waitress.serve(app, host="127.0.0.1", port=args.port, threads=args.threads, _quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
