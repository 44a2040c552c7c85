"""Extra dims (anything but T C Z Y X S) in written files.

OME-TIFF holds up to three as OME ``ModuloAlongZ/C/T`` annotations: each extra axis is
folded into one of C, T, Z (modulo index fastest, as Bio-Formats and tifffile expect)
and described in an ``XMLAnnotation`` that imgio, tifffile and Bio-Formats read back as
its own axis. OME-Zarr cannot hold one (see :func:`extra_dims_error`). Where a format
cannot hold an axis, :func:`extra_dims_error` gives the one message used everywhere.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._ome import Modulo
from ..dims import STANDARD
from ..errors import ImgioError

if TYPE_CHECKING:
    import dask.array as da

    from ._input import Scene

__all__ = [
    "MODULO_TYPES",
    "extra_dims",
    "extra_dims_error",
    "fold_modulo",
    "modulo_xml",
    "source_modulo",
]

#: extra dim letter -> OME Modulo ``Type``: the schema's own types first, then those
#: tifffile maps back to the same letter; any other letter is "other" (read back as Q)
MODULO_TYPES = {
    "H": "lifetime",
    "E": "lambda",
    "A": "angle",
    "P": "phase",
    "R": "tile",
    "Q": "other",
    "I": "sequence",
    "L": "exposure",
    "V": "event",
    "M": "mosaic",
    "J": "column",
    "K": "row",
}
PARENTS = "CTZ"  # the axes a modulo axis is folded into, in the order they are used


def extra_dims(scene: Scene) -> list[str]:
    """The scene's dims that are not ``T C Z Y X S``."""
    return [d for d in scene.dims if d not in STANDARD]


def extra_dims_error(scene: Scene, fmt: str, why: str) -> ImgioError:
    """The one message for an extra dim a format cannot hold: what to do instead."""
    extras = extra_dims(scene)
    shape = dict(zip(scene.dims, scene.data.shape, strict=True))
    select = " ".join(f"{d}=0" for d in extras)
    return ImgioError(
        f"scene {scene.name!r} has extra dims {extras} (dims {scene.dims!r}, sizes "
        f"{ {d: shape[d] for d in extras} }) and {fmt} {why}. Write OME-TIFF (up to three "
        f"extra dims, as ModuloAlongC/T/Z), or select one index of each: "
        f"`imgio convert IN OUT --select {select}` or "
        f"`img.get_xarray_dask_data().isel({', '.join(f'{d}=0' for d in extras)})`"
    )


def _labels(scene: Scene, d: str) -> list[Any]:
    n = dict(zip(scene.dims, scene.data.shape, strict=True))[d]
    if d in scene.data.coords:
        values = np.asarray(scene.data.coords[d])
        if values.shape == (n,):
            if values.dtype.kind in "iuf":
                return [float(v) for v in values]
            return [str(v) for v in values]
    return [float(i) for i in range(n)]


def source_modulo(scene: Scene) -> dict[str, Modulo]:
    """Extra dim letter -> the source's ``ModuloAlong*`` for it (an OME source's Image).

    The letter is the one the reader gave the axis (tifffile's code for the Modulo
    ``Type``, ``Q`` for any other), as :mod:`imgio.readers.tiff` reads it.
    """
    source = scene.ome_source
    if source is None:
        return {}
    import tifffile

    from .._ome import _local, _modulo_annotations

    refs = {r.get("ID") for r in source.image if _local(r.tag) == "AnnotationRef"}
    out: dict[str, Modulo] = {}
    for ann_id, alongs in _modulo_annotations(source.root).items():
        if ann_id in refs:
            for mod in alongs.values():
                out.setdefault(tifffile.TIFF.AXES_CODES.get(mod.type, "Q"), mod)
    return out


def _parents(extras: list[str], known: dict[str, Modulo]) -> dict[str, str]:
    """Extra dim -> the axis it is folded into: the source's own (a rewrite keeps the
    layout), else the first of C, T, Z still free."""
    out: dict[str, str] = {}
    for extra in extras:
        src = known.get(extra)
        if src is not None and src.along not in out.values():
            out[extra] = src.along
    for extra in extras:
        if extra not in out:
            out[extra] = next(p for p in PARENTS if p not in out.values())
    return out


