"""Equivalents of openslide-python's test fixtures, written by these tests (nothing fetched).

openslide-python tests on small files of its own (``tests/fixtures``); imgio does not
ship them. These are made once per session with tifffile and Pillow, with the
properties openslide's assertions rely on:

- ``boxes.tiff``: a generic tiled pyramid, 300 x 250 and three halvings (150 x 125,
  75 x 62, 37 x 31) as reduced-resolution pages of 64 x 64 tiles, deflate, 72 dpi in
  centimetres, an sRGB ICC profile (Pillow's, 588 bytes, device class ``mntr``) on
  every level;
- ``boxes.png``: the same pixels as a PNG with the same profile (for ``ImageSlide``);
- ``small.svs`` (and a copy named ``😐.svs``): an Aperio SVS of 16 x 16 JPEG tiles with
  a stripped 16 x 16 thumbnail, no ICC profile;
- ``unopenable.tiff``: a tiled 1 x 1 TIFF whose Compression tag is 52479 (no codec);
- ``unreadable.svs``: ``small.svs`` with the start-of-scan marker of every JPEG
  segment broken, so that its tiles and thumbnail cannot be decoded.
"""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import tifffile

__all__ = ["BOXES", "ICC", "file_path", "make_fixtures"]

_DIR: Path | None = None
_LOCK = threading.Lock()

APERIO = (
    "Aperio Image Library v12.0.0 \r\n16x16 [0,0 16x16] (16x16) JPEG/RGB Q=90"
    "|AppMag = 20|MPP = 0.4990|ScanScope ID = IMGIO|Filename = small|Date = 01/02/25"
)


def _icc() -> bytes:
    from PIL import ImageCms

    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def _boxes() -> np.ndarray:
    """300 x 250 RGB: coloured boxes on white, one per quadrant and one across them."""
    img = np.full((250, 300, 3), 255, np.uint8)
    img[20:110, 20:130] = (200, 30, 30)
    img[20:110, 170:280] = (30, 160, 40)
    img[140:230, 20:130] = (40, 60, 200)
    img[140:230, 170:280] = (230, 200, 20)
    img[90:160, 100:200] = (90, 20, 120)
    img[::50, :] = 0
    return img


BOXES = _boxes()
ICC = _icc()


def _halve(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[0] // 2, a.shape[1] // 2
    b = a[: h * 2, : w * 2].reshape(h, 2, w, 2, -1).mean((1, 3))
    return np.rint(b).astype(np.uint8)


def _write_boxes_tiff(path: Path) -> None:
    levels = [BOXES]
    while len(levels) < 4:
        levels.append(_halve(levels[-1]))
    with tifffile.TiffWriter(path) as tif:
        for i, level in enumerate(levels):
            tif.write(
                level,
                photometric="rgb",
                subfiletype=int(i > 0),  # REDUCEDIMAGE: openslide's generic-tiff levels
                tile=(64, 64),
                compression="zlib",
                resolution=(72 / 2.54, 72 / 2.54),
                resolutionunit="CENTIMETER",
                extratags=[(34675, 7, len(ICC), ICC, True)],
                metadata=None,
            )


def _write_small_svs(path: Path) -> None:
    rng = np.random.default_rng(21)
    base = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    with tifffile.TiffWriter(path) as tif:
        tif.write(
            base,
            photometric="rgb",
            tile=(16, 16),
            compression="jpeg",
            description=APERIO,
            metadata=None,
        )
        tif.write(
            base[::-1],
            photometric="rgb",
            compression="jpeg",
            description="Aperio Image Library v12.0.0 \n16x16 -> 16x16 - |AppMag = 20",
            metadata=None,
        )


def _write_unopenable(path: Path) -> None:
    tifffile.imwrite(
        path, np.zeros((1, 1, 3), np.uint8), photometric="rgb", tile=(16, 16), metadata=None
    )
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages.first.tags[259].valueoffset
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write((52479).to_bytes(2, "little"))


def _break_jpegs(path: Path) -> None:
    """Turn the SOS marker (FF DA) of every JPEG segment into DQT (FF DB)."""
    with tifffile.TiffFile(path) as tif:
        segments = [
            (o, n)
            for page in tif.pages
            for o, n in zip(page.dataoffsets, page.databytecounts, strict=True)
        ]
    data = bytearray(Path(path).read_bytes())
    for offset, count in segments:
        at = bytes(data[offset : offset + count]).index(b"\xff\xda")
        data[offset + at + 1] = 0xDB
    Path(path).write_bytes(bytes(data))


def make_fixtures(folder: Path) -> None:
    """Write every fixture into ``folder``."""
    from PIL import Image as PILImage

    _write_boxes_tiff(folder / "boxes.tiff")
    buf = io.BytesIO()
    PILImage.fromarray(BOXES).save(buf, format="PNG", icc_profile=ICC)
    (folder / "boxes.png").write_bytes(buf.getvalue())
    _write_small_svs(folder / "small.svs")
    shutil.copyfile(folder / "small.svs", folder / "😐.svs")
    _write_unopenable(folder / "unopenable.tiff")
    shutil.copyfile(folder / "small.svs", folder / "unreadable.svs")
    _break_jpegs(folder / "unreadable.svs")


def file_path(name: str) -> Path:
    """openslide-python's ``common.file_path``: a fixture (made on first use)."""
    global _DIR
    with _LOCK:
        if _DIR is None:
            root = Path(tempfile.mkdtemp(prefix="imgio-slide-fixtures-"))
            atexit.register(shutil.rmtree, root, True)
            # as in openslide-python: ``fixtures/../setup.py`` is a file that is no slide
            (root / "setup.py").write_text("print('not a slide')\n")
            (root / "fixtures").mkdir()
            make_fixtures(root / "fixtures")
            _DIR = root / "fixtures"
    return _DIR / name


def dicom_fixture() -> Path | None:
    """``boxes_0.dcm``: the boxes as a DICOM whole-slide series (a JPEG VOLUME level and
    its THUMBNAIL ``boxes_1.dcm``, both with the sRGB profile), written by the test-side
    DICOM writer (``tests/dicom_wsi.py``); None while imgio has no DICOM reader or that
    writer is absent (openslide-python's DICOM case is then skipped)."""
    from imgio.readers import BUILTIN_READERS

    if "dicom" not in BUILTIN_READERS:
        return None
    try:
        import dicom_wsi
    except ImportError:
        return None
    target = file_path("boxes_0.dcm")
    with _LOCK:
        if not target.exists():
            slide = dicom_wsi.Slide()
            thumbnail = BOXES[::4, ::4]
            for name, image, flavor, tile in (
                ("boxes_0", BOXES, "VOLUME", (64, 64)),
                # one frame: OpenSlide reads associated images of a single frame only
                ("boxes_1", thumbnail, "THUMBNAIL", thumbnail.shape[:2]),
            ):
                (written,) = dicom_wsi.write_level(
                    target.parent,
                    image[None, None],
                    tile,
                    slide=slide,
                    syntax="jpeg",
                    flavor=flavor,
                    icc=ICC,
                    name=name,
                )
                written.rename(target.parent / f"{name}.dcm")
    return target
