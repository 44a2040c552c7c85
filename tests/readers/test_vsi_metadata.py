"""The .vsi metadata tree: dims in the slots' order, µm sizes, Z origin and step, channel
names, time stamps and the objective, from trees the test writer builds; a damaged tree
leaves the pixels readable (and says nothing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from vsi_writer import StackTree, tree_bytes, write_vsi

import imgio
from imgio.readers._vsi_tree import parse_tree, stack_metadata

RNG = np.random.default_rng(2027)
# T=2, Z=3, C=2 planes of 40 x 50 (ETS coordinates in that order)
TZC = RNG.integers(0, 4000, (2, 3, 2, 40, 50), dtype=np.uint16)
TREE = StackTree(
    slots=[("T", 2), ("Z", 3), ("C", 2)],
    pixel_size_xy=(0.325, 0.325),
    channels=["DAPI", "FITC"],
    z_start_step=(5074.5, 0.75),
    # frame f is plane (t, z, c) with the first slot fastest: f = t + 2 (z + 3 c)
    frame_ms=[1000.0 + 2500.0 * (f % 2) + 10 * (f // 2) for f in range(12)],
    objective=(40.0, "UPLXAPO 40x / 0.95"),
)


@pytest.fixture(scope="module")
def slide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vsimeta")
    return write_vsi(folder, "meta", [TZC], tree={1: TREE}, compression="raw", tile=32)


def test_tree_gives_sizes_names_times_objective(slide: Path) -> None:
    with imgio.Image(slide) as img:
        assert img.dims.order == "TCZYX" and img.shape == (2, 2, 3, 40, 50)
        assert tuple(img.physical_pixel_sizes) == (0.75, 0.325, 0.325)
        assert img.channel_names == ["DAPI", "FITC"]
        coords = img.xarray_dask_data.coords
        np.testing.assert_allclose(coords["Z"].values, [5074.5, 5075.25, 5076.0])
        np.testing.assert_allclose(coords["T"].values, [0.0, 2.5])  # frames 0 and 1
        np.testing.assert_allclose(coords["X"].values[:2], [0.0, 0.325])
        assert img.reader.objective_power(0) == 40.0
        np.testing.assert_array_equal(img.get_image_data("TZCYX"), TZC)
        meta = img.reader.metadata["_meta_/stack1/frame_t_0.ets"]["vsi"]
    assert meta["objective_name"] == "UPLXAPO 40x / 0.95" and meta["name"] == "001 test"
    assert img.scenes[0] == "001 test"  # the stack's name, as cellSens and Bio-Formats show it


def test_slots_name_the_ets_coordinates(tmp_path: Path) -> None:
    """Slots C, Z, T: the ETS's first coordinate is C (cellSens writes both orders)."""
    czt = np.ascontiguousarray(TZC.transpose(2, 1, 0, 3, 4))  # (C, Z, T, Y, X)
    tree = StackTree(slots=[("C", 2), ("Z", 3), ("T", 2)], pixel_size_xy=(0.5, 0.25))
    path = write_vsi(tmp_path, "czt", [czt], tree={1: tree}, compression="raw", tile=32)
    with imgio.Image(path) as img:
        assert img.reader.scenes()[0].dims == "CZTYX"
        np.testing.assert_array_equal(img.get_image_data("TZCYX"), TZC)
        assert tuple(img.physical_pixel_sizes) == (None, 0.25, 0.5)  # the tree says x, y
        assert img.channel_names == ["Channel:0:0", "Channel:0:1"]  # no names in the tree


def test_tree_is_independently_parsable(slide: Path) -> None:
    """tifffile reads the TIFF after the tree; the tree's volumes re-parse to the values."""
    assert tifffile.imread(slide).shape == (8, 8)
    stacks = stack_metadata(parse_tree(slide.read_bytes()))
    assert set(stacks) == {1} and stacks[1].plane_dims == "TZC"
    assert stacks[1].frame_ms[7] == 3530.0


