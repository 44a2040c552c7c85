"""A source's ``ModuloAlongZ/C/T`` (Type, TypeDescription, Unit, Start/Step/End, Labels)
survives a rewrite, element by element, as Bio-Formats and tifffile read it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import tifffile
import zarr

import imgio
from imgio.cli import main

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
ALONGS = (
    '<ModuloAlongT Type="lambda" Unit="nm" Start="500" Step="25" End="550"/>',
    '<ModuloAlongC Type="lifetime" Unit="ps" Start="0" Step="250" End="750"/>',
    '<ModuloAlongZ Type="other" TypeDescription="polarizer" Unit="deg">'
    "<Label>0</Label><Label>45</Label></ModuloAlongZ>",
)


def make_source(path):
    """T 3 = 1 x 3 lambda, C 8 = 2 channels x 4 lifetime gates, Z 2 = 1 x 2 polarizer."""
    channels = "".join(
        f'<Channel ID="Channel:0:{i}" Name="{("DAPI", "GFP")[i // 4]}" SamplesPerPixel="1"/>'
        for i in range(8)
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{NS}">'
        '<Image ID="Image:0" Name="m"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" '
        'Type="uint16" SizeX="8" SizeY="6" SizeZ="2" SizeC="8" SizeT="3">'
        f'{channels}<TiffData IFD="0" PlaneCount="48"/></Pixels>'
        '<AnnotationRef ID="Annotation:Modulo:0"/></Image>'
        '<StructuredAnnotations><XMLAnnotation ID="Annotation:Modulo:0" '
        'Namespace="openmicroscopy.org/omero/dimension/modulo"><Value>'
        '<Modulo namespace="http://www.openmicroscopy.org/Schemas/Additions/2011-09">'
        f"{''.join(ALONGS)}</Modulo></Value></XMLAnnotation></StructuredAnnotations></OME>"
    )
    data = np.arange(48 * 6 * 8, dtype=np.uint16).reshape(48, 6, 8)  # planes Z fastest
    tifffile.imwrite(path, data, description=xml, metadata=None)
    return data


def alongs(xml: str) -> dict[str, ET.Element]:
    """ModuloAlong* elements of an OME-XML document by tag, whatever their namespace."""
    root = ET.fromstring(xml.encode())
    return {
        el.tag.rsplit("}", 1)[-1]: el
        for el in root.iter()
        if el.tag.rsplit("}", 1)[-1].startswith("ModuloAlong")
    }


def same_along(got: ET.Element, want: ET.Element) -> None:
    for key in ("Type", "TypeDescription", "Unit"):
        assert got.get(key) == want.get(key), (key, got.attrib, want.attrib)
    for key in ("Start", "Step", "End"):  # numbers: "500" and "500.0" are the same value
        assert (got.get(key) is None) == (want.get(key) is None), (key, got.attrib)
        if want.get(key) is not None:
            assert float(got.get(key)) == float(want.get(key)), (key, got.attrib)
    assert [e.text for e in got] == [e.text for e in want]
    assert [e.tag.rsplit("}", 1)[-1] for e in got] == ["Label"] * len(list(want))


def test_modulo_survives_ome_tiff_rewrite(tmp_path):
    src = tmp_path / "src.ome.tif"
    data = make_source(src)
    img = imgio.Image(src)
    assert sorted(img.dims.order) == sorted("EHQTCZYX")
    out = imgio.write(img, tmp_path / "copy.ome.tif", tile=16)
    with tifffile.TiffFile(src) as tif:
        want = alongs(tif.ome_metadata)
    with tifffile.TiffFile(out) as tif:
        got = alongs(tif.ome_metadata)
        plain = tif.pages[0].description
        # planes in the source's order (Z fastest, then C, then T): the same 48 planes
        np.testing.assert_array_equal(tif.asarray().reshape(48, 6, 8), data)
    assert sorted(got) == sorted(want) == ["ModuloAlongC", "ModuloAlongT", "ModuloAlongZ"]
    for tag in want:
        same_along(got[tag], want[tag])
    assert "<ModuloAlongC " in plain and "ns0:" not in plain  # plain names, as Bio-Formats reads
    back = imgio.Image(out)
    assert back.dims.order == img.dims.order and back.channel_names == ["DAPI", "GFP"]
    np.testing.assert_array_equal(back.xarray_dask_data.coords["E"].values, [500, 525, 550])
    np.testing.assert_array_equal(back.get_image_data(img.dims.order), img.data)


def test_selected_modulo_axis_leaves_no_stale_annotation_in_ome_zarr(tmp_path):
    """OME-Zarr holds no extra axis: with one index of each selected, its
    ``OME/METADATA.ome.xml`` describes what was written (no Modulo), channels named."""
    src = tmp_path / "src.ome.tif"
    data = make_source(src)
    out = tmp_path / "sel.ome.zarr"
    select = ["--select", "H=1", "--select", "E=2", "--select", "Q=0"]
    code = main(["convert", str(src), str(out), *select, "--quiet"])
    assert code == 0
    xml = (out / "OME" / "METADATA.ome.xml").read_text()
    assert alongs(xml) == {} and "Annotation:Modulo" not in xml
    root = ET.fromstring(xml.encode())
    pixels = root.find(f"{{{NS}}}Image/{{{NS}}}Pixels")
    assert pixels is not None
    assert (pixels.get("SizeC"), pixels.get("SizeT"), pixels.get("SizeZ")) == ("2", "1", "1")
    names = [c.get("Name") for c in pixels.findall(f"{{{NS}}}Channel")]
    assert names == ["DAPI", "GFP"]
    group = zarr.open_group(out, mode="r")
    # plane index = z + 2 * (c * 4 + h) + 16 * t, with t = E, h = H, z = Q
    want = data[[0 + 2 * (c * 4 + 1) + 16 * 2 for c in range(2)]]
    np.testing.assert_array_equal(group["0"][0, :, 0], want)
