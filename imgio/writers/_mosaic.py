"""Join images into one lazy DataArray on a row-major grid, without reading pixels.

It opens paths as :class:`~imgio.ImageFile` and standardizes arrays as the writers do;
the writers never import it, so ``Image.save`` ->
``writers`` stays a one-way dependency.

Column ``j`` is as wide as its widest item and row ``i`` as tall as its tallest; smaller
items are padded with ``background`` on the right and bottom. ``spacing`` puts that
many background pixels between cells; ``overlap`` makes each cell start that many
pixels before the previous one ends (the later item wins the overlapping strip).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from ..arrays import ImageFile
from ..errors import ImgioError
from ._input import SizesArg, standardize

if TYPE_CHECKING:
    import dask.array as da
    import xarray as xr

__all__ = ["Grid", "grid", "mosaic"]


def _load(item: Any, dims: str | None) -> xr.DataArray:
    if isinstance(item, (str, os.PathLike)):
        return ImageFile(item).dataarray(0, 0)
    if hasattr(item, "xarray_dask_data"):
        return item.xarray_dask_data  # type: ignore[no-any-return]
    return standardize(item, dims=dims).data


def _fit(arr: da.Array, y: int, x: int, height: int, width: int, background: float) -> da.Array:
    """Crop or pad (bottom/right, with ``background``) Y and X to ``height`` x ``width``."""
    import dask.array as da

    key = [slice(None)] * arr.ndim
    key[y], key[x] = slice(0, height), slice(0, width)
    arr = arr[tuple(key)]
    pad = [(0, 0)] * arr.ndim
    pad[y], pad[x] = (0, height - arr.shape[y]), (0, width - arr.shape[x])
    if pad[y][1] or pad[x][1]:
        arr = da.pad(arr, pad, mode="constant", constant_values=background)
    return arr


@dataclass(frozen=True)
class Grid:
    """Where each item of a mosaic goes: cell ``(row, column)`` of item ``i`` is ``divmod(i,
    across)``; a cell is ``steps_y[row]`` x ``steps_x[column]`` pixels at ``(ys[row],
    xs[column])``, and its item is cropped or padded to that size."""

    dims: str  # of every item (and of the mosaic)
    shape: tuple[int, ...]  # of the mosaic
    across: int
    count: int  # items
    steps_y: tuple[int, ...]
    steps_x: tuple[int, ...]

    @property
    def ys(self) -> tuple[int, ...]:
        return (0, *accumulate(self.steps_y))

    @property
    def xs(self) -> tuple[int, ...]:
        return (0, *accumulate(self.steps_x))


def grid(
    dims: Sequence[str],
    shapes: Sequence[Sequence[int]],
    dtypes: Sequence[Any],
    *,
    across: int,
    spacing: int = 0,
    overlap: int = 0,
) -> Grid:
    """Check the items (``dims``, ``shapes``, ``dtypes`` of each) and place them on the grid.

    Raises
    ------
    ImgioError
        No items, a bad grid option, or items whose dims, non-spatial sizes or dtypes differ.
    """
    if not shapes:
        raise ImgioError("mosaic: expected at least one item, found none")
    if across < 1 or spacing < 0 or overlap < 0:
        raise ImgioError(
            "mosaic: expected across >= 1, spacing >= 0, overlap >= 0; "
            f"found {across}, {spacing}, {overlap}"
        )
    order, first = dims[0], list(shapes[0])
    y, x = order.index("Y"), order.index("X")
    want = [n for k, n in enumerate(first) if k not in (y, x)]
    for i in range(1, len(shapes)):
        rest = [n for k, n in enumerate(shapes[i]) if k not in (y, x)]
        if dims[i] != order or rest != want or dtypes[i] != dtypes[0]:
            raise ImgioError(
                f"mosaic item {i}: expected dims {order}, non-YX sizes {want}, {dtypes[0]}; "
                f"found {dims[i]}, {rest}, {dtypes[i]}"
            )
    rows = -(-len(shapes) // across)
    cols = min(across, len(shapes))
    cells = [shapes[r * across : (r + 1) * across] for r in range(rows)]
    heights = [max(s[y] for s in row) for row in cells]
    widths = [max(cells[r][c][x] for r in range(rows) if c < len(cells[r])) for c in range(cols)]
    steps_y = [h + spacing - overlap for h in heights[:-1]] + [heights[-1]]
    steps_x = [w + spacing - overlap for w in widths[:-1]] + [widths[-1]]
    if min(steps_y + steps_x) <= 0:
        raise ImgioError(
            f"mosaic: overlap={overlap} must be smaller than every cell size plus spacing"
        )
    first[y], first[x] = sum(steps_y), sum(steps_x)
    return Grid(order, tuple(first), across, len(shapes), tuple(steps_y), tuple(steps_x))


def mosaic(
    items: Sequence[Any],
    *,
    across: int,
    spacing: int = 0,
    overlap: int = 0,
    background: float = 0,
    dims: str | None = None,
    channel_names: Sequence[str] | None = None,
    physical_pixel_sizes: SizesArg = None,
) -> xr.DataArray:
    """Place ``items`` (paths, ``Image``s, numpy/dask/xarray) on a grid ``across`` columns wide.

    Metadata (channel names, pixel sizes) comes from the first item unless given. The
    result is lazy; ``imgio.write`` streams it in bands.

    Raises
    ------
    ImgioError
        No items, a bad grid option, or items whose dims, non-spatial sizes or dtypes differ.
    """
    import dask.array as da

    if not items:
        grid([], [], [], across=across, spacing=spacing, overlap=overlap)  # raises
    arrays = [_load(item, dims) for item in items]
    first = arrays[0]
    place = grid(
        ["".join(str(d) for d in a.dims) for a in arrays],
        [a.shape for a in arrays],
        [a.dtype for a in arrays],
        across=across,
        spacing=spacing,
        overlap=overlap,
    )
    order = place.dims
    y, x = order.index("Y"), order.index("X")
    steps_y, steps_x = place.steps_y, place.steps_x
    band_rows = []
    for r in range(len(steps_y)):
        pieces = []
        for c in range(len(steps_x)):
            if r * across + c < len(arrays):
                item = arrays[r * across + c].data
                pieces.append(_fit(item, y, x, steps_y[r], steps_x[c], background))
            else:
                shape = list(first.shape)
                shape[y], shape[x] = steps_y[r], steps_x[c]
                pieces.append(
                    da.full(shape, background, dtype=first.dtype, chunks=first.data.chunksize)  # type: ignore[no-untyped-call]
                )
        band_rows.append(da.concatenate(pieces, axis=x) if len(pieces) > 1 else pieces[0])  # type: ignore[no-untyped-call]
    joined = da.concatenate(band_rows, axis=y) if len(band_rows) > 1 else band_rows[0]  # type: ignore[no-untyped-call]
    names = channel_names
    if names is None and "C" in first.coords:
        names = [str(v) for v in first.coords["C"].values]
    sizes = (
        physical_pixel_sizes if physical_pixel_sizes is not None else first.attrs.get("pixel_sizes")
    )
    return standardize(
        joined, dims=order, channel_names=names, physical_pixel_sizes=sizes, name="mosaic"
    ).data
