"""DICOM WSI seeds for the fuzzer: the highdicom samples in tests/data and series written by
``tests/dicom_wsi.py`` (native, JPEG with a Basic Offset Table, JPEG-LS without one and
TILED_SPARSE with focal planes and optical paths, JPEG 2000 with an Extended Offset Table,
RLE, deflated, a concatenation, and a two-level pyramid with a label as a folder)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]


def dicom_seeds(folder: Path) -> list[Path]:
    from dicom_wsi import Slide, pyramid, shrink, write_level

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for sample in sorted((HERE / "data" / "dicom").glob("sm_image*/*.dcm")):
        out.append(Path(shutil.copy(sample, folder / sample.name)))

    def one(name: str, image: np.ndarray, tile: tuple[int, int], **kw: object) -> None:
        target = folder / name
        target.mkdir()
        written = write_level(target, image, tile, slide=Slide(), name=name, **kw)  # type: ignore[arg-type]
        for path in written[1:]:
            path.rename(folder / path.name)
        out.append(written[0].rename(folder / written[0].name))
        out.extend(folder / p.name for p in written[1:])
        target.rmdir()

    rgb = pyramid(1, (40, 56))
    grey16 = pyramid(2, (36, 44), rgb=False, dtype=np.uint16, nc=2, nz=2)
    one("native", rgb, (16, 16))
    one("implicit", pyramid(3, (24, 40), rgb=False), (16, 16), syntax="implicit")
    one("jpeg", rgb, (16, 32), syntax="jpeg")
    one(
        "sparse",
        grey16,
        (16, 16),
        syntax="jpegls",
        sparse=True,
        offsets="none",
        missing=[(0, 1, 0, 1)],
        z_um=[0.5, 1.5],
        paths=[("a", "A", (255, 0, 0)), ("b", "B", None)],
    )
    one("eot", rgb, (16, 16), syntax="j2k-lossless", offsets="extended")
    one("rle", rgb, (16, 16), syntax="rle")
    one("deflated", rgb, (16, 16), syntax="deflated")
    pyr = folder / "pyramid"
    pyr.mkdir()
    slide = Slide()
    write_level(pyr, rgb, (16, 16), slide=slide, syntax="jpeg", name="L0", parts=2)
    write_level(pyr, shrink(rgb, 2.5), (8, 8), slide=slide, name="L1")
    write_level(pyr, pyramid(4, (10, 20)), (10, 20), slide=slide, flavor="LABEL", name="label")
    out.append(pyr)
    return out
