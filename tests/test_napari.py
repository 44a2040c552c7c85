"""The napari plugin through a real headless napari viewer (Qt offscreen, OpenGL on Xvfb).

Files are written here with tifffile and zarr directly, opened through the plugin with
``viewer.open(path, plugin="imgio")`` and checked against tifffile/zarr reads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before napari (and Qt) load
# napari's settings (the reader preference these tests write) in a file of their own
os.environ.setdefault("NAPARI_CONFIG", os.path.join(tempfile.mkdtemp(), "settings.yaml"))

import napari  # noqa: E402
import npe2  # noqa: E402
import tifffile  # noqa: E402
import zarr  # noqa: E402
from imageio import v3 as iio  # noqa: E402

import imgio  # noqa: E402
from imgio import napari as _napari  # noqa: E402
from imgio.readers._registry import known_suffixes  # noqa: E402
from imgio.writers._labels import label_color  # noqa: E402

MANIFEST = Path(imgio.__file__).with_name("napari.yaml")
RNG = np.random.default_rng(4)


# ------------------------------------------------------------------ manifest
def test_manifest_validates() -> None:
    """``npe2 validate --imports`` on the shipped manifest (imports every python_name)."""
    done = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "--imports", str(MANIFEST)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


def test_manifest_patterns_are_the_registry_suffixes() -> None:
    """napari offers imgio for exactly the files the registry claims (``known_suffixes``)."""
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    (reader,) = manifest.contributions.readers
    assert reader.accepts_directories
    patterns = sorted(p.removeprefix("*") for p in reader.filename_patterns)
    assert patterns == sorted(known_suffixes()), "napari.yaml and the registry disagree"
    images, labels = manifest.contributions.writers
    for writer in (images, labels):
        assert {".ome.tif", ".tif", ".ome.zarr", ".zarr"} <= set(writer.filename_extensions)
    assert labels.layer_types == ["labels"]


def test_manifest_entry_point() -> None:
    """napari finds the plugin through the ``napari.manifest`` entry point (no fallback)."""
    from importlib.metadata import entry_points

    (ep,) = [ep for ep in entry_points(group="napari.manifest") if ep.name == "imgio"]
    assert ep.value == "imgio:napari.yaml"
    pm = npe2.PluginManager.instance()
    pm.discover()
    assert pm.get_manifest("imgio").name == "imgio"


def test_get_reader_declines_foreign_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"text")  # PNG is an imgio format now
    (tmp_path / "plain").mkdir()
    assert _napari.get_reader(str(tmp_path / "a.txt")) is None
    assert _napari.get_reader(str(tmp_path / "plain")) is None
    assert _napari.get_reader(str(tmp_path / "b.ome.tif")) is _napari.read


# ------------------------------------------------------------------ viewer
@pytest.fixture(scope="module")
def display() -> Iterator[None]:
    """An X display for OpenGL: the caller's, or an Xvfb started here (Qt stays offscreen)."""
    if os.environ.get("DISPLAY"):
        yield
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail("napari's canvas needs OpenGL: no DISPLAY and no Xvfb (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not report a display number")
    os.environ["DISPLAY"] = f":{number}"
    # Qt keeps its X connection until the interpreter ends: Xvfb must outlive the tests
    # (killing it now aborts the process), so it ends with this process (PDEATHSIG)
    yield


