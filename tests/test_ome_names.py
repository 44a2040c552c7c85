"""The assembled OME model holds any scene or channel name a reader reports: characters
XML cannot hold (read from a damaged header) are dropped, so ``to_xml`` works (fuzz: a
DICOM optical path identifier with NUL and control bytes made lxml raise ValueError)."""

from __future__ import annotations

import numpy as np
from ome_types import from_xml

from imgio._ome import build_ome
from imgio.readers.base import SceneInfo


def test_control_characters_are_dropped_from_assembled_names() -> None:
    scene = SceneInfo(
        "Image\x00:0",
        "CYX",
        ((2, 4, 6),),
        np.dtype("u1"),
        channel_names=("1 H\x00\x08\x01SQ", "ok"),
    )
    xml = build_ome(None, [scene]).to_xml()
    image = from_xml(xml).images[0]
    assert image.name == "Image:0"
    assert [c.name for c in image.pixels.channels] == ["1 HSQ", "ok"]
