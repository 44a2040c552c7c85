"""The Imaris pyramid: which of Z, Y and X each resolution level halves, as Imaris does.

ImarisWriter (Bitplane's reference writer) halves a dimension of a level when it is
larger than 1 and ten times its size, squared, exceeds the product of the other two
sizes: X when ``(10 X)^2 > Y Z``, Y when ``(10 Y)^2 > X Z``, Z when ``(10 Z)^2 > X Y``.
A thin confocal stack keeps its Z while Y and X shrink; once the planes are small
relative to the depth, Z halves too (and a very elongated image keeps its short edge).
imgio follows that rule for *which* dimensions halve; how many levels there are stays
the writer's ``pyramid_levels`` (``"auto"``: until Y and X fit in about one chunk), and
the pyramid ends early when the rule halves nothing. Odd sizes round up (the last
plane, row or column is averaged with itself), as in imgio's other pyramids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._pyramid import downsample_block

__all__ = ["Halving", "halve", "ims_levels"]

#: which of (Z, Y, X) a level halves relative to the level above
Halving = tuple[bool, bool, bool]


def ims_levels(zyx: Sequence[int], n: int) -> tuple[list[tuple[int, int, int]], list[Halving]]:
    """Up to ``n`` level shapes (Z, Y, X) and, for each level after the first, its halving."""
    shapes = [(int(zyx[0]), int(zyx[1]), int(zyx[2]))]
    halvings: list[Halving] = []
    while len(shapes) < n:
        z, y, x = shapes[-1]
        hz = z > 1 and (10 * z) ** 2 > x * y
        hy = y > 1 and (10 * y) ** 2 > x * z
        hx = x > 1 and (10 * x) ** 2 > y * z
        if not (hz or hy or hx):
            break
        halvings.append((hz, hy, hx))
        shapes.append(
            tuple(-(-s // 2) if h else s for s, h in zip((z, y, x), (hz, hy, hx), strict=True))  # type: ignore[arg-type]
        )
    return shapes, halvings


def halve(block: np.ndarray[Any, Any], halving: Halving, method: str) -> np.ndarray[Any, Any]:
    """A (Z, Y, X) block with the chosen dimensions halved (``"mean"`` or ``"nearest"``)."""
    if halving == (False, True, True):
        return downsample_block(block, 1, 2, method)
    axes = [a for a, h in enumerate(halving) if h]
    if not axes:
        return block
    if method == "nearest":
        key = tuple(slice(None, None, 2) if h else slice(None) for h in halving)
        return np.ascontiguousarray(block[key])
    pad = [(0, block.shape[a] % 2 if h else 0) for a, h in enumerate(halving)]
    if any(p[1] for p in pad):
        block = np.pad(block, pad, mode="edge")
    kind = block.dtype.kind
    acc_type: Any = np.float64 if kind == "f" else np.int64 if kind == "i" else np.uint64
    acc: np.ndarray[Any, Any] | None = None
    for offsets in np.ndindex(*(2,) * len(axes)):
        key_list: list[slice] = [slice(None)] * block.ndim
        for a, o in zip(axes, offsets, strict=True):
            key_list[a] = slice(o, None, 2)
        part = block[tuple(key_list)]
        acc = part.astype(acc_type) if acc is None else acc + part
    assert acc is not None
    count = 1 << len(axes)
    if kind == "f":
        return (acc / count).astype(block.dtype)
    if kind == "b":
        return np.ascontiguousarray(
            block[tuple(slice(None, None, 2) if h else slice(None) for h in halving)]
        )
    return ((acc + count // 2) // count).astype(block.dtype)  # round half up, as 2 x 2 means


def slab_depth(chunk_z: int, halvings: Sequence[Halving]) -> int:
    """Planes of level 0 read per slab: a multiple of the chunk depth and of every level's
    Z factor, so each slab gives every level whole planes."""
    factor = 1 << sum(h[0] for h in halvings)
    return chunk_z * factor // math.gcd(chunk_z, factor)


def z_factors(halvings: Sequence[Halving]) -> list[int]:
    """The cumulative Z factor of every level (level 0: 1)."""
    out = [1]
    for h in halvings:
        out.append(out[-1] * (2 if h[0] else 1))
    return out
