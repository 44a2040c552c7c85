"""Pyramids written with tifffile for the tile-verb and slide tests (small: fast to make)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import tifffile


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth colour waves plus noise: resampling differences stay small but visible."""
    rng = np.random.default_rng(seed)
    y, x = np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32)
    bands = [128 + 100 * np.outer(np.cos(y / 53 - k), np.sin(x / 37 + k)) for k in range(3)]
    img = np.stack(bands, -1) + rng.integers(-10, 10, (h, w, 3), dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def halve(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    b = a[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).mean((1, 3))
    return np.rint(b).astype(a.dtype)


def write_pyramid(
    path: Path, base: np.ndarray, n_levels: int, compression: str, tile: int = 256, skip=()
) -> list[np.ndarray]:
    """Levels as reduced-resolution pages (openslide's generic-tiff layout)."""
    levels = [base]
    while len(levels) < n_levels:
        levels.append(halve(levels[-1]))
    with tifffile.TiffWriter(path, bigtiff=False) as tif:
        for i, lv in enumerate(levels):
            if i in skip:
                continue
            tif.write(
                lv,
                tile=(tile, tile),
                compression=compression,
                photometric="rgb",
                subfiletype=1 if i else 0,
                metadata=None,
                resolution=(1e4 / 0.5, 1e4 / 0.5),
                resolutionunit="CENTIMETER",
            )
    return [lv for i, lv in enumerate(levels) if i not in skip]


@pytest.fixture(scope="session")
def pyramid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """2048 x 1536 RGB, deflate (lossless), levels /1 /2 /4, 256-px tiles, 0.5 µm pixels."""
    path = tmp_path_factory.mktemp("pyr") / "lossless.tif"
    return path, write_pyramid(path, texture(1536, 2048), 3, "zlib")


@pytest.fixture(scope="session")
def gap_pyramid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """1280 x 1000 RGB, deflate, levels /1 and /4 only (a /2 level must be synthesised)."""
    path = tmp_path_factory.mktemp("pyr") / "gap.tif"
    return path, write_pyramid(path, texture(1000, 1280, 3), 3, "zlib", skip=(1,))


@pytest.fixture(scope="session")
def jpeg_pyramid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4096 x 4096 RGB JPEG tiles of 256 (cycled), levels down to 256 x 256."""
    path = tmp_path_factory.mktemp("pyr") / "jpeg.tif"
    tiles = [texture(256, 256, seed) for seed in range(4)]
    with tifffile.TiffWriter(path) as tif:
        side, i = 4096, 0
        while side >= 256:
            n = (side // 256) ** 2
            tif.write(
                itertools.islice(itertools.cycle(tiles), n),
                shape=(side, side, 3),
                dtype=np.uint8,
                tile=(256, 256),
                compression="jpeg",
                photometric="rgb",
                subfiletype=1 if i else 0,
                metadata=None,
            )
            side //= 2
            i += 1
    return path


@pytest.fixture(scope="session")
def fluo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A 3-channel uint16 OME-TIFF (CYX 3 x 300 x 400) with channel names and colours."""
    rng = np.random.default_rng(5)
    data = rng.gamma(2.0, 300.0, (3, 300, 400)).astype(np.uint16)
    data[1, 100:200, 100:300] += 2000
    path = tmp_path_factory.mktemp("fluo") / "fluo.ome.tif"
    colors = [-16776961, 16711935, 65535]  # OME signed RGBA: red, green, blue
    tifffile.imwrite(
        path,
        data,
        photometric="minisblack",
        tile=(128, 128),
        metadata={
            "axes": "CYX",
            "PhysicalSizeX": 0.25,
            "PhysicalSizeY": 0.25,
            "Channel": {"Name": ["A", "B", "C"], "Color": colors},
        },
    )
    return path, data
