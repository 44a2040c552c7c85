"""Any file as a Zarr store: kerchunk reference-filesystem JSON (version 1) of its chunks.

``imgio.references(path)`` describes one scene of a file as a Zarr v2 group holding one
array per pyramid level (``"0"``, ``"1"``, ...), each chunk a byte range of the original
file with the numcodecs codec that decodes it, and OME-NGFF 0.4 ``multiscales`` and
``omero`` attributes. Plain ``zarr`` + fsspec's ``reference://`` filesystem (+ ``xarray``)
then read the original file without imgio and without copying it::

    import fsspec, zarr, imagecodecs.numcodecs
    imagecodecs.numcodecs.register_codecs()          # the imagecodecs_* codec ids
    fs = fsspec.filesystem("reference", fo=refs)     # remote_protocol="https" for URLs
    level0 = zarr.open_group(zarr.storage.FsspecStore(fs, read_only=True), mode="r")["0"]

The builder knows no format: readers describe their chunks through
:meth:`imgio.readers.base.Reader.chunk_refs`.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._location import Location
from .errors import ExternalFileError, SelectionError

if TYPE_CHECKING:
    from .image import Image
    from .readers.base import ChunkRefs, SceneInfo

__all__ = ["references"]

_TYPES = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}


def references(
    source: str | os.PathLike[str] | Image,
    *,
    scene: int | str = 0,
    level: int | None = None,
    storage_options: dict[str, Any] | None = None,
    allow_external_files: bool = False,
) -> dict[str, Any]:
    """Kerchunk references (version 1) of one scene: every level, or only ``level``.

    Parameters
    ----------
    source
        A path or fsspec URL, or an open :class:`imgio.Image`.
    scene
        Scene index or name.
    level
        One pyramid level (written as array ``"0"``); all levels when None.
    storage_options
        fsspec options for a URL (when ``source`` is not an Image).
    allow_external_files
        Allow chunks in files outside the folder of ``source`` (multi-file sets).

    Raises
    ------
    NotByteRangesError
        The format, codec or layout has no byte-range description (the message says why).
    ExternalFileError
        A chunk lives outside the folder of ``source`` and ``allow_external_files`` is false.
    """
    from .image import Image

    img = (
        source
        if isinstance(source, Image)
        else Image(
            source, storage_options=storage_options, allow_external_files=allow_external_files
        )
    )
    reader = img.reader
    infos = reader.scenes()
    index = _scene_index(infos, scene)
    info = infos[index]
    levels = list(range(info.n_levels)) if level is None else [level]
    reader.check_scene_level(index, levels[0])
    refs: dict[str, Any] = {".zgroup": _dumps({"zarr_format": 2})}
    shapes = []
    for k, lv in enumerate(levels):
        cr = reader.chunk_refs(index, lv)
        _confine(reader.location, cr.files, allow_external_files)
        shapes.append(cr.shape)
        refs.update(_array_refs(str(k), cr, info.dims, k, info.shape))
    refs[".zattrs"] = _dumps(_ngff_attrs(info, levels, shapes))
    return {"version": 1, "refs": refs}


def _scene_index(infos: Sequence[SceneInfo], scene: int | str) -> int:
    if isinstance(scene, str):
        names = [s.name for s in infos]
        if scene not in names:
            raise SelectionError(f"no scene named {scene!r}; the scenes are {names}")
        return names.index(scene)
    if not 0 <= scene < len(infos):
        raise SelectionError(f"scene {scene} out of range (0..{len(infos) - 1})")
    return int(scene)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _url(location: Location) -> str:
    return location.url


def _confine(base: Location, files: Sequence[Location], allow_external: bool) -> None:
    """Refuse chunk files outside ``base``'s folder (or base URL) unless allowed."""
    if allow_external:
        return
    for loc in files:
        if base.is_local and loc.is_local:
            folder = os.path.dirname(os.path.realpath(base.url))
            real = os.path.realpath(loc.url)
            inside = os.path.commonpath([folder, real]) == folder and real != folder
        elif not base.is_local and not loc.is_local:
            prefix = posixpath.dirname(base.url.split("?", 1)[0]).rstrip("/") + "/"
            path = loc.url.split("?", 1)[0]
            inside = path.startswith(prefix) and ".." not in path[len(prefix) :].split("/")
        else:
            inside = False
        if not inside:
            raise ExternalFileError(
                f"{base.url}: its chunks live in {loc.url!r}, outside the folder of the file; "
                "pass allow_external_files=True to name it in the references"
            )


