"""Mutations of a zarr store folder: NGFF attributes, array metadata (shape, chunks, dtype,
codecs, fill value, format), whole documents (nesting, null, lists, bad JSON), chunk bytes."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

__all__ = ["mutate_store"]

DOCS = ("zarr.json", ".zarray", ".zattrs", ".zgroup")
BAD_JSON: tuple[Any, ...] = (
    None,
    [],
    {},
    "",
    "3",
    "..",
    "../..",
    "/etc",
    -1,
    0,
    1.5,
    2**62,
    2**64,
    -(2**63),
    1e308,
    True,
    [2**62, 2**62],
    [-1],
    [1.5, 2],
    [0, 0],
    {"name": "unknown_codec"},
    [{"name": "no_such_codec", "configuration": {}}],
    "no_such_dtype",
    "<u8",
    "|O",
    "x" * 200,
)
SHAPE_KEYS = ("shape", "chunks", "chunk_shape")
SECRET_ZARR = ["/nonexistent/secret.zarr"]  # set by the runner: a real array outside the cases
PATH_ESCAPES = ("..", "../..", "/", "../../outside", "a/../../..", "/etc", "%2e%2e")


def _docs(store: Path) -> list[Path]:
    return sorted(p for p in store.rglob("*") if p.name in DOCS and p.is_file())


def _chunks(store: Path) -> list[Path]:
    return sorted(p for p in store.rglob("*") if p.is_file() and p.name not in DOCS)


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (keys and list indices)."""
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _nodes(v, (*path, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return doc


def _mutate_json(doc: Any, rng: random.Random, store: Path) -> tuple[Any, str]:
    nodes = _nodes(doc)
    named = [p for p in nodes if p and p[-1] in SHAPE_KEYS]
    paths = [p for p in nodes if p and p[-1] == "path"]
    choice = rng.random()
    if named and choice < 0.25:
        path = rng.choice(named)
        value = rng.choice(([2**62, 2**62], [-1, 5], [1.5, 2], [0, 0], [2**31] * 3, [], None))
        return _set(doc, path, value), f"{path} = {value}"
    if paths and choice < 0.4:
        path = rng.choice(paths)
        escape = os.path.relpath(SECRET_ZARR[0], store)
        value = rng.choice((*PATH_ESCAPES, escape, escape, SECRET_ZARR[0]))
        return _set(doc, path, value), f"{path} = {value}"
    path = rng.choice(nodes[1:] or nodes)
    value = rng.choice(BAD_JSON)
    return _set(doc, path, value), f"{path} = {str(value)[:30]}"


def mutate_store(store: Path, rng: random.Random) -> str:
    """One mutation of the store folder, in place; returns what was done."""
    docs, chunks = _docs(store), _chunks(store)
    action = rng.choice(("json", "json", "json", "json", "doc", "chunk", "chunk", "delete"))
    if action in ("json", "doc") and docs:
        target = rng.choice(docs)
        try:
            doc = json.loads(target.read_text())
        except (ValueError, RecursionError):
            doc = None
        if action == "json" and doc is not None:
            doc, what = _mutate_json(doc, rng, target.parent)
            target.write_text(json.dumps(doc))
            return f"{target.relative_to(store)}: {what}"
        kind = rng.choice(("nest", "null", "list", "cut"))
        if kind == "nest":
            target.write_text("[" * rng.choice((100, 5000, 100000)))
        elif kind == "null":
            target.write_text("null")
        elif kind == "list":
            target.write_text("[1, 2, 3]")
        else:
            text = target.read_text()
            target.write_text(text[: rng.randrange(len(text) + 1)])
        return f"{target.relative_to(store)}: document {kind}"
    if action == "delete" and docs + chunks:
        target = rng.choice(docs + chunks)
        target.unlink()
        return f"deleted {target.relative_to(store)}"
    if chunks:
        target = rng.choice(chunks)
        data = bytearray(target.read_bytes())
        kind = rng.choice(("flip", "cut", "empty", "random", "grow"))
        if kind == "flip" and data:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == "cut":
            del data[rng.randrange(len(data) + 1) :]
        elif kind == "empty":
            data = bytearray()
        elif kind == "random":
            data = bytearray(rng.randbytes(rng.choice((1, 16, 1024))))
        else:
            data += rng.randbytes(64)
        target.write_bytes(bytes(data))
        return f"chunk {target.relative_to(store)}: {kind}"
    return "noop"
