"""What AICSImageIO / bioio users expect of ``AICSImage``/``BioImage``, asked of ``imgio.Image``.

Files are written with tifffile; the expected pixels are the arrays written.
"""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import psutil
import pytest
import tifffile
import xarray as xr

import imgio
from imgio.dims import Scale

RNG = np.random.default_rng(3)
CZYX = RNG.integers(0, 1000, (2, 3, 16, 20), dtype=np.uint16)

OME_EXTRA = """<?xml version="1.0" encoding="UTF-8"?>
<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">
<Experimenter ID="Experimenter:0" UserName="ada"/>
<Instrument ID="Instrument:0">
<Detector ID="Detector:0"/>
<Objective ID="Objective:0:0" NominalMagnification="40.0" LensNA="1.2" Immersion="Water"/>
</Instrument>
{images}
</OME>"""
IMAGE = """<Image ID="Image:{i}" Name="well {i}">
<AcquisitionDate>2024-05-06T07:08:09</AcquisitionDate>
<ExperimenterRef ID="Experimenter:0"/><InstrumentRef ID="Instrument:0"/>
<ObjectiveSettings ID="Objective:0:0"/>
<Pixels ID="Pixels:{i}" DimensionOrder="XYCZT" Type="uint16" SizeX="20" SizeY="16" SizeZ="1"
 SizeC="2" SizeT="3" PhysicalSizeX="0.5" PhysicalSizeY="0.5"
 TimeIncrement="4" TimeIncrementUnit="s">
<Channel ID="Channel:{i}:0" Name="DAPI" SamplesPerPixel="1">
<DetectorSettings ID="Detector:0" Binning="2x2"/></Channel>
<Channel ID="Channel:{i}:1" Name="GFP" SamplesPerPixel="1"/>
<TiffData IFD="{ifd}" PlaneCount="6"/>
<Plane TheZ="0" TheC="0" TheT="0" PositionX="1.5" PositionXUnit="mm"
 PositionY="20" PositionYUnit="µm"/>
</Pixels></Image>"""


@pytest.fixture(scope="module")
def ome_two(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray[Any, Any]]]:
    """Two scenes T=3 C=2 Y=16 X=20 with instrument, experimenter, date, binning."""
    path = tmp_path_factory.mktemp("aics") / "two.ome.tif"
    scenes = [RNG.integers(0, 4000, (3, 2, 16, 20), dtype=np.uint16) for _ in range(2)]
    xml = OME_EXTRA.format(images="".join(IMAGE.format(i=i, ifd=6 * i) for i in range(2)))
    with tifffile.TiffWriter(path) as tw:
        for i, data in enumerate(scenes):
            tw.write(
                data.reshape(6, 16, 20),
                photometric="minisblack",
                description=xml.encode() if i == 0 else None,
                metadata=None,
            )
    return path, scenes


# ---------------------------------------------------------------- arrays in memory
@pytest.mark.parametrize("kind", ["numpy", "dask", "xarray"])
def test_image_from_array(kind: str) -> None:
    data: Any = {
        "numpy": CZYX,
        "dask": da.from_array(CZYX, chunks=(1, 1, 8, 10)),
        "xarray": xr.DataArray(CZYX, dims=list("CZYX")),
    }[kind]
    img = imgio.Image(
        data, dim_order="CZYX", channel_names=["DAPI", "GFP"], physical_pixel_sizes=(2, 0.5, 0.25)
    )
    assert img.dims.order == "TCZYX" and img.shape == (1, 2, 3, 16, 20)
    assert img.channel_names == ["DAPI", "GFP"] and img.reader.name == "array"
    assert img.physical_pixel_sizes == (2.0, 0.5, 0.25)
    np.testing.assert_array_equal(img.get_image_data("ZYX", C="GFP"), CZYX[1])
    np.testing.assert_array_equal(img.data[0], CZYX)
    xarr = img.xarray_dask_data
    assert list(xarr.coords["C"].values) == ["DAPI", "GFP"]
    np.testing.assert_allclose(xarr.coords["X"].values[:3], [0, 0.25, 0.5])
    back = pickle.loads(pickle.dumps(img))
    np.testing.assert_array_equal(back.get_image_data("YX", C=0, Z=2), CZYX[0, 2])


