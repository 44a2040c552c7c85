"""OME metadata survives conversion: what the source says, the written OME-XML repeats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from ome_types import OME, from_xml
from samples import DATA, SHARED

import imgio

SHARED_OME = sorted(
    [
        *SHARED.glob("ome-tiff/*.ome.tif*"),
        *SHARED.glob("ome-tiff/*/*.ome"),
    ]
)
#: written by the writer, not carried
PIXELS_OWN = {
    "id",
    "dimension_order",
    "tiff_data_blocks",
    "metadata_only",
    "bin_data_blocks",
    "big_endian",
    "interleaved",
    "channels",
    "planes",
    "physical_size_x",
    "physical_size_y",
    "physical_size_z",
}


def _source_ome(path: Path) -> OME:
    if path.suffix == ".ome":
        return from_xml(path.read_text(encoding="utf-8"), validate=False)
    with tifffile.TiffFile(path) as tif:
        return from_xml(tif.ome_metadata, validate=False)


def _written_ome(path: Path) -> OME:
    if path.suffix == ".zarr":
        xml = (path / "OME" / "METADATA.ome.xml").read_text(encoding="utf-8")
    else:
        with tifffile.TiffFile(path) as tif:
            xml = tif.ome_metadata
    return from_xml(xml, validate=True)  # also valid against the schema


def _dump(model: Any, exclude: set[str] | None = None) -> Any:
    return model.model_dump(exclude=exclude or set(), exclude_none=True, exclude_unset=False)


def assert_carried(src: OME, out: OME) -> None:
    """Element by element: instruments, experimenters, and each image's own metadata."""
    assert _dump_all(src.instruments) == _dump_all(out.instruments)
    assert _dump_all(src.experimenters) == _dump_all(out.experimenters)
    assert len(out.images) == len(src.images)
    for a, b in zip(src.images, out.images, strict=True):
        for key in (
            "acquisition_date",
            "description",
            "instrument_ref",
            "objective_settings",
            "imaging_environment",
            "stage_label",
            "experimenter_ref",
        ):
            assert getattr(a, key) == getattr(b, key), key
        pa, pb = a.pixels, b.pixels
        assert _dump(pa, PIXELS_OWN | {"size_c"}) == _dump(pb, PIXELS_OWN | {"size_c"})
        for d in "xyz":
            va, vb = getattr(pa, f"physical_size_{d}"), getattr(pb, f"physical_size_{d}")
            assert (va is None) == (vb is None) or va == pytest.approx(1.0)  # OME default
            if va is not None and vb is not None:
                ua = getattr(pa, f"physical_size_{d}_unit").value
                assert vb == pytest.approx(va * {"µm": 1, "nm": 1e-3, "mm": 1e3}.get(ua, 1))
        ids = {"id", "name", "samples_per_pixel"}  # the writer owns these
        assert [_dump(c, ids) for c in pa.channels] == [_dump(c, ids) for c in pb.channels]
        key = lambda p: (p.the_t, p.the_c, p.the_z)  # noqa: E731
        assert [_dump(p) for p in sorted(pa.planes, key=key)] == [
            _dump(p) for p in sorted(pb.planes, key=key)
        ]


def _dump_all(items: Any) -> list[Any]:
    return [_dump(i) for i in items]


@pytest.mark.parametrize("suffix", [".ome.tif", ".ome.zarr"])
def test_multiseries_keeps_its_metadata(tmp_path, suffix):
    """The reported case: galaxy-multiseries.ome.tiff loses Instrument, Planes, ... ."""
    source = DATA / "galaxy-multiseries.ome.tiff"
    out = imgio.write(imgio.Image(source), tmp_path / f"copy{suffix}")
    src, got = _source_ome(source), _written_ome(out)
    assert got.instruments and any(p.exposure_time for i in got.images for p in i.pixels.planes)
    assert any(c.emission_wavelength for i in got.images for c in i.pixels.channels)
    assert all(i.acquisition_date for i in got.images)
    assert_carried(src, got)


def test_bioformats2raw_source_keeps_its_metadata(tmp_path):
    """OME-Zarr (bioformats2raw layout) -> OME-TIFF: the METADATA.ome.xml is carried on."""
    source = DATA / "galaxy-multiseries.ome.tiff"
    zarr_copy = imgio.write(imgio.Image(source), tmp_path / "b2r.ome.zarr")
    out = imgio.write(imgio.Image(zarr_copy), tmp_path / "again.ome.tif")
    assert_carried(_source_ome(source), _written_ome(out))


def test_companion_keeps_its_metadata(tmp_path):
    source = DATA / "omemodel-set-1-meta-companion" / "18x24y5z1t1c8b-text-companion.ome"
    out = imgio.write(imgio.Image(source), tmp_path / "copy.ome.tif")
    assert_carried(_source_ome(source), _written_ome(out))


def test_selected_scene_and_written_sizes(tmp_path):
    """A subset of scenes: only those images, each with its own metadata and new sizes."""
    source = DATA / "galaxy-multiseries.ome.tiff"
    img = imgio.Image(source)
    out = imgio.write(img, tmp_path / "one.ome.tif", scenes=[1], pyramid_levels=2, tile=16)
    src, got = _source_ome(source), _written_ome(out)
    assert len(got.images) == 1
    assert got.images[0].name == src.images[1].name
    assert got.images[0].acquisition_date == src.images[1].acquisition_date
    assert got.images[0].pixels.planes == src.images[1].pixels.planes
    assert got.images[0].pixels.dimension_order.value == "XYZCT"
    np.testing.assert_array_equal(
        imgio.Image(out).get_image_data("CZYX"), img.get_xarray_dask_data(scene=1).values[0]
    )
    # the written file's own reader sees the carried metadata too
    again = imgio.Image(out).ome_metadata.images[0]
    assert again.acquisition_date == got.images[0].acquisition_date


@pytest.mark.skipif(not SHARED_OME, reason="shared samples folder absent")
@pytest.mark.parametrize("source", SHARED_OME, ids=lambda p: p.name)
@pytest.mark.parametrize("suffix", [".ome.tif", ".ome.zarr"])
def test_every_shared_ome_sample(tmp_path, source, suffix):
    img = imgio.Image(source)
    out = imgio.write(img, tmp_path / f"copy{suffix}")
    assert_carried(_source_ome(source), _written_ome(out))


def test_convert_selection_keeps_the_selected_metadata(tmp_path):
    """`imgio convert --scene 1 --select C=2 --level 1`: that channel's metadata and planes."""
    from imgio.cli import main

    source = DATA / "galaxy-multiseries.ome.tiff"
    out = tmp_path / "sel.ome.tif"
    args = ["convert", str(source), str(out), "--scene", "1", "--select", "C=2", "--quiet"]
    assert main(args) == 0
    src, got = _source_ome(source), _written_ome(out)
    image, want = got.images[0], src.images[1]
    assert image.acquisition_date == want.acquisition_date and got.instruments == src.instruments
    assert len(image.pixels.channels) == 1
    assert _dump(image.pixels.channels[0], {"id"}) == _dump(want.pixels.channels[2], {"id"})
    (plane,) = image.pixels.planes
    (source_plane,) = [p for p in want.pixels.planes if p.the_c == 2]
    assert _dump(plane, {"the_c"}) == _dump(source_plane, {"the_c"}) and plane.the_c == 0
