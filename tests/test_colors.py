"""Channel colours: the file's own, else defaults by fluorophore name or position."""

from __future__ import annotations

import numpy as np
import pytest

import imgio
from imgio._colors import default_color, hex_color, resolve_colors, unpack_rgba


def test_unpack_signed_and_unsigned_ome_colors() -> None:
    # OME stores RGBA as a signed 32-bit int: -16776961 is opaque red
    assert unpack_rgba(-16776961) == (255, 0, 0, 255)
    assert unpack_rgba(0x00FF00FF) == (0, 255, 0, 255)
    assert hex_color((255, 128, 0)) == "#ff8000"


@pytest.mark.parametrize(
    ("name", "rgb"),
    [
        ("DAPI", (0, 0, 255)),
        ("EGFP", (0, 255, 0)),
        ("mCherry", (255, 0, 0)),
        ("Cy5", (255, 0, 255)),
    ],
)
def test_default_by_name(name: str, rgb: tuple[int, int, int]) -> None:
    assert default_color(name, 0, 3) == rgb


def test_file_colour_wins_and_black_counts_as_absent() -> None:
    got = resolve_colors(["DAPI", "x", "y"], [0x00FF00FF, 0, None], 3)
    assert got[0] == (0, 255, 0)  # the file says green, whatever the name says
    assert got[1] != got[2]  # two unnamed channels get distinct defaults
    assert resolve_colors(None, None, 1) == [(255, 255, 255)]


def test_image_channel_colors_from_ome(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from imgio.sample import make_sample

    img = imgio.Image(make_sample(tmp_path / "s.ome.tif"))
    assert img.channel_names == ["DAPI", "GFP", "mCherry"]
    assert img.channel_colors == [(0, 0, 255), (0, 255, 0), (255, 0, 0)]
    assert img.mosaic_tile_positions is None
    with pytest.raises(imgio.SelectionError, match="no mosaic tiles"):
        img.get_mosaic_tile_positions()
    assert np.dtype(img.dtype) == np.uint16
