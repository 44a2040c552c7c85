"""Seeds of the multi-file project families: Olympus OIB files and OIF sets (the test
OIF/OIB writer), and Leica XLEF/XLIF projects built from the LIF in ``tests/data``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["metamorph_seeds", "olympus_seeds", "sequence_seeds", "vsi_seeds", "xlif_seeds"]

DATA = Path(__file__).resolve().parents[1] / "data"
LIF = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"


def olympus_seeds(folder: Path) -> list[Path]:
    """An OIB of T/C/Z planes, one of a single plane, and an OIF set (a folder)."""
    from oif_writer import write_oib, write_oif

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    stack = rng.integers(0, 4096, (2, 2, 3, 16, 20), dtype=np.uint16)
    plane = rng.integers(0, 255, (1, 1, 1, 24, 16), dtype=np.uint16)
    out = [
        write_oib(folder / "stack.oib", stack, dyes=["DAPI", "GFP"]),
        write_oib(folder / "plane.oib", plane, dyes=["Cy5"]),
    ]
    oif = folder / "set"
    write_oif(oif, "cells", stack[:1], dyes=["DAPI", "GFP"])
    return [*out, oif]


def xlif_seeds(folder: Path) -> list[Path]:
    """Projects (folders): an XLEF naming a LOF-backed and a TIFF-per-plane XLIF, and a
    lone XLIF with PNG planes."""
    from xlif_writer import write_xlef, write_xlif

    folder.mkdir(parents=True, exist_ok=True)
    project = folder / "project"
    write_xlif(LIF, project / "Images", kind="lof", name="A")
    write_xlif(LIF, project / "Images", kind="tif", name="B")
    write_xlef(project / "proj.xlef", ["Images/A.xlif", "Images/B.xlif"])
    lone = folder / "lone"
    write_xlif(LIF, lone, kind="png", name="C")
    return [project, lone]


def metamorph_seeds(folder: Path) -> list[Path]:
    """MetaMorph sets (folders): two positions with Z and a wavelength without Z, and one
    position over time without stage positions."""
    from metamorph_writer import write_nd

    rng = np.random.default_rng(12)
    data = rng.integers(0, 4096, (2, 2, 2, 3, 24, 30), dtype=np.uint16)
    write_nd(folder / "mixed", "exp", data, [("Conf640", True), ("BF", False)], ["A", "B"])
    write_nd(folder / "plain", "run", data[:1, :, :1, :1], [("GFP", False)], [])
    return [folder / "mixed", folder / "plain"]


def sequence_seeds(folder: Path) -> list[Path]:
    """File sequences (folders with a ``pattern.txt`` naming the pattern to open): T/C/Z
    planes, positions as scenes, and a glob of ``S0_T1_C0_Z0.tif`` names."""
    import tifffile

    rng = np.random.default_rng(13)
    data = rng.integers(0, 4096, (2, 2, 3, 24, 30), dtype=np.uint16)
    cases = {
        "tcz": ("p_t{T}_c{C}_z{Z}.tif", lambda t, c, z: f"p_t{t}_c{c}_z{z}.tif"),
        "pos": ("w{S}_t{T}_c{C}.tif", lambda t, c, z: f"w{z}_t{t}_c{c}.tif"),
        "glob": ("*.tif", lambda t, c, z: f"S{z}_T{t}_C{c}_Z0.tif"),
    }
    out = []
    for name, (pattern, naming) in cases.items():
        root = folder / name
        root.mkdir(parents=True, exist_ok=True)
        for t, c, z in np.ndindex(*data.shape[:3]):
            tifffile.imwrite(root / naming(t, c, z), data[t, c, z])
        (root / "pattern.txt").write_text(pattern)
        out.append(root)
    return out


def vsi_seeds(folder: Path) -> list[Path]:
    """cellSens slides (folders): a JPEG 2000 Z/C stack with 2 levels plus an RGB stack, and
    a raw single plane."""
    from vsi_writer import write_vsi

    rng = np.random.default_rng(14)
    zc = rng.integers(0, 4000, (1, 2, 2, 40, 50), dtype=np.uint16)
    rgb = rng.integers(0, 255, (1, 1, 1, 30, 20, 3), dtype=np.uint8)
    write_vsi(folder / "a", "slide", [zc], compression="jpeg2000", tile=16, levels=2)
    write_vsi(folder / "a", "rgb", [rgb], compression="jpeg", tile=16)
    write_vsi(folder / "b", "plain", [zc[:, :1, :1]], compression="raw", tile=32)
    return [folder / "a", folder / "b"]
