"""NGFF labels beside an image: written by imgio, read by zarr, ome-zarr-py, ome-zarr-models."""

from __future__ import annotations

from pathlib import Path

import napari
import npe2
import numpy as np
import pytest
import zarr
from ome_zarr.format import FormatV04, FormatV05
from ome_zarr.io import parse_url
from ome_zarr.reader import Label, Reader
from ome_zarr_models import v04, v05

import imgio
from imgio.writers._labels import label_color

MANIFEST = Path(imgio.__file__).parent / "napari.yaml"


@pytest.fixture
def image_and_mask():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 1000, (2, 3, 70, 90), dtype=np.uint16)  # C Z Y X
    mask = np.zeros((3, 70, 90), np.uint16)
    mask[:, 5:30, 10:40] = 1
    mask[1:, 40:66, 50:85] = 7
    mask[2, 0:3, 0:3] = 300
    return image, mask


def _label_attrs(group: zarr.Group, version: str) -> dict:
    attrs = dict(group.attrs)
    return attrs if version == "0.4" else attrs["ome"]


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_labels_beside_image(tmp_path, image_and_mask, version):
    image, mask = image_and_mask
    out = imgio.write(
        image,
        tmp_path / "cells.ome.zarr",
        dims="CZYX",
        physical_pixel_sizes=(2.0, 0.5, 0.5),
        labels={"cells": {"data": mask, "properties": {7: {"class": "nucleus"}}}},
        ngff_version=version,
        chunks=32,
        pyramid_levels=3,
    )
    root = zarr.open_group(out, mode="r")
    group = root["labels/cells"]
    # independent reader: zarr, level by level, nearest neighbour (values never mixed)
    np.testing.assert_array_equal(group["0"][...][0, 0], mask)
    np.testing.assert_array_equal(group["1"][...][0, 0], mask[:, ::2, ::2])
    np.testing.assert_array_equal(group["2"][...][0, 0], mask[:, ::4, ::4])
    meta = _label_attrs(group, version)["image-label"]
    colors = {c["label-value"]: c["rgba"] for c in meta["colors"]}
    assert colors == {v: label_color(v) for v in (1, 7, 300)}
    props = {p["label-value"]: p for p in meta["properties"]}
    assert props[7]["class"] == "nucleus"
    assert props[1]["area (pixels)"] == int((mask == 1).sum())
    assert meta["source"] == {"image": "../../"}
    names = dict(root["labels"].attrs) if version == "0.4" else root["labels"].attrs["ome"]
    assert names["labels"] == ["cells"]
    # same scales as the image at every level
    ms_img = _label_attrs(root, version)["multiscales"][0]["datasets"]
    ms_lab = _label_attrs(group, version)["multiscales"][0]["datasets"]
    assert [d["coordinateTransformations"] for d in ms_img] == [
        d["coordinateTransformations"] for d in ms_lab
    ]
    # the NGFF models accept it
    models = v04 if version == "0.4" else v05
    models.ImageLabel.from_zarr(group)
    models.Image.from_zarr(root)
    # ome-zarr-py finds the label image with its pixels
    fmt = FormatV04() if version == "0.4" else FormatV05()
    nodes = list(Reader(parse_url(str(out), fmt=fmt))())
    label = next(n for n in nodes if any(isinstance(s, Label) for s in n.specs))
    np.testing.assert_array_equal(np.asarray(label.data[0])[0, 0], mask)
    # imgio exposes it as a scene
    img = imgio.Image(out)
    assert "labels/cells" in img.scenes
    np.testing.assert_array_equal(img.get_xarray_dask_data(scene="labels/cells").values[0, 0], mask)
    assert tuple(imgio.Image(out).physical_pixel_sizes) == (2.0, 0.5, 0.5)


def test_labels_refused_where_they_cannot_go(tmp_path, image_and_mask):
    image, mask = image_and_mask
    with pytest.raises(imgio.ImgioError, match="labels/<name> in an OME-Zarr"):
        imgio.write(image, tmp_path / "x.ome.tif", dims="CZYX", labels={"cells": mask})
    with pytest.raises(imgio.ImgioError, match=r"labels\['cells'\] has shape"):
        imgio.write(image, tmp_path / "y.ome.zarr", dims="CZYX", labels={"cells": mask[:, :10]})
    with pytest.raises(imgio.ImgioError, match="integer label values"):
        imgio.write(image, tmp_path / "z.ome.zarr", dims="CZYX", labels={"cells": mask * 0.5})
    assert not list(tmp_path.iterdir())


def test_napari_writer_saves_labels_layers(tmp_path, image_and_mask):
    """A napari Image and Labels layer saved together: the labels beside the image."""
    pm = npe2.PluginManager.instance()
    pm.discover()
    try:
        pm.get_manifest("imgio")
    except KeyError:
        pm.register(npe2.PluginManifest.from_file(MANIFEST))
    image, mask = image_and_mask
    layers = [
        napari.layers.Image(image[0], name="DAPI", scale=(2.0, 0.5, 0.5)),
        napari.layers.Labels(mask, name="nuclei"),
    ]
    out = tmp_path / "saved.ome.zarr"
    napari.save_layers(str(out), layers, plugin="imgio")
    group = zarr.open_group(out, mode="r")
    np.testing.assert_array_equal(group["labels/nuclei/0"][...][0, 0], mask)
    np.testing.assert_array_equal(group["0"][...][0, 0], image[0])
