"""LIF and ND2 everywhere else: the xarray engine and the napari reader open them with
names, colours and sizes (their LocalCluster computes are in ``test_cluster.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from samples import DATA

LIF = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"
ND2 = DATA / "arcadia-example-zstack.nd2"


def test_xarray_engine(tmp_path: Path) -> None:
    import xarray as xr

    from imgio.xarray_backend import ImgioBackendEntrypoint

    da = xr.open_dataarray(ND2, engine=ImgioBackendEntrypoint)
    assert da.sizes["Z"] == 11 and list(da.coords["C"].values) == ["FITC BP"]
    np.testing.assert_allclose(da.coords["Z"].values[:2], [0.0, 6.0])
    lif = xr.open_dataarray(LIF, engine=ImgioBackendEntrypoint)
    assert (lif.sizes["Y"], lif.sizes["X"]) == (97, 97)
    assert list(lif.coords["C"].values) == ["Green", "Red"]


def test_napari_layers() -> None:
    from imgio.napari import get_reader

    reader = get_reader(str(LIF))
    assert reader is not None
    (layer,) = reader(str(LIF))
    _data, kwargs, kind = layer
    assert kind == "image" and kwargs["name"] == ["Green", "Red"]
    assert kwargs["scale"][-2:] == pytest.approx([3.968254, 3.968254])
