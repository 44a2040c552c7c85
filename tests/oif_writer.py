"""Synthetic Olympus FluoView OIF and OIB files (no public sample exists; oiffile cannot write).

OIF: ``NAME.oif`` (a UTF-16 INI settings file) and the folder ``NAME.oif.files/`` with one
TIFF per plane, ``s_C001Z002T003.tif`` (1-based indices of the axes present), beside a
``.pty`` settings file per plane. OIB: the same files as streams of one OLE2 compound file
(``Stream00000`` at the root, ``Storage00001/Stream00001``...) listed by ``OibInfo.txt``.
The compound-file writer below is minimal: version 4 (4 KiB sectors), every stream in
regular sectors (the mini-stream cutoff is 0), directory entries chained as right siblings.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tifffile

__all__ = ["oif_files", "write_oib", "write_oif"]

#: FluoView's eight axis sections, in their file order
AXES = "XYCZTALP"


def _ini(sections: dict[str, dict[str, object]]) -> bytes:
    lines = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        for key, value in keys.items():
            lines.append(f'{key}="{value}"' if isinstance(value, str) else f"{key}={value}")
    return "\r\n".join(lines).encode("utf-16")  # with the BOM, as FluoView writes


def oif_files(
    name: str,
    data: np.ndarray,
    *,
    dyes: Sequence[str],
    sizes_um: tuple[float, float, float] = (0.5, 0.2, 0.2),
    interval_s: float = 2.0,
) -> dict[str, bytes]:
    """Every file of an OIF set, by path relative to its folder.

    ``data`` is T, C, Z, Y, X; an axis of size 1 is left out of the plane file names.
    """
    t, c, z, y, x = data.shape
    n = {"X": x, "Y": y, "C": c, "Z": z, "T": t}
    extent = {"X": sizes_um[2] * x, "Y": sizes_um[1] * y}
    axes: dict[str, dict[str, object]] = {}
    for i, code in enumerate(AXES):
        size = n.get(code, 0)
        section: dict[str, object] = {"AxisCode": code, "MaxSize": size, "StartPosition": 0.0}
        if code in "XY":
            section |= {"EndPosition": extent[code], "PixUnit": "um"}
        elif code == "Z":  # plane positions in nm, first to last
            section |= {"EndPosition": sizes_um[0] * 1000 * (z - 1), "PixUnit": "nm"}
        elif code == "T":
            section |= {"EndPosition": interval_s * 1000 * (t - 1), "PixUnit": "ms"}
        else:
            section |= {"EndPosition": 0.0, "PixUnit": ""}
        axes[f"Axis {i} Parameters Common"] = section
    bits = 12 if data.dtype.itemsize == 2 else 8
    sections: dict[str, dict[str, object]] = {
        "ProfileSaveInfo": {"Name": name, "Version": "1.0.0.0"},
        "File Info": {"DataName": name},
        "Axis Parameter Common": {"AxisCount": 5, "AxisOrder": "XYCZT"},
        **axes,
        **{
            f"Channel {i + 1} Parameters": {"DyeName": dye, "CH Name": f"CH{i + 1}"}
            for i, dye in enumerate(dyes)
        },
        "Reference Image Parameter": {
            "ImageWidth": x,
            "ImageHeight": y,
            "ValidBitCounts": bits,
            "ImageDepth": data.dtype.itemsize,
        },
    }
    storage = f"{name}.oif.files"
    files = {f"{name}.oif": _ini(sections)}
    for ti, ci, zi in np.ndindex(t, c, z):
        label = (
            "".join(
                f"{a}{i + 1:03d}" for a, i, m in (("C", ci, c), ("Z", zi, z), ("T", ti, t)) if m > 1
            )
            or "C001"
        )
        files[f"{storage}/s_{label}.tif"] = _tiff(data[ti, ci, zi])
        files[f"{storage}/s_{label}.pty"] = _ini({"Acquisition Parameters Common": {"Z": zi}})
    return files


def _tiff(plane: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    tifffile.imwrite(buf, plane)
    return buf.getvalue()


def write_oif(folder: Path, name: str, data: np.ndarray, **kwargs: object) -> Path:
    """An OIF set in ``folder``; returns the ``.oif`` path."""
    for rel, content in oif_files(name, data, **kwargs).items():  # type: ignore[arg-type]
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder / f"{name}.oif"


def write_oib(path: Path, data: np.ndarray, **kwargs: object) -> Path:
    """The same set as one OIB compound file."""
    name = path.stem
    files = oif_files(name, data, **kwargs)  # type: ignore[arg-type]
    info: dict[str, object] = {"Name": name, "Version": "1.0.0.0", "MainFileName": "Stream00000"}
    streams: dict[str, bytes] = {}
    for i, (rel, content) in enumerate(files.items()):
        key = f"Stream{i:05d}"
        info[key] = f"Storage00001/{rel.rsplit('/', 1)[-1]}" if i else rel
        streams[key if i == 0 else f"Storage00001/{key}"] = content
    info["Storage00001"] = f"{name}.oif.files"
    streams = {"OibInfo.txt": _ini({"OibSaveInfo": info}), **streams}
    path.write_bytes(compound_file(streams))
    return path


# ---------------------------------------------------------------------- OLE2 compound file
SECTOR = 4096  # version 4: 109 FAT sectors address 445 MiB
END, FREE, FATSECT, NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF


def _entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
    encoded = name.encode("utf-16-le") + b"\0\0"
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded,
        len(encoded),
        kind,
        1,
        NOSTREAM,
        right,
        child,
        bytes(16),
        0,
        0,
        0,
        start,
        size,
    )


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A version-4 compound file holding ``streams`` (``"storage/name"`` paths, one level)."""
    # directory: root, root-level streams, the storage, its streams (siblings chained right)
    top = [k for k in streams if "/" not in k]
    storages = sorted({k.split("/")[0] for k in streams if "/" in k})
    order = [*top, *storages, *(k for k in streams if "/" in k)]
    index = {k: i + 1 for i, k in enumerate(order)}
    data_sectors = {k: math.ceil(len(v) / SECTOR) for k, v in streams.items()}
    n_dir = math.ceil((len(order) + 1) * 128 / SECTOR)
    n_data = sum(data_sectors.values())
    n_fat = 1
    while n_fat * (SECTOR // 4) < n_fat + n_dir + n_data:
        n_fat += 1
    fat = [FATSECT] * n_fat + list(range(n_fat + 1, n_fat + n_dir)) + [END]
    starts, body = {}, b""
    for key in streams:
        starts[key] = len(fat)
        k = data_sectors[key]
        fat += list(range(len(fat) + 1, len(fat) + k)) + [END] if k else []
        body += streams[key].ljust(k * SECTOR, b"\0")
    fat += [FREE] * (n_fat * (SECTOR // 4) - len(fat))

    def sibling_after(key: str, group: list[str]) -> int:
        i = group.index(key)
        return index[group[i + 1]] if i + 1 < len(group) else NOSTREAM

    level0 = [*top, *storages]
    entries = [_entry("Root Entry", 5, index[level0[0]], NOSTREAM, END, 0)]
    for key in order:
        if key in storages:
            kids = [k for k in streams if k.startswith(key + "/")]
            entries.append(_entry(key, 1, index[kids[0]], sibling_after(key, level0), 0, 0))
        else:
            group = (
                level0
                if "/" not in key
                else [k for k in order if k.startswith(key.split("/")[0] + "/")]
            )
            name = key.rsplit("/", 1)[-1]
            entries.append(
                _entry(name, 2, NOSTREAM, sibling_after(key, group), starts[key], len(streams[key]))
            )
    directory = b"".join(entries).ljust(n_dir * SECTOR, b"\0")
    if n_fat > 109:
        raise ValueError("streams too large for a header-only DIFAT (445 MiB)")
    difat = [*range(n_fat), *[FREE] * (109 - n_fat)]
    header = struct.pack(
        "<8s16sHHHHHHIIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        bytes(16),
        0x3E,  # minor version
        4,  # major version: 4 KiB sectors
        0xFFFE,  # little-endian
        12,  # sector shift
        6,  # mini sector shift
        0,
        0,
        n_dir,  # directory sectors (version 4 counts them)
        n_fat,
        n_fat,
        0,
        0,
        END,
        0,
        END,
        0,
    ) + struct.pack("<109I", *difat)
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    return header.ljust(SECTOR, b"\0") + fat_bytes + directory + body
