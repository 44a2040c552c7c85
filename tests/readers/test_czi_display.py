"""CZI channel names and colours: every sample against pylibCZIrw's parsed metadata, and
ZEN's ``DisplaySetting`` layout (names and colours kept there only, a ``DisplaySetting``
start tag with attributes, namespace prefixes, self-closing elements), issue #21."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from czi_writer import Sub, write_czi
from pylibCZIrw import czi as pyczi
from samples import ROOTS

import imgio
from imgio.readers.czi._meta import light_document, parse_meta


def _samples() -> list[Any]:
    out = [p for root in ROOTS if root.is_dir() for p in sorted(root.rglob("*.czi"))]
    out = [p for p in out if "bad" not in p.parts]
    if not out:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no CZI samples"))]
    return [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in out]


def _as_list(node: Any) -> list[dict[str, Any]]:
    if node is None:
        return []
    return node if isinstance(node, list) else [node]


def _argb(text: str | None) -> tuple[int, int, int] | None:
    if not text or len(text.lstrip("#")) != 8 or text.lstrip("#")[:2] == "00":
        return None
    v = text.lstrip("#")
    return (int(v[2:4], 16), int(v[4:6], 16), int(v[6:8], 16))


def _expected(path: Path) -> tuple[list[str | None], list[tuple[int, int, int] | None]]:
    """Names and colours as pylibCZIrw's metadata dictionary holds them: the acquisition
    channel's, else the display setting's of the same Id."""
    with pyczi.open_czi(str(path)) as doc:
        md = doc.metadata["ImageDocument"]["Metadata"]
    dims = md["Information"]["Image"]["Dimensions"]
    acquired = _as_list((dims.get("Channels") or {}).get("Channel"))
    shown = _as_list(((md.get("DisplaySetting") or {}).get("Channels") or {}).get("Channel"))
    by_id = {ch.get("@Id"): ch for ch in shown}
    names: list[str | None] = []
    colors: list[tuple[int, int, int] | None] = []
    for ch in acquired:
        other = by_id.get(ch.get("@Id"), {})
        names.append(ch.get("@Name") or other.get("@Name") or ch.get("Fluor") or None)
        colors.append(_argb(ch.get("Color")) or _argb(other.get("Color")))
    return names, colors


@pytest.mark.parametrize("path", _samples())
def test_sample_names_and_colours_match_pylibczirw(path: Path) -> None:
    names, colors = _expected(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = imgio.Image(path)
    info = img.reader.scenes()[0]
    assert len(img.channel_names or []) == len(names)
    for c, (want, got) in enumerate(zip(names, img.channel_names or [], strict=True)):
        assert got == (want or f"Channel:0:{c}")
    assert info.channel_colors is not None
    for want_rgb, packed in zip(colors, info.channel_colors, strict=True):
        got_rgb = None if packed is None else (packed >> 24, packed >> 16 & 255, packed >> 8 & 255)
        assert got_rgb == want_rgb
    known = [rgb for rgb in colors if rgb is not None]
    assert [rgb for rgb in img.channel_colors if rgb in known] == known


def _zen_xml(*, display_attrs: str = ' HistogramRange="8"', padding: int = 0) -> str:
    """ZEN's layout in the issue's file: acquisition channels without names or colours,
    both kept in ``DisplaySetting``, whose start tag has an attribute; ``padding`` bytes of
    ``Experiment`` settings first (a large document is read from its tail)."""
    experiment = f"<Experiment><Notes>{'x' * padding}</Notes></Experiment>"
    return (
        f"<ImageDocument><Metadata>{experiment}<Information><Image><Dimensions><Channels>"
        '<Channel Id="Channel:0"><PixelType>Gray16</PixelType></Channel>'
        '<Channel Id="Channel:1"><PixelType>Gray16</PixelType></Channel>'
        "</Channels></Dimensions></Image></Information>"
        '<Scaling><Items><Distance Id="X"><Value>2.5E-07</Value></Distance>'
        '<Distance Id="Y"><Value>2.5E-07</Value></Distance></Items></Scaling>'
        f"<DisplaySetting{display_attrs}><Channels>"
        '<Channel Id="Channel:0" Name="DAPI"><Color>#FF0000FF</Color></Channel>'
        '<Channel Id="Channel:1" Name="GFP"><Color>#FF00FF00</Color></Channel>'
        "</Channels></DisplaySetting></Metadata></ImageDocument>"
    )


def _two_channels(path: Path, xml: str) -> None:
    dapi = np.zeros((24, 40), np.uint16)
    dapi[4:20, 6:34] = 4000  # only the DAPI channel has signal
    write_czi(path, [Sub(dapi, dims={"C": 0}), Sub(np.zeros_like(dapi), dims={"C": 1})], xml=xml)


@pytest.mark.parametrize("padding", [0, 200_000], ids=["whole-document", "tail-of-document"])
def test_display_setting_names_and_colours(tmp_path: Path, padding: int) -> None:
    path = tmp_path / "zen.czi"
    _two_channels(path, _zen_xml(padding=padding))
    assert _expected(path) == (["DAPI", "GFP"], [(0, 0, 255), (0, 255, 0)])  # pylibCZIrw agrees
    img = imgio.Image(path)
    assert img.channel_names == ["DAPI", "GFP"]
    assert img.channel_colors == [(0, 0, 255), (0, 255, 0)]
    assert img.physical_pixel_sizes.X == pytest.approx(0.25)
    thumb = img.tiles.thumbnail(40, 24)  # "auto" style: channel colours, DAPI alone lit
    lit = thumb[12, 20, :3].astype(int)
    assert lit[2] > 128 and lit[0] < 32 and lit[1] < 32, lit
    names = [c.name for c in img.ome_metadata.images[0].pixels.channels]
    assert names == ["DAPI", "GFP"]


@pytest.mark.parametrize(
    "display",
    [
        "<DisplaySetting>{}</DisplaySetting>",
        '<DisplaySetting HistogramRange="8"\n  Mode="x">{}</DisplaySetting >',
        '<z:DisplaySetting xmlns:z="urn:zen">{}</z:DisplaySetting>',
    ],
    ids=["plain", "attributes-and-spaces", "prefixed"],
)
def test_light_document_finds_display_setting(display: str) -> None:
    channels = (
        '<Channels><Channel Id="Channel:0" Name="DAPI"><Color>#FF0000FF</Color></Channel>'
        "</Channels>"
    )
    xml = (
        '<ImageDocument><Metadata><Information><Image HasPixels="1"><Dimensions><Channels>'
        '<Channel Id="Channel:0"/></Channels></Dimensions></Image></Information>'
        "<Scaling><Items/></Scaling>"
        f"{display.format(channels)}</Metadata></ImageDocument>"
    ).encode()
    light = light_document(xml)
    assert light is not None and b"DAPI" in light
    meta = parse_meta(xml, "test")
    assert meta.channel_names == ["DAPI"]
    assert meta.channel_colors == [0x0000FFFF]


def test_self_closing_display_setting_is_no_error() -> None:
    xml = _zen_xml().replace(
        _zen_xml()[_zen_xml().index("<DisplaySetting") : _zen_xml().index("</Metadata>")],
        "<DisplaySetting/>",
    )
    meta = parse_meta(xml.encode(), "test")
    assert meta.channel_names == ["", ""]
    assert meta.scaling_um == {"X": pytest.approx(0.25), "Y": pytest.approx(0.25)}
