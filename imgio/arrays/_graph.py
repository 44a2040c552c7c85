"""imgio's dask array optimization: selections compose down to one source read.

Every dask array that :mod:`imgio.arrays._lazy` builds is named ``imgio-<token>`` and reads its
chunks with ``getter(<source>, <slices>)``. Selections on it (xarray's ``isel``/``sel``,
``x[...]``) add ``getitem`` tasks on top. Dask's own slice fusion stops after the first
fused getter of a chain (``x.isel(T=0).isel(Y=..)`` decoded a whole 4096² chunk), so
imgio registers :func:`optimize` as dask's ``array_optimize`` (only when the user has not
set one): graphs without imgio keys go straight to dask's optimization; in graphs with
them, every ``getter``/``getitem`` chain that ends on an imgio chunk becomes ONE read of
the source with the composed selection, so only the covering tiles are decoded.

When every output key of a compute is such a read of one source (a region, a plane, a
whole array: the common case) the graph is replaced by direct reads. On the local
schedulers, the output chunks of one array are then read by a single call into one
buffer and handed to dask as views of it (:class:`Piece`); dask's final concatenation
of those views returns the buffer itself, so a whole read holds one copy of the data,
not two. On a ``dask.distributed`` cluster each chunk stays its own read (no shared
buffer), and every graph pickles: the source pickles to its location and layout.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Hashable, Iterable
from typing import Any

import dask
import numpy as np
from dask._task_spec import Alias, DataNode, GraphNode, Task, TaskRef, convert_legacy_task
from dask.array.chunk import getitem
from dask.array.core import getter, getter_inline, getter_nofancy
from dask.array.optimization import fuse_slice
from dask.array.optimization import optimize as _dask_array_optimize
from dask.core import flatten

from ._pieces import piece

__all__ = ["install", "optimize"]

PREFIX = "imgio-"
ORIGINAL = "original-imgio-"
_SHARED_SCHEDULERS = {"threads", "threading", "sync", "synchronous", "single-threaded"}


_GETTERS = (getter, getter_nofancy, getter_inline, getitem)


def _dask_optimize(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    return _dask_array_optimize(dsk, keys, **kwargs)  # type: ignore[no-untyped-call]


def install() -> None:
    """Register :func:`optimize` as dask's array optimization unless one is already set.

    ``IMGIO_DASK_OPTIMIZE=0`` in the environment leaves dask's configuration alone.
    """
    if os.environ.get("IMGIO_DASK_OPTIMIZE", "1") == "0":
        return
    if dask.config.get("array_optimize", None) is None:
        dask.config.set(array_optimize=optimize)


# --------------------------------------------------------------------------- tasks
def read_block(source: Any, index: Any) -> np.ndarray[Any, Any]:
    """``source[index]`` as an ndarray (``source`` is imgio's step-1-slicing wrapper)."""
    return np.asarray(source[index])


def read_shared(source: Any, index: Any) -> np.ndarray[Any, Any]:
    """The bounding box of a compute's output chunks, read in one call."""
    return np.asarray(source[index])


def run_in_order(nodes: tuple[Any, ...], out: Hashable) -> Any:
    """Run a small graph's nodes (already in dependency order) here; ``out``'s value."""
    cache: dict[Hashable, Any] = {}
    for node in nodes:
        cache[node.key] = node(cache)
    return cache[out]


def view_of(buffer: np.ndarray[Any, Any], origin: tuple[int, ...], shape: tuple[int, ...]) -> Any:
    """One output chunk as a :class:`~imgio.arrays._pieces.Piece` of the shared buffer."""
    return piece(buffer, tuple(origin), tuple(shape))


# --------------------------------------------------------------------------- optimization
def _has_imgio(dsk: Any) -> bool:
    layers = getattr(dsk, "layers", None)
    if layers is None:
        return False
    return any(str(name).startswith((PREFIX, ORIGINAL)) for name in layers)


def _flatten(keys: Any) -> list[Hashable]:
    return list(flatten(keys)) if isinstance(keys, list) else [keys]  # type: ignore[no-untyped-call]


def optimize(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    """dask's array optimization, with getter chains on imgio sources composed into one read."""
    if not _has_imgio(dsk):
        return _dask_optimize(dsk, keys, **kwargs)
    out_keys = _flatten(keys)
    resolver = _Resolver(dsk)
    tasks: dict[Hashable, Any] = {}
    others: list[Hashable] = []  # needed keys that are not imgio reads
    frontier: set[Hashable] = set()  # reads that those keys (or the caller) need
    stack = list(out_keys)
    while stack:
        key = stack.pop()
        if key in tasks:
            continue
        tasks[key] = dsk[key]
        if resolver.resolve(key) is not None:
            frontier.add(key)
            continue
        if _is_original(key):
            continue
        others.append(key)
        deps = getattr(tasks[key], "dependencies", None)
        if deps is None:  # an old-style tuple task: leave the graph to dask
            return _dask_optimize(dsk, keys, **kwargs)
        stack.extend(deps)
    if set(others) <= set(out_keys):
        # only reads (and dask's finalize on top): no dask optimization needed. Chunks
        # share one buffer only under a finalize (a compute, which joins them anyway),
        # never for dask.optimize/persist, whose chunks are later computed one by one
        shared = bool(others) and _shared_memory_ok()
        graph = resolver.reads(sorted(frontier, key=str), shared)
        graph.update((k, _convert(k, tasks[k])) for k in others)
        if shared and len(others) == 1:
            return _one_task(others[0], graph)
        return graph
    return _dask_optimize(_rewritten(dsk, resolver, frontier), keys, **kwargs)


def _one_task(out: Hashable, graph: dict[Hashable, Any]) -> dict[Hashable, Any]:
    """A local compute's whole graph (sources, reads, views, finalize) as ONE task.

    The scheduler then hands one task to its pool instead of one per node (a plane read
    was three hand-offs). ``graph`` is built in dependency order by :meth:`_Resolver.reads`
    (sources, buffers, reads and views) with the finalize last.
    """
    direct = _whole_read(out, graph)
    if direct is not None:
        return {out: direct}
    return {out: Task(out, run_in_order, DataNode(None, tuple(graph.values())), out)}


def _whole_read(out: Hashable, graph: dict[Hashable, Any]) -> Any:
    """The compute as one read of its source, when dask's finalize only joins that read.

    That is the case for every plane, region or whole read of one array: one read (or
    one buffer and its views, which tile the buffer exactly) under dask's ``finalize``.
    The read's array is then the result itself: dask's finalize would copy a lone chunk
    (it guards buffers kept in a graph; this one is new) and its joins of several views
    copy once a view spans the buffer's inner axes (numpy's own concatenate).
    """
    from dask.array.core import finalize

    fin = graph[out]
    reads = [
        n for n in graph.values() if isinstance(n, Task) and n.func in (read_block, read_shared)
    ]
    if not (isinstance(fin, Task) and fin.func is finalize and len(reads) == 1):
        return None
    (read,) = reads
    parts = {k for k, n in graph.items() if isinstance(n, Task) and n.func is view_of}
    if read.func is read_block:
        parts = {read.key}
    elif not parts:
        return None
    if set(fin.dependencies) != parts or len(graph) != len(parts) + 2 + (read.func is read_shared):
        return None  # other nodes (two sources?): run the graph as it is
    source = graph[next(iter(read.dependencies))]
    return Task(out, read.func, source, *read.args[1:])


def _is_original(key: Hashable) -> bool:
    return isinstance(key, str) and key.startswith(ORIGINAL)


def _convert(key: Hashable, node: Any) -> Any:
    return node if isinstance(node, GraphNode) else convert_legacy_task(key, node, set())  # type: ignore[arg-type]


def _rewritten(dsk: Any, resolver: _Resolver, frontier: set[Hashable]) -> Any:
    """``dsk`` with each frontier key's getitem chain replaced by one read of its source."""
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    layers = dict(dsk.layers)
    for name, layer in dsk.layers.items():
        if str(name).startswith((PREFIX, ORIGINAL)) or not isinstance(layer, MaterializedLayer):
            continue
        mine = [k for k in frontier if k in layer.mapping]
        if mine:
            mapping = dict(layer.mapping)
            mapping.update((k, resolver.task(k)) for k in mine)
            layers[name] = MaterializedLayer(mapping, annotations=layer.annotations)
    return HighLevelGraph(layers, dict(dsk.dependencies))


class _Resolver:
    """Follows getter/getitem/alias chains down to an imgio chunk read."""

    def __init__(self, dsk: Any) -> None:
        self.dsk = dsk
        self.memo: dict[Hashable, tuple[str, Any] | None] = {}

    def resolve(self, key: Hashable) -> tuple[str, Any] | None:
        """``(original key, index into the source)`` of ``key``, or None."""
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = None  # cycles cannot happen, but never recurse twice
        try:
            node = self.dsk[key]
        except KeyError:
            return None
        found = self._node(node)
        self.memo[key] = found
        return found

    def _node(self, node: Any) -> tuple[str, Any] | None:
        if isinstance(node, Alias):
            return self.resolve(node.target.key if hasattr(node.target, "key") else node.target)
        if not isinstance(node, Task) or node.func not in _GETTERS:
            return None
        if len(node.args) not in (2, 4) or set(node.kwargs) - {"asarray", "lock"}:
            return None
        ref, index = node.args[0], node.args[1]
        lock = node.args[3] if len(node.args) == 4 else node.kwargs.get("lock")
        if lock not in (None, False):
            return None  # a lock: leave it to dask
        if isinstance(index, DataNode):
            index = index.value
        if not isinstance(ref, TaskRef):
            return None
        if isinstance(ref.key, str) and ref.key.startswith(ORIGINAL):
            return ref.key, index
        inner = self.resolve(ref.key)
        if inner is None:
            return None
        try:
            return inner[0], fuse_slice(inner[1], index)  # type: ignore[no-untyped-call]
        except (NotImplementedError, TypeError, ValueError, IndexError):
            return None

    def source(self, original: str) -> Any:
        """The source object held by an ``original-imgio-*`` key."""
        node = self.dsk[original]
        return node.value if isinstance(node, DataNode) else node

    def task(self, key: Hashable) -> Any:
        """A direct-read task for ``key``, or None when ``key`` is not an imgio read."""
        found = self.resolve(key)
        if found is None:
            return None
        original, index = found
        return Task(key, read_block, TaskRef(original), DataNode(None, index))

    def reads(self, keys: list[Hashable], shared: bool) -> dict[Hashable, Any]:
        """Direct reads of ``keys`` (all resolvable), sharing one buffer per array locally."""
        found = {k: self.resolve(k) for k in keys}
        sources = {f[0]: self.source(f[0]) for f in found.values() if f is not None}
        graph: dict[Hashable, Any] = {o: DataNode(o, src) for o, src in sources.items()}
        groups: dict[tuple[str, Hashable], list[Hashable]] = {}
        for k, f in found.items():
            assert f is not None
            groups.setdefault((f[0], k[0] if isinstance(k, tuple) else k), []).append(k)
        for (original, name), group in groups.items():
            indices = [found[k][1] for k in group]  # type: ignore[index]
            boxed = _bounding_box(indices, sources[original].shape) if shared else None
            if boxed is not None and len(group) > 1:
                index, origins, shapes = boxed
                buf = f"imgio-buffer-{name}"
                graph[buf] = Task(buf, read_shared, TaskRef(original), DataNode(None, index))
                for k, o, s in zip(group, origins, shapes, strict=True):
                    graph[k] = Task(k, view_of, TaskRef(buf), DataNode(None, o), DataNode(None, s))
                continue
            for k, index in zip(group, indices, strict=True):
                graph[k] = Task(k, read_block, TaskRef(original), DataNode(None, index))
        return graph


def _shared_memory_ok() -> bool:
    """True when tasks run in this process (threads or synchronous), never on a cluster."""
    scheduler = dask.config.get("scheduler", None)
    if scheduler is not None and scheduler not in _SHARED_SCHEDULERS:
        return False
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return True
    try:
        from distributed.client import _get_global_client
        from distributed.scheduler import Scheduler

        if _get_global_client() is not None:
            return False
        for scheduler in list(Scheduler._instances):
            if getattr(scheduler.status, "name", "") not in ("closed", "closing", "failed"):
                return False
    except Exception:  # noqa: BLE001 - any doubt: no shared buffer
        return False
    return True


def _bounding_box(
    indices: Iterable[Any], shape: tuple[int, ...]
) -> tuple[tuple[Any, ...], list[tuple[int, ...]], list[tuple[int, ...]]] | None:
    """One index covering all ``indices`` (step-1 slices and the same ints), or None.

    Returns the index, and each piece's origin and shape inside the read buffer.
    """
    norm: list[list[Any]] = []
    for index in indices:
        if not isinstance(index, tuple) or len(index) != len(shape):
            return None
        axes: list[Any] = []
        for k, n in zip(index, shape, strict=True):
            if isinstance(k, slice):
                start, stop, step = k.indices(n)
                if step != 1 or stop <= start:
                    return None
                axes.append((start, stop))
            elif isinstance(k, (int, np.integer)) and 0 <= int(k) < n:
                axes.append(int(k))
            else:
                return None
        norm.append(axes)
    box: list[Any] = []
    for axis in range(len(shape)):
        vals = [axes[axis] for axes in norm]
        if isinstance(vals[0], int):
            if any(v != vals[0] for v in vals):
                return None
            box.append(vals[0])
        elif all(isinstance(v, tuple) for v in vals):
            box.append((min(v[0] for v in vals), max(v[1] for v in vals)))
        else:
            return None
    spans = [b for b in box if isinstance(b, tuple)]
    volume = math.prod(b - a for a, b in spans)
    pieces = 0
    origins: list[tuple[int, ...]] = []
    shapes: list[tuple[int, ...]] = []
    for axes in norm:
        ranges = [(a, b) for a, b in (x for x in axes if isinstance(x, tuple))]
        origins.append(tuple(a - s[0] for (a, _), s in zip(ranges, spans, strict=True)))
        shapes.append(tuple(b - a for a, b in ranges))
        pieces += math.prod(shapes[-1])
    if pieces != volume:
        return None  # overlapping or missing pieces: not one box
    index = tuple(slice(b[0], b[1]) if isinstance(b, tuple) else b for b in box)
    return index, origins, shapes
