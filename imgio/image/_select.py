"""Selections on :class:`imgio.Image`: ``get_image_data`` / ``get_image_dask_data``.

``T=0``, ``C="DAPI"``, ``Z=slice(2, 5)``, ``Y=[1, 3]``-style keywords over the presented
dims, as AICSImageIO takes them: integer indices drop a dim unless it is in the requested
order, dims left out of that order take index 0 (with an ``ImgioWarning``), a slice that
selects nothing is a :class:`~imgio.errors.SelectionError`. A mixin so that ``image.py``
keeps the core state; only what is selected is decoded (:func:`imgio.arrays._lazy.read`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..arrays import _lazy
from ..errors import ImgioWarning, SelectionError

if TYPE_CHECKING:
    import dask.array as da

    from . import Image

__all__ = ["Selection", "SelectionMixin"]

Selection = int | slice | Sequence[int] | str | Sequence[str]


def _image(obj: object) -> Image:
    return cast("Image", obj)


class SelectionMixin:
    """Pixel reads with per-dim selections, in any output dims order."""

    def _selection(
        self, order_out: str | None, selection: Mapping[str, Any], scene: int, level: int
    ) -> tuple[tuple[Any, ...], list[str], list[str]]:
        """Index tuple over the presented dims, dims kept, and the requested output order."""
        img = _image(self)
        order, shape = img._presented(scene, level)
        unknown = [d for d in selection if d not in order]
        if unknown:
            raise SelectionError(f"no dim {unknown[0]!r}; dims are {order!r}")
        info = img._info(scene)
        wanted = list(order_out) if order_out else None
        if wanted is not None:
            bad = [d for d in wanted if d not in order]
            if bad or len(set(wanted)) != len(wanted):
                raise SelectionError(f"cannot return dims {order_out!r} from {order!r}")
        index: list[Any] = []
        kept: list[str] = []
        dropped: list[str] = []
        for d, n in zip(order, shape, strict=True):
            sel = selection.get(d, None)
            if d == "C" and sel is not None:
                sel = _channel_index(sel, info.channel_names)
            if sel is None:
                if wanted is not None and d not in wanted:
                    if n != 1:
                        dropped.append(f"{d} (size {n})")
                    index.append(0)
                else:
                    index.append(slice(None))
                    kept.append(d)
                continue
            if isinstance(sel, (int, np.integer)):
                if not -n <= sel < n:
                    raise SelectionError(f"{d}={int(sel)} out of range (0..{n - 1})")
                if wanted is not None and d in wanted:
                    index.append(slice(int(sel) % n, int(sel) % n + 1))
                    kept.append(d)
                else:
                    index.append(int(sel))
                continue
            if isinstance(sel, range):
                sel = slice(sel.start, sel.stop, sel.step)
            if isinstance(sel, slice):
                count = _slice_count(d, sel, n)
            else:
                sel = [int(v) for v in sel]
                bad_values = [v for v in sel if not -n <= v < n]
                if bad_values:
                    raise SelectionError(f"{d}={bad_values[0]} out of range (0..{n - 1})")
                count = len(sel)
            if wanted is not None and d not in wanted:
                if count != 1:
                    raise SelectionError(
                        f"{d} selects {count} values but {d} is not in the requested "
                        f"order {order_out!r}"
                    )
                sel = sel if isinstance(sel, list) else list(range(*sel.indices(n)))
                index.append(sel[0])
                continue
            index.append(sel)
            kept.append(d)
        if dropped:
            _warn_dropped(dropped, order_out)
        return tuple(index), kept, wanted if wanted is not None else kept

    def get_image_dask_data(
        self,
        dimension_order_out: str | None = None,
        *,
        scene: int | str | None = None,
        level: int | None = None,
        **selection: Selection,
    ) -> da.Array:
        """A lazy array in ``dimension_order_out`` with ``T=0``, ``C="DAPI"``-style selections."""
        img = _image(self)
        s = img._scene_index(scene)
        lvl = img._level_index(s, level)
        index, kept, wanted = self._selection(dimension_order_out, selection, s, lvl)
        data = img.get_xarray_dask_data(s, lvl).data[_one_fancy(index)]
        data = _rest_fancy(data, index)
        if kept != wanted:
            data = data.transpose([kept.index(d) for d in wanted])  # type: ignore[no-untyped-call,unused-ignore]
        out: da.Array = data
        return out

    def get_image_data(
        self,
        dimension_order_out: str | None = None,
        *,
        scene: int | str | None = None,
        level: int | None = None,
        **selection: Selection,
    ) -> np.ndarray[Any, Any]:
        """Numpy pixels in ``dimension_order_out``; decodes only what the selection covers."""
        img = _image(self)
        s = img._scene_index(scene)
        lvl = img._level_index(s, level)
        index, kept, wanted = self._selection(dimension_order_out, selection, s, lvl)
        data = _lazy.read(img.source(s, lvl), index)
        return np.transpose(data, [kept.index(d) for d in wanted]) if kept != wanted else data


def _slice_count(d: str, sel: slice, n: int) -> int:
    """How many values ``sel`` selects of ``n``; a slice that selects none is an error."""
    count = len(range(*sel.indices(n)))
    if count == 0:
        raise SelectionError(
            f"{d}={_slice_text(sel)} selects nothing; {d} has {n} values (0..{n - 1})"
        )
    return count


def _warn_dropped(dropped: Sequence[str], order_out: str | None) -> None:
    warnings.warn(
        f"dims {', '.join(dropped)} are not in the requested order {order_out!r}: "
        f"took index 0 of each (select one with e.g. {dropped[0][0]}=<index>)",
        ImgioWarning,
        stacklevel=4,
    )


def _slice_text(sel: slice) -> str:
    parts = [sel.start, sel.stop] + ([sel.step] if sel.step is not None else [])
    return f"slice({', '.join(str(v) for v in parts)})"


def _channel_index(sel: Any, names: Sequence[str] | None) -> Any:
    def one(v: Any) -> int:
        if isinstance(v, str):
            if not names or v not in names:
                raise SelectionError(f"no channel named {v!r}; channels are {list(names or [])}")
            return list(names).index(v)
        return int(v)

    if isinstance(sel, (str, int, np.integer)):
        return one(sel)
    if isinstance(sel, slice):
        return sel
    return [one(v) for v in sel]


def _one_fancy(index: tuple[Any, ...]) -> tuple[Any, ...]:
    """Dask takes one list per getitem; the first list goes in, the rest after."""
    seen = False
    out = []
    for k in index:
        if isinstance(k, list):
            out.append(k if not seen else slice(None))
            seen = True
        else:
            out.append(k)
    return tuple(out)


def _rest_fancy(data: da.Array, index: tuple[Any, ...]) -> da.Array:
    lists = [i for i, k in enumerate(index) if isinstance(k, list)]
    if len(lists) <= 1:
        return data
    kept_axes = [i for i, k in enumerate(index) if not isinstance(k, (int, np.integer))]
    for i in lists[1:]:
        axis = kept_axes.index(i)
        data = data[(slice(None),) * axis + (index[i],)]
    return data
