"""Structure-aware Imaris mutations, made with h5py on the copied file: attribute values
(sizes, extents, units, colours, ranges, time points: bad text, wrong types, deleted),
data set shapes and types (other ranks, smaller or larger than the image, huge sparse
extents, other dtypes, a group where a data set belongs), deleted or renamed groups, and
thumbnails of odd shapes. Files h5py cannot open get the byte mutator.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from ._bytes import text_value

__all__ = ["mutate_ims"]

ATTRS = ("ImageSizeX", "ImageSizeY", "ImageSizeZ", "X", "Y", "Z", "Unit", "Name", "Color")
ATTRS += ("ExtMin0", "ExtMax0", "ExtMin1", "ExtMax1", "ExtMin2", "ExtMax2", "ColorRange")
ATTRS += ("ColorMode", "TimePoint1", "TimePoint2", "TimePoint3", "HistogramMax")
TEXTS = ("", "um", "nm", "furlong", "1 0", "0.5 0.5 0.5", "2 -1 0", "nan nan", "1e400 5")
TEXTS += ("2024-13-45 99:99:99.000", "2024-01-01 00:00:00.000", "1999-01-01 00:00:00")
TEXTS += ("TableColor", "(name not specified)", "x" * 5000)
#: the groups whose attributes the reader uses
KEY_GROUPS = ("DataSetInfo/Image", "DataSetInfo/Channel 0", "DataSetInfo/TimeInfo")
KEY_GROUPS += ("DataSet/ResolutionLevel 0/TimePoint 0/Channel 0",)
KEY_GROUPS += ("DataSet/ResolutionLevel 1/TimePoint 0/Channel 0",)
DTYPES = ("i1", "u1", "u2", "<i8", "f8", "c8", "?", "S4")


def _chars(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype="S1").copy() if text else np.array([b""], "S1")


def _groups(f: Any) -> list[str]:
    out: list[str] = []
    f.visit(lambda name: out.append(name) if len(out) < 500 else None)
    return out


def _attr(f: Any, names: list[str], rng: random.Random) -> str:
    groups = [n for n in names if not n.endswith(("Data", "Histogram"))] or ["/"]
    key = [g for g in KEY_GROUPS if g in names]
    path = rng.choice(key if key and rng.random() < 0.6 else groups + ["/"])
    obj = f[path]
    existing = list(obj.attrs.keys())
    name = rng.choice(existing + list(ATTRS)) if existing else rng.choice(ATTRS)
    kind = rng.randrange(5)
    if kind == 0 and name in obj.attrs:
        del obj.attrs[name]
        return f"{path}@{name} deleted"
    if kind == 1:
        current = obj.attrs.get(name)
        text = (
            b"".join(current.tolist()).decode("latin-1")
            if isinstance(current, np.ndarray) and current.dtype.kind == "S"
            else "1"
        )
        value: Any = _chars(text_value(rng, text))
    elif kind == 2:
        value = _chars(rng.choice(TEXTS))
    elif kind == 3:
        value = np.array(rng.choice(([1.5, 2.5], [2**40], [-3], [np.nan])))
    else:
        value = rng.choice(("plain str", b"bytes", np.array([b"ab", b"cd"])))
    obj.attrs[name] = value
    return f"{path}@{name} = {str(value)[:40]}"


def _dataset(f: Any, names: list[str], rng: random.Random) -> str:
    datas = [n for n in names if n.endswith("/Data")] or [
        "DataSet/ResolutionLevel 0/TimePoint 0/Channel 0/Data"
    ]
    path = rng.choice(datas)
    parent, _ = path.rsplit("/", 1)
    old = f.get(path)
    shape = tuple(old.shape) if old is not None and hasattr(old, "shape") else (2, 8, 8)
    dtype = old.dtype if old is not None and hasattr(old, "dtype") else np.dtype("u2")
    if path in f:
        del f[path]
    group = f.require_group(parent)
    kind = rng.randrange(6)
    if kind == 0:
        new = shape[1:] if len(shape) > 1 else (4, 4)
        group.create_dataset("Data", shape=new, dtype=dtype)
    elif kind == 1:
        group.create_dataset("Data", shape=(1, *shape), dtype=dtype)
    elif kind == 2:
        new = tuple(max(0, n + rng.choice((-5, -1, 1, 7))) for n in shape)
        group.create_dataset("Data", shape=new, dtype=dtype, chunks=True if all(new) else None)
    elif kind == 3:  # huge, sparse: no chunk is ever written
        new = tuple(rng.choice((2**20, 2**26, 2**31, n)) for n in shape[:3]) or (2**30, 1, 1)
        group.create_dataset("Data", shape=new, dtype=dtype, chunks=(1, 1, 64))
    elif kind == 4:
        group.create_dataset("Data", shape=shape, dtype=rng.choice(DTYPES))
    else:
        group.create_group("Data")
    return f"{path} replaced ({kind})"


def _group(f: Any, names: list[str], rng: random.Random) -> str:
    groups = [
        n
        for n in names
        if n.rsplit("/", 1)[-1].split(" ")[0]
        in ("ResolutionLevel", "TimePoint", "Channel", "Thumbnail", "DataSetInfo")
    ]
    if not groups:
        return "noop"
    path = rng.choice(groups)
    if rng.random() < 0.5:
        del f[path]
        return f"{path} deleted"
    head, _, tail = path.rpartition("/")
    word = tail.split(" ")[0]
    new = f"{head}/{word} {rng.choice((1, 2, 7, 65535))}" if head else f"{word} 9"
    if new not in f:
        f.move(path, new)
    return f"{path} -> {new}"


def _thumbnail(f: Any, rng: random.Random) -> str:
    if "Thumbnail/Data" in f:
        del f["Thumbnail/Data"]
    shape = rng.choice(((5, 7), (0, 0), (16, 16, 4), (2**24, 2**24), (3, 12)))
    dtype = rng.choice(("u1", "u2"))
    chunks = (1, 64) if shape == (2**24, 2**24) else None
    f.require_group("Thumbnail").create_dataset("Data", shape=shape, dtype=dtype, chunks=chunks)
    return f"thumbnail {shape} {dtype}"


def mutate_ims(path: Path, rng: random.Random) -> str:
    """1 to 3 edits of an Imaris file with h5py; None of h5py's own errors escape."""
    import h5py

    from .families import mutate_bytes

    if path.is_dir():
        return mutate_bytes(path, rng)
    try:
        f = h5py.File(path, "r+")
    except (OSError, ValueError):
        return mutate_bytes(path, rng)
    done = []
    with f:
        for _ in range(rng.choice((1, 1, 2, 3))):
            names = _groups(f)
            kind = rng.random()
            try:
                if kind < 0.45:
                    done.append(_attr(f, names, rng))
                elif kind < 0.75:
                    done.append(_dataset(f, names, rng))
                elif kind < 0.9:
                    done.append(_group(f, names, rng))
                else:
                    done.append(_thumbnail(f, rng))
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
                done.append(f"edit refused by h5py: {exc}"[:80])
    return f"{path.name}: {'; '.join(done)}"
