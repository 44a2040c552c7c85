"""``Image``'s public API stays what it is while its code is split into mixins
(``_select``, ``_image_repr``, ``_aics``): names, kinds and signatures, and the moved
methods working through the public names (pixels checked against tifffile)."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
import tifffile

import imgio
from imgio.image import Image

PROPERTIES = (
    "channel_colors",
    "channel_names",
    "current_resolution_level",
    "current_scene",
    "current_scene_index",
    "dask_data",
    "data",
    "dims",
    "dtype",
    "file",
    "metadata",
    "mosaic_tile_positions",
    "multiscale",
    "ome_metadata",
    "path",
    "physical_pixel_sizes",
    "reader",
    "resolution_level_dims",
    "resolution_levels",
    "scale",
    "scenes",
    "shape",
    "standard_metadata",
    "tiles",
    "time_interval",
    "xarray_dask_data",
    "xarray_data",
    "xarray_lazy_data",
)

METHODS = {
    "__enter__": "(self)",
    "__exit__": "(self, *exc)",
    "__getstate__": "(self)",
    "__init__": "(self, path, reader=None, storage_options=None/kw, chunks='auto'/kw, "
    "reconstruct_mosaic=True/kw, allow_external_files=False/kw, dim_order=None/kw, "
    "channel_names=None/kw, physical_pixel_sizes=None/kw, dims=None/kw, pattern=None/kw)",
    "__repr__": "(self)",
    "__setstate__": "(self, state)",
    "_repr_html_": "(self)",
    "close": "(self)",
    "get_dask_stack": "(self, **kwargs)",
    "get_image_dask_data": "(self, dimension_order_out=None, scene=None/kw, level=None/kw, "
    "**selection)",
    "get_image_data": "(self, dimension_order_out=None, scene=None/kw, level=None/kw, **selection)",
    "get_mosaic_tile_position": "(self, m)",
    "get_mosaic_tile_positions": "(self)",
    "get_multiscale": "(self, scene=None)",
    "get_stack": "(self, **kwargs)",
    "get_xarray_dask_data": "(self, scene=None, level=None)",
    "get_xarray_dask_stack": "(self, **kwargs)",
    "get_xarray_lazy_data": "(self, scene=None, level=None)",
    "get_xarray_stack": "(self, **kwargs)",
    "save": "(self, path, **options)",
    "set_resolution_level": "(self, level)",
    "set_scene": "(self, scene)",
    "source": "(self, scene=None, level=None)",
    "to_datatree": "(self)",
}

DUNDERS = {"__init__", "__repr__", "_repr_html_", "__enter__", "__exit__"}
DUNDERS |= {"__getstate__", "__setstate__"}


def _signature(func: Any) -> str:
    def one(p: inspect.Parameter) -> str:
        star = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        default = "" if p.default is p.empty else "=" + repr(p.default)
        return star + p.name + default + ("/kw" if p.kind is p.KEYWORD_ONLY else "")

    return "(" + ", ".join(one(p) for p in inspect.signature(func).parameters.values()) + ")"


def test_public_api_unchanged() -> None:
    names = [n for n in dir(Image) if not n.startswith("_") or n in DUNDERS]
    found = {n: inspect.getattr_static(Image, n) for n in names}
    assert sorted(n for n, a in found.items() if isinstance(a, property)) == list(PROPERTIES)
    methods = {n: _signature(a) for n, a in found.items() if not isinstance(a, property)}
    assert methods == METHODS
    assert imgio.imread.__module__ == imgio.imread_dask.__module__ == "imgio.image._imread"


def test_moved_methods_through_the_public_names(tmp_path: Any) -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(0, 4000, (2, 3, 20, 30), dtype=np.uint16)
    path = imgio.write(
        a,
        tmp_path / "a.ome.tif",
        dims="CZYX",
        channel_names=["DAPI", "GFP"],
        physical_pixel_sizes=(1.5, 0.5, 0.5),
    )
    ref = tifffile.imread(path)  # C Z Y X
    img = Image(path)
    np.testing.assert_array_equal(img.get_image_data("ZYX", C="GFP"), ref[1])
    np.testing.assert_array_equal(img.get_image_dask_data("YX", C=0, Z=2).compute(), ref[0, 2])
    np.testing.assert_array_equal(imgio.imread(path, T=0, C=1), ref[1])
    np.testing.assert_array_equal(imgio.imread_dask(path, T=0, Z=0).compute(), ref[:, 0])
    with pytest.raises(imgio.SelectionError, match="selects nothing"):
        img.get_image_data("ZYX", C=0, Y=slice(100, 200))
    assert img.channel_colors == [(0, 0, 255), (0, 255, 0)]  # by fluorophore name
    assert img.mosaic_tile_positions is None
    with pytest.raises(imgio.SelectionError, match="no mosaic tiles"):
        img.get_mosaic_tile_positions()
    text = repr(img)
    assert text.startswith("<imgio.Image") and "C:2 Z:3 Y:20 X:30" in text
    assert "DAPI, GFP" in text and "Z 1.5 Y 0.5 X 0.5 µm" in text
    assert "<table>" in img._repr_html_()
