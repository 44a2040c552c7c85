"""OME-XML for written files, built with ``ome_types`` models so it follows the schema.

Planes are stored Z fastest, then C, then T (``DimensionOrder="XYZCT"``); an RGB(A)
scene is one channel of ``SamplesPerPixel`` 3 or 4 (OME counts samples in SizeC).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ImgioError
from ._input import Scene

__all__ = ["PIXEL_TYPES", "ome_xml", "pixel_type"]

PIXEL_TYPES = {
    "uint8": "uint8",
    "int8": "int8",
    "uint16": "uint16",
    "int16": "int16",
    "uint32": "uint32",
    "int32": "int32",
    "float32": "float",
    "float64": "double",
    "complex64": "complex",
    "complex128": "double-complex",
    "bool": "bit",
}


def pixel_type(dtype: np.dtype[Any]) -> str:
    """The OME pixel type of a numpy dtype."""
    name = np.dtype(dtype).name
    if name not in PIXEL_TYPES:
        raise ImgioError(f"OME has no pixel type for {name}; expected one of {sorted(PIXEL_TYPES)}")
    return PIXEL_TYPES[name]


def ome_xml(scenes: Sequence[Scene], *, first_ifds: Sequence[int] | None = None) -> str:
    """The OME-XML document of ``scenes``; with ``first_ifds`` each Image maps its TIFF pages."""
    from ome_types import OME, to_xml
    from ome_types import model as m

    from .. import __version__

    images = []
    for i, scene in enumerate(scenes):
        shape = dict(zip(scene.dims, scene.data.shape, strict=True))
        samples = shape.get("S", 1)
        colors = scene.channel_colors or [None] * shape["C"]
        channels = [
            m.Channel(
                id=f"Channel:{i}:{c}",
                name=name,
                samples_per_pixel=samples,
                **({"color": int(color)} if color is not None else {}),
            )
            for c, (name, color) in enumerate(zip(scene.channel_names, colors, strict=True))
        ]
        sizes: dict[str, Any] = {}
        for d, v in zip("ZYX", scene.pixel_sizes, strict=True):
            if v is not None:
                sizes[f"physical_size_{d.lower()}"] = v
                sizes[f"physical_size_{d.lower()}_unit"] = "µm"
        planes = shape["T"] * shape["C"] * shape["Z"]
        extra: dict[str, Any] = {}
        if first_ifds is not None:
            extra["tiff_data_blocks"] = [m.TiffData(ifd=first_ifds[i], plane_count=planes)]
        else:
            extra["metadata_only"] = m.MetadataOnly()
        pixels = m.Pixels(
            id=f"Pixels:{i}",
            dimension_order="XYZCT",
            type=pixel_type(scene.data.dtype),
            size_x=shape["X"],
            size_y=shape["Y"],
            size_z=shape["Z"],
            size_c=shape["C"] * samples,
            size_t=shape["T"],
            big_endian=False,
            interleaved=samples > 1,
            channels=channels,
            **sizes,
            **extra,
        )
        images.append(m.Image(id=f"Image:{i}", name=scene.name, pixels=pixels))
    xml = str(to_xml(OME(images=images, creator=f"imgio {__version__}")))
    return xml if xml.startswith("<?xml") else '<?xml version="1.0" encoding="UTF-8"?>\n' + xml
