"""Whole-slide TIFF seeds of the TIFF family beyond the SVS one: NDPI, Philips, Leica SCN,
Ventana BIF, PerkinElmer QPI and a generic (libvips-style) tiled pyramid, each a few pages
written by tifffile with the vendor's markers (what tifffile keys its series parser on)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

__all__ = ["wsi_tiff_seeds"]


def wsi_tiff_seeds(folder: Path, rng: np.random.Generator) -> list[Path]:
    """The vendor seeds, written into ``folder``."""
    import tifffile

    base = rng.integers(0, 255, (64, 64, 3), "u1")
    out = [_ndpi(folder / "ndpi-like.tif", base)]
    for name, write in (
        ("philips.tiff", _philips),
        ("slide.scn", _scn),
        ("slide.bif", _bif),
        ("slide.qptiff", _qpi),
        ("vips-pyramid.tif", _generic_pyramid),
    ):
        path = folder / name
        with tifffile.TiffWriter(path, bigtiff=name == "slide.scn") as tif:
            write(tif, base)
        out.append(path)
    return out


def _jpeg(rgb: np.ndarray, **kw: object) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90, **kw)  # type: ignore[arg-type]
    return buf.getvalue()


def restart_starts(jpeg: bytes) -> list[int]:
    """Offsets of each restart interval's entropy-coded data (NDPI's McuStarts)."""
    sos = jpeg.index(b"\xff\xda")
    starts = [sos + 2 + int.from_bytes(jpeg[sos + 2 : sos + 4], "big")]
    i = starts[0]
    while (j := jpeg.find(b"\xff", i)) >= 0 and j + 1 < len(jpeg) and jpeg[j + 1] != 0xD9:
        if 0xD0 <= jpeg[j + 1] <= 0xD7:
            starts.append(j + 2)
        i = j + 2 if 0xD0 <= jpeg[j + 1] <= 0xD7 else j + 1
    return starts


def _ndpi(path: Path, base: np.ndarray) -> Path:
    """NDPI: one JPEG strip per page (McuStarts on the base), a reduced page and a macro
    (SourceLens -1), Hamamatsu's 65420 marker and Make. Named ``.tif``: tifffile reads a
    ``.ndpi`` name with NDPI's 64-bit IFD offsets, which its writer does not make."""
    import tifffile

    big = np.tile(base, (1, 2, 1))  # 64 x 128
    with tifffile.TiffWriter(path) as tif:
        for image, lens, restart in ((big, 20.0, True), (big[::2, ::2], 10.0, False)):
            jpeg = _jpeg(image, subsampling=2, restart_marker_blocks=4 if restart else 0)
            tags = [(65420, "I", 1, 1, True), (271, "s", 0, "Hamamatsu", True)]
            tags += [(65421, "f", 1, lens, True), (65422, "i", 1, 0, True)]
            if restart:
                starts = restart_starts(jpeg)
                tags.append((65426, "I", len(starts), starts, True))
            tif.write(
                iter([jpeg]), shape=image.shape, dtype=np.uint8, photometric="ycbcr",
                compression=7, rowsperstrip=image.shape[0], subsampling=(2, 2),
                metadata=None, extratags=tags,
            )  # fmt: skip
        macro = base[::2, ::4]  # not a level's aspect ratio
        tif.write(
            iter([_jpeg(macro)]), shape=macro.shape, dtype=np.uint8, photometric="ycbcr",
            compression=7, rowsperstrip=macro.shape[0], subsampling=(2, 2), metadata=None,
            extratags=[(65420, "I", 1, 1, True), (271, "s", 0, "Hamamatsu", True),
                       (65421, "f", 1, -1.0, True)],
        )  # fmt: skip
    return path


def _philips(tif: object, base: np.ndarray) -> None:
    """Philips DP: tiled levels whose spacings the DataObject XML lists, a label, a macro."""

    def attr(name: str, kind: str, text: str) -> str:
        return f'<Attribute Name="{name}" PMSVR="{kind}">{text}</Attribute>'

    spacing = "".join(
        '<DataObject ObjectType="PixelDataRepresentation">'
        f"{attr('DICOM_PIXEL_SPACING', 'IDoubleArray', f'&quot;{s}&quot; &quot;{s}&quot;')}"
        "</DataObject>"
        for s in ("0.000250", "0.000500")
    )
    scanned = (
        '<Array><DataObject ObjectType="DPScannedImage">'
        f"{attr('PIM_DP_IMAGE_TYPE', 'IString', 'WSI')}"
        f"{attr('PIIM_PIXEL_DATA_REPRESENTATION_SEQUENCE', 'IDataObjectArray', spacing)}"
        "</DataObject></Array>"
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8" ?><DataObject ObjectType="DPUfsImport">'
        f"{attr('DICOM_MANUFACTURER', 'IString', 'PHILIPS')}"
        f"{attr('PIM_DP_SCANNED_IMAGES', 'IDataObjectArray', scanned)}</DataObject>"
    )
    kw = {"photometric": "rgb", "software": "Philips DP v1.0", "metadata": None}
    tif.write(base, tile=(32, 32), description=xml, **kw)  # type: ignore[attr-defined]
    tif.write(base[::2, ::2], tile=(32, 32), **kw)  # type: ignore[attr-defined]
    tif.write(base[:16, :32], description="Label", **kw)  # type: ignore[attr-defined]
    tif.write(base[::2, ::4], description="Macro", **kw)  # type: ignore[attr-defined]


