"""A test-side DeltaVision writer: header, extended header (time stamps, wavelengths) and
sections in any of the three ImgSequence orders, either byte order.

The ``mrc`` library writes DeltaVision files but no extended header; tests read what this
writes with ``mrc.DVFile`` (independently) and with imgio.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

__all__ = ["DV_SEQUENCES", "write_dv"]

#: ImgSequence -> section axes slowest first, as the mrc library orders its arrays
DV_SEQUENCES = {0: "CTZ", 1: "TZC", 2: "TCZ"}
MODES = {"u1": 0, "i2": 1, "f4": 2, "u2": 6, "i4": 7}
N_INTS, N_FLOATS = 8, 32


def write_dv(
    path: Path,
    data: np.ndarray,
    *,
    sequence: int = 0,
    pixel_sizes: tuple[float, float, float] = (0.3, 0.1, 0.1),  # Z, Y, X µm
    waves: tuple[int, ...] = (),
    excitation: tuple[float, ...] = (),
    times: tuple[float, ...] = (),
    byteorder: str = "<",
    extended: bool = True,
) -> Path:
    """Write ``data`` (T, C, Z, Y, X) as a DeltaVision file; returns ``path``."""
    nt, nc, nz, ny, nx = data.shape
    order = DV_SEQUENCES[sequence]
    sections = data.transpose(["TCZ".index(d) for d in order] + [3, 4]).reshape(-1, ny, nx)
    nsec = sections.shape[0]
    kind = data.dtype.str[1:]
    ext = b""
    if extended:
        records = []
        for i in range(nsec):
            at = np.unravel_index(i, [{"T": nt, "C": nc, "Z": nz}[d] for d in order])
            idx = dict(zip(order, at, strict=True))
            t, c, z = int(idx["T"]), int(idx["C"]), int(idx["Z"])
            floats = [0.0] * N_FLOATS
            floats[1] = times[t] if times else 0.0
            floats[4] = z * pixel_sizes[0]
            floats[10] = excitation[c] if excitation else 0.0
            floats[11] = waves[c] if waves else 0.0
            records.append(struct.pack(f"{byteorder}{N_INTS}i{N_FLOATS}f", *[0] * N_INTS, *floats))
        ext = b"".join(records)
        ext += bytes(-len(ext) % 1024)
    head = bytearray(1024)
    bo = byteorder
    struct.pack_into(bo + "10i", head, 0, nx, ny, nsec, MODES[kind], 0, 0, 0, nx, ny, nz)
    dz, dy, dx = pixel_sizes
    struct.pack_into(bo + "6f", head, 40, dx, dy, dz, 0, 0, 0)
    struct.pack_into(bo + "3i", head, 64, 1, 2, 3)
    struct.pack_into(bo + "3f", head, 76, float(data.min()), float(data.max()), float(data.mean()))
    struct.pack_into(bo + "2i", head, 88, 0, len(ext))
    struct.pack_into(bo + "h", head, 96, -16224)
    struct.pack_into(
        bo + "4h", head, 128, N_INTS if extended else 0, N_FLOATS if extended else 0, 1, 1
    )
    struct.pack_into(bo + "2h", head, 180, nt, sequence)
    wl = list(waves[:5]) + [0] * (5 - len(waves[:5]))
    struct.pack_into(bo + "6h", head, 196, nc, *wl)
    struct.pack_into(bo + "i", head, 220, 1)
    head[224:240] = b"imgio test file\0"
    with open(path, "wb") as fh:
        fh.write(bytes(head))
        fh.write(ext)
        fh.write(sections.astype(data.dtype.newbyteorder(bo), copy=False).tobytes())
    return path
