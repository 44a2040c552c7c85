"""``imgio serve``: tiles, DeepZoom, IIIF and a browser viewer for any image imgio reads.

>>> from imgio.serve import app                       # doctest: +SKIP
>>> asgi = app(["slides/"], token="secret")          # mount in any ASGI service
>>> run(["slides/"], host="127.0.0.1", port=8000)    # or serve it with uvicorn

Endpoints (``NAME`` is the image's path under the served folder):

- ``/`` the list of images, ``/view/NAME`` the viewer (pan, zoom, scenes, frames,
  channels, scale bar in µm);
- ``/dzi/NAME.dzi`` and ``/dzi/NAME_files/L/C_R.jpeg`` (DeepZoom, as OpenSeadragon reads);
- ``/iiif/3/NAME/info.json`` and ``/iiif/3/NAME/REGION/SIZE/ROTATION/QUALITY.FMT``
  (IIIF Image API 3.0; ``NAME`` with ``/`` percent-encoded as ``%2F``);
- ``/api/images/NAME/{metadata, tiles/zxy/Z/X/Y, thumbnail, region, histogram, pixel,
  associated/WHICH}`` with ``scene``, ``frame``, ``T``/``C``/``Z``, ``style`` (a
  large_image style as JSON) and ``encoding`` query parameters.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import require

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ._views import Limits

__all__ = ["app", "run"]


def app(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    token: str | None = None,
    cache_bytes: int = 256 << 20,
    threads: int | None = None,
    limits: Limits | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Starlette:
    """An ASGI app serving the images found under ``paths`` (files or folders).

    Parameters
    ----------
    paths
        Files and folders to serve; nothing outside them is ever opened. A URL
        (``s3://``, ``https://``) is served as one image.
    token
        When given, every request needs it (``Authorization: Bearer``, ``?token=`` once
        in the browser, then a cookie).
    cache_bytes
        Bound of the in-memory cache of encoded tiles.
    threads
        Decode threads (default: twice the cores, at least 4).
    limits
        Caps on output size and pixels read per request.
    storage_options
        fsspec options for URL roots.

    Raises
    ------
    MissingDependencyError
        Without the ``serve`` extra (starlette, uvicorn).
    """
    require("starlette", extra="serve")
    from ._app import make_app

    roots = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    return make_app(
        roots,
        token=token,
        cache_bytes=cache_bytes,
        threads=threads,
        limits=limits,
        storage_options=storage_options,
    )


def run(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    **options: Any,
) -> None:
    """Serve ``paths`` with uvicorn until interrupted (binds 127.0.0.1 unless told)."""
    require("uvicorn", extra="serve")
    import uvicorn

    uvicorn.run(app(paths, token=token, **options), host=host, port=port, log_level="warning")
