"""A growing tile sink: ``imgio.new()``, ``add_tile`` anywhere, ``write`` to any target.

large_image users write ``source = large_image.new(); source.addTile(tile, x, y, z=2);
source.write("out.tiff")``. Here it is ``sink = imgio.new(); sink.add_tile(tile, x, y, z=2);
sink.write("out.ome.tif")``: the extent grows to hold every tile, frame axes (T, C, Z or
any extra letter) appear when named, and the result is written by :func:`imgio.write`
to tiled pyramidal OME-TIFF, OME-Zarr (NGFF 0.4/0.5) or a zipped OME-Zarr.

Tiles spill at once to LZ4-compressed chunk files in a folder (see ``_tile_store``), so
memory stays bounded whatever the extent, and the sink pickles to that folder: tiles
may come from threads, a process pool or dask workers of the same machine. ``write``
reads the chunks back lazily (one dask task per chunk) and the streaming writers build
the pyramid. A ``mask`` writes only the pixels where it is true; where tiles overlap,
the one written later wins (both as large_image).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImgioError
from ._input import SizesArg, pixel_sizes_arg
from ._tile_axes import (
    FRAME_ORDER,
    TileArgs,
    frame_key,
    parse,
    parse_key,
    parse_mask,
    to_base_unit,
)
from ._tile_store import ChunkStore, SinkArray, check_folder, putter

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["TileSink", "new"]

MAX_EDGE = 2**31 - 1


class TileSink:
    """An image whose extent grows as tiles arrive; see :func:`imgio.new`."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state
        self._store = ChunkStore(state["folder"], state["edge"])
        self._owner = False
        self.closed = False

    def __getstate__(self) -> dict[str, Any]:
        return {"state": self._state, "store": self._store, "closed": self.closed}

    def __setstate__(self, value: dict[str, Any]) -> None:
        self.__init__(value["state"])  # type: ignore[misc]
        self._store = value["store"]
        self.closed = value["closed"]

    def __repr__(self) -> str:
        layout = self._store.layout or {}
        what = f"{np.dtype(layout['dtype'])} x{layout['bands']}" if layout else "empty"
        return f"<TileSink {what} at {self._state['folder']!r}>"

    # ------------------------------------------------------------ properties
    @property
    def dtype(self) -> np.dtype[Any] | None:
        """The pixel type, fixed by ``new(dtype=)`` or by the first tile."""
        layout = self._store.layout
        if layout is not None:
            return np.dtype(layout["dtype"])
        fixed = self._state.get("dtype")
        return None if fixed is None else np.dtype(fixed)

    @property
    def bands(self) -> int | None:
        """Bands (samples) per pixel, fixed by the first tile."""
        layout = self._store.layout
        return None if layout is None else int(layout["bands"])

    @property
    def folder(self) -> Path:
        """Where the chunks spill (shared by every process that adds tiles)."""
        return Path(self._state["folder"])

    @property
    def channel_names(self) -> list[str] | None:
        names = self._state.get("channel_names")
        return None if names is None else list(names)

    @channel_names.setter
    def channel_names(self, names: Sequence[str] | None) -> None:
        if isinstance(names, str):
            names = [names]
        self._state["channel_names"] = None if names is None else [str(n) for n in names]

    @property
    def frame_units(self) -> dict[str, str]:
        """Units of frame-axis values by letter (``{"T": "ms", "Z": "µm"}``)."""
        return dict(self._state.get("frame_units") or {})

    @frame_units.setter
    def frame_units(self, units: Mapping[str, str]) -> None:
        from ._tile_axes import axis_letter

        out = {}
        for name, unit in units.items():
            letter = axis_letter(name)
            if to_base_unit(letter, unit) is None:
                raise ImgioError(f"frame_units[{name!r}]={unit!r}: not a known unit")
            out[letter] = str(unit)
        self._state["frame_units"] = out

    # --------------------------------------------------------------- writing
    def add_tile(
        self,
        tile: Any,
        x: int = 0,
        y: int = 0,
        mask: Any = None,
        *,
        axes: str | None = None,
        **frames: Any,
    ) -> None:
        """Put ``tile`` with its top-left pixel at ``(x, y)``, growing the image as needed.

        Parameters
        ----------
        tile
            ``(Y, X)`` or ``(Y, X, bands)`` array (any layout with ``axes=``, e.g. ``"zyxs"``).
        x, y
            Level-0 position of the tile's top-left pixel (>= 0).
        mask
            ``(Y, X)`` booleans: only pixels where it is true are written.
        axes
            The tile's axis letters when it is not ``(Y, X[, bands])``.
        **frames
            Frame indices by axis (``t``/``time``, ``c``/``channel``, ``z``, or one letter
            for an extra axis), and optionally ``<axis>_value=`` and ``<axis>_unit=``.

        Raises
        ------
        ImgioError
            A negative position or index, an unknown axis, a dtype or band count that
            differs from the tiles before, a mask of another shape, a closed sink.
        """
        if self.closed:
            raise ImgioError(f"{self!r} is closed; expected an open sink (imgio.new())")
        check_folder(self.folder)
        for name, value in (("x", x), ("y", y)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ImgioError(f"{name}={value!r}: expected a pixel position >= 0")
        args = parse(tile, axes, frames)
        height, width = args.data.shape[-3:-1]
        if y + height > MAX_EDGE or x + width > MAX_EDGE:
            raise ImgioError(
                f"tile at x={x}, y={y} of {height} x {width} pixels ends beyond {MAX_EDGE}: "
                "expected an image edge below 2**31 pixels (TIFF and Zarr limits)"
            )
        self._check_layout(args)
        keep = parse_mask(mask, args.data.shape[-3:-1])
        sizes = [args.data.shape[i] for i in range(len(args.frame_axes))]
        for offsets in product(*(range(n) for n in sizes)):
            index = dict(args.index)
            for d, o in zip(args.frame_axes, offsets, strict=True):
                index[d] += o
            self._put(frame_key(index), args.data[offsets], int(x), int(y), keep)
        for d, (number, unit) in args.values.items():
            self._store.set_value(d, args.index.get(d, 0), number, unit)

    def _check_layout(self, args: TileArgs) -> None:
        fixed = self._state.get("dtype")
        if fixed is not None and args.data.dtype != np.dtype(fixed):
            raise ImgioError(
                f"tile dtype {args.data.dtype}: expected {np.dtype(fixed)} (new(dtype=...)); "
                "cast the tile with .astype()"
            )
        layout = self._store.claim(args.data.dtype, args.bands)
        if np.dtype(layout["dtype"]) != args.data.dtype:
            raise ImgioError(
                f"tile dtype {args.data.dtype}: expected {np.dtype(layout['dtype'])} like the "
                "tiles before; cast the tile with .astype()"
            )
        if int(layout["bands"]) != args.bands:
            raise ImgioError(
                f"tile with {args.bands} band(s): expected {layout['bands']} like the tiles "
                "before (bands are the tile's last axis)"
            )
        if args.bands not in (1, 3, 4) and (args.index.get("C", 0) or "C" in args.frame_axes):
            raise ImgioError(
                f"tiles with {args.bands} bands store them as channels (C); expected no c= "
                "index (use 1, 3 or 4 bands to add channels by c=)"
            )

    def _put(
        self,
        frame: str,
        plane: np.ndarray[Any, Any],
        x: int,
        y: int,
        keep: np.ndarray[Any, Any] | None,
    ) -> None:
        e = self._store.edge
        height, width = plane.shape[:2]
        if plane.shape[-1] == 1:
            plane = plane[..., 0]
        for cy in range(y // e, -(-(y + height) // e)):
            for cx in range(x // e, -(-(x + width) // e)):
                y0, y1 = max(y, cy * e), min(y + height, (cy + 1) * e)
                x0, x1 = max(x, cx * e), min(x + width, (cx + 1) * e)
                part = plane[y0 - y : y1 - y, x0 - x : x1 - x]
                where = None if keep is None else keep[y0 - y : y1 - y, x0 - x : x1 - x]
                window = (slice(y0 - cy * e, y1 - cy * e), slice(x0 - cx * e, x1 - cx * e))
                self._store.update(
                    frame, cy, cx, (window[0].stop, window[1].stop), putter(window, part, where)
                )

    # --------------------------------------------------------------- reading
    def _scan(self) -> tuple[dict[str, int], int, int, str]:
        """Frame-axis sizes, height, width and a token of the chunks written, from headers."""
        sizes: dict[str, int] = {}
        height = width = 0
        e = self._store.edge
        entries = sorted(self._store.scan())
        for frame, cy, cx, rows, cols in entries:
            for d, i in parse_key(frame).items():
                sizes[d] = max(sizes.get(d, 1), i + 1)
            height, width = max(height, cy * e + rows), max(width, cx * e + cols)
        if not height or self._store.layout is None:
            raise ImgioError(f"{self!r} holds no tiles yet; expected add_tile() before writing")
        from dask.base import tokenize

        return sizes, height, width, tokenize(str(self.folder), entries)

    @property
    def extent(self) -> tuple[int, int]:
        """``(height, width)`` of the image so far (from every process's tiles)."""
        _, height, width, _ = self._scan()
        return height, width

    def to_xarray(self) -> xr.DataArray:
        """Everything added so far as a lazy DataArray (dims ``[extra] T C Z Y X [S]``)."""
        import dask.array as da
        import xarray as xr

        from ..arrays import _lazy

        check_folder(self.folder)
        sizes, height, width, stamp = self._scan()
        layout = self._store.layout
        assert layout is not None
        extras = "".join(sorted(d for d in sizes if d not in FRAME_ORDER))
        frames = extras + FRAME_ORDER
        bands = int(layout["bands"])
        shape = (*(sizes.get(d, 1) for d in frames), height, width, bands)
        src = SinkArray(self._store, frames, shape, np.dtype(layout["dtype"]), stamp)
        arr = _lazy.as_dask(src, chunks=src.chunks)
        dims = list(frames) + ["Y", "X", "S"]
        if bands == 1:
            arr, dims = arr[..., 0], dims[:-1]
        elif bands not in (3, 4):  # multiband: the bands are the channels
            c = frames.index("C")
            arr = da.moveaxis(arr[(slice(None),) * c + (0,)], -1, c)
            dims = dims[:-1]
        out = xr.DataArray(arr, dims=dims, coords=self._coords(dims, arr.shape), name="Image:0")
        sizes_um = pixel_sizes_arg(self._state.get("pixel_sizes"))
        if sizes_um is not None:
            out.attrs["pixel_sizes"] = tuple(sizes_um)
        return out

    def _coords(self, dims: list[str], shape: tuple[int, ...]) -> dict[str, Any]:
        n = dict(zip(dims, shape, strict=True))
        coords: dict[str, Any] = {}
        names = self.channel_names
        if names is not None:
            if len(names) != n["C"]:
                raise ImgioError(
                    f"channel_names: expected {n['C']} names (size of C), found {len(names)}"
                )
            coords["C"] = names
        units = self.frame_units
        for d, known in self._store.values().items():
            if d not in n or any(i not in known for i in range(n[d])):
                continue  # values for some indices only: not a coordinate
            vals = []
            for i in range(n[d]):
                unit = known[i]["unit"] or units.get(d)
                factor = to_base_unit(d, unit) if unit is not None else 1.0
                value = known[i]["value"]
                vals.append(math.nan if value is None else float(value) * (factor or 1.0))
            coords[d] = vals
        return coords

    def write(
        self,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        **options: Any,
    ) -> Path | str:
        """Write everything added so far to ``.ome.tif``, ``.ome.zarr`` or ``.ome.zarr.zip``.

        ``options`` are those of :func:`imgio.write` (``tile``, ``compression``,
        ``pyramid_levels``, ``ngff_version``, ...). An extra axis longer than 1 becomes
        one scene per index. The sink stays open: write again or add more tiles.
        """
        from . import write

        if self.closed:
            raise ImgioError(f"{self!r} is closed; expected an open sink")
        data = self.to_xarray()
        extras = [d for d in data.dims if str(d) not in "TCZYXS" and data.sizes[d] > 1]
        if extras:
            scenes = [
                data.isel(dict(zip(extras, idx, strict=True))).rename(
                    ",".join(f"{d}={i}" for d, i in zip(extras, idx, strict=True))
                )
                for idx in product(*(range(data.sizes[d]) for d in extras))
            ]
            return write(scenes, path, overwrite=overwrite, **options)
        return write(data, path, overwrite=overwrite, **options)

    # --------------------------------------------------------------- closing
    def close(self) -> None:
        """Delete the spilled chunks (in the process that called :func:`new`)."""
        if self._owner and not self.closed:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.closed = True

    def __enter__(self) -> TileSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_owner", False) and not getattr(self, "closed", True):
            shutil.rmtree(self._state["folder"], ignore_errors=True)


def new(
    *,
    dtype: Any = None,
    channel_names: Sequence[str] | None = None,
    physical_pixel_sizes: SizesArg = None,
    frame_units: Mapping[str, str] | None = None,
    chunk_size: int = 512,
    folder: str | os.PathLike[str] | None = None,
) -> TileSink:
    """A new, empty image to fill tile by tile: ``add_tile(tile, x, y, **frames)``, then ``write``.

    Parameters
    ----------
    dtype
        Require this pixel type (default: the first tile's).
    channel_names, physical_pixel_sizes
        Metadata for the written image (sizes in µm: ``(Z, Y, X)`` or one number for Y/X).
    frame_units
        Units of frame-axis values, e.g. ``{"t": "ms", "z": "µm"}``.
    chunk_size
        Edge of the chunks tiles spill into (default 512).
    folder
        Where the chunks spill (default: a new folder in the system temp folder); every
        process that adds tiles must see it.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 16:
        raise ImgioError(f"chunk_size={chunk_size!r}: expected an int >= 16")
    pixel_sizes_arg(physical_pixel_sizes)  # check now
    base = None if folder is None else Path(folder)
    if base is not None and not base.is_dir():
        raise ImgioError(f"folder={str(base)!r}: expected an existing folder")
    spill = tempfile.mkdtemp(prefix="imgio-sink-", dir=base)
    state: dict[str, Any] = {
        "folder": spill,
        "edge": chunk_size,
        "dtype": None if dtype is None else np.dtype(dtype).str,
        "channel_names": None,
        "pixel_sizes": physical_pixel_sizes,
        "frame_units": {},
    }
    sink = TileSink(state)
    sink._owner = True
    sink.channel_names = channel_names
    sink.frame_units = frame_units or {}
    return sink
