"""The ``compression=`` choices of the DICOM writer: transfer syntaxes, what each holds,
the Photometric Interpretation of its frames, and the tile encoders (imagecodecs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ImgioError, MissingDependencyError
from ._dicom_jpeg import J2kInfo, JpegInfo

__all__ = ["CODECS", "Codec", "encoder", "photometric", "resolve_compression"]


@dataclass(frozen=True)
class Codec:
    """One ``compression=`` choice: its transfer syntax and what it holds."""

    syntax: str
    lossy: str | None  # Lossy Image Compression Method
    dtypes: tuple[str, ...]
    check: str | None  # the imagecodecs codec that must be available


CODECS: dict[str, Codec] = {
    "none": Codec("1.2.840.10008.1.2.1", None, ("uint8", "uint16"), None),
    "jpeg": Codec("1.2.840.10008.1.2.4.50", "ISO_10918_1", ("uint8",), "JPEG8"),
    "jpeg2000": Codec("1.2.840.10008.1.2.4.91", "ISO_15444_1", ("uint8", "uint16"), "JPEG2K"),
    "jpeg2000-lossless": Codec("1.2.840.10008.1.2.4.90", None, ("uint8", "uint16"), "JPEG2K"),
    "jpegls-lossless": Codec("1.2.840.10008.1.2.4.80", None, ("uint8", "uint16"), "JPEGLS"),
}


def resolve_compression(compression: str | None, dtype: np.dtype[Any], samples: int) -> str:
    """The codec name for ``compression=`` (``"auto"``: JPEG for 8-bit RGB, else lossless
    JPEG 2000); refuses what the codec or the IOD cannot hold."""
    dtype = np.dtype(dtype)
    if samples not in (1, 3):
        raise ImgioError(
            f"DICOM WSI holds 1 (grey) or 3 (RGB) samples per pixel; found {samples} "
            "(drop the alpha sample)"
        )
    name = "none" if compression is None else compression.lower()
    if name == "auto":
        name = "jpeg" if dtype == np.uint8 and samples == 3 else "jpeg2000-lossless"
    codec = CODECS.get(name)
    if codec is None:
        raise ImgioError(f"compression={compression!r}: expected one of {['auto', *CODECS]}")
    if dtype.name not in codec.dtypes:
        raise ImgioError(
            f"compression={name!r} cannot hold {dtype.name} pixels in DICOM: it takes "
            f"{', '.join(codec.dtypes)} (cast the data, e.g. data.astype('uint16'))"
        )
    if codec.check is not None:
        import imagecodecs

        if not getattr(imagecodecs, codec.check).available:
            raise MissingDependencyError(
                f"compression={name!r} needs imagecodecs built with {codec.check}: "
                "pip install -U imagecodecs"
            )
    return name


def photometric(name: str, samples: int) -> str:
    """The Photometric Interpretation of frames that ``name`` encodes."""
    if samples == 1:
        return "MONOCHROME2"
    return {"jpeg": "YBR_FULL_422", "jpeg2000": "YBR_ICT", "jpeg2000-lossless": "YBR_RCT"}.get(
        name, "RGB"
    )


def encoder(
    name: str,
    quality: int | None,
    tile: tuple[int, ...],
    raw: JpegInfo | J2kInfo | None = None,
) -> Callable[[np.ndarray[Any, Any]], bytes]:
    """Encode one tile (edge tiles padded by repeating their last row and column); with
    ``raw``, coded as the passed-through stored tiles are (their colour coding)."""
    import imagecodecs

    samples = tile[2] if len(tile) == 3 else 1

    def code(t: np.ndarray[Any, Any]) -> bytes:
        if name == "jpeg":
            if samples == 1:
                return bytes(imagecodecs.jpeg8_encode(t, level=quality or 90))
            if raw is not None:  # match the passed-through tiles' colour coding
                out = "RGB" if raw.rgb else "YCBCR"
                return bytes(
                    imagecodecs.jpeg8_encode(
                        t,
                        level=quality or 90,
                        colorspace="RGB",
                        outcolorspace=out,
                        subsampling=raw.subsampling,
                    )
                )
            return bytes(
                imagecodecs.jpeg8_encode(
                    t,
                    level=quality or 90,
                    colorspace="RGB",
                    outcolorspace="YCBCR",
                    subsampling="422",
                )
            )
        if name == "jpeg2000":
            if isinstance(raw, J2kInfo):  # as the stored codestreams: transform and wavelet
                return bytes(
                    imagecodecs.jpeg2k_encode(
                        t,
                        level=quality or 80,
                        codecformat="J2K",
                        reversible=raw.reversible,
                        mct=raw.mct,
                    )
                )
            return bytes(imagecodecs.jpeg2k_encode(t, level=quality or 80, codecformat="J2K"))
        if name == "jpeg2000-lossless":
            return bytes(imagecodecs.jpeg2k_encode(t, codecformat="J2K", reversible=True))
        if name == "jpegls-lossless":
            return bytes(imagecodecs.jpegls_encode(t, level=0, out=t.nbytes * 2 + 4096))
        return t.astype(t.dtype.newbyteorder("<"), copy=False).tobytes()

    def encode(t: np.ndarray[Any, Any]) -> bytes:
        if t.shape != tile:
            pad = [(0, w - g) for w, g in zip(tile, t.shape, strict=True)]
            t = np.pad(t, pad, mode="edge")
        return code(np.ascontiguousarray(t))

    return encode
