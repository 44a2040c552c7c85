"""Seeds of the instrument and common-image families: small CZI (written by the test
CZI writer), the small LIF/ND2/CZI files of ``tests/data`` (plus a LOF made from the
LIF, and ND2s from the test ND2 writer) and PNG/APNG/JPEG/GIF/WebP images written by Pillow."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

__all__ = ["czi_seeds", "image_seeds", "lif_seeds", "nd2_seeds"]

DATA = Path(__file__).resolve().parents[1] / "data"


def _copy(name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / name
    shutil.copyfile(DATA / name, out)
    return out


def czi_seeds(folder: Path) -> list[Path]:
    """Grey, zstd-compressed Z/C stacks, an RGB mosaic of two scenes, and the aicsimageio file."""
    from czi_writer import Sub, metadata_xml, write_czi

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    xml = metadata_xml([("DAPI", "#FF0000FF"), ("GFP", "#FF00FF00")], {"X": 2e-7, "Y": 2e-7})
    out = []
    for name, comp in (("stack.czi", "none"), ("zstd.czi", "zstd1")):
        subs = [
            Sub(rng.integers(0, 4000, (24, 32), "<u2"), dims={"C": c, "Z": z}, compression=comp)
            for c in range(2)
            for z in range(2)
        ]
        out.append(write_czi(folder / name, subs, xml=xml, timestamps=[0.0, 1.5]))
    tiles = [
        Sub(rng.integers(0, 255, (16, 16, 3), "u1"), x=16 * m, y=0, dims={"S": s, "M": m})
        for s in range(2)
        for m in range(2)
    ]
    out.append(write_czi(folder / "mosaic.czi", tiles, xml=metadata_xml(scenes=["A", "B"])))
    out.append(_copy("aicsimageio-s_1_t_1_c_1_z_1.czi", folder))
    return out


def lif_seeds(folder: Path) -> list[Path]:
    """The readlif test LIF (tile scan) and a LOF holding its first image."""
    from xlif_writer import lof_from_lif

    lif = _copy("readlif-PR2729_frameOrderCombinedScanTypes.lif", folder)
    return [lif, lof_from_lif(lif, folder / "first.lof")]


def nd2_seeds(folder: Path) -> list[Path]:
    """The zstack sample, and written ND2s: zlib-compressed frames, two named stage
    positions with two channels, RGB frames over time."""
    from nd2_writer import write_nd2

    out = [_copy("arcadia-example-zstack.nd2", folder)]
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 4000, (2, 24, 32, 1), "<u2")
    out.append(write_nd2(folder / "zlib.nd2", frames, [("Z", 2)], compress=True))
    frames = rng.integers(0, 255, (2, 2, 24, 32, 2), "u1")
    out.append(
        write_nd2(
            folder / "positions.nd2", frames, [("P", 2), ("Z", 2)],
            channels=("DAPI", "GFP"), positions=("A1", "B2"),
        )
    )  # fmt: skip
    frames = rng.integers(0, 255, (2, 24, 32, 3), "u1")
    out.append(write_nd2(folder / "rgb.nd2", frames, [("T", 2)], rgb=True))
    return out


def image_seeds(folder: Path) -> list[Path]:
    """PNG (16-bit grey, palette + tRNS, RGBA, APNG), JPEG (EXIF-rotated, progressive),
    GIF (animated) and WebP (lossless, lossy, animated)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    rgb = [Image.fromarray(rng.integers(0, 255, (24, 32, 3), "u1")) for _ in range(2)]
    out = []

    def save(name: str, im: Image.Image, **kw: object) -> None:
        im.save(folder / name, **kw)  # type: ignore[arg-type]
        out.append(folder / name)

    save("grey16.png", Image.fromarray(rng.integers(0, 60000, (20, 24)).astype("u2")))
    pal = rgb[0].convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    save("palette.png", pal, transparency=3)
    save("rgba.png", rgb[0].convert("RGBA"))
    save("anim.png", rgb[0], save_all=True, append_images=[rgb[1]], duration=100)
    exif = Image.Exif()
    exif[0x0112] = 6
    save("rotated.jpg", rgb[0], exif=exif.tobytes(), quality=90)
    save("progressive.jpg", rgb[1].convert("L"), progressive=True)
    frames = [im.convert("P", palette=Image.Palette.ADAPTIVE, colors=8) for im in rgb]
    save("anim.gif", frames[0], save_all=True, append_images=frames[1:], duration=80, loop=0)
    save("lossless.webp", rgb[0].convert("RGBA"), lossless=True)
    save("lossy.webp", rgb[1], quality=80)
    save("anim.webp", rgb[0], save_all=True, append_images=[rgb[1]], duration=90, lossless=True)
    return out
