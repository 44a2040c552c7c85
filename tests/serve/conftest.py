"""A real uvicorn server on loopback over a folder of small images, for the serve tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import tifffile
import uvicorn

from imgio.serve import app


def texture(h: int, w: int, bands: int, seed: int = 0) -> np.ndarray:
    """Smooth structure plus noise: JPEG-friendly but not constant."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = (np.sin(yy / 23.0) + np.cos(xx / 31.0)) * 60 + 128
    out = np.stack([base + 20 * b for b in range(bands)], axis=-1)
    out += rng.normal(0, 6, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def write_jpeg_pyramid(path: Path, h: int = 1536, w: int = 2048, levels: int = 3) -> None:
    """A tiled JPEG RGB pyramid (SubIFDs), as slide scanners and bfconvert write."""
    data = texture(h, w, 3)
    with tifffile.TiffWriter(path) as tif:
        opts = {"tile": (256, 256), "compression": "jpeg", "photometric": "rgb"}
        tif.write(data, subifds=levels - 1, **opts)
        for _ in range(levels - 1):
            data = data[::2, ::2]
            tif.write(data, subfiletype=1, **opts)


def write_fluorescence(path: Path) -> np.ndarray:
    """A 3-channel uint16 OME-TIFF with channel names and colours (blue, green, red)."""
    rng = np.random.default_rng(1)
    data = np.zeros((3, 512, 640), np.uint16)
    yy, xx = np.mgrid[0:512, 0:640]
    data[0] = 400 + 300 * (np.hypot(yy - 200, xx - 200) < 80)
    data[1] = 200 + 600 * ((xx // 64) % 2)
    data[2] = 100 + (yy * 2)
    data += rng.integers(0, 20, data.shape, dtype=np.uint16)
    colors = [0x0000FFFF, 0x00FF00FF, -16776961]  # blue, green, red (signed RGBA)
    tifffile.imwrite(
        path,
        data,
        tile=(256, 256),
        metadata={
            "axes": "CYX",
            "PhysicalSizeX": 0.5,
            "PhysicalSizeY": 0.5,
            "Channel": {"Name": ["DAPI", "GFP", "mCherry"], "Color": colors},
        },
    )
    return data


@dataclass
class Served:
    url: str
    root: Path
    client: httpx.Client
    server: uvicorn.Server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(app_obj: object) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    config = uvicorn.Config(app_obj, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    write_jpeg_pyramid(root / "slide.tif")
    (root / "sub").mkdir()
    write_fluorescence(root / "sub" / "cells.ome.tif")
    outside = tmp_path_factory.mktemp("outside")
    write_fluorescence(outside / "secret.ome.tif")
    (root / "escape.ome.tif").symlink_to(outside / "secret.ome.tif")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="session")
def served(image_dir: Path) -> Iterator[Served]:
    server, thread, url = start(app([image_dir]))
    with httpx.Client(base_url=url, timeout=60) as client:
        yield Served(url, image_dir, client, server)
    server.should_exit = True
    thread.join(10)
