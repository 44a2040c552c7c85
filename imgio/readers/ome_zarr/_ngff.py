"""NGFF metadata (OME-Zarr 0.1 to 0.5) to dims, units and per-level transforms.

Pure functions over the JSON attributes; no store access. Rules:

- Axis names ``t c z y x`` (any case) map to ``T C Z Y X``. Another name maps to
  ``T``/``C`` when its type is ``time``/``channel`` and that letter is free, else to
  an extra letter: the name's first letter upper-cased when free (never one of
  ``TCZYXS``), else the first free of ``QPIRVEAHLMNOUWBDFGJK``.
- Space units convert to µm and time units to seconds (every NGFF unit name, SI
  prefixes, and the usual symbols ``nm``, ``µm``, ``mm``, ``ms``, ...). A scale without
  a unit is not a calibration: a missing space or time unit leaves the size unknown
  (bioformats2raw and imgio write placeholder 1.0 scales); its relative scales are kept
  in ``Levels.unitless_scales`` so OME-XML sizes can be spread over the levels. An
  unknown unit warns and is treated the same way (size unknown).
- Transforms compose in order (dataset's, then the multiscale's global ones):
  ``scale`` multiplies scale and offset, ``translation`` adds to the offset.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import CorruptFileError, ImgioWarning

__all__ = [
    "Axis",
    "Levels",
    "guess_dims",
    "names_to_dims",
    "parse_axes",
    "parse_levels",
    "parse_omero",
]

_FALLBACK = "QPIRVEAHLMNOUWBDFGJK"
_KNOWN = {"t": "T", "c": "C", "z": "Z", "y": "Y", "x": "X"}
_PREFIX = {
    "yocto": -24,
    "zepto": -21,
    "atto": -18,
    "femto": -15,
    "pico": -12,
    "nano": -9,
    "micro": -6,
    "milli": -3,
    "centi": -2,
    "deci": -1,
    "": 0,
    "deca": 1,
    "deka": 1,
    "hecto": 2,
    "kilo": 3,
    "mega": 6,
    "giga": 9,
    "tera": 12,
    "peta": 15,
    "exa": 18,
    "zetta": 21,
    "yotta": 24,
}
_SPACE: dict[str, float] = {
    f"{p}{base}": 10.0 ** (e + 6) for p, e in _PREFIX.items() for base in ("meter", "metre")
}
_SPACE.update(
    {
        "micron": 1.0,
        "angstrom": 1e-4,
        "inch": 25400.0,
        "foot": 304800.0,
        "yard": 914400.0,
        "mile": 1.609344e9,
        "parsec": 3.0856775814913673e22,
        "nm": 1e-3,
        "µm": 1.0,
        "μm": 1.0,
        "um": 1.0,
        "mm": 1e3,
        "cm": 1e4,
        "dm": 1e5,
        "m": 1e6,
        "km": 1e9,
        "pm": 1e-6,
        "Å": 1e-4,
        "in": 25400.0,
        "ft": 304800.0,
    }
)
_TIME: dict[str, float] = {f"{p}second": 10.0**e for p, e in _PREFIX.items()}
_TIME.update(
    {
        "minute": 60.0,
        "hour": 3600.0,
        "day": 86400.0,
        "s": 1.0,
        "sec": 1.0,
        "ms": 1e-3,
        "us": 1e-6,
        "µs": 1e-6,
        "μs": 1e-6,
        "ns": 1e-9,
        "ps": 1e-12,
        "min": 60.0,
        "h": 3600.0,
    }
)


@dataclass(frozen=True)
class Axis:
    """One NGFF axis: its name, imgio letter, type and unit factor (to µm or s)."""

    name: str
    letter: str
    type: str | None
    unit: str | None
    factor: float
    calibrated: bool = True  # a known unit: its scale is a physical size


def _unit_factor(unit: str | None, kind: str | None, where: str) -> float:
    if unit is None or kind not in ("space", "time"):
        return 1.0
    table = _SPACE if kind == "space" else _TIME
    text = str(unit).strip()
    factor = table.get(text, table.get(text.lower()))
    if factor is None:
        warnings.warn(
            f"{where}: unknown {kind} unit {unit!r}; its size is left unknown",
            ImgioWarning,
            stacklevel=4,
        )
        return 0.0
    return factor


def _letters(names: Sequence[str], types: Sequence[str | None]) -> str:
    out: list[str | None] = [_KNOWN.get(n.lower()) for n in names]
    used = {x for x in out if x}
    for i, (name, kind) in enumerate(zip(names, types, strict=True)):
        if out[i]:
            continue
        pick = {"time": "T", "channel": "C"}.get(kind or "")
        if pick is None or pick in used:
            first = name[:1].upper()
            pick = (
                first
                if first.isascii()
                and first.isalpha()
                and first not in used
                and first not in "TCZYXS"
                else None
            )
            pick = pick or next(x for x in _FALLBACK if x not in used)
        out[i] = pick
        used.add(pick)
    return "".join(x for x in out if x)


def names_to_dims(names: Sequence[str]) -> str:
    """Dims letters for dimension names (``_ARRAY_DIMENSIONS``, ``dimension_names``)."""
    lowered = [str(n) for n in names]
    types = [
        {"time": "time", "channel": "channel", "ch": "channel"}.get(n.lower()) for n in lowered
    ]
    return _letters(lowered, types)


def guess_dims(ndim: int) -> str:
    """Dims of an array without names: ``YX`` last, then ``Z``, ``C``, ``T``, then extras.

    >>> guess_dims(2), guess_dims(3), guess_dims(4), guess_dims(6)
    ('YX', 'ZYX', 'CZYX', 'QTCZYX')
    """
    core = "TCZYX"[max(0, 5 - ndim) :]
    return (_FALLBACK[: max(0, ndim - 5)][::-1] + core)[-ndim:] if ndim else ""


def parse_axes(axes: Any, ndim: int, where: str) -> tuple[Axis, ...]:
    """Axes of a multiscale (0.4+: dicts, 0.3: names, 0.1/0.2: none -> guessed)."""
    if axes is None:
        return tuple(Axis(d.lower(), d, None, None, 1.0) for d in guess_dims(ndim))
    if not isinstance(axes, list) or len(axes) != ndim:
        found = len(axes) if isinstance(axes, list) else type(axes).__name__
        raise CorruptFileError(
            f"{where}.axes: expected a list of {ndim} axes (the arrays' ndim), found {found}"
        )
    names, types, units = [], [], []
    for i, ax in enumerate(axes):
        if isinstance(ax, str):
            ax = {"name": ax}
        if not isinstance(ax, Mapping) or not isinstance(ax.get("name"), str) or not ax["name"]:
            raise CorruptFileError(
                f"{where}.axes[{i}]: expected an object with a 'name', found {ax!r}"
            )
        kind = ax.get("type")
        if kind is None:
            kind = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}.get(
                ax["name"].lower()
            )
        names.append(ax["name"])
        types.append(kind)
        units.append(ax.get("unit"))
    repeated = sorted({n for n in names if names.count(n) > 1})
    letters = _letters(names, types)
    if repeated or len(set(letters)) != len(letters):
        raise CorruptFileError(
            f"{where}.axes: expected distinct axis names, found {names}"
            + (f" ({', '.join(map(repr, repeated))} repeated)" if repeated else "")
        )
    return tuple(
        Axis(n, d, k, u, f, u is not None and f > 0)
        for i, (n, d, k, u) in enumerate(zip(names, letters, types, units, strict=True))
        for f in (_unit_factor(u, k, f"{where}.axes[{i}]"),)
    )


def _vector(ct: Mapping[str, Any], key: str, n: int, where: str) -> list[float] | None:
    values = ct.get(key)
    if values is None:
        if "path" in ct:
            warnings.warn(
                f"{where}: {key} stored in a file ({ct['path']!r}) is not supported; ignored",
                ImgioWarning,
                stacklevel=5,
            )
            return None
        raise CorruptFileError(f"{where}: a {key!r} transform without values")
    if not isinstance(values, list) or len(values) != n:
        found = len(values) if isinstance(values, list) else repr(values)
        raise CorruptFileError(f"{where}.{key}: expected {n} values (one per axis), found {found}")
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(f"{where}.{key}: expected numbers, found {values!r}") from exc


def _compose(cts: Any, n: int, scale: list[float], offset: list[float], where: str) -> None:
    if cts is None:
        return
    if not isinstance(cts, list):
        raise CorruptFileError(f"{where}: expected a list of transforms, found {cts!r}")
    for j, ct in enumerate(cts):
        here = f"{where}[{j}]"
        kind = ct.get("type") if isinstance(ct, Mapping) else None
        if kind == "scale":
            s = _vector(ct, "scale", n, here)
            if s is not None:
                for i in range(n):
                    scale[i] *= s[i]
                    offset[i] *= s[i]
        elif kind == "translation":
            t = _vector(ct, "translation", n, here)
            if t is not None:
                for i in range(n):
                    offset[i] += t[i]
        elif kind != "identity":
            raise CorruptFileError(
                f"{where}[{j}]: expected a scale/translation/identity transform, found {ct!r}"
            )


@dataclass(frozen=True)
class Levels:
    """What a multiscale says of its levels: paths and physical placement."""

    paths: tuple[str, ...]
    level_scales: tuple[dict[str, float], ...]  # µm per pixel on Z/Y/X, per level
    origin: dict[str, float]  # level 0: µm on Z/Y/X, s on T
    time_interval: float | None  # s, level 0
    level_origins: tuple[dict[str, float], ...] = ()  # per level, same units as origin
    unitless_scales: tuple[dict[str, float], ...] = ()  # per level, Z/Y/X without a unit


def parse_levels(ms: Mapping[str, Any], axes: Sequence[Axis], where: str) -> Levels:
    """Dataset paths and composed transforms of one multiscale."""
    datasets = ms.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise CorruptFileError(
            f"{where}.datasets: expected a non-empty list of datasets, found {datasets!r}"
        )
    n = len(axes)
    paths, scales, origins, intervals = [], [], [], []
    unitless: list[dict[str, float]] = []
    for i, ds in enumerate(datasets):
        if not isinstance(ds, Mapping) or not isinstance(ds.get("path"), str):
            raise CorruptFileError(
                f"{where}.datasets[{i}]: expected an object with a 'path', found {ds!r}"
            )
        scale, offset = [1.0] * n, [0.0] * n
        _compose(
            ds.get("coordinateTransformations"),
            n,
            scale,
            offset,
            f"{where}.datasets[{i}].coordinateTransformations",
        )
        _compose(
            ms.get("coordinateTransformations"),
            n,
            scale,
            offset,
            f"{where}.coordinateTransformations",
        )
        paths.append(ds["path"].strip("/"))
        space = [(k, a) for k, a in enumerate(axes) if a.type == "space" and a.letter in "ZYX"]
        scales.append({a.letter: scale[k] * a.factor for k, a in space if a.calibrated})
        unitless.append({a.letter: scale[k] for k, a in space if not a.calibrated})
        origin = {
            a.letter: offset[k] * a.factor
            for k, a in enumerate(axes)
            if (a.type == "space" and a.letter in "ZYX") or (a.type == "time" and a.letter == "T")
        }
        origins.append(origin)
        t = next(
            (
                scale[k] * a.factor
                for k, a in enumerate(axes)
                if a.type == "time" and a.letter == "T" and a.calibrated
            ),
            None,
        )
        intervals.append(t)
    return Levels(
        tuple(paths), tuple(scales), origins[0], intervals[0], tuple(origins), tuple(unitless)
    )


def _color(value: Any) -> int | None:
    text = str(value).strip().lstrip("#") if value is not None else ""
    if len(text) not in (6, 8):
        return None
    try:
        rgba = int(text, 16)
    except ValueError:
        return None
    return (rgba << 8 | 0xFF) if len(text) == 6 else rgba


def parse_omero(
    omero: Any, n_channels: int | None, where: str
) -> tuple[tuple[str, ...], tuple[int | None, ...]] | None:
    """Channel names and packed RGBA colors from ``omero.channels``; warns on a count mismatch."""
    channels = omero.get("channels") if isinstance(omero, Mapping) else None
    if not isinstance(channels, list) or not channels:
        return None
    names = [
        str(c.get("label") or f"Channel:{i}") if isinstance(c, Mapping) else f"Channel:{i}"
        for i, c in enumerate(channels)
    ]
    colors = [_color(c.get("color")) if isinstance(c, Mapping) else None for c in channels]
    if n_channels is None:
        if len(channels) != 1:
            warnings.warn(
                f"{where}.omero: {len(channels)} channels for an image without a channel axis; "
                "ignored",
                ImgioWarning,
                stacklevel=3,
            )
            return None
        return tuple(names), tuple(colors)
    if len(channels) != n_channels:
        warnings.warn(
            f"{where}.omero.channels: {len(channels)} entries for {n_channels} channels; "
            + (
                "extra entries dropped" if len(channels) > n_channels else "missing names filled in"
            ),
            ImgioWarning,
            stacklevel=3,
        )
        names = (names + [f"Channel:{i}" for i in range(len(names), n_channels)])[:n_channels]
        colors = (colors + [None] * n_channels)[:n_channels]
    return tuple(names), tuple(colors)


def parse_image_label(meta: Any) -> dict[int, dict[str, Any]] | None:
    """NGFF ``image-label``: per label value its ``rgba`` (0-255) and ``properties`` entries.

    Entries without an integer ``label-value`` are skipped; ``None`` without metadata.
    """
    if not isinstance(meta, Mapping):
        return None
    table: dict[int, dict[str, Any]] = {}
    for key in ("colors", "properties"):
        entries = meta.get(key)
        for entry in entries if isinstance(entries, list) else ():
            value = entry.get("label-value") if isinstance(entry, Mapping) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if value != int(value):
                continue
            row = table.setdefault(int(value), {})
            if key == "colors":
                rgba = entry.get("rgba")
                if isinstance(rgba, list) and len(rgba) in (3, 4):
                    if all(isinstance(v, (int, float)) for v in rgba):
                        row["rgba"] = tuple(int(v) for v in rgba) + (255,) * (4 - len(rgba))
            else:
                row.update((str(k), v) for k, v in entry.items() if k != "label-value")
    return table or None
