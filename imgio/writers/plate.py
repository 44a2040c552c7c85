"""NGFF high-content-screening plates: ``write_plate(path, {"A/1": [field, ...], ...})``.

A plate is its own verb rather than an option of :func:`imgio.write`: its input is a
mapping of wells to fields, not a list of scenes, and only OME-Zarr can hold it. Layout
(NGFF 0.4 / 0.5): the root group's ``plate`` lists rows, columns, wells and
acquisitions; each well ``<row>/<column>`` lists its fields ``0, 1, ...`` (``well``
metadata, with their acquisition); each field is an ordinary multiscale image.

>>> imgio.write_plate("plate.ome.zarr", {"A/1": [a0, a1], "B/3": [b0]})  # doctest: +SKIP
>>> imgio.write_plate("p.ome.zarr", {"A/1": [{"data": a0, "acquisition": 1}]},  # doctest: +SKIP
...     acquisitions={1: "second pass"})
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ImgioError
from ._input import SizesArg, standardize
from ._target import atomic_target

__all__ = ["write_plate"]

_WELL = re.compile(r"^\s*([A-Za-z]+)\s*/?\s*0*(\d+)\s*$")


def _well_name(key: str) -> tuple[str, str]:
    """``"A/1"``, ``"A1"`` or ``"B/03"`` -> (row, column) names (``"A"``, ``"1"``)."""
    found = _WELL.match(str(key))
    if not found:
        raise ImgioError(f"well {key!r}: expected a row letter and a column number, e.g. 'A/1'")
    return found.group(1).upper(), str(int(found.group(2)))


def _row_order(name: str) -> tuple[int, str]:
    return len(name), name  # A..Z, then AA, AB, ...


def _fields(key: str, fields: Any) -> list[tuple[Any, int]]:
    items = fields if isinstance(fields, (list, tuple)) else [fields]
    if not items:
        raise ImgioError(f"well {key!r}: expected at least one field image")
    out = []
    for item in items:
        if isinstance(item, Mapping):
            if "data" not in item:
                raise ImgioError(f"well {key!r}: a field mapping needs 'data'")
            out.append((item["data"], int(item.get("acquisition", 0))))
        else:
            out.append((item, 0))
    return out


def _plate_meta(
    name: str | None,
    wells: dict[tuple[str, str], list[tuple[Any, int]]],
    acquisitions: Mapping[int, str] | None,
    version: str,
) -> dict[str, Any]:
    rows = sorted({r for r, _ in wells}, key=_row_order)
    cols = sorted({c for _, c in wells}, key=int)
    used = sorted({a for fields in wells.values() for _, a in fields})
    unknown = set(acquisitions or {}) - set(used)
    if unknown:
        raise ImgioError(f"acquisitions {sorted(unknown)} are named but no field uses them")
    acq = []
    for a in used:
        entry: dict[str, Any] = {"id": a}
        if acquisitions and a in acquisitions:
            entry["name"] = str(acquisitions[a])
        entry["maximumfieldcount"] = max(
            sum(1 for _, x in fields if x == a) for fields in wells.values()
        )
        acq.append(entry)
    plate: dict[str, Any] = {
        "rows": [{"name": r} for r in rows],
        "columns": [{"name": c} for c in cols],
        "wells": [
            {"path": f"{r}/{c}", "rowIndex": rows.index(r), "columnIndex": cols.index(c)}
            for r, c in sorted(wells, key=lambda w: (_row_order(w[0]), int(w[1])))
        ],
        "field_count": max(len(f) for f in wells.values()),
        "acquisitions": acq,
    }
    if name:
        plate["name"] = str(name)
    if version == "0.4":
        plate["version"] = "0.4"
    return plate


def _parse_wells(wells: Mapping[str, Any]) -> dict[tuple[str, str], list[tuple[Any, int]]]:
    """(row, column) -> its fields as (data, acquisition), refusing duplicates."""
    parsed: dict[tuple[str, str], list[tuple[Any, int]]] = {}
    for key, fields in wells.items():
        well = _well_name(key)
        if well in parsed:
            raise ImgioError(f"well {key!r} is given twice (as {'/'.join(well)})")
        parsed[well] = _fields(key, fields)
    return parsed


def write_plate(
    path: str | os.PathLike[str],
    wells: Mapping[str, Any],
    *,
    name: str | None = None,
    acquisitions: Mapping[int, str] | None = None,
    dims: str | Sequence[str] | None = None,
    channel_names: Sequence[str] | None = None,
    physical_pixel_sizes: SizesArg = None,
    chunks: int | Sequence[int] | dict[str, int] | None = None,
    compression: str | None = "zstd",
    quality: int | None = None,
    pyramid_levels: int | str | None = "auto",
    downsample: str = "mean",
    ngff_version: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Path | str:
    """Write an NGFF HCS plate: rows, columns, wells, fields and acquisitions.

    Parameters
    ----------
    path
        A local ``.ome.zarr`` folder or an fsspec URL (``s3://bucket/plate.ome.zarr``),
        written as :func:`imgio.write` writes a remote OME-Zarr (root metadata last).
    wells
        Well name (``"A/1"`` or ``"A1"``) -> its field images (arrays, DataArrays, or
        mappings ``{"data": array, "acquisition": id}``); one image is one field.
    name, acquisitions
        The plate's name; acquisition id -> name (fields use acquisition 0 unless told).
    dims, channel_names, physical_pixel_sizes, chunks, compression, quality,
    pyramid_levels, downsample, ngff_version, overwrite, progress
        As for :func:`imgio.write` (the same for every field).
    storage_options
        fsspec options for a URL (credentials, endpoint, ...).

    Returns
    -------
    Path or str
        The written plate folder; the URL for a remote target.

    Raises
    ------
    ImgioError
        No wells, a well name that is not row letter + column number, a duplicate well,
        a field the writer cannot hold, or a path that is not ``.zarr``.
    """
    from . import format_of
    from ._zarr_levels import open_root, zarr_format
    from .ome_zarr import write_image_groups

    version = ngff_version or "0.4"
    zarr_format(version)
    if format_of(path) != "ome-zarr":
        raise ImgioError(f"a plate is written as OME-Zarr; expected a .ome.zarr path, found {path}")
    if not wells:
        raise ImgioError("write_plate: expected at least one well")
    parsed = _parse_wells(wells)
    meta = _plate_meta(name, parsed, acquisitions, version)
    paths = [f"{r}/{c}/{k}" for (r, c), fields in parsed.items() for k in range(len(fields))]
    data = [d for fields in parsed.values() for d, _ in fields]
    scenes = [
        standardize(
            d,
            dims=dims,
            channel_names=channel_names,
            physical_pixel_sizes=physical_pixel_sizes,
            name=p,
        )
        for d, p in zip(data, paths, strict=True)
    ]
    remote = None
    if storage_options is not None or "://" in os.fspath(path):
        from ._remote import remote_location, remote_zarr_target

        remote = remote_location(path, storage_options)
    target: Any = (
        atomic_target(path, overwrite=overwrite)
        if remote is None
        else remote_zarr_target(remote, overwrite=overwrite)
    )
    with target as partial:
        root = open_root(partial, version)
        _attrs(root, "plate", meta, version)
        for (r, c), fields in parsed.items():
            group = root.require_group(r).require_group(c)
            images = [{"path": str(k), "acquisition": a} for k, (_, a) in enumerate(fields)]
            _attrs(group, "well", {"images": images, **_v(version)}, version)
        write_image_groups(
            lambda i: root.require_group(paths[i]),
            scenes,
            ngff_version=version,
            chunks=chunks,
            shards=None,
            compression=compression,
            quality=quality,
            pyramid_levels=pyramid_levels,
            downsample=downsample,
            progress=progress,
        )
    if remote is not None:
        return remote.url
    return Path(path).expanduser().absolute()


def _v(version: str) -> dict[str, str]:
    return {"version": "0.4"} if version == "0.4" else {}


def _attrs(group: Any, key: str, value: dict[str, Any], version: str) -> None:
    if version == "0.4":
        group.attrs.update({key: value})
    else:
        group.attrs.update({"ome": {"version": "0.5", key: value}})
