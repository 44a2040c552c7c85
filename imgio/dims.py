"""Dimension letters, the standard order and the :class:`Dims` helper."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

__all__ = ["STANDARD", "Dims", "PhysicalPixelSizes", "standard_order"]

#: The spatial/temporal/channel order every scene is presented in; extras go first.
STANDARD = "TCZYXS"
DESCRIPTIONS = {
    "T": "time",
    "C": "channel",
    "Z": "depth",
    "Y": "height",
    "X": "width",
    "S": "samples of a pixel (RGB/RGBA)",
    "M": "mosaic tile",
    "P": "position",
    "H": "phase / lifetime histogram",
    "I": "image sequence",
    "Q": "unknown",
    "R": "rotation / region",
    "V": "view",
    "E": "lambda (wavelength)",
    "A": "angle",
    "L": "exposure",
}


class PhysicalPixelSizes(NamedTuple):
    """Size of one pixel in micrometres along Z, Y and X; ``None`` when unknown."""

    Z: float | None = None
    Y: float | None = None
    X: float | None = None


class Scale(NamedTuple):
    """bioio's per-dim scale: seconds per T, µm per Z/Y/X (``C`` is always ``None``)."""

    T: float | None = None
    C: float | None = None
    Z: float | None = None
    Y: float | None = None
    X: float | None = None


def standard_order(native: str, *, keep_samples: bool = True) -> str:
    """The presented order: extra letters (in native order), then ``T C Z Y X [S]``.

    >>> standard_order("YXS")
    'TCZYXS'
    >>> standard_order("QZYX")
    'QTCZYX'
    """
    extras = "".join(d for d in native if d not in STANDARD)
    core = "TCZYX" + ("S" if "S" in native and keep_samples else "")
    return extras + core


class Dims:
    """Named sizes of an array's dims: ``dims.order``, ``dims.X``, ``dims["Y"]``."""

    def __init__(self, order: str | Sequence[str], shape: Sequence[int]) -> None:
        order = "".join(order)
        if len(order) != len(shape):
            raise ValueError(f"dims {order!r} do not match shape {tuple(shape)}")
        self.order = order
        self.shape = tuple(int(s) for s in shape)
        self._sizes = dict(zip(order, self.shape, strict=True))

    def __getattr__(self, name: str) -> int:
        sizes = self.__dict__.get("_sizes", {})
        if name in sizes:
            return int(sizes[name])
        raise AttributeError(f"no dim {name!r}; dims are {self.__dict__.get('order', '')!r}")

    def __getitem__(self, key: str | Sequence[str]) -> int | tuple[int, ...]:
        if isinstance(key, str) and len(key) == 1:
            return self._sizes[key]
        return tuple(self._sizes[k] for k in key)

    def __contains__(self, letter: object) -> bool:
        return letter in self._sizes

    def __iter__(self) -> Iterator[str]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Dims):
            return (self.order, self.shape) == (other.order, other.shape)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.order, self.shape))

    def __repr__(self) -> str:
        inner = ", ".join(f"{d}: {n}" for d, n in self._sizes.items())
        return f"<Dims [{inner}]>"
