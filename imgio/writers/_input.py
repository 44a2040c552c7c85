"""Turn what a user passes to a writer into standardized, dask-backed DataArrays.

Accepted: numpy arrays, dask arrays, ``xarray.DataArray`` and :class:`imgio.Image`
(every scene, or ``scenes=[...]``). Each becomes a :class:`Scene` whose data has dims
``[extra] T C Z Y X [S]`` (missing T, C, Z added as singletons, singleton extras
dropped), channel names, pixel sizes in µm and the origin of Z/Y/X in µm.

Where metadata comes from, strongest first: keyword arguments, then the DataArray's
coordinates (C labels, Z/Y/X spacing), then ``attrs["pixel_sizes"]`` (Z, Y, X).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dims import STANDARD, PhysicalPixelSizes
from ..errors import ImgioError, SelectionError

if TYPE_CHECKING:
    import dask.array as da
    import xarray as xr

    from ..arrays import ImageFile

__all__ = ["Scene", "as_scenes", "guess_dims", "pixel_sizes_arg", "standardize"]

SizesArg = PhysicalPixelSizes | Sequence[float | None] | Mapping[str, float] | float | None


@dataclass
class Scene:
    """One image to write: standardized data plus the metadata writers need."""

    name: str
    data: xr.DataArray
    channel_names: list[str]
    pixel_sizes: PhysicalPixelSizes = PhysicalPixelSizes()
    origin: dict[str, float] = field(default_factory=dict)
    channel_colors: list[int | None] | None = None
    modulo: list[Any] = field(default_factory=list)  # _ome.Modulo of folded extra dims
    ome_source: Any = None  # _ome_carry.OmeSource: the source's OME Image, carried over
    time_interval: float | None = None  # seconds between time points (from T coords)

    @property
    def dims(self) -> str:
        return "".join(str(d) for d in self.data.dims)

    @property
    def array(self) -> da.Array:
        return self.data.data  # type: ignore[no-any-return]


def guess_dims(shape: Sequence[int]) -> str:
    """Dims for an unlabelled array: YX, ZYX (YXS when the last axis is 3 or 4), CZYX, TCZYX."""
    nd = len(shape)
    if nd == 3 and shape[-1] in (3, 4):
        return "YXS"
    if nd == 6 and shape[-1] in (3, 4):
        return "TCZYXS"
    if 2 <= nd <= 5:
        return "TCZYX"[-nd:]
    raise SelectionError(
        f"cannot guess dims of a {nd}-d array of shape {tuple(shape)}: pass dims= (e.g. 'CZYX')"
    )


def pixel_sizes_arg(value: SizesArg) -> PhysicalPixelSizes | None:
    """Read ``physical_pixel_sizes=``: (Z, Y, X), a mapping, or one number for Y and X."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return PhysicalPixelSizes(None, float(value), float(value))
    if isinstance(value, Mapping):
        bad = set(value) - set("ZYX")
        if bad:
            raise ImgioError(f"physical_pixel_sizes keys: expected Z, Y, X; found {sorted(bad)}")
        return PhysicalPixelSizes(
            *(None if value.get(d) is None else float(value[d]) for d in "ZYX")
        )
    values = list(value)
    if len(values) != 3:
        raise ImgioError(
            f"physical_pixel_sizes: expected (Z, Y, X), found {len(values)} values {values}"
        )
    return PhysicalPixelSizes(*(None if v is None else float(v) for v in values))


def _dims_text(dims: Any, ndim: int) -> str:
    letters = [str(d) for d in dims]
    if any(len(d) != 1 or not d.isalpha() for d in letters):
        raise ImgioError(f"dims must be single letters such as 'TCZYX'; found {letters}")
    text = "".join(letters).upper()
    if len(text) != ndim:
        raise ImgioError(f"dims {text!r} name {len(text)} axes; the data has {ndim}")
    if len(set(text)) != len(text):
        raise ImgioError(f"dims {text!r} repeat a letter; expected each axis once")
    return text


