"""The metadata review of issue #21: XML matched literally where the format allows more
(namespace prefixes, attributes, other quotes). Each case here read wrong before."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import tifffile
from test_companion import stack, write_set

import imgio
from imgio._ome import parse_light
from imgio.readers.tiff.companion import CompanionReader

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _prefixed(xml: str) -> str:
    """The same document with every element in the ``ome:`` prefix (no default namespace)."""
    xml = re.sub(r"<(/?)([A-Z]\w*)", r"<\1ome:\2", xml)
    return xml.replace(f'xmlns="{NS}"', f'xmlns:ome="{NS}"')


def test_companion_with_a_prefixed_root(tmp_path: Path) -> None:
    data = stack(6)
    path = write_set(tmp_path, data)
    path.write_text(_prefixed(path.read_text()))
    assert "<ome:OME" in path.read_text()
    assert CompanionReader.sniff(path.read_bytes()[:4096])  # picked by content, not suffix
    img = imgio.Image(path)
    assert img.reader.name == "ome-companion"
    assert img.channel_names == ["dapi", "gfp"]
    np.testing.assert_array_equal(img.get_image_data("TCZYX"), data)


def test_damaged_ome_xml_with_a_prefixed_root_is_cut_at_its_end() -> None:
    xml = _prefixed(
        f'<OME xmlns="{NS}"><Image ID="Image:0" Name="x"><Pixels ID="Pixels:0" '
        'DimensionOrder="XYZCT" Type="uint8" SizeX="4" SizeY="3" SizeZ="1" SizeC="1" SizeT="1">'
        '<Channel ID="Channel:0:0" Name="DAPI"/></Pixels></Image></OME>'
    )
    images = parse_light(xml + "\x00garbage after the root")
    assert [im.channel_names for im in images] == [["DAPI"]]


def test_binary_only_names_its_companion_in_single_quotes(tmp_path: Path) -> None:
    path = tmp_path / "part.ome.tif"
    xml = (
        f"<?xml version='1.0' encoding='UTF-8'?><OME xmlns='{NS}' UUID='urn:uuid:1'>"
        "<BinaryOnly MetadataFile='the.companion.ome' UUID='urn:uuid:0'/></OME>"
    )
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), description=xml, metadata=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        imgio.Image(path).scenes  # noqa: B018 - opening parses
    assert any("'the.companion.ome'" in str(w.message) for w in caught)