def _describe(scene: Scene, extra: str, parent: str, known: dict[str, Modulo]) -> Modulo:
    """The ``ModuloAlong*`` of one extra dim: Type by letter, or the source's own words for
    this axis (Type, TypeDescription, Unit) when the source is an OME Image that has them."""
    size = dict(zip(scene.dims, scene.data.shape, strict=True))[extra]
    mod = Modulo(
        along=parent,
        type=MODULO_TYPES.get(extra, "other"),
        size=size,
        labels=_labels(scene, extra),
        type_description=None if extra in MODULO_TYPES else extra,
    )
    src = known.get(extra)
    if src is None:
        return mod
    return replace(mod, type=src.type, type_description=src.type_description, unit=src.unit)


def _fold(arr: da.Array, dims: str, parent: str, extra: str) -> tuple[da.Array, str]:
    """``extra`` folded into ``parent``, the modulo index fastest (as Bio-Formats reads)."""
    import dask.array as da

    ip, ie = dims.index(parent), dims.index(extra)
    pieces = []
    for p in range(arr.shape[ip]):
        for m in range(arr.shape[ie]):
            key: list[Any] = [slice(None)] * arr.ndim
            key[ip], key[ie] = slice(p, p + 1), m
            pieces.append(arr[tuple(key)])
    dims = dims.replace(extra, "")
    return da.concatenate(pieces, axis=dims.index(parent)), dims  # type: ignore[no-untyped-call]


def fold_modulo(scene: Scene) -> Scene:
    """A scene whose extra dims are folded into C, T, Z, with ``scene.modulo`` describing them.

    Raises
    ------
    ImgioError
        More than three extra dims (the OME ``ModuloAlong*`` limit).
    """
    extras = extra_dims(scene)
    if not extras:
        return scene
    import xarray as xr

    if len(extras) > len(PARENTS):
        raise extra_dims_error(scene, "OME-TIFF", "holds at most three (ModuloAlongZ/C/T)")
    arr, dims = scene.array, scene.dims
    names, colors = list(scene.channel_names), scene.channel_colors
    known = source_modulo(scene)
    parents = _parents(extras, known)
    modulo = [_describe(scene, extra, parents[extra], known) for extra in extras]
    for extra, mod in zip(extras, modulo, strict=True):
        arr, dims = _fold(arr, dims, mod.along, extra)
        if mod.along == "C":
            names = [n for n in names for _ in range(mod.size)]
            colors = None if colors is None else [c for c in colors for _ in range(mod.size)]
    coords = {str(d): v for d, v in scene.data.coords.items() if str(d) in dims and d != "C"}
    data = xr.DataArray(arr, dims=list(dims), coords={**coords, "C": names}, attrs=scene.data.attrs)
    return replace(scene, data=data, channel_names=names, channel_colors=colors, modulo=modulo)


def _along_xml(mod: Modulo) -> str:
    from xml.sax.saxutils import escape, quoteattr

    attrs = f"Type={quoteattr(mod.type)}"
    if mod.type_description:
        attrs += f" TypeDescription={quoteattr(mod.type_description)}"
    if mod.unit:
        attrs += f" Unit={quoteattr(mod.unit)}"
    values = mod.labels
    numeric = all(isinstance(v, float) for v in values)
    if numeric:
        steps = np.diff(np.asarray(values, dtype=float))
        if len(values) == 1 or (steps[0] > 0 and np.allclose(steps, steps[0])):
            step = float(steps[0]) if len(values) > 1 else 1.0
            return (
                f'<ModuloAlong{mod.along} {attrs} Start="{values[0]!r}" Step="{step!r}" '
                f'End="{values[-1]!r}"/>'
            )
    labels = "".join(f"<Label>{escape(str(v))}</Label>" for v in values)
    return f"<ModuloAlong{mod.along} {attrs}>{labels}</ModuloAlong{mod.along}>"


def modulo_xml(annotation_id: str, modulo: list[Modulo]) -> str:
    """The ``XMLAnnotation`` holding an Image's ``ModuloAlong*`` elements."""
    alongs = "".join(_along_xml(m) for m in modulo)
    return (
        f'<XMLAnnotation ID="{annotation_id}" '
        'Namespace="openmicroscopy.org/omero/dimension/modulo"><Value>'
        '<Modulo namespace="http://www.openmicroscopy.org/Schemas/Additions/2011-09">'
        f"{alongs}</Modulo></Value></XMLAnnotation>"
    )
