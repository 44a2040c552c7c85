"""CZI open and read shortcuts give what the plain paths give: metadata from the end of
the XML document (ZEN writes ``Information`` last) equals a parse of the whole document,
decoys and damage fall back or warn, and ``Image.data`` decodes each subblock once."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from czi_writer import Sub, metadata_xml, write_czi

import imgio
from imgio._location import Location
from imgio.readers.base import STATS
from imgio.readers.czi import CziReader, _meta

PAD = "<Experiment>" + "<Setting>x</Setting>" * 6000 + "</Experiment>"  # ~120 KB before


def _whole_document_meta(reader: CziReader) -> _meta.CziMeta:
    """The metadata parsed from the whole document, no section shortcut."""
    real = _meta._light_root
    _meta._light_root = ET.fromstring  # type: ignore[assignment]
    try:
        return _meta.parse_meta(reader._xml, "whole")
    finally:
        _meta._light_root = real


def test_samples_tail_metadata_equals_whole_document(shared_samples: Path) -> None:
    files = sorted((shared_samples / "czi").glob("*.czi"))
    assert files
    for path in files:
        reader = CziReader(Location(path))
        assert reader._meta == _whole_document_meta(reader), path.name


def _doc(after: str = "", info_extra: str = "") -> str:
    doc = metadata_xml([("DAPI", "#FF0000FF"), ("GFP", "#FF00FF00")], {"X": 2e-7, "Y": 3e-7})
    doc = doc.replace("<Metadata>", "<Metadata>" + PAD)
    doc = doc.replace("</Dimensions>", info_extra + "</Dimensions>")
    return doc.replace("</Scaling>", "</Scaling>" + after)


def _write(path: Path, xml: str) -> Path:
    subs = [Sub(np.full((8, 9), c + 1, np.uint16), dims={"C": c}) for c in range(2)]
    return write_czi(path, subs, xml=xml)


def test_information_after_a_large_experiment(tmp_path: Path) -> None:
    # a decoy Information inside the Experiment block comes first: the last one is right
    decoy = "<Information><Image><Dimensions><Channels>"
    decoy += '<Channel Id="Channel:0" Name="decoy"/></Channels></Dimensions></Image>'
    decoy += "</Information><Scaling><Items/></Scaling>"
    xml = _doc().replace("<Setting>x</Setting>", decoy, 1)
    img = imgio.Image(_write(tmp_path / "a.czi", xml))
    assert img.channel_names == ["DAPI", "GFP"]
    assert img.physical_pixel_sizes.X == pytest.approx(0.2)
    assert img.physical_pixel_sizes.Y == pytest.approx(0.3)
    assert img.reader._meta == _whole_document_meta(img.reader)


def test_nested_information_after_it_falls_back_to_the_first(tmp_path: Path) -> None:
    # an Information nested in a later block: the tail answer is refused, the whole
    # document is read, and the first (top-level) Information is taken as before
    nested = "<AppliedSettings><Information><Image><Dimensions><Channels>"
    nested += '<Channel Id="Channel:0" Name="wrong"/></Channels></Dimensions></Image>'
    nested += "</Information><Scaling/></AppliedSettings>"
    img = imgio.Image(_write(tmp_path / "b.czi", _doc(after=nested)))
    assert img.channel_names == ["DAPI", "GFP"]
    assert img.reader._meta == _whole_document_meta(img.reader)


def test_broken_information_warns_and_opens_the_pixels(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.czi", _doc(info_extra="<Broken><Tag></Broken>"))
    img = imgio.Image(path)  # the document is not read at open
    with pytest.warns(imgio.ImgioWarning, match="not well formed"):
        names = img.channel_names
    assert names == ["Channel:0:0", "Channel:0:1"]
    np.testing.assert_array_equal(img.get_image_data("CYX")[:, 0, 0], [1, 2])


def test_image_data_decodes_each_subblock_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    subs = [
        Sub(rng.integers(0, 60000, (16, 20), dtype=np.uint16), dims={"C": c, "Z": z})
        for c in range(2)
        for z in range(3)
    ]
    img = imgio.Image(write_czi(tmp_path / "d.czi", subs))
    STATS.reset()
    data = img.data
    assert STATS.chunks_decoded == 6
    want = np.stack([s.data for s in subs]).reshape(2, 3, 16, 20)
    np.testing.assert_array_equal(data[0], want)


def test_image_data_of_a_mosaic_with_a_gap_is_zero_there(tmp_path: Path) -> None:
    a = np.full((10, 10), 7, np.uint8)
    b = np.full((10, 10), 9, np.uint8)
    path = write_czi(tmp_path / "e.czi", [Sub(a, x=0, y=0), Sub(b, x=30, y=5)])
    img = imgio.Image(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = img.data[0, 0, 0]
    assert data.shape == (15, 40)
    np.testing.assert_array_equal(data, img.get_image_data("YX"))
    assert (data[:10, :10] == 7).all() and (data[5:, 30:] == 9).all()
    assert (data[:, 10:30] == 0).all() and (data[10:, :10] == 0).all()
