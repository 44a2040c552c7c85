"""What each endpoint computes, as plain functions of the catalog and request parameters.

No HTTP here: each function returns ``(body, media_type)`` or a JSON-able value and
raises :class:`~imgio.serve._iiif.RequestError` (4xx) for a request that cannot be
served. Pixels come only from the tile verbs (:class:`imgio.tiles.TileSource`) and the
DeepZoom generator of :mod:`imgio.slide`: the server has no pixel code of its own.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._colors import hex_color
from ..errors import ImgioError, SelectionError
from ..tiles import TileSource
from ..tiles._encode import encode, normalize_format
from ..tiles._style import StyleError
from . import _iiif
from ._catalog import Catalog

__all__ = ["Limits", "Views"]

_ENCODINGS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "tif": "tiff", "tiff": "tiff"}
_MEDIA = {"png": "image/png", "jpeg": "image/jpeg", "tiff": "image/tiff", "webp": "image/webp"}


@dataclass(frozen=True)
class Limits:
    """Caps on what one request may make the server read and produce."""

    max_side: int = 5000  # output pixels along either side (iipsrv's default cap)
    max_area: int = 4096 * 4096  # output pixels in all (Cantaloupe's max_pixels)
    max_read: int = 8192 * 8192  # pixels read from the chosen stored level


def _int(params: Mapping[str, str], key: str, default: int | None = None) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise _iiif.RequestError(f"{key}={value!r} is not an integer") from None


def _float(params: Mapping[str, str], key: str) -> float | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except ValueError:
        raise _iiif.RequestError(f"{key}={value!r} is not a number") from None
    if not math.isfinite(out):
        raise _iiif.RequestError(f"{key}={value!r} is not a finite number")
    return out


def _encoding(value: str | None, default: str) -> str:
    key = (value or default).lower()
    if key not in _ENCODINGS:
        raise _iiif.RequestError(f"encoding {value!r} is not one of png, jpeg, tiff")
    return _ENCODINGS[key]


def _style(params: Mapping[str, str]) -> Any:
    text = params.get("style")
    if not text:
        return None
    if len(text) > 20000:
        raise _iiif.RequestError("style is longer than 20000 characters")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _iiif.RequestError(f"style is not valid JSON: {exc}") from None


def _axes(params: Mapping[str, str]) -> dict[str, Any]:
    """T/C/Z/extra-dim indices (``C`` also by name) and ``frame`` from the query."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if len(key) == 1 and key.isupper() and key not in "YXS":
            if key == "C" and not value.lstrip("-").isdigit():
                out[key] = value
            else:
                out[key] = _int(params, key)
    frame = _int(params, "frame")
    if frame is not None:
        out["frame"] = frame
    return out


