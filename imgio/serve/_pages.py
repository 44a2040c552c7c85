"""The HTML pages: the list of images and the viewer of one (script and style are static)."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from starlette.responses import HTMLResponse

__all__ = ["html", "index_page", "viewer_page"]

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/static/viewer.css"></head>"""


def html(text: str) -> HTMLResponse:
    return HTMLResponse(text, headers={"Cache-Control": "no-cache"})


def index_page(names: list[str]) -> str:
    """A table of every image with links to its viewer, DeepZoom and IIIF descriptions."""
    rows = []
    for name in names:
        path = quote(name)
        iiif = quote(name, safe="")
        rows.append(
            f'<tr><td><a href="/view/{path}">{escape(name)}</a></td>'
            f'<td><a href="/dzi/{path}.dzi">DZI</a></td>'
            f'<td><a href="/iiif/3/{iiif}/info.json">IIIF</a></td>'
            f'<td><a href="/api/images/{path}/metadata">metadata</a></td></tr>'
        )
    body = "\n".join(rows) or '<tr><td colspan="4">no images found</td></tr>'
    return (
        _HEAD.format(title="imgio serve")
        + '<body><h1 style="margin:20px">imgio serve</h1>'
        + f'<table class="images"><tr><th>image</th><th colspan="3">services</th></tr>{body}'
        + "</table></body></html>"
    )


def viewer_page(name: str) -> str:
    """Pan/zoom viewer of one image; the script reads its metadata from the JSON API."""
    api = f"/api/images/{quote(name)}"
    return (
        _HEAD.format(title=escape(name))
        + f'<body><div id="viewer" data-api="{escape(api)}">'
        + '<canvas id="canvas"></canvas>'
        + f'<div id="side"><p><a href="/">all images</a></p><h1>{escape(name)}</h1>'
        + '<div id="controls"></div></div>'
        + '<div id="hud"><div id="scalebar"></div><span id="scalebar-label"></span>'
        + ' &middot; <span id="pointer"></span></div></div>'
        + '<script src="/static/viewer.js"></script></body></html>'
    )
