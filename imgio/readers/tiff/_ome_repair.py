"""Lenient OME-XML: size attributes that are not sizes are replaced by what the pages say.

An OME-TIFF whose ``Pixels`` has ``SizeX=""`` (or ``"abc"``, ``-5``, ``1e11``) makes
tifffile's OME series fail, and reading the file as plain pages would drop its channel
names, pixel sizes and Z/C/T layout with it. The pixels' real geometry is in the pages:
``SizeX``/``SizeY`` come from the page the image starts at, and one unusable ``SizeZ``,
``SizeC`` or ``SizeT`` of a single-image file from the number of planes stored. Only the
bad values are replaced (the caller warns, naming them); anything not repairable this way
is left for the plain-pages fallback.

A ``Pixels`` that declares more planes than the file has IFDs (``SizeZ="100000"`` over
three pages) cannot be true: its largest plane axis is cut to what the IFDs can hold, so
the image keeps the planes that exist and never reads as a stack of absent ones (a
multi-file set, whose planes lie in other files, is left alone).
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..._limits import MAX_EXTENT

__all__ = ["repair_ome_sizes"]

_PIXELS = re.compile(r"<(?:\w+:)?Pixels\b[^>]*>")
_TIFFDATA_IFD = re.compile(r"<(?:\w+:)?TiffData\b[^>]*?\bIFD\s*=\s*[\"'](\d+)[\"']")
_OTHER_FILE = re.compile(r"<(?:\w+:)?UUID\b[^>]*?\bFileName\s*=")


def _attr(tag: str, name: str) -> str | None:
    found = re.search(rf"\b{name}\s*=\s*(\"[^\"]*\"|'[^']*')", tag)
    return found.group(1)[1:-1] if found else None


def _set(tag: str, name: str, value: int) -> str:
    return re.sub(rf"\b{name}\s*=\s*(\"[^\"]*\"|'[^']*')", f'{name}="{value}"', tag, count=1)


def _usable(text: str | None) -> bool:
    return text is not None and text.strip().isdigit() and 0 < int(text) <= MAX_EXTENT


def repair_ome_sizes(xml: str, tif: Any) -> tuple[str, list[str]]:
    """The XML with unusable ``Size*`` attributes replaced, and what was replaced."""
    tags = list(_PIXELS.finditer(xml))
    fixes: list[str] = []
    out, last = [], 0
    for k, m in enumerate(tags):
        tag = m.group(0)
        rest = xml[m.end() : tags[k + 1].start() if k + 1 < len(tags) else len(xml)]
        ifd = _TIFFDATA_IFD.search(rest)
        page = _page(tif, int(ifd.group(1)) if ifd else 0)
        for name, axis in (("SizeX", "imagewidth"), ("SizeY", "imagelength")):
            value = _attr(tag, name)
            if not _usable(value) and page is not None:
                tag = _set(tag, name, int(getattr(page, axis)))
                fixes.append(f"{name}={value!r}")
        bad = [n for n in ("SizeZ", "SizeC", "SizeT") if not _usable(_attr(tag, n))]
        if len(bad) == 1 and len(tags) == 1 and page is not None:
            known = math.prod(
                int(_attr(tag, n) or 1) for n in ("SizeZ", "SizeC", "SizeT") if n not in bad
            )
            planes = len(tif.pages) * int(page.samplesperpixel)
            if known and planes % known == 0:
                fixes.append(f"{bad[0]}={_attr(tag, bad[0])!r}")
                tag = _set(tag, bad[0], planes // known)
        if page is not None and not _OTHER_FILE.search(xml):
            tag = _fit_planes(tag, len(tif.pages) * int(page.samplesperpixel), fixes)
        out.append(xml[last : m.start()] + tag)
        last = m.end()
    return "".join(out) + xml[last:], fixes


def _fit_planes(tag: str, stored: int, fixes: list[str]) -> str:
    """Cut the largest of ``SizeZ``/``SizeC``/``SizeT`` (then the next) until the planes
    declared fit in the ``stored`` ones (IFDs times samples per pixel)."""
    texts = {n: _attr(tag, n) for n in ("SizeZ", "SizeC", "SizeT")}
    sizes = {n: int(v) for n, v in texts.items() if v is not None and _usable(v)}
    if len(sizes) < 3 or math.prod(sizes.values()) <= stored:
        return tag
    declared = math.prod(sizes.values())
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        others = math.prod(v for n, v in sizes.items() if n != name)
        fit = max(1, stored // others)
        if fit < sizes[name]:
            fixes.append(f"{name}={sizes[name]} ({declared} planes declared, {stored} stored)")
            sizes[name] = fit
            tag = _set(tag, name, fit)
        if math.prod(sizes.values()) <= stored:
            break
    return tag


def _page(tif: Any, index: int) -> Any:
    try:
        return tif.pages[index] if index < len(tif.pages) else None
    except Exception:  # noqa: BLE001 - a damaged page: nothing to take sizes from
        return None