def test_array_image_saves(tmp_path: Path) -> None:
    img = imgio.Image(
        CZYX, dim_order="CZYX", channel_names=["a", "b"], physical_pixel_sizes=(2, 0.5, 0.5)
    )
    img.save(tmp_path / "arr.ome.tif")
    with tifffile.TiffFile(tmp_path / "arr.ome.tif") as tif:
        np.testing.assert_array_equal(tif.series[0].asarray().reshape(CZYX.shape), CZYX)
        assert 'Name="b"' in tif.ome_metadata and 'PhysicalSizeZ="2' in tif.ome_metadata


def test_image_from_array_defaults_and_xarray_coords() -> None:
    img = imgio.Image(CZYX)  # AICSImage: the last letters of TCZYX
    assert img.dims.order == "TCZYX" and img.shape == (1, 2, 3, 16, 20)
    assert img.channel_names == ["Channel:0:0", "Channel:0:1"]
    assert img.physical_pixel_sizes == (None, None, None)
    # an imgio DataArray carries its channel names and µm coords over
    first = imgio.Image(CZYX, dim_order="CZYX", physical_pixel_sizes=(1, 0.5, 0.5))
    again = imgio.Image(first.xarray_dask_data.isel(T=0))
    assert again.channel_names == first.channel_names
    assert again.physical_pixel_sizes == (1.0, 0.5, 0.5)
    with pytest.raises(imgio.SelectionError, match=r"dim_order 'ZYX' does not name the 4 dims"):
        imgio.Image(CZYX, dim_order="ZYX")
    with pytest.raises(imgio.SelectionError, match=r"3 channel_names for 2 channels"):
        imgio.Image(CZYX, channel_names=["a", "b", "c"])


def test_list_of_arrays_is_scenes_and_stacks() -> None:
    a, b = CZYX, CZYX + 1
    img = imgio.Image([a, b], dim_order="CZYX")
    assert img.scenes == ("Image:0", "Image:1")
    stack = img.get_stack()
    assert stack.shape == (2, 1, 2, 3, 16, 20)
    np.testing.assert_array_equal(stack[:, 0], np.stack([a, b]))
    lazy = img.get_dask_stack()
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), stack)
    xs = img.get_xarray_stack(scene_coord_values="names")
    assert xs.dims == ("I", "T", "C", "Z", "Y", "X")
    assert list(xs.coords["I"].values) == ["Image:0", "Image:1"]
    np.testing.assert_array_equal(xs.values, stack)
    xd = img.get_xarray_dask_stack(scene_character="S2")
    assert xd.dims[0] == "S2" and isinstance(xd.data, da.Array)
    per_scene = imgio.Image([a, a[0]], dim_order=["CZYX", "ZYX"], channel_names=[["x", "y"], None])
    assert per_scene.channel_names == ["x", "y"]
    per_scene.set_scene(1)
    assert per_scene.dims.order == "TCZYX" and per_scene.shape == (1, 1, 3, 16, 20)
    np.testing.assert_array_equal(per_scene.get_image_data("ZYX"), a[0])
    mixed = imgio.Image([a, a[:, :, :8]], dim_order="CZYX")
    with pytest.raises(imgio.SelectionError, match=r"stacking needs the first scene's"):
        mixed.get_stack()
    assert mixed.get_stack(drop_non_matching_scenes=True).shape[0] == 1


# ---------------------------------------------------------------- files
def test_file_stacks_against_tifffile(ome_two: tuple[Path, list[np.ndarray[Any, Any]]]) -> None:
    path, scenes = ome_two
    img = imgio.Image(path)
    assert img.scenes == ("well 0", "well 1")
    want = np.stack(scenes)[:, :, :, None]  # I T C Z Y X
    with tifffile.TiffFile(path) as tif:
        assert all(np.array_equal(s.asarray(), w) for s, w in zip(tif.series, scenes, strict=True))
    np.testing.assert_array_equal(img.get_stack(), want)
    np.testing.assert_array_equal(img.get_xarray_dask_stack().values, want)
    np.testing.assert_array_equal(img.get_stack(select_scenes=["well 1"])[0], want[1])
    assert img.current_scene == "well 0"  # stacking never moves the current scene


