"""MRC2014 extended headers: FEI1/FEI2 (Thermo Fisher EPU, Tomo), SERI (SerialEM), AGAR.

The ``EXTTYP`` at byte 104 names the layout of the ``next`` bytes after the header:

- ``FEI1`` / ``FEI2``: one metadata block per section, each ``Metadata size`` bytes (768
  for versions 0-1, 888 for version 2, which appends scan and tilt fields); numbers in
  the file's byte order except the bitmasks, which are little-endian. Decoded here: the
  fields a user asks for (time stamp, tilt angles, stage, pixel sizes, dose, defocus,
  magnification, camera, binning, exposure, dose fractions, and FEI2's tilt range and
  acquisition time stamp). Pixel sizes are metres.
- ``SERI``: SerialEM's (IMOD's) per-section shorts: ``nint`` (bytes per section, header
  byte 128) and ``nreal`` (flags, byte 130) say which are present, in this order: tilt
  angle x 100 (flag 1), montage piece X, Y, Z (2), stage X, Y x 25 (4), magnification /
  100 (8), intensity x 25000 (16), exposure dose (32, two shorts: not decoded).
- ``AGAR``: ``nint`` 32-bit integers then ``nreal`` floats per section (Agard's layout,
  as DeltaVision's), reported as they are.

Every count is checked against the extended header's length: a damaged block table
gives no decoded sections (and the pixels still read), never a runaway read.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

__all__ = ["decode_extended", "fei_pixel_size_um"]

#: FEI fields decoded: name -> (byte offset in the block, numpy type; "<" kept as is)
_FEI1: dict[str, tuple[int, str]] = {
    "Metadata size": (0, "i4"),
    "Metadata version": (4, "i4"),
    "Bitmask 1": (8, "<u4"),
    "Timestamp": (12, "f8"),  # days since 1899-12-30 (OLE automation date)
    "Microscope type": (20, "S16"),
    "D-Number": (36, "S16"),
    "Application": (52, "S16"),
    "Application version": (68, "S16"),
    "HT": (84, "f8"),  # volts
    "Dose": (92, "f8"),  # electrons per square metre
    "Alpha tilt": (100, "f8"),  # degrees
    "Beta tilt": (108, "f8"),
    "X-Stage": (116, "f8"),  # metres
    "Y-Stage": (124, "f8"),
    "Z-Stage": (132, "f8"),
    "Tilt axis angle": (140, "f8"),
    "Dual axis rotation": (148, "f8"),
    "Pixel size X": (156, "f8"),  # metres
    "Pixel size Y": (164, "f8"),
    "Defocus": (220, "f8"),
    "Applied defocus": (236, "f8"),
    "EFTEM On": (288, "?"),
    "Magnification": (289, "f8"),
    "Bitmask 2": (297, "<u4"),
    "Camera length": (301, "f8"),
    "Spot index": (309, "i4"),
    "Integration time": (419, "f8"),  # seconds
    "Binning Width": (427, "i4"),
    "Binning Height": (431, "i4"),
    "Camera name": (435, "S16"),
    "Direct detector electron counting": (472, "?"),
    "Bitmask 3": (490, "<u4"),
    "Is dose fraction": (655, "?"),
    "Fraction number": (656, "i4"),
    "Start frame": (660, "i4"),
    "End frame": (664, "i4"),
    "Bitmask 4": (748, "<u4"),
}
_FEI2: dict[str, tuple[int, str]] = {
    "Start tilt angle": (820, "f8"),
    "End tilt angle": (828, "f8"),
    "Tilt per image": (836, "f8"),
    "Acquisition time stamp": (796, "i8"),
}
_FEI_SIZES = {"FEI1": 768, "FEI2": 888}
#: SerialEM flags -> (field name, shorts, scale applied to each short)
_SERI = (
    (1, "Tilt angle", 1, 0.01),
    (2, "Piece coordinates", 3, 1.0),
    (4, "Stage position", 2, 1 / 25),
    (8, "Magnification", 1, 100.0),
    (16, "Intensity", 1, 1 / 25000),
    (32, "Exposure dose (raw shorts)", 2, 1.0),
)


def _fei_dtype(kind: str, bo: str, size: int) -> np.dtype[Any]:
    fields = dict(_FEI1)
    if kind == "FEI2":
        fields.update(_FEI2)
    names = list(fields)
    formats = [f if f[0] in "<S?" else bo + f for _, f in fields.values()]
    return np.dtype(
        {
            "names": names,
            "formats": formats,
            "offsets": [o for o, _ in fields.values()],
            "itemsize": size,
        }
    )


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("latin-1").strip()
    return value.item() if hasattr(value, "item") else value


def _fei(ext: bytes, kind: str, bo: str, nsec: int) -> list[dict[str, Any]]:
    if len(ext) < 8:
        return []
    (size,) = struct.unpack_from(bo + "i", ext, 0)
    need = _FEI_SIZES[kind]
    if size < need or size * nsec > len(ext):
        size = need  # an unset block size: the version's own
    n = min(nsec, len(ext) // size)
    blocks = np.frombuffer(ext, _fei_dtype(kind, bo, size), n)
    return [{k: _plain(b[k]) for k in blocks.dtype.names or ()} for b in blocks]


def _seri(ext: bytes, bo: str, nint: int, flags: int, nsec: int) -> list[dict[str, Any]]:
    used = sum(2 * shorts for bit, _, shorts, _ in _SERI if flags & bit)
    if nint <= 0 or used > nint:
        return []
    out = []
    for s in range(min(nsec, len(ext) // nint)):
        at, section = s * nint, {}
        for bit, name, shorts, scale in _SERI:
            if not flags & bit:
                continue
            values = struct.unpack_from(f"{bo}{shorts}h", ext, at)
            at += 2 * shorts
            scaled = [v * scale for v in values] if scale != 1.0 else list(values)
            section[name] = scaled[0] if shorts == 1 else scaled
        out.append(section)
    return out


def _agar(ext: bytes, bo: str, nint: int, nreal: int, nsec: int) -> list[dict[str, Any]]:
    size = 4 * (nint + nreal)
    if nint < 0 or nreal < 0 or size == 0:
        return []
    out = []
    for s in range(min(nsec, len(ext) // size)):
        ints = struct.unpack_from(f"{bo}{nint}i", ext, s * size)
        reals = struct.unpack_from(f"{bo}{nreal}f", ext, s * size + 4 * nint)
        out.append({"ints": list(ints), "floats": list(reals)})
    return out


def decode_extended(
    ext: bytes, exttyp: str, bo: str, nsec: int, nint: int, nreal: int
) -> dict[str, Any] | None:
    """``{"type": exttyp, "sections": [one dict per section]}``, or None for other types."""
    if exttyp in _FEI_SIZES:
        sections = _fei(ext, exttyp, bo, nsec)
    elif exttyp == "SERI":
        sections = _seri(ext, bo, nint, nreal, nsec)
    elif exttyp == "AGAR":
        sections = _agar(ext, bo, nint, nreal, nsec)
    else:
        return None
    return {"type": exttyp, "sections": sections}


def fei_pixel_size_um(decoded: dict[str, Any] | None) -> tuple[float, float] | None:
    """(Y, X) µm from the first FEI block's pixel sizes (metres), when both are set."""
    if not decoded or not decoded["type"].startswith("FEI") or not decoded["sections"]:
        return None
    first = decoded["sections"][0]
    y, x = first.get("Pixel size Y"), first.get("Pixel size X")
    if not all(isinstance(v, float) and np.isfinite(v) and 0 < v < 1 for v in (y, x)):
        return None
    return float(f"{y * 1e6:.9g}"), float(f"{x * 1e6:.9g}")
