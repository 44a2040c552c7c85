"""Seeds of the multi-file project families: Olympus OIB files and OIF sets (the test
OIF/OIB writer), and Leica XLEF/XLIF projects built from the LIF in ``tests/data``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["olympus_seeds", "xlif_seeds"]

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
