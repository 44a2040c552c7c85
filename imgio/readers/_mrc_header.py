"""The 1024-byte header shared by MRC2014 and DeltaVision (Priism) files.

Both start with ``nx, ny, nz, mode`` (int32) and keep the extended header's length at
byte 92; they differ after that. DeltaVision files carry ``0xC0A0`` at byte 96 (its byte
order gives the file's); MRC2014 files carry ``"MAP "`` at 208 and a machine stamp at 212.
Every value that sizes an allocation or a read is checked here, against the file size,
before anything is read past the header.
"""

from __future__ import annotations

import math
import struct
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._limits import MAX_EXTENT
from ..errors import CorruptFileError, UnsupportedFormatError

__all__ = ["DV_ID", "MrcHeader", "parse_header"]

#: the DeltaVision id at byte 96 in little- and big-endian files
DV_ID = (b"\xa0\xc0", b"\xc0\xa0")
HEADER_BYTES = 1024
#: MRC2014 modes -> numpy kinds (mode 0 is signed, as MRC2014 and mrcfile read it)
MRC_MODES = {0: "i1", 1: "i2", 2: "f4", 4: "c8", 6: "u2", 12: "f2"}
#: DeltaVision pixel types (mode 0 unsigned, as Priism and the mrc library read it)
DV_MODES = {0: "u1", 1: "i2", 2: "f4", 4: "c8", 5: "i2", 6: "u2", 7: "i4"}
UNSUPPORTED_MODES = {3: "complex int16", 101: "4-bit packed"}
#: MRC2014 space groups of a stack of volumes
VOLUME_STACK = range(401, 631)


@dataclass(frozen=True)
class MrcHeader:
    """What the reader needs from the header (checked: it fits the file)."""

    is_dv: bool
    byteorder: str  # "<" or ">"
    nx: int
    ny: int
    nsec: int  # sections (Y x X planes) stored
    mode: int
    dtype: np.dtype[Any]
    next: int  # bytes of the extended header
    pixel_sizes: tuple[float | None, float | None, float | None]  # Z, Y, X in µm
    volumes: int = 1  # MRC stacks of volumes: how many
    nt: int = 1  # DeltaVision: time points, wavelengths, section order, wavelengths (nm)
    nc: int = 1
    img_seq: int = 0
    waves: tuple[int, ...] = ()
    # extended header: DeltaVision ints and floats per section; MRC (SERI, AGAR) nint, nreal
    n_ints: int = 0
    n_floats: int = 0
    space_group: int = 0
    exttyp: str = ""
    labels: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        out = asdict(self)
        out["dtype"] = str(self.dtype)
        return out


def _order(head: bytes) -> tuple[bool, str]:
    """(is DeltaVision, byte order) from the id at 96, the machine stamp, or plausibility."""
    if head[96:98] in DV_ID:
        return True, "<" if head[96:98] == DV_ID[0] else ">"
    stamp = head[212:214]
    if stamp in (b"\x44\x44", b"\x44\x41"):
        return False, "<"
    if stamp == b"\x11\x11":
        return False, ">"
    for order in ("<", ">"):  # old files without a stamp: the order that makes sense
        nx, ny, nz, mode = struct.unpack_from(order + "4i", head)
        if 0 < nx <= MAX_EXTENT and 0 < ny <= MAX_EXTENT and 0 < nz and mode in MRC_MODES:
            return False, order
    return False, "<"


