"""NGFF 0.6 multiscales (RFC-5): named coordinate systems and coordinate transformations.

A 0.6 multiscale names its ``coordinateSystems``; each dataset's transformation maps
the array's own coordinate system (axes ``dim_0``, ``dim_1``, ...) to one of them, the
*intrinsic* (physical) system, whose axes give the dims, units and types. Read here:

- ``identity``, ``scale``, ``translation``, ``sequence`` (nested too), ``mapAxis`` (an
  axis permutation: the dims follow it), ``affine`` and ``rotation`` whose matrix only
  scales, translates and permutes axes, ``inverseOf`` and ``bijection`` (its
  ``forward``) of those, and ``byDimension`` of those on subsets of axes;
- parameters stored in arrays (``path``), displacement and coordinate fields, matrices
  that rotate or shear, and any unknown type warn (:class:`~imgio.errors.ImgioWarning`)
  and leave that multiscale in pixel units: the pixels are read all the same.

The multiscale's own ``coordinateTransformations`` lead from the intrinsic system to
other systems (a registration, a common world); they are kept in the metadata, not
applied. Pure functions over the JSON; no store access.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import CorruptFileError, ImgioWarning
from ._ngff import Axis, Levels, guess_dims, parse_axes

__all__ = ["dataset_paths", "is_v06", "parse_v06"]

_MAX_DEPTH = 16  # nested sequences / inverses deeper than this are not a real file


def is_v06(ms: Mapping[str, Any]) -> bool:
    """A multiscale in the 0.6 layout (coordinate systems instead of ``axes``)."""
    return "coordinateSystems" in ms and "axes" not in ms


def dataset_paths(ms: Mapping[str, Any], where: str) -> list[str]:
    """The datasets' paths (without them there are no pixels to read)."""
    datasets = ms.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise CorruptFileError(
            f"{where}.datasets: expected a non-empty list of datasets, found {datasets!r:.80}"
        )
    paths = []
    for i, ds in enumerate(datasets):
        if not isinstance(ds, Mapping) or not isinstance(ds.get("path"), str):
            raise CorruptFileError(
                f"{where}.datasets[{i}]: expected an object with a 'path', found {ds!r:.80}"
            )
        paths.append(ds["path"])
    return paths


class _Lenient(Exception):
    """A transformation imgio cannot place: warn and use pixel units."""


@dataclass
class _Map:
    """Per output axis: which input axis it reads, times ``scale``, plus ``offset``."""

    src: list[int]
    scale: list[float]
    offset: list[float]

    @classmethod
    def identity(cls, n: int) -> _Map:
        return cls(list(range(n)), [1.0] * n, [0.0] * n)

    def then(self, other: _Map) -> _Map:
        """This map followed by ``other``."""
        return _Map(
            [self.src[j] for j in other.src],
            [self.scale[j] * other.scale[k] for k, j in enumerate(other.src)],
            [self.offset[j] * other.scale[k] + other.offset[k] for k, j in enumerate(other.src)],
        )

    def inverse(self) -> _Map:
        n = len(self.src)
        if sorted(self.src) != list(range(n)) or any(s == 0 for s in self.scale):
            raise _Lenient("a transformation that cannot be inverted")
        out = _Map.identity(n)
        for k, j in enumerate(self.src):
            out.src[j] = k
            out.scale[j] = 1.0 / self.scale[k]
            out.offset[j] = -self.offset[k] / self.scale[k]
        return out


def _numbers(ct: Mapping[str, Any], key: str, n: int) -> list[float]:
    values = ct.get(key)
    if values is None and "path" in ct:
        raise _Lenient(f"{key} parameters stored in an array ({ct['path']!r})")
    if not isinstance(values, list) or len(values) != n:
        found = len(values) if isinstance(values, list) else repr(values)[:80]
        raise _Lenient(f"{key}: expected {n} numbers, found {found}")
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise _Lenient(f"{key}: expected numbers, found {values!r:.80}") from exc
    if any(v != v or v in (float("inf"), float("-inf")) for v in out):
        raise _Lenient(f"{key}: not finite ({values!r:.80})")
    return out


def _matrix(ct: Mapping[str, Any], key: str, n: int, homogeneous: bool) -> _Map:
    rows = ct.get(key)
    if rows is None and "path" in ct:
        raise _Lenient(f"{key} matrix stored in an array ({ct['path']!r})")
    width = n + 1 if homogeneous else n
    if not (
        isinstance(rows, list)
        and len(rows) == n
        and all(isinstance(r, list) and len(r) == width for r in rows)
    ):
        raise _Lenient(f"{key}: expected a {n} x {width} matrix, found {rows!r:.80}")
    out = _Map.identity(n)
    for k, row in enumerate(rows):
        vals = _numbers({"r": row}, "r", width)
        nonzero = [j for j in range(n) if vals[j] != 0]
        if len(nonzero) != 1:
            raise _Lenient(f"{key} that rotates or shears (row {k}: {row!r:.60})")
        out.src[k], out.scale[k] = nonzero[0], vals[nonzero[0]]
        out.offset[k] = vals[n] if homogeneous else 0.0
    if sorted(out.src) != list(range(n)):
        raise _Lenient(f"{key} that drops an axis")
    return out


