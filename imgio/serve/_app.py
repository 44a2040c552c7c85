"""The ASGI application: routes, access token, caching headers and error mapping.

Starlette was chosen over aiohttp because the result is a plain ASGI app: it runs on
uvicorn here and mounts unchanged into any ASGI service (FastAPI, another Starlette,
Django's ASGI), which is what "embed it in a larger service" needs. Every decode runs
in a worker thread (``anyio.to_thread`` with a capacity limiter), never on the loop.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from importlib import resources
from typing import Any
from urllib.parse import quote

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ImgioError
from . import _pages
from ._cache import ByteLRU
from ._catalog import Catalog, NotServed
from ._iiif import RequestError
from ._views import REQUEST_ERRORS, Limits, Views

__all__ = ["make_app"]

log = logging.getLogger("imgio.serve")
Handler = Callable[[Request], Awaitable[Response]]


class _TokenGate:
    """Refuse requests without the access token (``Authorization: Bearer``, ``?token=``
    or the cookie that a first ``?token=`` visit sets).

    The cookie holds a SHA-256 digest of the token, never the token itself. It is
    ``SameSite=Lax`` over plain HTTP; over HTTPS it is ``SameSite=None; Secure``, so
    that a viewer on another origin (an IIIF or DeepZoom client) can send it too.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()
        self.digest = hashlib.sha256(self.token).hexdigest().encode()

    def _allowed(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        given = request.scope.get("imgio_path_token") or request.query_params.get("token") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if given:
            return hmac.compare_digest(given.encode(), self.token)
        cookie = request.cookies.get("imgio_token", "")
        return hmac.compare_digest(cookie.encode(), self.digest)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/t/"):  # /t/TOKEN/...: the token in the path, for viewers on
            token, _, _ = path[3:].partition("/")  # other origins (no cookie, no header)
            scope = dict(scope, root_path=f"/t/{token}", imgio_path_token=token)
        request = Request(scope)
        if not self._allowed(request):
            resp = JSONResponse(
                {"detail": "an access token is needed (?token=...)"},
                401,
                headers={"WWW-Authenticate": 'Bearer realm="imgio"'},  # RFC 9110 11.6.1
            )
            await resp(scope, receive, send)
            return
        if request.query_params.get("token"):
            scope.setdefault("state", {})["token_prefix"] = f"/t/{request.query_params['token']}"
            site = "SameSite=None; Secure" if request.url.scheme == "https" else "SameSite=Lax"
            cookie = f"imgio_token={self.digest.decode()}; Path=/; HttpOnly; {site}"

            async def send_cookie(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
                await send(message)

            await self.app(scope, receive, send_cookie)
            return
        await self.app(scope, receive, send)


class _Server:
    """Holds the catalog, views, cache and thread limiter of one app."""

    def __init__(self, views: Views, cache: ByteLRU, threads: int, private: bool) -> None:
        self.views = views
        self.cache = cache
        self.limiter = anyio.CapacityLimiter(threads)
        self.cache_control = "private, max-age=3600" if private else "public, max-age=3600"

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    def etag(self, request: Request, name: str) -> str:
        params = dict(request.query_params)
        params.pop("token", None)
        key = f"{self.views.token(name, params)}|{request.url.path}|{sorted(params.items())}"
        return '"' + hashlib.sha1(key.encode()).hexdigest() + '"'

    async def image(self, request: Request, name: str, make: Callable[[], Any]) -> Response:
        """Bytes from ``make()`` with ETag / Cache-Control, through the byte-bounded cache."""
        etag = await self.run(self.etag, request, name)
        headers = {"ETag": etag, "Cache-Control": self.cache_control}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        hit = self.cache.get(etag)
        if hit is None:
            body, media = await self.run(make)
            self.cache.put(etag, body, media)
        else:
            body, media = hit
        return Response(body, media_type=media, headers=headers)

    async def json(self, make: Callable[[], Any]) -> Response:
        return JSONResponse(await self.run(make))


def _errors_of(handler: Handler, *, redact: Callable[[str], str]) -> Handler:
    """Map request errors to 4xx and file errors to 422, with a clear ``detail``."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except NotServed as exc:
            return JSONResponse({"detail": redact(str(exc))}, 404)
        except RequestError as exc:
            return JSONResponse({"detail": redact(str(exc))}, exc.status)
        except REQUEST_ERRORS as exc:
            return JSONResponse({"detail": redact(str(exc))}, 400)
        except ImgioError as exc:
            log.warning("cannot serve %s: %s", request.url.path, exc)
            detail = redact(f"the file cannot be read: {exc}")
            return JSONResponse({"detail": detail}, 422)

    return wrapped


def _routes(srv: _Server) -> list[Route]:
    v = srv.views
    _errors = functools.partial(_errors_of, redact=v.catalog.redact)

    def name_of(request: Request) -> str:
        return str(request.path_params["name"])

    def q(request: Request) -> dict[str, str]:
        return dict(request.query_params)

    async def index(request: Request) -> Response:
        rows = await srv.run(catalogue)
        return _pages.html(_pages.index_page(rows, _prefix(request)))

    def catalogue() -> list[tuple[str, dict[str, Any] | str]]:
        rows: list[tuple[str, dict[str, Any] | str]] = []
        for i, e in enumerate(v.catalog.entries()):
            if i >= _INDEX_DETAILS:  # a huge folder: the rest by name only, not opened
                rows.append((e.name, "not opened: the catalogue details the first "
                             f"{_INDEX_DETAILS} images only"))  # fmt: skip
                continue
            try:
                rows.append((e.name, v.summary(e.name)))
            except (ImgioError, NotServed, *REQUEST_ERRORS) as exc:
                rows.append((e.name, v.catalog.redact(f"cannot be read: {exc}")))
        return rows

    async def viewer(request: Request) -> Response:
        name = name_of(request)
        await srv.run(v.catalog.resolve, name)
        return _pages.html(_pages.viewer_page(name, _prefix(request)))

    async def static(request: Request) -> Response:
        fname = request.path_params["file"]
        if fname not in _static_files():
            return JSONResponse({"detail": f"no static file {fname!r}"}, 404)
        body = resources.files("imgio.serve").joinpath("static", *fname.split("/")).read_bytes()
        media = _STATIC_MEDIA.get(fname.rsplit(".", 1)[-1], "application/octet-stream")
        vendored = fname.startswith("vendor/")  # pinned: its content changes with imgio only
        cache = "public, max-age=86400" if vendored else "no-cache"
        return Response(body, media_type=media, headers={"Cache-Control": cache})

    async def images(request: Request) -> Response:
        return await srv.json(lambda: [{"name": e.name} for e in v.catalog.entries()])

    async def metadata(request: Request) -> Response:
        return await srv.json(lambda: v.metadata(name_of(request), q(request)))

    async def zxy(request: Request) -> Response:
        p = request.path_params
        name = name_of(request)
        return await srv.image(
            request,
            name,
            lambda: v.zxy_tile(name, p["z"], p["x"], p["y"], p.get("fmt"), q(request)),
        )

    async def thumbnail(request: Request) -> Response:
        name = name_of(request)
        return await srv.image(request, name, lambda: v.thumbnail(name, q(request)))

    async def region(request: Request) -> Response:
        name = name_of(request)
        return await srv.image(request, name, lambda: v.region(name, q(request)))

    async def associated(request: Request) -> Response:
        name, which = name_of(request), request.path_params["which"]
        return await srv.image(request, name, lambda: v.associated(name, which, q(request)))

    async def histogram(request: Request) -> Response:
        return await srv.json(lambda: v.histogram(name_of(request), q(request)))

    async def pixel(request: Request) -> Response:
        return await srv.json(lambda: v.pixel(name_of(request), q(request)))

    async def dzi(request: Request) -> Response:
        name = name_of(request)
        fmt = request.query_params.get("format", "jpeg")
        if fmt not in ("jpeg", "png"):
            raise RequestError(f"DeepZoom format must be jpeg or png, not {fmt!r}")
        await srv.run(v.catalog.resolve, name)
        xml = await srv.run(v.dzi, name, fmt, q(request))
        return Response(
            xml, media_type="application/xml", headers={"Access-Control-Allow-Origin": "*"}
        )

    async def dzi_tile(request: Request) -> Response:
        p = request.path_params
        name = name_of(request)
        return await srv.image(
            request, name,
            lambda: v.dzi_tile(name, p["level"], p["col"], p["row"], p["fmt"], q(request)),
        )  # fmt: skip

    async def iiif_base(request: Request) -> Response:
        from starlette.responses import RedirectResponse

        return RedirectResponse(str(request.url).rstrip("/") + "/info.json", status_code=303)

    async def iiif_info(request: Request) -> Response:
        name = name_of(request)
        # behind --token, the id carries it (/t/TOKEN/iiif/...): IIIF clients on other
        # origins build every image URL from the id and send no cookie
        prefix = request.scope.get("root_path") or getattr(request.state, "token_prefix", "")
        root = f"{request.url.scheme}://{request.url.netloc}{prefix}"
        base = f"{root}/iiif/3/{quote(name, safe='')}"
        doc = await srv.run(v.iiif_info, name, base, q(request))
        return Response(
            json.dumps(doc),
            media_type='application/ld+json;profile="http://iiif.io/api/image/3/context.json"',
            headers={"Access-Control-Allow-Origin": "*"},
        )

    async def iiif_image(request: Request) -> Response:
        p = request.path_params
        name = name_of(request)
        resp = await srv.image(
            request, name,
            lambda: v.iiif_image(name, p["region"], p["size"], p["rotation"], p["qf"], q(request)),
        )  # fmt: skip
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    table: list[tuple[str, Handler]] = [
        ("/", index),
        ("/view/{name:path}", viewer),
        ("/static/{file:path}", static),
        ("/api/images", images),
        # first: NAME/associated/thumbnail is not the thumbnail of "NAME/associated"
        ("/api/images/{name:path}/associated/{which}", associated),
        ("/api/images/{name:path}/metadata", metadata),
        ("/api/images/{name:path}/tiles/zxy/{z:int}/{x:int}/{y:int}.{fmt}", zxy),
        ("/api/images/{name:path}/tiles/zxy/{z:int}/{x:int}/{y:int}", zxy),
        ("/api/images/{name:path}/thumbnail", thumbnail),
        ("/api/images/{name:path}/region", region),
        ("/api/images/{name:path}/histogram", histogram),
        ("/api/images/{name:path}/pixel", pixel),
        ("/dzi/{name:path}.dzi", dzi),
        ("/dzi/{name:path}_files/{level:int}/{col:int}_{row:int}.{fmt}", dzi_tile),
        ("/iiif/3/{name:path}/info.json", iiif_info),
        ("/iiif/3/{name:path}/{region}/{size}/{rotation}/{qf}", iiif_image),
        ("/iiif/3/{name:path}", iiif_base),
    ]
    return [Route(path, _errors(fn), methods=["GET", "HEAD"]) for path, fn in table]


_INDEX_DETAILS = 500  # images the index page opens to describe (the rest: names only)
_STATIC_MEDIA = {
    "js": "text/javascript",
    "css": "text/css",
    "png": "image/png",
    "txt": "text/plain",
}


def _prefix(request: Request) -> str:
    """What every URL of a page starts with: ``/t/TOKEN`` behind a token path, the mount
    point when the app is mounted inside another, else nothing."""
    return str(request.scope.get("root_path") or "").rstrip("/")


@functools.cache
def _static_files() -> frozenset[str]:
    """The files under ``static/`` (the only ones the static route serves)."""
    out: set[str] = set()

    def walk(node: Any, rel: str) -> None:
        for child in node.iterdir():
            name = f"{rel}{child.name}"
            if child.is_dir():
                walk(child, name + "/")
            elif not child.name.startswith("."):
                out.add(name)

    walk(resources.files("imgio.serve").joinpath("static"), "")
    return frozenset(out)


def viewer_vendored() -> bool:
    """True when OpenSeadragon is vendored into the package (``tools/vendor_viewer.py``)."""
    return "vendor/openseadragon/openseadragon.min.js" in _static_files()


def make_app(
    paths: Sequence[str | os.PathLike[str]],
    *,
    token: str | None = None,
    cache_bytes: int = 256 << 20,
    threads: int | None = None,
    limits: Limits | None = None,
    storage_options: Mapping[str, Any] | None = None,
    cors_origins: Sequence[str] = (),
) -> Starlette:
    """The ASGI app serving the images under ``paths`` (see :func:`imgio.serve.app`)."""
    if not viewer_vendored():
        log.warning(
            "the viewer's OpenSeadragon is not in this installation (a source checkout that "
            "was not built): run python tools/vendor_viewer.py, or reinstall imgio"
        )
    catalog = Catalog(paths, storage_options=storage_options)
    views = Views(catalog, limits)
    srv = _Server(views, ByteLRU(cache_bytes), threads or max(4, 2 * (os.cpu_count() or 1)),
                  private=token is not None)  # fmt: skip
    middleware = [Middleware(_TokenGate, token=token)] if token else []
    if cors_origins:  # outermost: preflights carry no credentials, 401s need the headers
        from starlette.middleware.cors import CORSMiddleware

        cors = Middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "HEAD"],
            allow_headers=["Authorization"],
        )
        middleware.insert(0, cors)

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": f"no such page: {request.url.path}"}, 404)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("error serving %s", request.url.path)
        return PlainTextResponse("internal error (logged by the server)", 500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        catalog.close()

    app = Starlette(
        routes=_routes(srv),
        middleware=middleware,
        exception_handlers={404: not_found, 500: server_error},
        lifespan=lifespan,
    )
    app.state.imgio = srv
    return app