def _spacing(coord: Any) -> tuple[float, float] | None:
    values = np.asarray(coord)
    if values.ndim != 1 or values.size < 2 or not np.issubdtype(values.dtype, np.number):
        return None
    # the mean step: T coordinates may be acquisition times (ND2, CZI), not a fixed grid
    step = float(values[-1] - values[0]) / (values.size - 1)
    return (float(values[0]), step) if step > 0 else None


def standardize(
    data: Any,
    *,
    dims: str | Sequence[str] | None = None,
    channel_names: Sequence[str] | None = None,
    physical_pixel_sizes: SizesArg = None,
    name: str | None = None,
) -> Scene:
    """One array-like to a :class:`Scene` (dims ``[extra] T C Z Y X [S]``)."""
    import dask.array as da
    import xarray as xr

    if isinstance(data, xr.DataArray):
        arr = data.data if isinstance(data.data, da.Array) else da.from_array(np.asarray(data.data))  # type: ignore[no-untyped-call]
        text = _dims_text(dims if dims is not None else data.dims, arr.ndim)
        coords = {
            t: data.coords[d] for t, d in zip(text, data.dims, strict=True) if d in data.coords
        }
        attrs = dict(data.attrs)
        name = name or (str(data.name) if data.name is not None else None) or attrs.get("scene")
    else:
        if isinstance(data, da.Array):
            arr = data
        elif hasattr(data, "shape") and hasattr(data, "dtype"):
            arr = _numpy_to_dask(np.asarray(data))
        else:
            raise ImgioError(
                f"cannot write a {type(data).__name__}: "
                "expected numpy, dask, xarray.DataArray or imgio.Image"
            )
        text = _dims_text(dims if dims is not None else guess_dims(arr.shape), arr.ndim)
        coords, attrs = {}, {}
    if "Y" not in text or "X" not in text:
        raise ImgioError(f"dims {text!r}: expected at least Y and X")
    _check_samples(text, arr.shape)
    return _build(arr, text, coords, attrs, channel_names, physical_pixel_sizes, name)


def _check_samples(dims: str, shape: Sequence[int]) -> None:
    """Refuse what no writer can store: an empty axis, a samples axis S not of 1, 3 or 4."""
    empty = [d for d, n in zip(dims, shape, strict=True) if n == 0]
    if empty:
        raise ImgioError(
            f"cannot write an empty image: axis {empty[0]} of dims {dims!r} (shape "
            f"{tuple(shape)}) has 0 values"
        )
    if "S" in dims and shape[dims.index("S")] not in (1, 3, 4):
        raise ImgioError(f"samples axis S has {shape[dims.index('S')]} values; expected 1, 3 or 4")


def _numpy_to_dask(arr: np.ndarray[Any, Any]) -> da.Array:
    import dask.array as da

    # bands of rows: plane axes one at a time, Y in 1024-row bands, the rest whole
    chunks = [1] * arr.ndim
    if arr.ndim >= 2:
        yx = arr.ndim - 2 if not (arr.shape[-1] in (3, 4) and arr.ndim >= 3) else arr.ndim - 3
        for a in range(yx, arr.ndim):
            chunks[a] = arr.shape[a]
        chunks[yx] = min(1024, max(1, arr.shape[yx]))
    return da.from_array(arr, chunks=tuple(chunks), asarray=True)  # type: ignore[no-any-return,no-untyped-call]