def _names(value: Any, systems: Mapping[str, list[str]]) -> list[str] | None:
    """Axis names of an ``input``/``output``: a list of names or a coordinate system."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    name = value.get("name") if isinstance(value, Mapping) else value
    return systems.get(name) if isinstance(name, str) else None


def _one(ct: Any, n: int, systems: Mapping[str, list[str]], depth: int) -> _Map:
    """The map of one transformation of ``n`` axes (raises :class:`_Lenient`)."""
    if depth > _MAX_DEPTH:
        raise _Lenient(f"transformations nested deeper than {_MAX_DEPTH}")
    if not isinstance(ct, Mapping):
        raise _Lenient(f"a transformation that is not an object: {ct!r:.80}")
    kind = ct.get("type")
    if kind == "identity":
        return _Map.identity(n)
    if kind == "scale":
        return _Map(list(range(n)), _numbers(ct, "scale", n), [0.0] * n)
    if kind == "translation":
        return _Map(list(range(n)), [1.0] * n, _numbers(ct, "translation", n))
    if kind == "sequence":
        items = ct.get("transformations")
        if not isinstance(items, list) or not items:
            raise _Lenient("a sequence without transformations")
        out = _Map.identity(n)
        for item in items:
            out = out.then(_one(item, n, systems, depth + 1))
        return out
    if kind == "mapAxis":
        return _map_axis(ct, n, systems)
    if kind in ("affine", "rotation"):
        return _matrix(ct, kind, n, kind == "affine")
    if kind == "inverseOf":
        return _one(ct.get("transformation", ct.get("transform")), n, systems, depth + 1).inverse()
    if kind == "bijection":
        return _one(ct.get("forward"), n, systems, depth + 1)
    if kind == "byDimension":
        return _by_dimension(ct, n, systems, depth)
    raise _Lenient(f"transformation type {kind!r:.40} is not one imgio can place")


def _map_axis(ct: Mapping[str, Any], n: int, systems: Mapping[str, list[str]]) -> _Map:
    mapping = ct.get("mapAxis")
    inputs, outputs = _names(ct.get("input"), systems), _names(ct.get("output"), systems)
    if not isinstance(mapping, Mapping) or inputs is None or outputs is None:
        raise _Lenient("mapAxis without a mapping or named input/output axes")
    if len(inputs) != n or len(outputs) != n:
        raise _Lenient(f"mapAxis between {len(inputs)} and {len(outputs)} axes, not {n}")
    src = [inputs.index(mapping[o]) if mapping.get(o) in inputs else -1 for o in outputs]
    if sorted(src) != list(range(n)):
        raise _Lenient(f"mapAxis that is not a permutation: {dict(mapping)!r:.80}")
    return _Map(src, [1.0] * n, [0.0] * n)


def _by_dimension(
    ct: Mapping[str, Any], n: int, systems: Mapping[str, list[str]], depth: int
) -> _Map:
    inputs, outputs = _names(ct.get("input"), systems), _names(ct.get("output"), systems)
    items = ct.get("transformations")
    if inputs is None or outputs is None or not isinstance(items, list) or len(outputs) != n:
        raise _Lenient("byDimension without named input/output axes and transformations")
    out = _Map([-1] * n, [1.0] * n, [0.0] * n)
    for item in items:
        sub_in = item.get("input") if isinstance(item, Mapping) else None
        sub_out = item.get("output") if isinstance(item, Mapping) else None
        if not (
            isinstance(sub_in, list) and isinstance(sub_out, list) and len(sub_in) == len(sub_out)
        ):
            raise _Lenient("byDimension parts need input and output axis lists of one length")
        part = _one(item, len(sub_in), systems, depth + 1)
        for k, name in enumerate(sub_out):
            if name not in outputs or sub_in[part.src[k]] not in inputs:
                raise _Lenient(f"byDimension names an unknown axis ({name!r:.40})")
            o = outputs.index(name)
            out.src[o] = inputs.index(sub_in[part.src[k]])
            out.scale[o], out.offset[o] = part.scale[k], part.offset[k]
    if sorted(out.src) != list(range(n)):
        raise _Lenient("byDimension that leaves an axis without a transformation")
    return out


def _systems(ms: Mapping[str, Any], where: str) -> dict[str, list[Any]]:
    found = ms.get("coordinateSystems")
    out: dict[str, list[Any]] = {}
    for i, cs in enumerate(found if isinstance(found, list) else []):
        name = cs.get("name") if isinstance(cs, Mapping) else None
        axes = cs.get("axes") if isinstance(cs, Mapping) else None
        if isinstance(name, str) and isinstance(axes, list):
            out[name] = axes
        else:
            _warn(f"{where}.coordinateSystems[{i}]: expected a name and axes; ignored")
    return out


def _warn(message: str) -> None:
    warnings.warn(message, ImgioWarning, stacklevel=5)


def _target(ds: Mapping[str, Any], systems: Mapping[str, list[Any]]) -> str | None:
    cts = ds.get("coordinateTransformations")
    last = cts[-1] if isinstance(cts, list) and cts else None
    output = last.get("output") if isinstance(last, Mapping) else None
    name = output.get("name") if isinstance(output, Mapping) else output
    return name if isinstance(name, str) and name in systems else None


def parse_v06(
    ms: Mapping[str, Any], paths: Sequence[str], ndim: int, where: str
) -> tuple[tuple[Axis, ...], Levels]:
    """Axes (in array order) and per-level placement of a 0.6 multiscale.

    ``paths`` are the datasets' paths (checked by the caller); ``ndim`` the arrays'.
    """
    try:
        axes_out, maps = _placements(ms, paths, ndim, where)
    except _Lenient as exc:
        _warn(f"{where}: {exc}; the image is read in pixel units")
        axes = tuple(Axis(d.lower(), d, None, None, 1.0, False) for d in guess_dims(ndim))
        return axes, _levels(paths, axes, [_Map.identity(ndim)] * len(paths))
    # the array's dim j is the output axis k whose src is j
    order = [maps[0].src.index(j) for j in range(ndim)]
    axes = tuple(axes_out[k] for k in order)
    in_array = [
        _Map(list(range(ndim)), [m.scale[k] for k in order], [m.offset[k] for k in order])
        for m in maps
    ]
    return axes, _levels(paths, axes, in_array)


def _placements(
    ms: Mapping[str, Any], paths: Sequence[str], ndim: int, where: str
) -> tuple[tuple[Axis, ...], list[_Map]]:
    """The intrinsic system's axes and each dataset's map into it (raises _Lenient)."""
    systems = _systems(ms, where)
    datasets = ms.get("datasets") or []
    name = _target(datasets[0], systems) if datasets else None
    if name is None and systems:
        name = next(iter(systems))
    cs_axes = systems.get(name) if name is not None else None
    if cs_axes is None or len(cs_axes) != ndim:
        found = "none" if cs_axes is None else f"{len(cs_axes)} axes"
        raise _Lenient(f"no coordinate system of {ndim} axes for the datasets ({found})")
    try:
        axes_out = parse_axes(cs_axes, ndim, f"{where}.coordinateSystems[{name!r}]")
    except CorruptFileError as exc:
        raise _Lenient(str(exc)) from exc
    names = {
        k: [str(a.get("name")) if isinstance(a, Mapping) else str(a) for a in v]
        for k, v in systems.items()
    }
    names.update({p: [f"dim_{i}" for i in range(ndim)] for p in paths})
    maps: list[_Map] = []
    for i, ds in enumerate(datasets):
        cts = ds.get("coordinateTransformations") if isinstance(ds, Mapping) else None
        if not isinstance(cts, list) or not cts:
            raise _Lenient(f"datasets[{i}] has no coordinateTransformations")
        m = _Map.identity(ndim)
        for ct in cts:
            m = m.then(_one(ct, ndim, names, 0))
        if sorted(m.src) != list(range(ndim)) or (maps and maps[0].src != m.src):
            raise _Lenient(f"datasets[{i}] maps the array axes differently from level 0")
        if any(m.scale[k] <= 0 for k, a in enumerate(axes_out) if a.type in ("space", "time")):
            raise _Lenient(f"datasets[{i}] has a zero or negative scale ({m.scale})")
        maps.append(m)
    return axes_out, maps


def _levels(paths: Sequence[str], axes: Sequence[Axis], maps: Sequence[_Map]) -> Levels:
    scales, origins, unitless, intervals = [], [], [], []
    for m in maps:
        space = [(k, a) for k, a in enumerate(axes) if a.type == "space" and a.letter in "ZYX"]
        scales.append({a.letter: m.scale[k] * a.factor for k, a in space if a.calibrated})
        unitless.append({a.letter: m.scale[k] for k, a in space if not a.calibrated})
        origins.append(
            {
                a.letter: m.offset[k] * a.factor
                for k, a in enumerate(axes)
                if a.calibrated
                and (
                    (a.type == "space" and a.letter in "ZYX")
                    or (a.type == "time" and a.letter == "T")
                )
            }
        )
        intervals.append(
            next(
                (
                    m.scale[k] * a.factor
                    for k, a in enumerate(axes)
                    if a.type == "time" and a.letter == "T" and a.calibrated
                ),
                None,
            )
        )
    return Levels(
        tuple(p.strip("/") for p in paths),
        tuple(scales),
        origins[0],
        intervals[0],
        tuple(origins),
        tuple(unitless),
    )
