"""A synthetic LAS X–style LIF file for benchmarks: a tile scan of any size.

The container is what LAS X writes (a UTF-16 XML header, then one memory block per
image, pixels uncompressed in C order); the XML holds only the elements readers use
(dimensions with byte increments, channels, the TileScanInfo attachment with stage
positions). liffile reads the result, so it serves as the reference.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

PIXEL_M = 0.5e-6  # pixel size in metres
OVERLAP = 0.1  # tiles overlap by 10 % (stage step = 0.9 tile)


def _dimension(dim_id: int, n: int, length: float, unit: str, bytes_inc: int) -> str:
    return (
        f'<DimensionDescription DimID="{dim_id}" NumberOfElements="{n}" Origin="0" '
        f'Length="{length!r}" Unit="{unit}" BitInc="0" BytesInc="{bytes_inc}"/>'
    )


def _xml(name: str, tile: int, grid: tuple[int, int], z: int, c: int, t: int, size: int) -> str:
    plane = tile * tile
    step = tile * (1 - OVERLAP) * PIXEL_M
    tiles = "".join(
        f'<Tile FieldX="{fx}" FieldY="{fy}" PosX="{1e-3 + fx * step!r}" '
        f'PosY="{2e-3 + fy * step!r}" PosZ="0"/>'
        for fx in range(grid[1])
        for fy in range(grid[0])
    )
    channels = "".join(
        f'<ChannelDescription DataType="0" ChannelTag="0" Resolution="8" '
        f'NameOfMeasuredQuantity="" Min="0" Max="255" Unit="" LUTName="{lut}" '
        f'IsLUTInverted="0" BytesInc="{k * plane}" BitInc="0"/>'
        for k, lut in enumerate(("Green", "Red", "Blue", "Cyan")[:c])
    )
    m = grid[0] * grid[1]
    dims = (
        _dimension(1, tile, (tile - 1) * PIXEL_M, "m", 1)
        + _dimension(2, tile, (tile - 1) * PIXEL_M, "m", tile)
        + _dimension(3, z, (z - 1) * 1e-6, "m", plane * c)
        + _dimension(10, m, 0.0, "", plane * c * z)
        + _dimension(4, t, (t - 1) * 2.0, "s", plane * c * z * m)
    )
    image = (
        f'<Element Name="{name}" Visibility="1" CopyOption="1" UniqueID="bench-1">'
        '<Data><Image TextDescription="">'
        f'<Attachment Name="TileScanInfo" Application="LAS AF" FlipX="0" FlipY="0" SwapXY="0">'
        f"{tiles}</Attachment>"
        f"<ImageDescription><Channels>{channels}</Channels>"
        f"<Dimensions>{dims}</Dimensions></ImageDescription>"
        f'</Image></Data><Memory Size="{size}" MemoryBlockID="MemBlock_1"/><Children/></Element>'
    )
    return (
        '<LMSDataContainerHeader Version="2">'
        '<Element Name="bench" Visibility="1" CopyOption="1" UniqueID="bench-0">'
        '<Data><Experiment Path="bench.lif"/></Data>'
        '<Memory Size="0" MemoryBlockID="MemBlock_0"/>'
        f"<Children>{image}</Children></Element></LMSDataContainerHeader>"
    )


def _block(block_id: str, size: int) -> bytes:
    name = block_id.encode("utf-16-le")
    return struct.pack("<IIBQBI", 0x70, 0, 0x2A, size, 0x2A, len(block_id)) + name


def write_lif(
    path: Path,
    *,
    tile: int = 1024,
    grid: tuple[int, int] = (3, 3),
    z: int = 3,
    c: int = 2,
    t: int = 2,
) -> Path:
    """Write a uint8 tile scan (T, M, Z, C, Y, X) of ``grid`` tiles of ``tile``² pixels."""
    m = grid[0] * grid[1]
    shape = (t, m, z, c, tile, tile)
    size = int(np.prod(shape))
    text = _xml("TileScan_001", tile, grid, z, c, t, size)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IIBI", 0x70, 2 * len(text) + 5, 0x2A, len(text)))
        fh.write(text.encode("utf-16-le"))
        fh.write(_block("MemBlock_0", 0))
        fh.write(_block("MemBlock_1", size))
        yy, xx = np.mgrid[0:tile, 0:tile]
        base = (yy // 8 + xx // 8) % 251
        for i in range(size // (tile * tile)):  # one plane at a time, each a little different
            fh.write(((base + i * 7) % 256).astype(np.uint8).tobytes())
    return path
