"""Benchmark data for the read benchmarks, made on the fly and cached in ``benchmarks/_data``.

- A 32768 × 32768 RGB pyramid, JPEG tiles of 512 (YCbCr 4:2:0 as tifffile writes RGB
  JPEG, like Aperio SVS), BigTIFF, levels halving down to 512 and stored as pages with
  the reduced-resolution flag (SubfileType 1): the "generic tiled TIFF" layout that
  tifffile, tiffslide, openslide, pyvips and large_image all read as one pyramid
  (openslide ignores SubIFDs). Tiles cycle through a few textured, noisy tiles:
  constant tiles would make JPEG decode unrealistically fast.
- An OME-TIFF T=20, C=3, Z=50 of 512 × 512 uint16 (3,000 planes, 1.5 GB), uncompressed,
  one page per plane, as microscope acquisition software typically writes it.

Files are written to a temporary name and renamed, streaming tiles/planes from an
iterator, so generation is fast and uses little memory. The file names carry every
parameter, so a change of parameters regenerates.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "_data"
TILE = 512
PYRAMID_SIZE = 32768
OME_SHAPE = (20, 3, 50, 512, 512)  # T C Z Y X
JPEG_LEVEL = 85
VERSION = 1


def texture_tile(seed: int, tile: int = TILE) -> np.ndarray:
    """One 'tissue-like' RGB tile: a smooth pink/purple colour field plus sensor noise."""
    rng = np.random.default_rng(seed)
    knots = 9
    field = rng.random((knots, knots, 3))
    pos = np.linspace(0, knots - 1, tile)
    i0 = np.minimum(pos.astype(int), knots - 2)
    f = (pos - i0)[:, None]
    rows = field[i0] * (1 - f)[..., None] + field[i0 + 1] * f[..., None]  # (tile, knots, 3)
    smooth = rows[:, i0] * (1 - f.T)[..., None] + rows[:, i0 + 1] * f.T[..., None]
    base = np.array([225.0, 170.0, 205.0]) * (0.5 + 0.5 * smooth)
    noisy = base + rng.normal(0.0, 10.0, (tile, tile, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def pyramid_path(size: int = PYRAMID_SIZE) -> Path:
    return DATA / f"pyramid-{size}-rgb-jpeg{JPEG_LEVEL}-tile{TILE}-pages-v{VERSION}.tif"


def ome_path(shape: tuple[int, ...] = OME_SHAPE) -> Path:
    t, c, z, y, x = shape
    return DATA / f"stack-t{t}c{c}z{z}-{y}x{x}-uint16-raw-v{VERSION}.ome.tif"


def pyramid_sizes(size: int) -> list[int]:
    sizes = [size]
    while sizes[-1] // 2 >= TILE:
        sizes.append(sizes[-1] // 2)
    return sizes


def make_pyramid(path: Path, size: int = PYRAMID_SIZE) -> None:
    import tifffile

    tiles = [texture_tile(seed) for seed in range(8)]

    def stream(side: int) -> Iterator[np.ndarray]:
        n = (-(-side // TILE)) ** 2
        return itertools.islice(itertools.cycle(tiles), n)

    common = {
        "dtype": np.uint8,
        "tile": (TILE, TILE),
        "compression": "jpeg",
        "compressionargs": {"level": JPEG_LEVEL},
        "photometric": "rgb",
        "metadata": None,
    }
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with tifffile.TiffWriter(partial, bigtiff=True) as tif:
            for i, side in enumerate(pyramid_sizes(size)):
                tif.write(stream(side), shape=(side, side, 3), subfiletype=1 if i else 0, **common)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def make_ome(path: Path, shape: tuple[int, ...] = OME_SHAPE) -> None:
    import tifffile

    rng = np.random.default_rng(7)
    planes = [rng.integers(0, 4096, shape[-2:], dtype=np.uint16) for _ in range(7)]
    n = int(np.prod(shape[:-2]))
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        tifffile.imwrite(
            partial,
            itertools.islice(itertools.cycle(planes), n),
            shape=shape,
            dtype=np.uint16,
            ome=True,
            photometric="minisblack",
            metadata={
                "axes": "TCZYX",
                "Channel": {"Name": ["DAPI", "GFP", "mCherry"]},
                "PhysicalSizeX": 0.1625,
                "PhysicalSizeY": 0.1625,
                "PhysicalSizeZ": 0.5,
                "TimeIncrement": 30.0,
            },
        )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def ensure(quick: bool = False) -> dict[str, Path]:
    """Paths of the benchmark files, generating the missing ones."""
    del quick  # same data in quick mode: only repeats and spots shrink
    DATA.mkdir(parents=True, exist_ok=True)
    made = {"pyramid": pyramid_path(), "ome": ome_path()}
    if not made["pyramid"].exists():
        make_pyramid(made["pyramid"])
    if not made["ome"].exists():
        make_ome(made["ome"])
    return made