def _dim_names(dims: str, shape: tuple[int, ...], base: tuple[int, ...], k: int) -> list[str]:
    """xarray dims: a dim whose size differs from level 0's gets the level as suffix."""
    return [
        d.lower() if k == 0 or n == base[i] else f"{d.lower()}_{k}"
        for i, (d, n) in enumerate(zip(dims, shape, strict=True))
    ]


def _array_refs(
    path: str, cr: ChunkRefs, dims: str, k: int, base: tuple[int, ...]
) -> dict[str, Any]:
    # a fill of 0 is no "missing data" marker (xarray would mask every 0 pixel): null reads
    # as 0 too; another value is the file's nodata, which xarray masks rightly
    fill: int | float | str | None = cr.fill_value
    if cr.fill_value == 0:
        fill = None
    elif cr.dtype.kind in "iub":
        fill = int(cr.fill_value)
    elif not np.isfinite(cr.fill_value):
        fill = str(cr.fill_value).replace("inf", "Infinity").replace("nan", "NaN")
    zarray = {
        "zarr_format": 2,
        "shape": list(cr.shape),
        "chunks": list(cr.chunks),
        "dtype": cr.dtype.str,
        "compressor": dict(cr.compressor) if cr.compressor is not None else None,
        "filters": [dict(f) for f in cr.filters] or None,
        "fill_value": fill,
        "order": "C",
        "dimension_separator": ".",
    }
    out: dict[str, Any] = {
        f"{path}/.zarray": _dumps(zarray),
        f"{path}/.zattrs": _dumps({"_ARRAY_DIMENSIONS": _dim_names(dims, cr.shape, base, k)}),
    }
    urls = [_url(f) for f in cr.files]
    for index, ref in cr.refs.items():
        key = f"{path}/{'.'.join(str(i) for i in index) or '0'}"
        if isinstance(ref, bytes):
            out[key] = "base64:" + base64.b64encode(ref).decode()
        else:
            fidx, offset, length = ref
            out[key] = [urls[fidx], int(offset), int(length)]
    return out


def _ngff_attrs(
    info: SceneInfo, levels: Sequence[int], shapes: Sequence[tuple[int, ...]]
) -> dict[str, Any]:
    """NGFF 0.4 ``multiscales`` (µm and s where known) and ``omero`` channel labels."""
    dims = info.dims
    axes = []
    for d in dims:
        axis: dict[str, Any] = {"name": d.lower()}
        kind = _TYPES.get(d) or ("channel" if d == "S" and "C" not in dims else None)
        if kind:
            axis["type"] = kind
        if d in "ZYX" and info.pixel_sizes["ZYX".index(d)] is not None:
            axis["unit"] = "micrometer"
        if d == "T" and info.time_interval is not None:
            axis["unit"] = "second"
        axes.append(axis)
    datasets = []
    for k, (lv, shape) in enumerate(zip(levels, shapes, strict=True)):
        scale = []
        for i, d in enumerate(dims):
            size = _size(info, lv, d)
            if d in "ZYX":
                ratio = 1.0 if _explicit(info, lv, d) else info.shape[i] / max(shape[i], 1)
                scale.append(float(size * ratio if size is not None else ratio))
            else:
                scale.append(float(size or 1.0) if d == "T" else 1.0)
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
        origins = info.level_origins
        origin = origins[lv] if origins and lv < len(origins) else info.origin
        if any(origin.get(d) for d in dims):
            translation = [float(origin.get(d, 0.0)) for d in dims]
            transforms.append({"type": "translation", "translation": translation})
        datasets.append({"path": str(k), "coordinateTransformations": transforms})
    attrs: dict[str, Any] = {
        "multiscales": [{"version": "0.4", "name": info.name, "axes": axes, "datasets": datasets}]
    }
    if info.channel_names and "C" in dims:
        colors = info.channel_colors or (None,) * len(info.channel_names)
        attrs["omero"] = {
            "version": "0.4",
            "channels": [
                {"label": str(name), "active": True}
                | ({"color": f"{(int(c) & 0xFFFFFFFF) >> 8:06X}"} if c is not None else {})
                for name, c in zip(info.channel_names, colors, strict=False)
            ],
        }
    return attrs


def _explicit(info: SceneInfo, lv: int, d: str) -> bool:
    return bool(info.level_scales and lv < len(info.level_scales) and d in info.level_scales[lv])


def _size(info: SceneInfo, lv: int, d: str) -> float | None:
    """µm per pixel (s per frame on T) of level ``lv``; level 0's (to be scaled) if implicit."""
    if d == "T":
        return info.time_interval
    if d not in "ZYX":
        return None
    if _explicit(info, lv, d):
        return float(info.level_scales[lv][d])  # type: ignore[index]
    value = info.pixel_sizes["ZYX".index(d)]
    return None if value is None else float(value)
