"""NGFF HCS plates written by imgio, read by zarr, ome-zarr-py, ome-zarr-models and imgio."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import zarr
from ome_zarr.format import FormatV04, FormatV05
from ome_zarr.io import parse_url
from ome_zarr.reader import Plate, Reader
from ome_zarr_models import v04, v05

import imgio


def _field(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4000, (2, 40, 50), dtype=np.uint16)


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_plate_round_trip(tmp_path, version):
    wells = {
        "A/1": [_field(0), _field(1)],
        "B3": [{"data": _field(2), "acquisition": 1}],
        "A/12": [_field(3)],
    }
    out = imgio.write_plate(
        tmp_path / "plate.ome.zarr",
        wells,
        name="screen 1",
        acquisitions={1: "second pass"},
        dims="CYX",
        channel_names=["DAPI", "GFP"],
        physical_pixel_sizes=(None, 0.65, 0.65),
        ngff_version=version,
        chunks=32,
    )
    root = zarr.open_group(out, mode="r")
    attrs = dict(root.attrs) if version == "0.4" else root.attrs["ome"]
    plate = attrs["plate"]
    assert [r["name"] for r in plate["rows"]] == ["A", "B"]
    assert [c["name"] for c in plate["columns"]] == ["1", "3", "12"]
    assert [w["path"] for w in plate["wells"]] == ["A/1", "A/12", "B/3"]
    assert plate["field_count"] == 2 and plate["name"] == "screen 1"
    assert {a["id"]: a.get("name") for a in plate["acquisitions"]} == {0: None, 1: "second pass"}
    well = dict(root["B/3"].attrs) if version == "0.4" else root["B/3"].attrs["ome"]
    assert well["well"]["images"] == [{"path": "0", "acquisition": 1}]
    # pixels by zarr, field by field
    np.testing.assert_array_equal(root["A/1/1/0"][...][0, :, 0], _field(1))
    np.testing.assert_array_equal(root["B/3/0/0"][...][0, :, 0], _field(2))
    # the NGFF models accept it (plate, each well, each field)
    models = v04 if version == "0.4" else v05
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # v05 models note the version they assume
        models.HCS.from_zarr(root)
        models.Well.from_zarr(root["A/1"])
        models.Image.from_zarr(root["A/12/0"])
    # ome-zarr-py sees a plate whose stitched image holds every field 0
    fmt = FormatV04() if version == "0.4" else FormatV05()
    node = next(iter(Reader(parse_url(str(out), fmt=fmt))()))
    assert any(isinstance(s, Plate) for s in node.specs)
    stitched = np.asarray(node.data[0])
    assert stitched.shape[-2:] == (80, 150)  # 2 rows x 40, 3 columns x 50
    np.testing.assert_array_equal(stitched[0, :, 0, 40:80, 50:100], _field(2))
    # imgio: one scene per field, with channel names and pixel sizes
    img = imgio.Image(out)
    assert img.scenes == ("A/1/0", "A/1/1", "A/12/0", "B/3/0")
    img.set_scene("A/12/0")
    assert img.channel_names == ["DAPI", "GFP"]
    assert tuple(img.physical_pixel_sizes) == (None, 0.65, 0.65)
    np.testing.assert_array_equal(img.get_image_data("CYX"), _field(3))


def test_plate_refuses_bad_input(tmp_path):
    with pytest.raises(imgio.ImgioError, match="row letter and a column number"):
        imgio.write_plate(tmp_path / "p.ome.zarr", {"1A": [_field(0)]})
    with pytest.raises(imgio.ImgioError, match="given twice"):
        imgio.write_plate(tmp_path / "p.ome.zarr", {"A/1": [_field(0)], "A01": [_field(1)]})
    with pytest.raises(imgio.ImgioError, match="expected a .ome.zarr path"):
        imgio.write_plate(tmp_path / "p.ome.tif", {"A/1": [_field(0)]})
    with pytest.raises(imgio.ImgioError, match="no field uses them"):
        imgio.write_plate(tmp_path / "p.ome.zarr", {"A/1": [_field(0)]}, acquisitions={3: "x"})
    assert not list(tmp_path.iterdir())