def test_set_scene_by_ome_id(ome_two: tuple[Path, list[np.ndarray[Any, Any]]]) -> None:
    path, scenes = ome_two
    img = imgio.Image(path)
    img.set_scene("Image:1")
    assert img.current_scene == "well 1" and img.current_scene_index == 1
    np.testing.assert_array_equal(img.get_image_data("TCYX"), scenes[1])
    img.set_scene("well 0")
    assert img.current_scene_index == 0
    with pytest.raises(imgio.SelectionError, match=r"no scene named 'Image:7'"):
        img.set_scene("Image:7")


def test_scale_levels_and_standard_metadata(
    ome_two: tuple[Path, list[np.ndarray[Any, Any]]],
) -> None:
    path, _ = ome_two
    img = imgio.Image(path)
    assert img.scale == Scale(T=4.0, C=None, Z=None, Y=0.5, X=0.5)
    assert img.resolution_level_dims == {0: (3, 2, 1, 16, 20)}
    meta = img.standard_metadata
    assert meta.objective == "40x/1.2Water"
    assert meta.imaged_by == "ada"
    assert meta.binning == "2x2"
    assert meta.imaging_datetime is not None
    assert meta.imaging_datetime.replace(tzinfo=None) == datetime(2024, 5, 6, 7, 8, 9)
    assert meta.timelapse is True and meta.timelapse_interval == timedelta(seconds=4)
    assert meta.total_time_duration == timedelta(seconds=8)
    assert (meta.image_size_t, meta.image_size_c, meta.image_size_y) == (3, 2, 16)
    assert meta.pixel_size_x == 0.5 and meta.position_index == 0
    assert meta.stage_position_x == pytest.approx(1500.0) and meta.stage_position_y == 20.0
    assert meta.to_dict()["objective"] == "40x/1.2Water" and meta.dimensions_present == "TCZYX"
    _ = timezone  # dates keep the file's timezone (none here)


def test_standard_metadata_without_ome(tmp_path: Path) -> None:
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, CZYX[0], photometric="minisblack", metadata=None)
    meta = imgio.Image(path).standard_metadata
    assert meta.objective is None and meta.imaging_datetime is None
    assert meta.image_size_x == 20 and meta.timelapse is False


def test_overrides_for_files(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, CZYX[0], photometric="minisblack", metadata=None)  # tifffile: QYX
    plain = imgio.Image(path)
    assert plain.dims.order != "TCZYX" or plain.dims.Z == 1  # the file does not say Z
    img = imgio.Image(path, dim_order="ZYX")
    assert img.dims.order == "TCZYX" and img.dims.Z == 3
    np.testing.assert_array_equal(img.get_image_data("ZYX"), CZYX[0])
    chans = imgio.Image(path, dim_order="CYX", channel_names=["a", "b", "c"])
    assert chans.channel_names == ["a", "b", "c"]
    np.testing.assert_array_equal(chans.get_image_data("YX", C="c"), CZYX[0, 2])
    np.testing.assert_array_equal(chans.xarray_dask_data.sel(C="b").values[0, 0], CZYX[0, 1])
    back = pickle.loads(pickle.dumps(chans))
    assert back.channel_names == ["a", "b", "c"] and back.dims.C == 3
    with pytest.raises(imgio.SelectionError, match=r"dim_order 'ZX' does not name the 3 dims"):
        imgio.Image(path, dim_order="ZX")


def test_image_pickles_and_keeps_state(ome_two: tuple[Path, list[np.ndarray[Any, Any]]]) -> None:
    path, scenes = ome_two
    img = imgio.Image(path, chunks={"Y": 8})
    img.set_scene(1)
    _ = img.xarray_dask_data  # a cached graph must not stop pickling
    back = pickle.loads(pickle.dumps(img))
    assert back.current_scene == "well 1"
    assert back.dask_data.chunks[3] == (8, 8)
    np.testing.assert_array_equal(back.get_image_data("TCYX"), scenes[1])


def _handles(path: Path) -> list[str]:
    return [f.path for f in psutil.Process().open_files() if f.path == str(path)]


