"""The HTML pages: the catalogue of images and the viewer of one (scripts and style are static).

Every URL in a page starts with ``prefix``: empty, or ``/t/TOKEN`` when the page was
reached through a token path, so that its scripts, tiles and links carry the token too.
Nothing is loaded from another origin: the viewer's OpenSeadragon is served from the
package (``static/vendor/openseadragon``).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import quote

from starlette.responses import HTMLResponse

__all__ = ["html", "index_page", "viewer_page"]

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="{prefix}/static/viewer.css"></head>"""

KEYS = (
    ("drag, arrows, W A S D", "pan"),
    ("wheel, + / -", "zoom in / out"),
    ("0", "whole image"),
    ("R / Shift+R", "rotate"),
    ("1 ... 9", "channel on / off"),
    ("[ / ]", "previous / next Z"),
    (", / .", "previous / next T"),
    ("F", "full screen (Esc leaves)"),
)


def html(text: str) -> HTMLResponse:
    return HTMLResponse(text, headers={"Cache-Control": "no-cache"})


def _bytes(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""  # pragma: no cover


def _um(sizes: Mapping[str, float | None]) -> str:
    x, y = sizes.get("X"), sizes.get("Y")
    if not x:
        return "no calibration"
    text = f"{x:.4g}" if not y or y == x else f"{x:.4g} x {y:.4g}"
    return text + " µm/px"


def _row(prefix: str, name: str, info: Mapping[str, Any] | str) -> str:
    path, iiif = quote(name), quote(name, safe="")
    api = f"{prefix}/api/images/{path}"
    links = (
        f'<a href="{prefix}/dzi/{path}.dzi">DZI</a> '
        f'<a href="{prefix}/iiif/3/{iiif}/info.json">IIIF</a> '
        f'<a href="{api}/metadata">JSON</a>'
    )
    view = f'<a href="{prefix}/view/{path}">{escape(name)}</a>'
    if isinstance(info, str):  # the file cannot be read: say why, show no thumbnail
        short = info if len(info) <= 200 else info[:200].rsplit(" ", 1)[0] + " ..."
        return (
            f'<tr class="unreadable"><td class="thumb"></td><td>{view}'
            f'<div class="error" title="{escape(info)}">{escape(short)}</div></td>'
            "<td></td><td></td><td></td></tr>"
        )
    dims = " ".join(f"{k}&nbsp;{v}" for k, v in info["dims"].items())
    extra = [f"{info['dtype']}", f"{info['levels']} level{'s' * (info['levels'] > 1)}"]
    if info["scenes"] > 1:
        extra.append(f"{info['scenes']} scenes")
    if info["associated"]:
        extra.append(escape(", ".join(info["associated"])))
    vendor = escape(info["vendor"] or "")
    if info.get("objective"):
        vendor += f"<br>{info['objective']:g}x objective"
    thumb = (
        f'<a href="{prefix}/view/{path}"><img loading="lazy" alt="" '
        f'src="{api}/thumbnail?width=160&amp;height=120"></a>'
    )
    return (
        f'<tr><td class="thumb">{thumb}</td><td>{view}<div class="links">{links}</div></td>'
        f"<td>{dims}<br><small>{', '.join(extra)}</small></td>"
        f"<td>{_um(info['physicalPixelSizes'])}<br><small>{_bytes(info['bytes'])}</small></td>"
        f"<td>{vendor}</td></tr>"
    )


def index_page(rows: list[tuple[str, Mapping[str, Any] | str]], prefix: str = "") -> str:
    """The catalogue: a thumbnail, dims, pixel size, file size and vendor for each image.

    ``rows`` pairs each image's name with its summary, or with the reason it cannot
    be read.
    """
    body = "\n".join(_row(prefix, name, info) for name, info in rows)
    body = body or '<tr><td colspan="5">no images found</td></tr>'
    return (
        _HEAD.format(title="imgio serve", prefix=prefix)
        + f'<body class="index"><h1>imgio serve <small>{len(rows)} images</small></h1>'
        + '<table class="images"><thead><tr><th></th><th>image</th><th>dims</th>'
        + "<th>pixel size, file</th><th>vendor</th></tr></thead>"
        + f"<tbody>{body}</tbody></table></body></html>"
    )


def viewer_page(name: str, prefix: str = "") -> str:
    """The viewer of one image: OpenSeadragon with channel, frame, metadata and
    associated-image panels; the script reads the image's metadata from the JSON API."""
    api = f"{prefix}/api/images/{quote(name)}"
    keys = "".join(f"<tr><td><kbd>{k}</kbd></td><td>{what}</td></tr>" for k, what in KEYS)
    return (
        _HEAD.format(title=escape(name), prefix=prefix)
        + f'<body class="viewer"><div id="viewer" data-api="{escape(api)}"'
        + f' data-static="{escape(prefix)}/static/">'
        + '<div id="osd" tabindex="-1"></div>'
        + '<div id="hud"><div id="scalebar"></div><span id="scalebar-label"></span>'
        + ' <span id="pointer"></span></div>'
        + f'<aside id="side"><p><a href="{prefix}/">all images</a></p>'
        + f"<h1>{escape(name)}</h1><div id='status'></div>"
        + '<section id="controls"></section><section id="channels"></section>'
        + '<details id="meta-panel" open><summary>Metadata</summary>'
        + '<table id="meta"></table></details>'
        + '<details id="associated-panel" hidden>'
        + "<summary>Label, macro and other associated images</summary>"
        + '<div id="associated"></div></details>'
        + f'<details id="keys-panel"><summary>Keyboard</summary><table>{keys}</table></details>'
        + "</aside></div>"
        + f'<script src="{prefix}/static/vendor/openseadragon/openseadragon.min.js"></script>'
        + f'<script src="{prefix}/static/viewer.js"></script></body></html>'
    )