def _scn(tif: object, base: np.ndarray) -> None:
    """Leica SCN: a macro image and a two-level image, IFDs named by the SCN XML."""
    xml = (
        '<?xml version="1.0"?><scn xmlns="http://www.leica-microsystems.com/scn/2010/10/01">'
        '<collection name="slide" uuid="u0" sizeX="4000" sizeY="4000">'
        '<image name="macro" uuid="u1"><creationDate>2020-01-01T00:00:00Z</creationDate>'
        '<device model="Leica SCN400;Leica SCN" version="1.4"/>'
        '<pixels sizeX="32" sizeY="16"><dimension sizeX="32" sizeY="16" r="0" ifd="0"/>'
        '</pixels><view sizeX="4000" sizeY="4000" offsetX="0" offsetY="0"/></image>'
        '<image name="main" uuid="u2"><pixels sizeX="64" sizeY="64">'
        '<dimension sizeX="64" sizeY="64" r="0" ifd="1"/>'
        '<dimension sizeX="32" sizeY="32" r="1" ifd="2"/></pixels>'
        '<view sizeX="1000" sizeY="1000" offsetX="100" offsetY="100" spacingZ="0"/>'
        "<scanSettings><objectiveSettings><objective>20</objective></objectiveSettings>"
        "</scanSettings></image></collection></scn>"
    )
    kw = {"photometric": "rgb", "metadata": None}
    tif.write(base[::4, ::2], description=xml, **kw)  # type: ignore[attr-defined]
    tif.write(base, tile=(32, 32), **kw)  # type: ignore[attr-defined]
    tif.write(base[::2, ::2], tile=(32, 32), **kw)  # type: ignore[attr-defined]


def _bif(tif: object, base: np.ndarray) -> None:
    """Ventana BIF: ScanOutputManager pages ``level=N``, a label and a thumbnail, iScan XMP."""
    xmp = (
        b'<?xml version="1.0" encoding="utf-8"?><iScan Magnification="20" ScanRes="0.465" '
        b'UnitNumber="1" BuildVersion="1.0"><AOI0 Left="0" Top="64" Right="64" Bottom="0"/></iScan>'
    )
    kw = {"photometric": "rgb", "software": "ScanOutputManager 1.1.0.15854", "metadata": None}
    extra = [(700, "B", len(xmp), xmp, True)]
    tif.write(base[:16, :32], description="Label_Image", extratags=extra, **kw)  # type: ignore[attr-defined]
    tif.write(base[::4, ::4], description="Thumbnail", **kw)  # type: ignore[attr-defined]
    for level, image in enumerate((base, base[::2, ::2])):
        desc = f"level={level} mag={20 >> level} quality=95"
        tif.write(image, tile=(16, 16), description=desc, extratags=extra, **kw)  # type: ignore[attr-defined]


def _qpi(tif: object, base: np.ndarray) -> None:
    """PerkinElmer QPI: three channel pages, a thumbnail, then a half-size channel level."""
    kw = {"software": "PerkinElmer-QPI", "metadata": None, "photometric": "minisblack"}
    for c, name in enumerate(("DAPI", "FITC", "Cy5")):
        desc = (
            '<?xml version="1.0" encoding="utf-8"?><PerkinElmer-QPI-ImageDescription>'
            f"<DescriptionVersion>2</DescriptionVersion><ImageType>FullResolution</ImageType>"
            f"<Name>{name}</Name><Color>255,0,0</Color><Objective>20x</Objective>"
            "</PerkinElmer-QPI-ImageDescription>"
        )
        tif.write(base[..., c], tile=(32, 32), description=desc, **kw)  # type: ignore[attr-defined]
    tif.write(base[::4, ::4], description="<PerkinElmer-QPI-ImageDescription>"  # type: ignore[attr-defined]
              "<ImageType>Thumbnail</ImageType></PerkinElmer-QPI-ImageDescription>",
              software="PerkinElmer-QPI", metadata=None, photometric="rgb")  # fmt: skip
    for c in range(3):
        tif.write(base[::2, ::2, c], tile=(16, 16), description="<PerkinElmer-QPI-ImageDescription>"  # type: ignore[attr-defined]
                  "<ImageType>ReducedResolution</ImageType></PerkinElmer-QPI-ImageDescription>",
                  **kw)  # fmt: skip


def _generic_pyramid(tif: object, base: np.ndarray) -> None:
    """libvips-style pyramid: tiled JPEG base and reduced-resolution top-level IFDs."""
    kw = {"photometric": "rgb", "metadata": None, "compression": "jpeg"}
    tif.write(base, tile=(16, 16), resolution=(20000.0, 20000.0), resolutionunit=3, **kw)  # type: ignore[attr-defined]
    for f in (2, 4):
        tif.write(base[::f, ::f], tile=(16, 16), subfiletype=1, **kw)  # type: ignore[attr-defined]
