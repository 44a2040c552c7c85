"""Write MetaMorph multi-dimensional acquisitions for tests: an ``.nd`` file and its images.

``write_nd(folder, "exp", data, waves=[("DAPI", True), ("BF", False)], stages=["A", "B"])``
writes ``exp.nd`` and, per wavelength, position and time point, MetaMorph's file names
(``exp_w1DAPI_s1_t1.stk`` with the Z stack, ``exp_w2BF_s1_t1.tif`` with the first plane
for a wavelength without Z). ``data`` is ``(P, T, C, Z, Y, X)``. The ``.stk`` files are
multi-page TIFFs (tifffile cannot write MetaMorph's UIC tags), which is what a reader
of the set needs of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

__all__ = ["nd_text", "write_nd"]


def nd_text(
    waves: list[tuple[str, bool]],
    stages: list[str],
    n_t: int,
    n_z: int,
    z_step: str = "1.5",
    timelapse: bool = True,
) -> str:
    """The ``.nd`` text MetaMorph writes for this acquisition."""

    def flag(value: bool) -> str:
        return "TRUE" if value else "FALSE"

    lines = ['"NDInfoFile", Version 1.0', '"Description", File recreated from images.']
    lines += ['"StartTime1", 20260313 15:36:49.941', f'"DoTimelapse", {flag(timelapse)}']
    if timelapse:
        lines.append(f'"NTimePoints", {n_t}')
    lines.append(f'"DoStage", {flag(bool(stages))}')
    if stages:
        lines.append(f'"NStagePositions", {len(stages)}')
        lines += [f'"Stage{i}", "{name}"' for i, name in enumerate(stages, 1)]
    lines += ['"DoWave", TRUE', f'"NWavelengths", {len(waves)}']
    for i, (name, z) in enumerate(waves, 1):
        lines += [f'"WaveName{i}", "{name}"', f'"WaveDoZ{i}", {flag(z)}']
    lines += [f'"DoZSeries", {flag(n_z > 1)}', f'"NZSteps", {n_z}', f'"ZStepSize", {z_step}']
    lines += ['"WaveInFileName", TRUE', '"EndFile"']
    return "\n".join(lines) + "\n"


def write_nd(
    folder: Path,
    stem: str,
    data: np.ndarray,
    waves: list[tuple[str, bool]],
    stages: list[str],
    z_step: str = "1.5",
    skip: tuple[tuple[int, int, int], ...] = (),
) -> Path:
    """The ``.nd`` file of ``data`` (P, T, C, Z, Y, X) and its image files; ``skip`` lists
    (position, time, wavelength) files left unwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    n_p, n_t, n_c, n_z = data.shape[:4]
    assert n_c == len(waves) and n_p == max(1, len(stages))
    nd = folder / f"{stem}.nd"
    nd.write_text(nd_text(waves, stages, n_t, n_z, z_step), encoding="latin-1")
    for p, t, c in np.ndindex(n_p, n_t, n_c):
        if (p, t, c) in skip:
            continue
        name, has_z = waves[c]
        s = f"_s{p + 1}" if stages else ""
        base = folder / f"{stem}_w{c + 1}{name}{s}_t{t + 1}"
        if has_z and n_z > 1:
            tifffile.imwrite(f"{base}.stk", data[p, t, c], photometric="minisblack")
        else:
            tifffile.imwrite(f"{base}.tif", data[p, t, c, 0])
    return nd