def _um(values: tuple[float, ...]) -> tuple[float | None, ...]:
    """Positive finite sizes, as the shortest decimals their float32 holds (0.1, not
    0.10000000149)."""
    return tuple(float(str(np.float32(v))) if math.isfinite(v) and v > 0 else None for v in values)


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def parse_header(head: bytes, url: str, file_size: int) -> MrcHeader:
    """Parse and check the header of an MRC or DeltaVision file.

    Raises
    ------
    CorruptFileError
        A short header, impossible sizes, or sections that end past the end of the file.
    UnsupportedFormatError
        A pixel mode imgio does not read (complex int16, 4-bit packed).
    """
    if len(head) < HEADER_BYTES:
        raise CorruptFileError(
            f"{url}: expected a {HEADER_BYTES}-byte MRC/DeltaVision header, "
            f"the file has {len(head)} bytes"
        )
    is_dv, bo = _order(head)
    nx, ny, nsec, mode = struct.unpack_from(bo + "4i", head, 0)
    mx, my, mz = struct.unpack_from(bo + "3i", head, 28)
    cell = struct.unpack_from(bo + "3f", head, 40)
    space_group, next_bytes = struct.unpack_from(bo + "2i", head, 88)
    kind = "DeltaVision" if is_dv else "MRC"
    modes = DV_MODES if is_dv else MRC_MODES
    if mode in UNSUPPORTED_MODES:
        raise UnsupportedFormatError(
            url, {kind.lower(): f"pixel mode {mode} ({UNSUPPORTED_MODES[mode]}) is not supported"}
        )
    if mode not in modes:
        raise CorruptFileError(f"{url}: {kind} pixel mode {mode}; expected one of {sorted(modes)}")
    for name, value in (("nx", nx), ("ny", ny), ("sections", nsec)):
        if not 0 < value <= MAX_EXTENT:
            raise CorruptFileError(
                f"{url}: {kind} header declares {name} = {value}; expected 1..{MAX_EXTENT}"
            )
    if next_bytes < 0:
        raise CorruptFileError(f"{url}: {kind} extended header of {next_bytes} bytes")
    dtype = np.dtype(bo + modes[mode])
    plane = nx * ny * dtype.itemsize
    end = HEADER_BYTES + next_bytes + nsec * plane
    if end > file_size:
        raise CorruptFileError(
            f"{url}: {kind} header declares {nsec} sections of {ny} x {nx} {dtype.name} "
            f"after {HEADER_BYTES + next_bytes} header bytes ({end} bytes); the file has "
            f"{file_size}"
        )
    if is_dv:
        return _dv_header(head, bo, url, nx, ny, nsec, mode, dtype, next_bytes, cell)
    m = (mx, my, mz)
    sizes = tuple(c / n / 1e4 if n > 0 else float("nan") for c, n in zip(cell, m, strict=True))
    volumes = 1
    if space_group in VOLUME_STACK and 0 < mz < nsec and nsec % mz == 0:
        volumes = nsec // mz
    n_labels = max(0, min(10, struct.unpack_from(bo + "i", head, 220)[0]))
    nint, nreal = struct.unpack_from(bo + "2h", head, 128)  # SerialEM / Agard extended headers
    return MrcHeader(
        is_dv=False,
        byteorder=bo,
        nx=nx,
        ny=ny,
        nsec=nsec,
        mode=mode,
        dtype=dtype,
        next=next_bytes,
        pixel_sizes=_um(sizes[::-1]),  # type: ignore[arg-type]
        volumes=volumes,
        space_group=space_group,
        exttyp=_text(head[104:108]),
        n_ints=nint,
        n_floats=nreal,
        labels=tuple(_text(head[224 + 80 * i : 304 + 80 * i]) for i in range(n_labels)),
    )


def _dv_header(
    head: bytes,
    bo: str,
    url: str,
    nx: int,
    ny: int,
    nsec: int,
    mode: int,
    dtype: np.dtype[Any],
    next_bytes: int,
    cell: tuple[float, ...],
) -> MrcHeader:
    n_ints, n_floats = struct.unpack_from(bo + "2h", head, 128)
    nt, img_seq = struct.unpack_from(bo + "2h", head, 180)
    nc, *waves = struct.unpack_from(bo + "6h", head, 196)
    nt, nc = max(1, nt), max(1, nc)
    if nsec % (nt * nc):
        raise CorruptFileError(
            f"{url}: DeltaVision header declares {nsec} sections for {nt} time points and "
            f"{nc} wavelengths; expected a multiple of {nt * nc}"
        )
    if n_ints < 0 or n_floats < 0:
        n_ints = n_floats = 0  # no usable extended header
    n_titles = max(0, min(10, struct.unpack_from(bo + "i", head, 220)[0]))
    return MrcHeader(
        is_dv=True,
        byteorder=bo,
        nx=nx,
        ny=ny,
        nsec=nsec,
        mode=mode,
        dtype=dtype,
        next=next_bytes,
        pixel_sizes=_um(cell[::-1]),  # type: ignore[arg-type]
        nt=nt,
        nc=nc,
        img_seq=img_seq,
        waves=tuple(int(w) for w in waves),
        n_ints=n_ints,
        n_floats=n_floats,
        labels=tuple(_text(head[224 + 80 * i : 304 + 80 * i]) for i in range(n_titles)),
    )
