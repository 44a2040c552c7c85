"""OpenSlide's property list of a slide, from the reader's facts and the tile geometry.

The file's own fields (``tiff.*``, ``aperio.*``, ``openslide.quickhash-1``) come from
:meth:`imgio.readers.base.Reader.named_properties`; this module adds OpenSlide's
derived ``openslide.*`` keys in OpenSlide's number forms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..arrays import ImageFile
    from ..tiles import TileSource

__all__ = ["number", "slide_properties"]

#: vendors whose ``openslide.mpp-*`` OpenSlide derives from the resolution tags
RESOLUTION_MPP = ("generic-tiff", "hamamatsu", "leica")
#: µm per ResolutionUnit (``tiff.ResolutionUnit`` text)
UNIT_MICRONS = {"inch": 25400.0, "centimeter": 10000.0}


def number(value: float) -> str:
    """A double as OpenSlide writes it (GLib's ``g_ascii_dtostr``: ``%.17g``, so ``1``
    for whole numbers, ``0.499``, ``4.0161290322580641``)."""
    return format(float(value), ".17g")


def _resolution_mpp(props: dict[str, str]) -> tuple[str, str] | None:
    """OpenSlide's mpp from ``tiff.XResolution``/``YResolution`` and the unit, or None."""
    microns = UNIT_MICRONS.get(props.get("tiff.ResolutionUnit", ""))
    try:
        x, y = float(props["tiff.XResolution"]), float(props["tiff.YResolution"])
    except (KeyError, ValueError):
        return None
    if microns is None or not x or not y:
        return None
    return number(microns / x), number(microns / y)


def slide_properties(file: ImageFile, ts: TileSource) -> dict[str, str]:
    """Every property OpenSlide lists for the slide, as text."""
    reader, lay, vendor = file.reader, ts.geometry, file.vendor
    props: dict[str, str] = dict(reader.named_properties(ts.scene))
    props["openslide.vendor"] = vendor
    meta = file.metadata
    if "tiff.ImageDescription" in props:  # OpenSlide's comment of a TIFF: its description
        props["openslide.comment"] = props["tiff.ImageDescription"]
    elif isinstance(meta, str):
        props["openslide.comment"] = meta
        props["tiff.ImageDescription"] = meta
    derived = _resolution_mpp(props) if vendor in RESOLUTION_MPP else None
    if derived is None and lay.mpp_x and lay.mpp_y:
        derived = number(lay.mpp_x), number(lay.mpp_y)
    if derived is not None:
        props["openslide.mpp-x"], props["openslide.mpp-y"] = derived
    mag = ts.magnification
    if mag and (lay.mpp_x is None or abs(mag - 10.0 / lay.mpp_x) > 1e-9):
        props["openslide.objective-power"] = f"{mag:g}"
    icc = reader.icc_profile(ts.scene)
    if icc:
        props["openslide.icc-size"] = str(len(icc))
    props["openslide.level-count"] = str(lay.n_stored)
    tile0 = dict(zip(lay.order, file.source(ts.scene, 0).chunks, strict=True))
    stored0 = reader.stored_tile(ts.scene, 0)
    if stored0 is not None:
        tile0["Y"], tile0["X"] = stored0
    for k, ((h, w), (dy, dx)) in enumerate(zip(lay.sizes, lay.downsamples, strict=True)):
        chunks = dict(zip(lay.order, file.source(ts.scene, k).chunks, strict=True))
        stored = reader.stored_tile(ts.scene, k)
        if stored is not None:
            chunks["Y"], chunks["X"] = stored
        # a chunk as large as a small level is a tile clipped to it: report the stored tile
        for d, n in (("Y", h), ("X", w)):
            if chunks[d] == n < tile0[d]:
                chunks[d] = tile0[d]
        props[f"openslide.level[{k}].width"] = str(w)
        props[f"openslide.level[{k}].height"] = str(h)
        props[f"openslide.level[{k}].downsample"] = number((dy + dx) / 2)
        props[f"openslide.level[{k}].tile-width"] = str(chunks["X"])
        props[f"openslide.level[{k}].tile-height"] = str(chunks["Y"])
    for name, scene in ts.associated_images.items():
        sizes = file.sizes(scene, 0)
        props[f"openslide.associated.{name}.width"] = str(sizes["X"])
        props[f"openslide.associated.{name}.height"] = str(sizes["Y"])
        icc = reader.icc_profile(scene)
        if icc:
            props[f"openslide.associated.{name}.icc-size"] = str(len(icc))
    return props