def _build(
    arr: da.Array,
    text: str,
    coords: Mapping[str, Any],
    attrs: Mapping[str, Any],
    channel_names: Sequence[str] | None,
    sizes_arg: SizesArg,
    name: str | None,
) -> Scene:
    import xarray as xr

    # drop singleton extras, add missing T C Z, put in standard order
    for d in [d for d in text if d not in STANDARD]:
        if arr.shape[text.index(d)] == 1:
            arr = arr.squeeze(axis=text.index(d))  # type: ignore[no-untyped-call]
            text = text.replace(d, "")
    extras = "".join(d for d in text if d not in STANDARD)
    for d in "TCZ":
        if d not in text:
            arr = arr[None]
            text = d + text
    order = extras + "TCZYX" + ("S" if "S" in text else "")
    arr = arr.transpose([text.index(d) for d in order])  # type: ignore[no-untyped-call]
    shape = dict(zip(order, arr.shape, strict=True))
    pixel_sizes, origin = _sizes_and_origin(coords, attrs, sizes_arg)
    names = _channel_names(channel_names, coords.get("C"), shape["C"])
    out_coords: dict[str, Any] = {"C": names}
    for d, size in zip("ZYX", pixel_sizes, strict=True):
        if size is not None:
            out_coords[d] = origin.get(d, 0.0) + np.arange(shape[d]) * size
    for d in extras:  # labels of extra dims (e.g. lifetimes) travel to the writers
        if d in coords and np.asarray(coords[d]).shape == (shape[d],):
            out_coords[d] = np.asarray(coords[d])
    scene_name = str(name) if name else "Image:0"
    out = xr.DataArray(
        arr,
        dims=list(order),
        coords=out_coords,
        attrs={
            "scene": scene_name,
            "pixel_sizes": tuple(pixel_sizes),
            "units": {d: "µm" for d in "ZYX"},
        },
        name=scene_name,
    )
    return Scene(
        scene_name,
        out,
        names,
        pixel_sizes,
        origin,
        _colors(attrs, shape["C"]),
        time_interval=_time_step(coords, attrs),
    )


def _sizes_and_origin(
    coords: Mapping[str, Any], attrs: Mapping[str, Any], sizes_arg: SizesArg
) -> tuple[PhysicalPixelSizes, dict[str, float]]:
    """Z/Y/X pixel sizes and origins: the coordinates' spacing, else the ``pixel_sizes``
    attr, overridden by ``sizes_arg``."""
    sizes = pixel_sizes_arg(sizes_arg)
    origin: dict[str, float] = {}
    found: dict[str, float | None] = {}
    for d in "ZYX":
        got = _spacing(coords[d]) if d in coords else None
        if got is not None:
            origin[d], found[d] = got
    fallback = attrs.get("pixel_sizes")
    if isinstance(fallback, (list, tuple)) and len(fallback) == 3:
        for d, v in zip("ZYX", fallback, strict=True):
            if found.get(d) is None and v is not None:
                found[d] = float(v)
                if (
                    d in coords
                    and np.asarray(coords[d]).size
                    and np.issubdtype(np.asarray(coords[d]).dtype, np.number)
                ):
                    origin[d] = float(np.asarray(coords[d])[0])
    if sizes is not None:
        found.update({d: v for d, v in zip("ZYX", sizes, strict=True) if v is not None})
    return PhysicalPixelSizes(*(found.get(d) for d in "ZYX")), origin


def _colors(attrs: Mapping[str, Any], n_channels: int) -> list[int | None] | None:
    colors = attrs.get("channel_colors")
    if isinstance(colors, (list, tuple)) and len(colors) == n_channels:
        return list(colors)
    return None


def _time_step(coords: Mapping[str, Any], attrs: Mapping[str, Any]) -> float | None:
    """Seconds between time points: the mean step of T, when its unit is seconds."""
    units = attrs.get("units")  # imgio < 0.2 kept {"T": "s"} here; now T's own attrs (CF)
    t_attrs = getattr(coords.get("T"), "attrs", None) or {}
    seconds = (isinstance(units, Mapping) and units.get("T") == "s") or t_attrs.get("units") in (
        "s",
        "second",
        "seconds",
    )  # a T without unit: unknown
    t_step = _spacing(coords["T"]) if "T" in coords and seconds else None
    return None if t_step is None else t_step[1]


def scene_of_pixels(
    pixels: Any,
    coords: Mapping[str, Any],
    attrs: Mapping[str, Any],
    name: str,
) -> Scene:
    """A :class:`Scene` of pixels already in ``T C Z Y X [S]`` order that produce their own
    stream groups (no dask, no xarray), with the metadata :func:`standardize` would give
    a DataArray of the same ``coords`` and ``attrs``."""
    _check_samples(pixels.dims, pixels.shape)
    shape = dict(zip(pixels.dims, pixels.shape, strict=True))
    pixel_sizes, origin = _sizes_and_origin(coords, attrs, None)
    return Scene(
        name,
        pixels,
        _channel_names(None, coords.get("C"), shape["C"]),
        pixel_sizes,
        origin,
        _colors(attrs, shape["C"]),
        time_interval=_time_step(coords, attrs),
    )