@pytest.mark.parametrize("damage", ["magic", "truncated", "loop", "unit"])
def test_damaged_tree_leaves_pixels(tmp_path: Path, damage: str) -> None:
    tree = StackTree(slots=TREE.slots, pixel_size_xy=(0.325, 0.325), channels=TREE.channels)
    if damage == "unit":
        tree.unit = "10^-3m^1"  # millimetres: not taken as µm
    path = write_vsi(tmp_path, "bad", [TZC], tree={1: tree}, compression="raw", tile=32)
    raw = bytearray(path.read_bytes())
    body = tree_bytes({1: tree})
    if damage == "magic":
        raw[10:12] = b"\0\0"
    elif damage == "truncated":
        raw[8 + len(body) // 2 : 8 + len(body)] = bytes(len(body) - len(body) // 2)
    elif damage == "loop":  # the root's first field points back at itself
        raw[8 + 24 + 8 : 8 + 24 + 12] = (24).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with imgio.Image(path) as img:
        np.testing.assert_array_equal(img.reader.source(0)[(slice(None),) * 5], TZC)
        sizes = tuple(img.physical_pixel_sizes)
    # a half-zeroed tree keeps what precedes the damage (the sizes come early); the rest
    # of the damage leaves no tree, or (millimetres) no µm sizes
    assert sizes[1:] == ((0.325, 0.325) if damage == "truncated" else (None, None))


def _bioio_vsi_sample() -> Path | None:
    """The real cellSens sample of the ``bioio-vsi`` sdist (CC BY 4.0, never committed):
    ``IMGIO_VSI_SAMPLE`` names its ``vsi-ets-test-jpg2k.vsi`` (its ETS folder beside it)."""
    import os

    path = os.environ.get("IMGIO_VSI_SAMPLE")
    return Path(path) if path and Path(path).is_file() else None


@pytest.mark.skipif(_bioio_vsi_sample() is None, reason="IMGIO_VSI_SAMPLE not set")
def test_real_sample_agrees_with_bioformats() -> None:
    """Sizes, channel names, Z origin, objective and pixels as Bio-Formats' cellSens reader
    gives them (its OME-XML is the independent reference)."""
    from imgio.readers import bioformats

    if not bioformats.available():
        pytest.skip("imgio[bioformats] not installed")
    path = _bioio_vsi_sample()
    mine, theirs = imgio.Image(path), imgio.Image(path, reader="bioformats")
    assert mine.dims.order == theirs.dims.order and mine.shape == theirs.shape
    assert tuple(mine.physical_pixel_sizes) == pytest.approx(tuple(theirs.physical_pixel_sizes))
    assert mine.channel_names == theirs.channel_names
    assert mine.reader.objective_power(0) == theirs.reader.objective_power(0)
    assert mine.scenes == theirs.scenes  # ("001 C405, C488", "macro image")
    mine.set_scene("macro image")
    theirs.set_scene("macro image")
    np.testing.assert_array_equal(mine.get_image_data("YXS"), theirs.get_image_data("YXS"))
    mine.set_scene(0)
    theirs.set_scene(0)
    z_mine = mine.xarray_dask_data.coords["Z"].values
    assert z_mine[0] == pytest.approx(5074.94)  # Bio-Formats' Plane PositionZ of Z 0
    window = {"T": 0, "C": 1, "Z": 5, "Y": slice(100, 300), "X": slice(200, 400)}
    a = mine.get_image_dask_data("YX", **window).compute().astype(np.int32)
    b = theirs.get_image_dask_data("YX", **window).compute().astype(np.int32)
    # lossy JPEG 2000 (9/7 wavelet): OpenJPEG and Bio-Formats' JJ2000 round apart by 1
    assert np.abs(a - b).max() <= 1 and (a != b).mean() < 0.02


def test_z_acquired_downwards_keeps_no_origin(tmp_path: Path) -> None:
    tree = StackTree(slots=TREE.slots, pixel_size_xy=(0.3, 0.3), z_start_step=(100.0, -1.5))
    path = write_vsi(tmp_path, "down", [TZC], tree={1: tree}, compression="raw", tile=32)
    with imgio.Image(path) as img:
        assert img.physical_pixel_sizes.Z == 1.5
        assert img.reader.scenes()[0].origin == {}
        assert img.reader.metadata["_down_/stack1/frame_t_0.ets"]["vsi"]["z_step"] == -1.5
