"""NGFF 0.6 (RFC-5) stores: hand-written seeds and a mutator of their coordinate systems and
coordinate transformations (types, parameters, nesting, names, inputs/outputs, axes).

One case in five falls back to the generic zarr store mutator (array metadata, chunks).
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from pathlib import Path
from typing import Any

from .mutate_zarr import _nodes, _set, mutate_store

__all__ = ["mutate_ngff06", "ngff06_seeds"]

_TYPES = (
    "identity",
    "scale",
    "translation",
    "sequence",
    "mapAxis",
    "affine",
    "rotation",
    "inverseOf",
    "bijection",
    "byDimension",
    "displacements",
    "coordinates",
    "twist",
    "",
    None,
    3,
)
_VALUES: tuple[Any, ...] = (
    None,
    [],
    {},
    "",
    0,
    -1,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    2**64,
    True,
    "x" * 300,
    [0, 0, 0],
    [1, 2],
    [1, 2, 3, 4, 5, 6, 7],
    ["a", "b", "c"],
    [[1, 0], [0, 1]],
    [[0, 0, 0, 0]] * 3,
    [[1e308] * 4] * 3,
    {"name": "physical"},
    {"name": None, "path": ".."},
    "physical",
    "s0",
    "dim_0",
    ["dim_0", "dim_1"],
    ["y", "x", "y"],
    "../outside",
)


def ngff06_seeds(folder: Path) -> list[Path]:
    """Small 0.6 images: a scale/translation sequence pyramid, a mapAxis permutation, and
    affine / inverseOf / byDimension levels (the shapes of the reader tests)."""
    import numpy as np
    import zarr

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(606)
    data = rng.integers(0, 4000, (2, 48, 40), dtype=np.uint16)
    physical = {
        "name": "physical",
        "axes": [
            {"name": "c", "type": "channel"},
            {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"},
        ],
    }
    array_cs = {"name": "array", "axes": [{"name": f"dim_{i}", "type": "array"} for i in range(3)]}
    seq = {
        "type": "sequence",
        "transformations": [
            {"type": "scale", "scale": [1, 0.5, 0.5]},
            {"type": "translation", "translation": [0, 10, 20]},
        ],
    }
    cases = {
        "sequence": [[seq], [{"type": "scale", "scale": [1, 1.0, 1.0]}]],
        "mapaxis": [
            [
                {
                    "type": "sequence",
                    "transformations": [
                        {
                            "type": "mapAxis",
                            "mapAxis": {"c": "dim_0", "y": "dim_2", "x": "dim_1"},
                            "input": "array",
                            "output": "physical",
                        },
                        {"type": "scale", "scale": [1, 2, 3]},
                    ],
                }
            ]
        ],
        "mixed": [
            [{"type": "affine", "affine": [[1, 0, 0, 0], [0, 0, 2, 1], [0, 3, 0, 2]]}],
            [{"type": "inverseOf", "transformation": {"type": "scale", "scale": [1, 0.5, 0.25]}}],
            [
                {
                    "type": "byDimension",
                    "input": "s2",
                    "output": "physical",
                    "transformations": [
                        {
                            "type": "scale",
                            "scale": [4.0, 4.0],
                            "input": ["dim_1", "dim_2"],
                            "output": ["y", "x"],
                        },
                        {"type": "identity", "input": ["dim_0"], "output": ["c"]},
                    ],
                }
            ],
        ],
    }
    out = []
    for name, levels in cases.items():
        path = folder / f"{name}.ome.zarr"
        if path.exists():
            shutil.rmtree(path)
        group = zarr.open_group(path, mode="w", zarr_format=3)
        datasets = []
        for k, cts in enumerate(levels):
            arr = data[:, :: 2**k, :: 2**k] if name == "sequence" else data
            if name == "mapaxis":
                arr = np.ascontiguousarray(np.swapaxes(arr, 1, 2))
            group.create_array(f"s{k}", data=arr, chunks=(1, 16, 16))
            for ct in cts:
                ct.setdefault("input", f"s{k}")
                ct.setdefault("output", "physical")
            datasets.append({"path": f"s{k}", "coordinateTransformations": cts})
        group.attrs["ome"] = {
            "version": "0.6",
            "multiscales": [
                {
                    "name": name,
                    "coordinateSystems": [physical, array_cs],
                    "datasets": datasets,
                    "coordinateTransformations": [
                        {
                            "type": "translation",
                            "translation": [0, 1, 1],
                            "input": "physical",
                            "output": "world",
                        }
                    ],
                }
            ],
        }
        out.append(path)
    return out


def _edit(ms: Any, rng: random.Random) -> str:
    nodes = [p for p in _nodes(ms) if p]
    if not nodes:
        return "empty"
    path = rng.choice(nodes)
    kind = rng.random()
    if kind < 0.3 and path[-1] == "type" or kind < 0.1:
        target = (*path[:-1], "type") if path[-1] != "type" else path
        try:
            _set(ms, target, rng.choice(_TYPES))
        except (KeyError, IndexError, TypeError):
            return "noop"
        return f"{target} type"
    if kind < 0.45:  # nest a transformation in itself (deep sequences, inverses)
        node: Any = ms
        for k in path:
            node = node[k]
        wrapped = copy.deepcopy(node)
        for _ in range(rng.choice((1, 3, 40))):  # one reference per level: no blow-up
            if rng.random() < 0.5:
                wrapped = {"type": "sequence", "transformations": [wrapped]}
            else:
                wrapped = {"type": "inverseOf", "transformation": wrapped}
        _set(ms, path, wrapped)
        return f"{path} nested"
    if kind < 0.55:  # drop a key or an item
        parent: Any = ms
        for k in path[:-1]:
            parent = parent[k]
        del parent[path[-1]]
        return f"{path} deleted"
    if kind < 0.65:  # swap two datasets' or two systems' entries
        for key in ("datasets", "coordinateSystems"):
            items = ms.get(key) if isinstance(ms, dict) else None
            if isinstance(items, list) and len(items) > 1:
                i, j = rng.sample(range(len(items)), 2)
                items[i], items[j] = items[j], items[i]
                return f"{key} {i}<->{j}"
    value = rng.choice(_VALUES)
    _set(ms, path, copy.deepcopy(value))
    return f"{path} = {str(value)[:30]}"


def mutate_ngff06(store: Path, rng: random.Random) -> str:
    """One to three edits of the root multiscale (or a generic store mutation)."""
    doc_path = store / "zarr.json"
    if rng.random() < 0.2 or not doc_path.is_file():
        return mutate_store(store, rng)
    try:
        doc = json.loads(doc_path.read_text())
        ms = doc["attributes"]["ome"]["multiscales"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return mutate_store(store, rng)
    done = [_edit(ms, rng) for _ in range(rng.choice((1, 1, 2, 3)))]
    doc_path.write_text(json.dumps(doc))
    return "; ".join(done)