def _channel_names(given: Sequence[str] | None, coord: Any, n: int) -> list[str]:
    if given is not None:
        names = [str(c) for c in ([given] if isinstance(given, str) else given)]
        if len(names) != n:
            raise ImgioError(
                f"channel_names: expected {n} names (size of C), found {len(names)}: {names}"
            )
        return names
    if coord is not None:
        values = np.asarray(coord)
        if values.size == n and values.dtype.kind in "OUS":
            return [str(v) for v in values]
    return [f"Channel:{i}" for i in range(n)]


def as_scenes(
    data: Any,
    *,
    dims: str | Sequence[str] | None = None,
    channel_names: Sequence[str] | None = None,
    physical_pixel_sizes: SizesArg = None,
    scenes: Sequence[int | str] | None = None,
) -> list[Scene]:
    """Every scene to write: one per array (a list is several scenes) or per ``Image`` scene."""
    if isinstance(data, list) and data and all(isinstance(d, Scene) for d in data):
        return list(data)  # already standardized (the CLI's selected scenes)
    file = image_file_of(data)
    if file is not None:
        return _file_scenes(
            file,
            scenes,
            dims=dims,
            channel_names=channel_names,
            physical_pixel_sizes=physical_pixel_sizes,
        )
    if (
        isinstance(data, (list, tuple))
        and data
        and all(hasattr(d, "shape") and hasattr(d, "dtype") for d in data)
    ):
        chosen: Sequence[int] = (
            range(len(data))
            if scenes is None
            else [scene_index(s, [str(i) for i in range(len(data))]) for s in scenes]
        )
        out = []
        for i in chosen:
            sc = standardize(
                data[i],
                dims=dims,
                channel_names=channel_names,
                physical_pixel_sizes=physical_pixel_sizes,
            )
            if len(data) > 1 and sc.name == "Image:0":
                sc.name = f"Image:{i}"
            out.append(sc)
        return out
    if scenes is not None and list(scenes) not in ([0], []):
        raise SelectionError(f"scenes={list(scenes)}: an array has one scene (0)")
    return [
        standardize(
            data, dims=dims, channel_names=channel_names, physical_pixel_sizes=physical_pixel_sizes
        )
    ]


def scene_index(scene: int | str, names: Sequence[str]) -> int:
    """The index of ``scene`` (a name, or an index counted from either end) in ``names``."""
    if isinstance(scene, str):
        if scene not in names:
            raise SelectionError(f"no scene {scene!r}; scenes are {list(names)}")
        return names.index(scene)
    if not -len(names) <= scene < len(names):
        raise SelectionError(f"scene {scene} out of range 0..{len(names) - 1}")
    return scene % len(names)


def image_file_of(data: Any) -> ImageFile | None:
    """The :class:`~imgio.ImageFile` behind ``data`` (an ImageFile or an ``Image``), else None."""
    from ..arrays import HasImageFile, ImageFile

    if isinstance(data, ImageFile):
        return data
    return data.file if isinstance(data, HasImageFile) else None


def _file_scenes(
    file: ImageFile,
    scenes: Sequence[int | str] | None,
    *,
    dims: str | Sequence[str] | None,
    channel_names: Sequence[str] | None,
    physical_pixel_sizes: SizesArg,
) -> list[Scene]:
    """The picked scenes of an opened file, at full resolution, with its OME metadata."""
    from ._ome_carry import source_images

    names = list(file.scene_names)
    picked = list(range(len(names))) if scenes is None else [scene_index(s, names) for s in scenes]
    out = []
    for i, ome_source in zip(picked, source_images(file, picked), strict=True):
        xarr = file.dataarray(i, 0)
        colors = file.infos()[i].channel_colors
        if colors is not None:
            xarr = xarr.copy()
            xarr.attrs["channel_colors"] = tuple(colors)
        out.append(
            standardize(
                xarr,
                dims=dims,
                channel_names=channel_names,
                physical_pixel_sizes=physical_pixel_sizes,
                name=names[i],
            )
        )
        out[-1].ome_source = ome_source
    return out
