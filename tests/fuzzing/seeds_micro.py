"""Seeds of the Imaris and MRC/DeltaVision families: Imaris files from the test-side h5py
writer (levels, time points, padded chunks, thumbnail) and from imgio's writer; MRC files
from mrcfile (volume, stack of volumes, image stack); DeltaVision files from the test-side
writer (extended header, two section orders, big-endian) and from the mrc library."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["ims_seeds", "mrc_seeds"]


def ims_seeds(folder: Path) -> list[Path]:
    from ims_writer import write_ims

    import imgio

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(18)
    l0 = rng.integers(0, 4000, (2, 2, 3, 20, 26), dtype=np.uint16)
    levels = [l0, np.ascontiguousarray(l0[..., ::2, ::2])]
    times = ("2024-01-01 10:00:00.000", "2024-01-01 10:00:02.000")
    thumb = rng.integers(0, 255, (8, 10, 4), dtype=np.uint8)
    out = [
        write_ims(
            folder / "test.ims",
            levels,
            chunks=(2, 8, 8),
            names=("a", "b"),
            colors=("1 0 0", "0 1 0"),
            ranges=("0 100", "5 50"),
            times=times,
            thumbnail=thumb,
        )
    ]
    written = folder / "imgio.ims"
    imgio.write(
        rng.random((2, 3, 40, 30), dtype=np.float32), written, dims="CZYX", chunks=(2, 16, 16)
    )
    out.append(written)
    return out


def mrc_seeds(folder: Path) -> list[Path]:
    import mrc
    import mrcfile
    from dv_writer import write_dv

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    out = []
    for name, arr, stack in (
        ("vol.mrc", rng.integers(-100, 100, (3, 12, 16), dtype=np.int16), None),
        ("vols.mrcs", rng.random((2, 2, 8, 8), dtype=np.float32), None),
        ("tilt.st", rng.integers(0, 255, (3, 8, 10), dtype=np.uint16), "image"),
    ):
        with mrcfile.new(folder / name) as m:
            m.set_data(arr)
            m.voxel_size = 1.5
            if stack:
                m.set_image_stack()
        out.append(folder / name)
    data = rng.integers(0, 4000, (2, 2, 3, 10, 12), dtype=np.uint16)
    out.append(write_dv(folder / "ztw.dv", data, waves=(525, 610), times=(0.0, 2.0)))
    out.append(write_dv(folder / "wzt.r3d", data, sequence=1, byteorder=">", excitation=(1, 2)))
    mrc.save(rng.random((2, 3, 8, 8), dtype=np.float32), str(folder / "lib.dv"), zAxisOrder="t,z")
    out.append(folder / "lib.dv")
    return out
