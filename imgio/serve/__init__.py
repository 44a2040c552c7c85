"""``imgio serve``: tiles, DeepZoom, IIIF and a browser viewer for any image imgio reads.

>>> from imgio.serve import app                       # doctest: +SKIP
>>> asgi = app(["slides/"], token="secret")          # mount in any ASGI service
>>> run(["slides/"], host="127.0.0.1", port=8000)    # or serve it with uvicorn

Endpoints (``NAME`` is the image's path under the served folder):

- ``/`` the catalogue of images (thumbnail, dims, µm, size, vendor), ``/view/NAME`` the
  viewer: OpenSeadragon, vendored in the package (navigator, zoom, rotation, full screen,
  keyboard), with imgio's scene, T/Z, channel (colour, display range), metadata and
  label/macro panels, a scale bar and the pointer position in µm;
- ``/dzi/NAME.dzi`` and ``/dzi/NAME_files/L/C_R.jpeg`` (DeepZoom, as OpenSeadragon reads);
- ``/iiif/3/NAME/info.json`` and ``/iiif/3/NAME/REGION/SIZE/ROTATION/QUALITY.FMT``
  (IIIF Image API 3.0; ``NAME`` with ``/`` percent-encoded as ``%2F``);
- ``/api/images/NAME/{metadata, tiles/zxy/Z/X/Y, thumbnail, region, histogram, pixel,
  associated/WHICH}`` with ``scene``, ``frame``, ``T``/``C``/``Z``, ``style`` (a
  large_image style as JSON) and ``encoding`` query parameters.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ImgioError, require

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ._views import Limits

__all__ = ["app", "bind", "run"]


def app(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    token: str | None = None,
    cache_bytes: int = 256 << 20,
    threads: int | None = None,
    limits: Limits | None = None,
    storage_options: Mapping[str, Any] | None = None,
    cors_origins: Sequence[str] = (),
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
    cors_origins
        Web origins (``https://viewer.example.org``) whose pages may read the images
        with the browser's credentials (the token cookie or header): their ``Origin`` is
        echoed with ``Access-Control-Allow-Credentials``. Others get ``*`` on IIIF and
        DeepZoom responses, which serves uncredentialed ``/t/TOKEN/...`` URLs.

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
        cors_origins=cors_origins,
    )


def bind(host: str = "127.0.0.1", port: int = 8000) -> socket.socket:
    """A socket listening on ``host:port`` (port 0: any free port).

    Raises
    ------
    ImgioError
        The address cannot be bound: the port is taken, the host is not an address of
        this machine, or a port below 1024 needs privileges.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ImgioError(f"cannot serve on {host!r}: not a known host name ({exc})") from None
    family, _, _, _, address = infos[0]
    try:
        return socket.create_server(address, family=family, backlog=2048)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            why = "the port is taken (is another server running?); choose another with --port"
        elif exc.errno == errno.EACCES:
            why = "permission denied (ports below 1024 need privileges)"
        else:
            why = exc.strerror or str(exc)
        raise ImgioError(f"cannot serve on {_url(host, port)}: {why}") from None


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def run(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    access_log: bool = False,
    announce: Callable[[str], None] | None = None,
    **options: Any,
) -> None:
    """Serve ``paths`` with uvicorn until interrupted (binds 127.0.0.1 unless told).

    The socket is bound before anything is announced: ``announce(url)`` is called once
    the server can be reached (``port=0`` picks a free port, shown in the URL).
    ``access_log`` prints one line per request on stdout (uvicorn's format).
    """
    require("uvicorn", extra="serve")
    import logging

    import uvicorn

    asgi = app(paths, token=token, **options)
    sock = bind(host, port)
    config = uvicorn.Config(asgi, log_level="warning", access_log=access_log)
    if access_log:
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    if announce is not None:
        announce(_url(host, sock.getsockname()[1]))
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