class Views:
    """Endpoint logic over a :class:`Catalog`, with caps from :class:`Limits`."""

    def __init__(self, catalog: Catalog, limits: Limits | None = None) -> None:
        self.catalog = catalog
        self.limits = limits or Limits()
        self._sources: dict[tuple[str, int], TileSource] = {}
        self._zooms: dict[tuple[str, int, int], Any] = {}
        self._zoom_cache: Any = None  # one OpenSlideCache for every DeepZoom slide served
        self._lock = threading.Lock()

    # ------------------------------------------------------------- sources
    def source(self, name: str, params: Mapping[str, str]) -> TileSource:
        file = self.catalog.file(name)
        scene = params.get("scene") or "0"
        try:
            index = file.scene_index(int(scene) if scene.lstrip("-").isdigit() else scene)
        except SelectionError as exc:
            raise _iiif.RequestError(str(exc)) from None
        key = (name, index)
        with self._lock:
            ts = self._sources.get(key)
        if ts is None:
            ts = TileSource(file, index)
            with self._lock:
                self._sources[key] = ts
        return ts

    def token(self, name: str, params: Mapping[str, str]) -> str:
        return self.source(name, params).token

    def forget(self) -> None:
        with self._lock:
            self._sources.clear()
            self._zooms.clear()

    def _check_read(
        self, ts: TileSource, box_w: float, box_h: float, out_w: int, out_h: int
    ) -> None:
        """Refuse a region whose stored level would need more pixels than the cap."""
        lay = ts.geometry
        if out_w > self.limits.max_side or out_h > self.limits.max_side:
            raise _iiif.RequestError(
                f"output {out_w} x {out_h} exceeds {self.limits.max_side} px a side"
            )
        if out_w * out_h > self.limits.max_area:
            raise _iiif.RequestError(
                f"output {out_w} x {out_h} exceeds {self.limits.max_area} px in all"
            )
        level = lay.best_level(max(box_w / out_w, box_h / out_h))
        dy, dx = lay.downsamples[level]
        if (box_w / dx) * (box_h / dy) > self.limits.max_read:
            raise _iiif.RequestError(
                f"this region needs {int(box_w / dx)} x {int(box_h / dy)} pixels from stored "
                f"level {level}, more than this server reads for one request "
                f"({self.limits.max_read} px); ask for a smaller region"
            )

    # ----------------------------------------------------------- metadata
    def metadata(self, name: str, params: Mapping[str, str]) -> dict[str, Any]:
        """large_image-style metadata plus what the viewer needs (scenes, channels)."""
        ts = self.source(name, params)
        file = ts.file
        out = ts.metadata()
        out["name"] = name
        out["scene"] = ts.scene
        out["scenes"] = [
            s for s, info in zip(file.scene_names, file.infos(), strict=True)
            if not info.associated
        ]  # fmt: skip
        out["mmX"] = out.get("mm_x")
        lay = ts.geometry
        out["frameAxes"] = {d: n for d, n in lay.frame_sizes.items() if d != "C"}
        out["channels"] = self._channels(ts)
        out.update(self._described(ts))
        doc: dict[str, Any] = _jsonable(out)
        return doc

    def _described(self, ts: TileSource) -> dict[str, Any]:
        """What the viewer's metadata panel and the index show: dims, µm, vendor..."""
        file, scene = ts.file, ts.scene
        pps = file.physical_pixel_sizes(scene)
        return {
            "dims": file.sizes(scene),
            "physicalPixelSizes": {"Z": pps.Z, "Y": pps.Y, "X": pps.X},
            "vendor": file.vendor,
            "objective": file.objective_power(scene),
            "channelNames": file.channel_names(scene),
        }

    def summary(self, name: str) -> dict[str, Any]:
        """One catalogue row: the first scene's dims, µm, vendor, levels and file size."""
        ts = self.source(name, {})
        out = self._described(ts)
        out["dtype"] = str(ts.geometry.dtype)
        out["scenes"] = sum(1 for info in ts.file.infos() if not info.associated)
        out["levels"] = ts.geometry.n_stored
        out["associated"] = list(ts.file.associated_images)
        out["bytes"] = self.catalog.size_of(name)
        doc: dict[str, Any] = _jsonable(out)
        return doc

    def _channels(self, ts: TileSource) -> list[dict[str, Any]]:
        """Name, colour and display range of each channel (one, white, for a grey image)."""
        lay = ts.geometry
        n = lay.frame_sizes.get("C", 1)
        if lay.bands != 1:
            return []
        colors = ts.file.info(ts.scene)
        from .._colors import resolve_colors
        from .._display import robust_limits

        rgb = (
            resolve_colors(colors.channel_names, colors.channel_colors, n)
            if n > 1
            else [(255, 255, 255)]
        )
        out = []
        for c in range(n):  # the contrast rule of thumbnails, napari and omero windows
            thumb = ts.thumbnail(256, 256, style=None, format="numpy", C=c)
            lo, hi = robust_limits(np.asarray(thumb).ravel(), lay.dtype)
            if lay.dtype.kind in "ui":  # integer samples: integer limits, as typed
                lo, hi = math.floor(lo), math.ceil(hi)
            name = lay.channel_names[c] if c < len(lay.channel_names) else f"C{c}"
            out.append(
                {"name": name, "color": hex_color(rgb[c]), "min": float(lo), "max": float(hi)}
            )
        return out

    # -------------------------------------------------------------- tiles
    def zxy_tile(
        self, name: str, z: int, x: int, y: int, fmt: str | None, params: Mapping[str, str]
    ) -> tuple[bytes, str]:
        ts = self.source(name, params)
        default = "jpeg" if ts.geometry.bands >= 3 and ts.geometry.dtype == np.uint8 else "png"
        enc = _encoding(fmt or params.get("encoding"), default)
        body = ts.get_tile(x, y, z, style=_style(params), format=enc, **_axes(params))
        return body, _MEDIA[enc]

    def thumbnail(self, name: str, params: Mapping[str, str]) -> tuple[bytes, str]:
        ts = self.source(name, params)
        w = _int(params, "width", 256)
        h = _int(params, "height", w)
        assert w is not None and h is not None
        if not (1 <= w <= 4096 and 1 <= h <= 4096):
            raise _iiif.RequestError(f"thumbnail size {w} x {h} must be within 1..4096")
        enc = _encoding(params.get("encoding"), "png")
        style = _style(params) or "auto"
        body = ts.thumbnail(w, h, style=style, format=enc, **_axes(params))
        return body, _MEDIA[enc]

    def region(self, name: str, params: Mapping[str, str]) -> tuple[bytes, str]:
        ts = self.source(name, params)
        units = params.get("units", "base_pixels")
        box_args = {
            k: _float(params, k) for k in ("left", "top", "right", "bottom", "width", "height")
        }
        ow, oh = _int(params, "output_width"), _int(params, "output_height")
        box = ts.geometry.region_box(
            box_args["left"], box_args["top"], box_args["right"], box_args["bottom"],
            box_args["width"], box_args["height"], units,
        )  # fmt: skip
        bw, bh = box[2] - box[0], box[3] - box[1]
        s = max(bw / ow if ow else 0.0, bh / oh if oh else 0.0, 1.0) if (ow or oh) else 1.0
        self._check_read(ts, bw, bh, max(1, round(bw / s)), max(1, round(bh / s)))
        enc = _encoding(params.get("encoding"), "png")
        body = ts.get_region(
            box[0], box[1], box[2], box[3], output_width=ow, output_height=oh,
            style=_style(params), format=enc, **_axes(params),
        )  # fmt: skip
        return body, _MEDIA[enc]

    def histogram(self, name: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        ts = self.source(name, params)
        bins = _int(params, "bins", 256)
        assert bins is not None
        if not 1 <= bins <= 65536:
            raise _iiif.RequestError(f"bins={bins} must be within 1..65536")
        level = _int(params, "level")
        if level is not None and 0 <= level < ts.geometry.n_stored:
            h, w = ts.geometry.sizes[level]
            if h * w > self.limits.max_read:
                raise _iiif.RequestError(
                    f"level {level} has {w} x {h} pixels, more than this server reads at once"
                )
        result = ts.histogram(
            bins, frame=_int(params, "frame"), level=level, **_axes_no_frame(params)
        )
        hists: list[dict[str, Any]] = _jsonable(result)
        return hists

    def pixel(self, name: str, params: Mapping[str, str]) -> dict[str, Any]:
        ts = self.source(name, params)
        x, y = _float(params, "x"), _float(params, "y")
        if x is None or y is None:
            raise _iiif.RequestError("pixel needs x and y")
        value: dict[str, Any] = _jsonable(
            ts.get_pixel(x, y, units=params.get("units", "base_pixels"), **_axes(params))
        )
        return value

    def associated(self, name: str, which: str, params: Mapping[str, str]) -> tuple[bytes, str]:
        ts = self.source(name, params)
        w = _int(params, "width")
        h = _int(params, "height")
        enc = _encoding(params.get("encoding"), "png")
        body = ts.get_associated_image(which, max_width=w, max_height=h, format=enc)
        return body, _MEDIA[enc]

    # ------------------------------------------------------------- deepzoom
    def _deepzoom(self, name: str, tile: int, overlap: int) -> Any:
        from ..slide import DEFAULT_CACHE_SIZE, OpenSlide, OpenSlideCache
        from ..slide.deepzoom import DeepZoomGenerator

        key = (name, tile, overlap)
        with self._lock:
            dz = self._zooms.get(key)
        if dz is None:
            entry = self.catalog.resolve(name)
            options = self.catalog.storage_options or None
            slide = OpenSlide(entry.path, storage_options=options)
            with self._lock:
                if self._zoom_cache is None:  # decoded tiles of all slides, 32 MiB in all
                    self._zoom_cache = OpenSlideCache(DEFAULT_CACHE_SIZE)
                slide.set_cache(self._zoom_cache)
            dz = DeepZoomGenerator(slide, tile_size=tile, overlap=overlap)
            with self._lock:
                self._zooms[key] = dz
        return dz

    def dzi(self, name: str, fmt: str, params: Mapping[str, str]) -> str:
        tile, overlap = self._dz_params(params)
        return str(self._deepzoom(name, tile, overlap).get_dzi(fmt))

    def dzi_tile(
        self, name: str, level: int, col: int, row: int, fmt: str, params: Mapping[str, str]
    ) -> tuple[bytes, str]:
        enc = _encoding(fmt, "jpeg")
        if enc not in ("jpeg", "png"):
            raise _iiif.RequestError(f"DeepZoom tiles are jpeg or png, not {fmt!r}")
        tile, overlap = self._dz_params(params)
        dz = self._deepzoom(name, tile, overlap)
        try:
            rgb = dz.get_tile(level, (col, row), as_array=True)
        except ImgioError:
            raise  # damaged data: 422, as the zxy and IIIF tiles answer (viewers skip 404s)
        except ValueError as exc:  # no such level or tile
            raise _iiif.RequestError(str(exc), 404) from None
        return encode(rgb, enc), _MEDIA[enc]

    @staticmethod
    def _dz_params(params: Mapping[str, str]) -> tuple[int, int]:
        tile = _int(params, "tile_size", 254)
        overlap = _int(params, "overlap", 1)
        if tile is None or overlap is None or not 16 <= tile <= 2048 or not 0 <= overlap <= 64:
            raise _iiif.RequestError("tile_size must be 16..2048 and overlap 0..64")
        return tile, overlap

    # ----------------------------------------------------------------- IIIF
    def iiif_info(self, name: str, base_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        ts = self.source(name, params)
        lay = ts.geometry
        gray = lay.bands == 1 and lay.frame_sizes.get("C", 1) == 1
        return _iiif.info_json(
            base_id, lay.width, lay.height, lay.tile_width, lay.levels,
            max_area=self.limits.max_area, max_side=self.limits.max_side, gray=gray,
        )  # fmt: skip

    def iiif_image(
        self, name: str, region: str, size: str, rotation: str, qf: str, params: Mapping[str, str]
    ) -> tuple[bytes, str]:
        ts = self.source(name, params)
        lay = ts.geometry
        req = _iiif.parse_request(
            region, size, rotation, qf, lay.width, lay.height,
            max_area=self.limits.max_area, max_side=self.limits.max_side,
        )  # fmt: skip
        self._check_read(ts, req.w, req.h, req.out_w, req.out_h)
        arr = ts.get_region(
            req.x, req.y, req.x + req.w, req.y + req.h,
            output_width=req.out_w, output_height=req.out_h, allow_upscale=True,
            style=_style(params) or "auto", format="numpy", **_axes(params),
        )  # fmt: skip
        arr = _iiif.fit_exact(np.asarray(arr), req.out_h, req.out_w)
        arr = _iiif.orient(arr, req.rotation, req.mirror)
        arr = _iiif.quality(arr, req.quality)
        return encode(arr, normalize_format(req.format)), req.media_type


def _axes_no_frame(params: Mapping[str, str]) -> dict[str, Any]:
    axes = _axes(params)
    axes.pop("frame", None)
    return axes


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays (and tuples) as plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# errors the tile verbs raise for a bad request (4xx), as opposed to a bad file
REQUEST_ERRORS = (SelectionError, StyleError, _iiif.RequestError)
