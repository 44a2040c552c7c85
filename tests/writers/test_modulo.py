"""Extra dims in OME-TIFF as ``ModuloAlongZ/C/T``: read (FLIM layout) and written."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import xarray as xr
from ome_types import from_xml

import imgio
from imgio.cli import main

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def make_flim(path, names=("GFP", "mCherry"), gates=8):
    """A FLIM-style OME-TIFF: SizeC 16 = 2 channels x 8 lifetime gates (ModuloAlongC)."""
    n = len(names) * gates
    channels = "".join(
        f'<Channel ID="Channel:0:{i}" Name="{names[i // gates]}" SamplesPerPixel="1"/>'
        for i in range(n)
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{NS}">'
        '<Image ID="Image:0" Name="flim"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" '
        f'Type="uint16" SizeX="24" SizeY="20" SizeZ="1" SizeC="{n}" SizeT="1">'
        f'{channels}<TiffData IFD="0" PlaneCount="{n}"/></Pixels>'
        '<AnnotationRef ID="Annotation:Modulo:0"/></Image>'
        '<StructuredAnnotations><XMLAnnotation ID="Annotation:Modulo:0" '
        'Namespace="openmicroscopy.org/omero/dimension/modulo"><Value>'
        '<Modulo namespace="http://www.openmicroscopy.org/Schemas/Additions/2011-09">'
        f'<ModuloAlongC Type="lifetime" Unit="ps" Start="0" Step="500" End="{(gates - 1) * 500}"/>'
        "</Modulo></Value></XMLAnnotation></StructuredAnnotations></OME>"
    )
    rng = np.random.default_rng(5)
    data = rng.integers(0, 4000, (n, 20, 24), dtype=np.uint16)
    tifffile.imwrite(path, data, description=xml, metadata=None)
    return data.reshape(len(names), gates, 20, 24)


@pytest.fixture
def flim(tmp_path):
    path = tmp_path / "flim.ome.tif"
    return path, make_flim(path)


def test_read_modulo_along_c(flim):
    path, data = flim
    img = imgio.Image(path)
    assert img.dims.order == "HTCZYX" and img.dims.H == 8
    assert img.channel_names == ["GFP", "mCherry"]  # 16 OME channels for 2 in the pixels
    np.testing.assert_array_equal(img.xarray_dask_data.coords["H"].values, np.arange(8) * 500.0)
    np.testing.assert_array_equal(img.get_image_data("CHYX"), data)


def test_write_modulo_read_by_tifffile_and_imgio(flim, tmp_path):
    """The reported case: the FLIM file written to OME-TIFF keeps its H axis."""
    path, data = flim
    out = imgio.write(imgio.Image(path), tmp_path / "copy.ome.tif", tile=16)
    with tifffile.TiffFile(out) as tif:
        assert tif.series[0].axes == "CHYX"
        np.testing.assert_array_equal(tif.series[0].asarray(), data)
        ome = from_xml(tif.ome_metadata, validate=True)  # the schema accepts it
    assert len(ome.images[0].pixels.channels) == 16 and ome.structured_annotations
    back = imgio.Image(out)
    assert back.channel_names == ["GFP", "mCherry"]
    np.testing.assert_array_equal(back.xarray_dask_data.coords["H"].values, np.arange(8) * 500.0)
    np.testing.assert_array_equal(back.get_image_data("CHYX"), data)


def test_write_three_extra_dims(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (2, 3, 4, 2, 16, 16), dtype=np.uint8)
    arr = xr.DataArray(
        a, dims=list("HEACYX"), coords={"E": [500.0, 550.0, 600.0], "A": list("abcd")}
    )
    out = imgio.write(arr, tmp_path / "three.ome.tif")
    with tifffile.TiffFile(out) as tif:  # Bio-Formats-style annotation, seen by tifffile
        assert sorted(tif.series[0].axes) == sorted("HEACYX")
        xml = tif.ome_metadata
    for along in ("ModuloAlongC", "ModuloAlongT", "ModuloAlongZ"):
        assert along in xml
    back = imgio.Image(out)
    got = back.xarray_data
    np.testing.assert_array_equal(got.coords["E"].values, [500.0, 550.0, 600.0])
    assert list(got.coords["A"].values) == list("abcd")
    np.testing.assert_array_equal(
        got.isel(T=0, Z=0).transpose("H", "E", "A", "C", "Y", "X").values, a
    )


def test_ome_zarr_refuses_extra_dims_with_the_one_message(flim, tmp_path):
    path, _ = flim
    with pytest.raises(imgio.ImgioError, match=r"extra dims \['H'\].*--select H=0"):
        imgio.write(imgio.Image(path), tmp_path / "x.ome.zarr")
    assert not list(tmp_path.glob("x*"))


def test_convert_select_one_index(flim, tmp_path, capsys):
    path, data = flim
    out = tmp_path / "h2.ome.zarr"
    assert main(["convert", str(path), str(out), "--select", "H=2", "--quiet"]) == 0
    back = imgio.Image(out)
    assert back.dims.order == "TCZYX" and back.channel_names == ["GFP", "mCherry"]
    np.testing.assert_array_equal(back.get_image_data("CYX"), data[:, 2])
    assert main(["convert", str(path), str(tmp_path / "x.ome.zarr"), "--select", "H=8"]) == 2
    assert "out of range 0..7" in capsys.readouterr().err


def test_extra_letters_round_trip_or_become_other(tmp_path):
    """Letters with a Modulo type tifffile knows come back; any other letter comes back as Q."""
    a = np.arange(3 * 2 * 16 * 16, dtype=np.uint8).reshape(3, 2, 16, 16)
    for letter, back in (("M", "M"), ("W", "Q")):
        out = imgio.write(a, tmp_path / f"{letter}.ome.tif", dims=f"{letter}CYX")
        img = imgio.Image(out)
        assert img.dims.order == f"{back}TCZYX"
        np.testing.assert_array_equal(img.get_image_data(f"{back}CYX"), a)