def _die_with_parent() -> None:
    """In the Xvfb child: get SIGTERM when the test process exits, however it exits."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@pytest.fixture(scope="module")
def plugin() -> None:
    """imgio registered with npe2 through its ``napari.manifest`` entry point."""
    pm = npe2.PluginManager.instance()
    pm.discover()  # the "napari.manifest" entry point of the installed package
    pm.get_manifest("imgio")  # KeyError: the entry point is missing


@pytest.fixture(scope="module")
def viewer(display: None, plugin: None) -> Iterator[Any]:
    v = napari.Viewer(show=False)
    try:
        yield v
    finally:
        v.close()


@pytest.fixture
def fresh(viewer: Any) -> Any:
    viewer.layers.clear()
    return viewer


def _ome_tiff(path: Path) -> np.ndarray:
    """A 2-channel uint16 pyramid (3 levels as SubIFDs), named and colored channels."""
    data = RNG.integers(0, 60000, size=(2, 300, 400), dtype=np.uint16)
    levels = [data, data[:, ::2, ::2].copy(), data[:, ::4, ::4].copy()]
    meta = {
        "axes": "CYX",
        "PhysicalSizeX": 0.5,
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": 0.25,
        "PhysicalSizeYUnit": "µm",
        "Channel": {"Name": ["DAPI", "GFP"], "Color": [-16776961, 16711935]},  # red, green (RGBA)
    }
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(levels[0], subifds=2, tile=(128, 128), metadata=meta)
        for lvl in levels[1:]:
            tif.write(lvl, subfiletype=1, tile=(64, 64))
    return data


def test_open_ome_tiff_pyramid(fresh: Any, tmp_path: Path) -> None:
    path = tmp_path / "pyr.ome.tif"
    _ome_tiff(path)
    layers = fresh.open(str(path), plugin="imgio")
    assert [layer.name for layer in layers] == ["DAPI", "GFP"]
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        truth = [lvl.asarray() for lvl in series.levels]
    for c, layer in enumerate(layers):
        assert layer.multiscale
        assert len(layer.data) == 3
        assert [tuple(lvl.shape) for lvl in layer.data] == [t.shape[1:] for t in truth]
        np.testing.assert_allclose(layer.scale, [0.25, 0.5])
        # percentiles of the smallest level (the file has no display window)
        want = np.percentile(truth[2][c], [0.1, 99.9])
        np.testing.assert_allclose(layer.contrast_limits, want, rtol=1e-6)
        assert layer.metadata["scene"] and layer.metadata["path"].endswith("pyr.ome.tif")
        for y, x in ((0, 0), (123, 321), (299, 399)):
            assert int(layer.data[0][y, x]) == int(truth[0][c, y, x])
        assert int(layer.data[2][70, 90]) == int(truth[2][c, 70, 90])
    assert [layer.colormap.name for layer in layers] == ["red", "green"]


SCALES = [[1.0, 2.0, 0.3, 0.4], [1.0, 2.0, 0.6, 0.8]]  # c z y x of levels 0 and 1
CHANNELS = (("DNA", "0000FF", 3000), ("Actin", "FF00FF", 3500), ("Tub", "12AB34", 3900))


def _ngff(path: Path) -> np.ndarray:
    """A 3-channel NGFF 0.4 image (Zarr v2) with 2 levels, written with zarr and JSON by hand."""
    data = RNG.integers(0, 4000, size=(3, 2, 128, 160), dtype=np.uint16)  # C Z Y X
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    for i, arr in enumerate((data, data[:, :, ::2, ::2])):
        z = root.create_array(str(i), shape=arr.shape, dtype=arr.dtype, chunks=(1, 1, 64, 64))
        z[...] = arr
    axes = [{"name": "c", "type": "channel"}] + [
        {"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"
    ]
    root.attrs.update(
        {
            "multiscales": [
                {
                    "version": "0.4",
                    "name": "ngff",
                    "axes": axes,
                    "datasets": [
                        {
                            "path": str(i),
                            "coordinateTransformations": [{"type": "scale", "scale": s}],
                        }
                        for i, s in enumerate(SCALES)
                    ],
                }
            ],
            "omero": {
                "channels": [
                    {
                        "label": label,
                        "color": rgb,
                        "window": {"start": 10, "end": end, "min": 0, "max": 65535},
                    }
                    for label, rgb, end in CHANNELS
                ]
            },
        }
    )
    return data


def _ngff_labels(path: Path) -> np.ndarray:
    """A ``labels/cells`` image beside the NGFF image (uint32, one level)."""
    cells = (np.arange(2 * 128 * 160, dtype=np.uint32).reshape(2, 128, 160) // 1000) % 7
    labels = zarr.open_group(str(path), mode="a").create_group("labels")
    labels.attrs["labels"] = ["cells"]
    group = labels.create_group("cells")
    group.create_array("0", shape=cells.shape, dtype=cells.dtype, chunks=(1, 64, 64))[...] = cells
    axes = [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]
    group.attrs.update(
        {
            "image-label": {"version": "0.4"},
            "multiscales": [
                {
                    "version": "0.4",
                    "axes": axes,
                    "datasets": [
                        {
                            "path": "0",
                            "coordinateTransformations": [
                                {"type": "scale", "scale": SCALES[0][1:]}
                            ],
                        }
                    ],
                }
            ],
        }
    )
    return cells


def test_open_ome_zarr(fresh: Any, tmp_path: Path) -> None:
    path = tmp_path / "img.ome.zarr"
    _ngff(path)
    cells = _ngff_labels(path)
    *layers, labels = fresh.open(str(path), plugin="imgio")
    assert [layer.name for layer in layers] == ["DNA", "Actin", "Tub"]
    assert isinstance(labels, napari.layers.Labels) and labels.name == "cells"
    np.testing.assert_allclose(labels.scale, [2.0, 0.3, 0.4])
    assert int(np.asarray(labels.data[1, 100:101, 150:151])[0, 0]) == int(cells[1, 100, 150])
    z = zarr.open_group(str(path), mode="r")
    for c, layer in enumerate(layers):
        assert layer.multiscale and len(layer.data) == 2
        assert [tuple(lvl.shape) for lvl in layer.data] == [z["0"].shape[1:], z["1"].shape[1:]]
        np.testing.assert_allclose(layer.scale, [2.0, 0.3, 0.4])
        assert list(layer.axis_labels) == ["Z", "Y", "X"]
        assert tuple(layer.contrast_limits) == (10, [3000, 3500, 3900][c])  # omero window
        assert int(layer.data[0][1, 100, 150]) == int(z["0"][c, 1, 100, 150])
        assert int(layer.data[1][0, 33, 44]) == int(z["1"][c, 0, 33, 44])
    assert [layer.colormap.name for layer in layers[:2]] == ["blue", "magenta"]
    top = layers[2].colormap.colors[-1][:3]
    np.testing.assert_allclose(top, np.array([0x12, 0xAB, 0x34]) / 255, atol=1e-6)


# napari warns that napari-ome-zarr's label colour dict has no default (label 0 stays clear)
@pytest.mark.filterwarnings("ignore:color_dict did not provide a default color:UserWarning")
@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_napari_ome_zarr_opens_written_labels(fresh: Any, tmp_path: Path, version: str) -> None:
    """napari-ome-zarr's own reader on an ``.ome.zarr`` imgio wrote with ``labels=``: the
    image layer and a Labels layer whose data is the mask (no imgio code on the read side)."""
    pm = npe2.PluginManager.instance()
    pm.discover()
    pm.get_manifest("napari-ome-zarr")  # KeyError: napari-ome-zarr (test extra) is missing
    image = RNG.integers(0, 4000, (2, 3, 64, 80), dtype=np.uint16)
    mask = np.zeros((3, 64, 80), np.uint32)
    mask[:, 10:30, 20:50] = 1
    mask[1:, 40:60, 5:25] = 7
    path = imgio.write(
        image,
        tmp_path / "lab.ome.zarr",
        dims="CZYX",
        channel_names=["DAPI", "GFP"],
        physical_pixel_sizes=(2.0, 0.5, 0.25),
        labels={"cells": mask},
        pyramid_levels=2,
        ngff_version=version,
    )
    layers = fresh.open(str(path), plugin="napari-ome-zarr")
    attrs = dict(zarr.open_group(str(path), mode="r").attrs)
    windows = [ch["window"] for ch in attrs.get("ome", attrs)["omero"]["channels"]]
    images = [la for la in layers if isinstance(la, napari.layers.Image)]
    labels = [la for la in layers if isinstance(la, napari.layers.Labels)]
    assert len(images) == 2 and len(labels) == 1, [type(la).__name__ for la in layers]
    # napari-ome-zarr prefixes the multiscales name: "Image:0: DAPI"
    assert [la.name.rsplit(": ", 1)[-1] for la in images] == ["DAPI", "GFP"]
    for c, layer in enumerate(images):
        data = layer.data[0] if layer.multiscale else layer.data
        assert data.shape in ((1, 3, 64, 80), (3, 64, 80))  # T kept, of size 1
        np.testing.assert_array_equal(np.asarray(data).reshape(image[c].shape), image[c])
        np.testing.assert_allclose(layer.scale[-3:], [2.0, 0.5, 0.25])
        # the omero window imgio wrote (the data's, not the dtype's 0-65535) and colours
        window = windows[c]
        np.testing.assert_allclose(layer.contrast_limits, (window["start"], window["end"]))
        assert 0 <= window["start"] < window["end"] < 4000
    np.testing.assert_allclose(images[0].colormap.colors[-1][:3], [0, 0, 1])  # DAPI blue
    np.testing.assert_allclose(images[1].colormap.colors[-1][:3], [0, 1, 0])  # GFP green
    (cells,) = labels
    assert cells.name == "cells" or cells.name.endswith("cells"), cells.name
    level0 = cells.data[0] if cells.multiscale else cells.data
    assert level0.shape in ((1, 1, 3, 64, 80), (1, 3, 64, 80), (3, 64, 80))
    np.testing.assert_array_equal(np.asarray(level0).reshape(mask.shape), mask)
    np.testing.assert_allclose(cells.scale[-3:], [2.0, 0.5, 0.25])
    # the image-label colours imgio wrote are the layer's (napari-ome-zarr maps them)
    rgba = np.asarray(cells.colormap.map(np.array([7])))[0]
    np.testing.assert_allclose(rgba, np.array(label_color(7)) / 255, atol=1e-6)


def test_open_rgb_pyramid(fresh: Any, tmp_path: Path) -> None:
    path = tmp_path / "rgb.ome.tif"
    rgb = RNG.integers(0, 255, size=(256, 300, 3), dtype=np.uint8)
    with tifffile.TiffWriter(path, ome=True) as tif:
        meta = {"axes": "YXS", "PhysicalSizeX": 2.0, "PhysicalSizeY": 2.0}
        tif.write(rgb, photometric="rgb", tile=(64, 64), subifds=1, metadata=meta)
        tif.write(rgb[::2, ::2].copy(), photometric="rgb", tile=(64, 64), subfiletype=1)
    (layer,) = fresh.open(str(path), plugin="imgio")
    assert layer.rgb and layer.multiscale and len(layer.data) == 2
    assert layer.name == "rgb"
    np.testing.assert_allclose(layer.scale, [2.0, 2.0])
    level1 = tifffile.imread(path, series=0, level=1)
    np.testing.assert_array_equal(np.asarray(layer.data[1][40, 50]), level1[40, 50])


def test_layer_tuples_read_only_the_smallest_level(tmp_path: Path, stats: Any) -> None:
    """Building the layers reads headers and the smallest level's tiles (contrast limits)
    only; with a display window in the file (NGFF ``omero``) it reads no pixels at all."""
    _ome_tiff(tmp_path / "pyr.ome.tif")
    _ngff(tmp_path / "img.ome.zarr")
    with tifffile.TiffFile(tmp_path / "pyr.ome.tif") as tif:
        smallest = tif.series[0].levels[-1].keyframe
        tiles = 2 * smallest.chunked[0] * smallest.chunked[1]  # 2 channels of 2 x 2 tiles
    for path, decoded in ((tmp_path / "pyr.ome.tif", tiles), (tmp_path / "img.ome.zarr", 0)):
        stats.reset()
        assert _napari.get_reader(str(path)) is _napari.read
        (data, kwargs, kind), *_ = _napari.read(str(path))
        assert kind == "image" and kwargs["multiscale"] and len(data) >= 2
        assert stats.chunks_decoded == decoded


def test_contrast_limits_without_pyramid_read_a_central_window(tmp_path: Path, stats: Any) -> None:
    """A big single-level image: the limits come from a central 1024 x 1024 window."""
    path = tmp_path / "flat.tif"
    ramp = np.add.outer(np.arange(3000), np.arange(3000)).astype(np.uint16)  # 0 .. 5998
    tifffile.imwrite(path, ramp, tile=(256, 256), photometric="minisblack", metadata=None)
    stats.reset()
    ((data, kwargs, kind),) = _napari.read(str(path))
    assert kind == "image" and not kwargs["multiscale"]
    assert stats.chunks_decoded <= 25  # 5 x 5 tiles of the 144 cover the window
    window = tifffile.imread(path)[988:2012, 988:2012]
    want = np.percentile(window, [0.1, 99.9])
    np.testing.assert_allclose(kwargs["contrast_limits"], want, rtol=1e-6)


def test_float_contrast_limits_from_smallest_level(fresh: Any, tmp_path: Path) -> None:
    path = tmp_path / "f.ome.tif"
    data = RNG.normal(5.0, 2.0, size=(64, 96)).astype(np.float32)
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "YX"})
    (layer,) = fresh.open(str(path), plugin="imgio")
    assert not layer.multiscale
    want = np.percentile(data, [0.1, 99.9])
    np.testing.assert_allclose(layer.contrast_limits, want, rtol=1e-5)
    np.testing.assert_allclose(layer.scale, [1.0, 1.0])


# ------------------------------------------------------------------ writer
def _ome_channels_and_sizes(path: Path) -> tuple[list[str], dict[str, float]]:
    with tifffile.TiffFile(path) as tif:
        root = ElementTree.fromstring(tif.ome_metadata)
    pixels = next(el for el in root.iter() if el.tag.endswith("}Pixels"))
    names = [el.get("Name") for el in pixels if el.tag.endswith("}Channel")]
    sizes = {d: float(v) for d in "XY" if (v := pixels.get(f"PhysicalSize{d}"))}
    return names, sizes


def test_write_layers_ome_tiff_and_zarr(fresh: Any, tmp_path: Path) -> None:
    src = tmp_path / "pyr.ome.tif"
    data = _ome_tiff(src)
    layers = fresh.open(str(src), plugin="imgio")

    out = tmp_path / "out.ome.tif"
    written = napari.save_layers(str(out), list(layers), plugin="imgio")
    assert [Path(p).name for p in written] == ["out.ome.tif"]
    np.testing.assert_array_equal(tifffile.imread(out, series=0, level=0).reshape(data.shape), data)
    names, sizes = _ome_channels_and_sizes(out)
    assert names == ["DAPI", "GFP"]
    assert sizes == pytest.approx({"X": 0.5, "Y": 0.25})

    single = tmp_path / "gfp.ome.zarr"
    napari.save_layers(str(single), [layers[1]], plugin="imgio")
    group = zarr.open_group(str(single), mode="r")
    ms = group.attrs["multiscales"][0]
    got = np.asarray(group[ms["datasets"][0]["path"]])
    np.testing.assert_array_equal(got.reshape(data.shape[1:]), data[1])
    assert [ch["label"] for ch in group.attrs["omero"]["channels"]] == ["GFP"]
    scale = ms["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale[-2:] == pytest.approx([0.25, 0.5])
    assert group.attrs["omero"]["channels"][0]["color"].upper() == "00FF00"  # the layer's colormap


def test_layers_of_image_roundtrip_through_imgio(tmp_path: Path) -> None:
    """The layer tuple of a written file maps back onto the same pixels (no viewer needed)."""
    path = tmp_path / "w.ome.tif"
    arr = RNG.integers(0, 255, size=(3, 40, 50), dtype=np.uint8)
    names = ["a", "b", "c"]
    imgio.write(arr, path, dims="CYX", channel_names=names, physical_pixel_sizes=(None, 2, 3))
    data, kwargs, kind = _napari.scene_layers(imgio.ImageFile(path), 0)
    assert kind == "image" and kwargs["name"] == ["a", "b", "c"] and kwargs["channel_axis"] == 0
    assert kwargs["scale"] == [2.0, 3.0]
    want = [tuple(np.percentile(arr[c], [0.1, 99.9])) for c in range(3)]
    np.testing.assert_allclose(kwargs["contrast_limits"], want)
    level0 = data[0] if kwargs["multiscale"] else data
    np.testing.assert_array_equal(np.asarray(level0), arr)


def test_write_plain_napari_layer(fresh: Any, tmp_path: Path) -> None:
    """A layer made in napari (no imgio metadata): dims guessed as ZYX, scale taken as µm."""
    stack = RNG.integers(0, 1000, size=(5, 40, 50), dtype=np.uint16)
    layer = fresh.add_image(stack, name="stack", scale=(2.0, 0.5, 0.5))
    out = tmp_path / "stack.ome.tiff"
    napari.save_layers(str(out), [layer], plugin="imgio")
    got = tifffile.imread(out, series=0, level=0)
    np.testing.assert_array_equal(got.reshape(stack.shape), stack)
    names, sizes = _ome_channels_and_sizes(out)
    assert names == ["stack"] and sizes == pytest.approx({"X": 0.5, "Y": 0.5})
    with tifffile.TiffFile(out) as tif:
        assert 'SizeZ="5"' in tif.ome_metadata and 'PhysicalSizeZ="2' in tif.ome_metadata


# ------------------------------------------------------------------ scenes, picker, plates
def _scenes_tiff(path: Path) -> list[np.ndarray]:
    """Three 2-channel scenes of different sizes (each scene's pixels are distinct)."""
    scenes = [RNG.integers(0, 4000, size=(2, 30 + 10 * s, 40), dtype=np.uint16) for s in range(3)]
    with tifffile.TiffWriter(path, ome=True) as tif:
        for s, data in enumerate(scenes):
            meta = {"axes": "CYX", "Name": f"pos{s}", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5}
            tif.write(data, metadata={**meta, "Channel": {"Name": ["DAPI", "GFP"]}})
    return scenes


def test_multi_scene_opens_first_scene_and_picker_swaps(fresh: Any, tmp_path: Path) -> None:
    """A 3-scene OME-TIFF gives scene 0's two layers (not six); the dock widget lists the
    scenes, and picking scene 2 replaces them by scene 2's (tifffile's series 2)."""
    from imgio.napari._widget import ImgioWidget, picker

    path = tmp_path / "multi.ome.tif"
    scenes = _scenes_tiff(path)
    layers = fresh.open(str(path), plugin="imgio")
    assert [layer.name for layer in layers] == ["DAPI [pos0]", "GFP [pos0]"]
    widget = picker(fresh)
    assert isinstance(widget, ImgioWidget) and widget.file is not None
    assert widget.scene_list.count() == 3 and widget.scene_list.currentRow() == 0
    assert "pos2" in widget.scene_list.item(2).text()
    widget.pick(2)
    assert [layer.name for layer in fresh.layers] == ["DAPI [pos2]", "GFP [pos2]"]
    truth = tifffile.imread(path, series=2)
    for c, layer in enumerate(fresh.layers):
        np.testing.assert_array_equal(np.asarray(layer.data), truth[c])
        np.testing.assert_allclose(layer.scale, [0.5, 0.5])
    np.testing.assert_array_equal(truth, scenes[2])
    rows = widget.facts
    assert rows["scene"] == "2: pos2" and rows["µm / pixel"] == "Y 0.5, X 0.5"
    assert rows["channels"] == "DAPI, GFP" and rows["level 0"].endswith("Y50 x X40")
    # a single-scene file opened later is listed for its info (and its 3 levels)
    _ome_tiff(tmp_path / "one.ome.tif")
    fresh.open(str(tmp_path / "one.ome.tif"), plugin="imgio")
    assert widget.file_box.currentText() == "one.ome.tif" and widget.scene_list.count() == 1
    assert widget.facts["level 2"].endswith("Y75 x X100")
    assert widget.facts["µm / pixel"] == "Y 0.25, X 0.5"
    fresh.layers.selection.active = fresh.layers["GFP"]
    assert re.fullmatch(r"drawn: level [012] of 3 \(\d+ x \d+\) of GFP", widget.level.text())


def test_plate_opens_as_one_grid(fresh: Any, tmp_path: Path) -> None:
    """An HCS plate (imgio's plate writer): one layer per channel, each well's field at
    its row and column of the grid, a missing well black (napari-ome-zarr's layout)."""
    from imgio.writers.plate import write_plate

    wells = {
        key: [RNG.integers(1, 4000, size=(2, 24, 32), dtype=np.uint16)]
        for key in ("A/1", "A/3", "B/2")
    }
    path = write_plate(
        tmp_path / "plate.ome.zarr",
        wells,
        dims="CYX",
        channel_names=["DAPI", "GFP"],
        physical_pixel_sizes=(None, 0.5, 0.5),
        pyramid_levels=1,
    )
    layers = fresh.open(str(path), plugin="imgio")
    assert [layer.name for layer in layers] == ["DAPI", "GFP"]
    for c, layer in enumerate(layers):
        grid = np.asarray(layer.data)
        assert grid.shape == (2 * 24, 3 * 32)  # rows A, B; columns 1, 2, 3
        np.testing.assert_allclose(layer.scale, [0.5, 0.5])
        for (r, col), key in (((0, 0), "A/1"), ((0, 2), "A/3"), ((1, 1), "B/2")):
            field = zarr.open_group(str(path), mode="r")[f"{key}/0/0"][...].reshape(2, 24, 32)
            got = grid[r * 24 : (r + 1) * 24, col * 32 : (col + 1) * 32]
            np.testing.assert_array_equal(got, field[c])
        assert not grid[24:, :32].any() and not grid[:24, 32:64].any()  # B/1, A/2: no well


def test_xz_scan_shows_with_its_z_scale(fresh: Any, tmp_path: Path) -> None:
    """An x-z scan (one row per Z plane) is drawn as Z against X in µm, not a 1-px strip."""
    scan = RNG.integers(0, 255, size=(64, 1, 96), dtype=np.uint8)
    path = imgio.write(
        scan, tmp_path / "xz.ome.tif", dims="ZYX", physical_pixel_sizes=(0.8, 0.2, 0.2)
    )
    (layer,) = fresh.open(str(path), plugin="imgio")
    assert list(layer.axis_labels) == ["Z", "X"]
    np.testing.assert_allclose(layer.scale, [0.8, 0.2])
    np.testing.assert_array_equal(np.asarray(layer.data), scan[:, 0])
    np.testing.assert_allclose(layer.extent.world[1] - layer.extent.world[0], [63 * 0.8, 95 * 0.2])


LIF_XZ = "lif/readlif-LeicaLASX_xz-plane_example.lif"


@pytest.mark.filterwarnings("error:Inconsistent units")
def test_lif_xz_scenes_scaled_and_units_consistent(fresh: Any, shared_samples: Path) -> None:
    """The LIF x-z sample: Z and X in µm with their own scales for each scene picked, and
    napari never finds inconsistent units (scenes are shown one at a time)."""
    pytest.importorskip("liffile")
    from imgio.napari._widget import picker

    path = shared_samples / LIF_XZ
    (layer,) = fresh.open(str(path), plugin="imgio")
    assert list(layer.axis_labels) == ["Z", "X"] and layer.data.shape == (512, 512)
    np.testing.assert_allclose(layer.scale, [0.154518, 0.154518], rtol=1e-5)
    np.testing.assert_allclose(np.diff(layer.extent.world, axis=0)[0], [78.96, 78.96], atol=0.01)
    widget = picker(fresh)
    for scene, labels in ((1, ["T", "Z", "X"]), (2, ["Z", "Y", "X"]), (0, ["Z", "X"])):
        widget.pick(scene)
        (layer,) = fresh.layers
        assert list(layer.axis_labels) == labels
        assert fresh.layers.extent.units is not None  # None: napari's "Inconsistent units"


# ------------------------------------------------------------------ labels
def test_labels_get_image_label_colours_and_properties(fresh: Any, tmp_path: Path) -> None:
    """OME-Zarr ``image-label`` colours and properties become the Labels layer's colormap
    and features (as napari-ome-zarr gives them), read back against the zarr attributes."""
    image = RNG.integers(0, 1000, size=(1, 40, 60), dtype=np.uint16)
    mask = np.zeros((40, 60), np.uint16)
    mask[5:20, 5:30], mask[25:38, 20:55] = 1, 4
    colors = {1: (255, 0, 0, 255), 4: (0, 128, 255, 255)}
    spec = {"data": mask, "colors": colors, "properties": {1: {"class": "a"}, 4: {"class": "b"}}}
    path = imgio.write(image, tmp_path / "l.ome.zarr", dims="CYX", labels={"cells": spec})
    _, labels = fresh.open(str(path), plugin="imgio")
    assert isinstance(labels, napari.layers.Labels) and labels.name == "cells"
    np.testing.assert_array_equal(
        np.asarray(labels.data[0] if labels.multiscale else labels.data), mask
    )
    meta = zarr.open_group(str(path), mode="r")["labels/cells"].attrs
    table = meta.get("ome", meta)["image-label"]
    for entry in table["colors"]:
        rgba = labels.colormap.map(np.array([entry["label-value"]]))[0]
        np.testing.assert_allclose(rgba, np.array(entry["rgba"]) / 255, atol=1e-6)
    features = labels.features.set_index("index")
    for entry in table["properties"]:
        row = features.loc[entry["label-value"]]
        assert row["class"] == entry["class"] and row["area (pixels)"] == entry["area (pixels)"]
    assert features.loc[4, "area (pixels)"] == int((mask == 4).sum())


# ------------------------------------------------------------------ writers
@pytest.mark.parametrize("suffix", [".tif", ".zarr"])
def test_write_plain_suffixes(plugin: None, tmp_path: Path, suffix: str) -> None:
    """*Save Layers* to ``.tif`` and ``.zarr`` writes (it used to write nothing)."""
    data = RNG.integers(0, 1000, size=(30, 40), dtype=np.uint16)
    layer = napari.layers.Image(data, name="img", scale=(0.5, 0.25))
    out = tmp_path / f"plain{suffix}"
    written = napari.save_layers(str(out), [layer], plugin="imgio")
    assert [Path(p).name for p in written] == [out.name]
    back = imgio.Image(out)
    np.testing.assert_array_equal(back.get_image_data("YX"), data)
    assert back.physical_pixel_sizes.Y == 0.5 and back.physical_pixel_sizes.X == 0.25


def test_write_labels_layer_on_its_own(plugin: None, tmp_path: Path) -> None:
    """A Labels layer saved alone: an integer TIFF (tifffile reads the mask), and an
    OME-Zarr whose ``labels/<name>`` keeps the layer's colours and features."""
    from napari.utils.colormaps import DirectLabelColormap

    mask = np.zeros((32, 48), np.int32)
    mask[2:10, 3:20], mask[15:30, 25:45] = 2, 7
    colormap = DirectLabelColormap(color_dict={2: "red", 7: "blue", None: "transparent"})
    features = {"index": [2, 7], "kind": ["nucleus", "cell"], "area (pixels)": [1, 1]}  # stale
    layer = napari.layers.Labels(
        mask, name="seg", scale=(0.5, 0.5), colormap=colormap, features=features
    )
    tif = tmp_path / "seg.tif"
    napari.save_layers(str(tif), [layer], plugin="imgio")
    np.testing.assert_array_equal(tifffile.imread(tif, series=0, level=0).reshape(mask.shape), mask)
    out = tmp_path / "seg.ome.zarr"
    assert napari.save_layers(str(out), [layer], plugin="imgio") == [str(out)]
    group = zarr.open_group(str(out), mode="r")
    np.testing.assert_array_equal(group["labels/seg/0"][...].reshape(mask.shape), mask)
    attrs = group["labels/seg"].attrs
    table = attrs.get("ome", attrs)["image-label"]
    assert {e["label-value"]: e["rgba"] for e in table["colors"]} == {
        2: [255, 0, 0, 255],
        7: [0, 0, 255, 255],
    }
    assert {e["label-value"]: e["kind"] for e in table["properties"]} == {2: "nucleus", 7: "cell"}
    areas = {e["label-value"]: e["area (pixels)"] for e in table["properties"]}
    assert areas == {2: int((mask == 2).sum()), 7: int((mask == 7).sum())}  # counted anew


def test_labels_beside_image_in_tiff_is_refused(tmp_path: Path) -> None:
    image = napari.layers.Image(np.zeros((8, 8), np.uint8), name="i")
    labels = napari.layers.Labels(np.zeros((8, 8), np.uint8), name="l")
    with pytest.raises(imgio.ImgioError, match="label images live in OME-Zarr"):
        _napari.write_images(
            str(tmp_path / "x.ome.tif"), [image.as_layer_data_tuple(), labels.as_layer_data_tuple()]
        )
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ sample, preference
def test_demo_sample_contribution(fresh: Any) -> None:
    """*File > Open Sample > imgio demo*: three named, coloured µm layers of the demo."""
    from imgio.sample import CHANNELS, PIXEL_SIZE_UM

    layers = fresh.open_sample("imgio", "demo")
    assert [layer.name for layer in layers] == list(CHANNELS)
    assert [layer.colormap.name for layer in layers] == ["blue", "green", "red"]
    truth = tifffile.imread(layers[0].metadata["path"], series=0, level=2)
    for c, layer in enumerate(layers):
        assert layer.multiscale and len(layer.data) == 3
        np.testing.assert_allclose(layer.scale, [PIXEL_SIZE_UM, PIXEL_SIZE_UM])
        np.testing.assert_array_equal(np.asarray(layer.data[2]), truth[c])


@pytest.fixture
def preference(viewer: Any) -> Iterator[dict[str, str]]:
    """imgio as napari's preferred reader (napari's settings file restored afterwards)."""
    from napari.settings import get_settings

    plugins = get_settings().plugins
    before = dict(plugins.extension2reader)
    try:
        yield _napari.set_default_reader()
    finally:
        plugins.extension2reader = before


def _files(folder: Path) -> dict[str, Path]:
    img = RNG.integers(0, 255, size=(2, 24, 32), dtype=np.uint8)
    kw = {"dims": "CYX", "channel_names": ["DAPI", "GFP"], "physical_pixel_sizes": (None, 0.5, 0.5)}
    ome = imgio.write(img, folder / "a.ome.tif", **kw)
    tif = imgio.write(img, folder / "b.tif", **kw)
    zarr_path = imgio.write(img, folder / "cells.ome.zarr", **kw)
    png = folder / "c.png"
    iio.imwrite(png, img[0])
    return {"ome": Path(ome), "tif": Path(tif), "zarr": Path(zarr_path), "png": png}


def test_default_reader_preference(fresh: Any, tmp_path: Path, preference: dict[str, str]) -> None:
    """With ``set_default_reader()`` napari picks imgio by itself (``plugin=None``, as its
    command line, drag and drop and *File > Open* do) for .ome.tif, .tif, .png and a
    .ome.zarr folder, where napari's builtins (and napari-ome-zarr) also claim them."""
    from napari.plugins import _npe2
    from napari.plugins.utils import get_preferred_reader

    files = _files(tmp_path)
    assert preference["*.tif"] == "imgio" and preference[f"*.zarr{os.sep}"] == "imgio"
    for kind, path in files.items():
        assert {"napari", "imgio"} <= set(_npe2.get_readers(str(path))), kind  # a choice
        assert get_preferred_reader(str(path)) == "imgio", kind
        fresh.layers.clear()
        layers = fresh.open(str(path), plugin=None)
        assert all(layer.source.reader_plugin == "imgio" for layer in layers), kind
        assert all(layer.metadata["reader"] for layer in layers), kind
        if kind == "png":
            (layer,) = layers
            assert layer.name == "c" and layer.metadata["path"].endswith("c.png")
            np.testing.assert_allclose(layer.scale, [1.0, 1.0])
        else:
            assert [layer.name for layer in layers] == ["DAPI", "GFP"], kind
            for layer in layers:
                np.testing.assert_allclose(layer.scale, [0.5, 0.5])
                assert [str(u) for u in layer.units] == ["micrometer", "micrometer"]


def test_without_preference_napari_asks(fresh: Any, tmp_path: Path) -> None:
    """napari's own rule, documented for users: with several readers and no preference,
    ``plugin=None`` raises MultipleReaderError (the GUI shows the "choose reader" dialog)."""
    from napari.errors import MultipleReaderError
    from napari.settings import get_settings

    path = imgio.write(np.zeros((2, 8, 8), np.uint8), tmp_path / "d.ome.tif", dims="CYX")
    plugins = get_settings().plugins
    before = dict(plugins.extension2reader)
    plugins.extension2reader = {}
    try:
        with pytest.raises(MultipleReaderError):
            fresh.open(str(path), plugin=None)
    finally:
        plugins.extension2reader = before


def test_plate_of_unequal_wells_is_translated(tmp_path: Path) -> None:
    """Wells of different shapes cannot share one array: a layer per well, moved to its
    row and column by the largest well's extent (no viewer needed)."""
    from imgio.writers.plate import write_plate

    a1 = RNG.integers(0, 255, size=(24, 32), dtype=np.uint8)
    b2 = RNG.integers(0, 255, size=(16, 20), dtype=np.uint8)
    path = write_plate(
        tmp_path / "uneven.ome.zarr",
        {"A/1": [a1], "B/2": [b2]},
        dims="YX",
        physical_pixel_sizes=(None, 0.5, 0.25),
        pyramid_levels=1,
    )
    (d1, k1, _), (d2, k2, _) = _napari.read(str(path))
    np.testing.assert_array_equal(np.asarray(d1), a1)
    np.testing.assert_array_equal(np.asarray(d2), b2)
    assert k1["translate"] == [0.0, 0.0] and k2["translate"] == [24 * 0.5, 32 * 0.25]
    assert k1["scale"] == k2["scale"] == [0.5, 0.25]
    assert (k1["name"], k2["name"]) == ("A/1/0", "B/2/0")  # unnamed channels: the scenes