def test_no_handle_left_after_close_or_imread(tmp_path: Path) -> None:
    path = tmp_path / "own.ome.tif"
    tifffile.imwrite(path, CZYX, ome=True, metadata={"axes": "CZYX"})
    img = imgio.Image(path)  # open, not closed: AICSImage holds no handle either
    assert _handles(path) == []
    np.testing.assert_array_equal(img.get_image_data("CZYX"), CZYX)
    np.testing.assert_array_equal(img.xarray_dask_data.values[0, :, :], CZYX)
    assert img.metadata and img.ome_metadata.images
    assert _handles(path) == []
    with imgio.Image(path) as img:
        np.testing.assert_array_equal(img.get_image_data("CZYX"), CZYX)
    assert _handles(path) == []
    imgio.imread(path)
    imgio.imread_xarray(path, C=1)
    assert _handles(path) == []


def test_imread_xarray(ome_two: tuple[Path, list[np.ndarray[Any, Any]]]) -> None:
    path, scenes = ome_two
    got = imgio.imread_xarray(path, scene=1, C="GFP")
    assert got.dims == ("T", "Z", "Y", "X") and not isinstance(got.data, da.Array)
    np.testing.assert_array_equal(got.values[:, 0], scenes[1][:, 1])
    np.testing.assert_allclose(got.coords["X"].values[:2], [0.0, 0.5])
    lazy = imgio.imread_xarray_dask(path, T=2)
    assert isinstance(lazy.data, da.Array) and lazy.dims == ("C", "Z", "Y", "X")
    np.testing.assert_array_equal(lazy.values[:, 0], scenes[0][2])
    assert list(lazy.coords["C"].values) == ["DAPI", "GFP"]
    with pytest.raises(imgio.SelectionError, match=r"T=5 out of range \(0\.\.2\)"):
        imgio.imread_xarray(path, T=5)


# ---------------------------------------------------------------- against bioio itself
OME_SAMPLES = ["aicsimageio-s_1_t_1_c_1_z_1.ome.tiff", "galaxy-multiseries.ome.tiff"]
FIELDS = (
    "binning",
    "imaged_by",
    "imaging_datetime",
    "objective",
    "image_size_c",
    "image_size_t",
    "image_size_x",
    "image_size_y",
    "image_size_z",
    "pixel_size_x",
    "pixel_size_y",
    "pixel_size_z",
    "dimensions_present",
    "timelapse",
)


@pytest.mark.parametrize("name", OME_SAMPLES)
def test_against_bioio(shared_samples: Path, name: str) -> None:
    """bioio (with its OME-TIFF plugin) as the reference for the names imgio shares with it."""
    import warnings

    import bioio
    import bioio_ome_tiff

    path = shared_samples / "ome-tiff" / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = bioio.BioImage(path, reader=bioio_ome_tiff.Reader)
        ref_meta = ref.standard_metadata
        ref_stack = ref.get_stack()
    img = imgio.Image(path)
    assert img.scale == tuple(ref.scale)
    assert img.resolution_level_dims == {k: tuple(v) for k, v in ref.resolution_level_dims.items()}
    mine = img.standard_metadata
    for field in FIELDS:
        want = getattr(ref_meta, field)
        if field == "objective" and want == "0x/NoneOther":
            want = None  # bioio's text for an objective without magnification, NA, immersion
        assert getattr(mine, field) == want, field
    np.testing.assert_array_equal(img.get_stack(), ref_stack)
    for scene_id in ref.scenes:  # bioio names scenes by OME Image ID: imgio accepts those
        img.set_scene(scene_id)
        ref.set_scene(scene_id)
        np.testing.assert_array_equal(img.get_image_data("TCZYX"), ref.get_image_data("TCZYX"))


@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 5), (2, 3, 4, 5), (2, 2, 3, 4, 5)])
def test_arrays_against_bioio(shape: tuple[int, ...]) -> None:
    """Default dims, channel names and scenes of in-memory arrays, as bioio gives them."""
    import warnings

    import bioio

    data = np.arange(int(np.prod(shape)), dtype=np.uint16).reshape(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = bioio.BioImage([data, data + 1])
        ref_dims = (ref.dims.order, ref.shape)
        ref_names = [str(c) for c in ref.channel_names]
        ref_scenes = tuple(ref.scenes)
        ref.set_scene(1)
        ref_data = ref.data
    img = imgio.Image([data, data + 1])
    assert (img.dims.order, img.shape) == ref_dims
    assert img.channel_names == ref_names and img.scenes == ref_scenes
    img.set_scene(1)
    np.testing.assert_array_equal(img.data, ref_data)
