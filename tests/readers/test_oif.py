"""Olympus OIF / OIB against oiffile and the arrays they were written from.

No public sample exists and oiffile cannot write: ``tests/oif_writer.py`` writes FluoView
style sets (UTF-16 settings, one TIFF per plane) and OIB compound files, which oiffile
reads as the independent second reader.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import oiffile
import pytest
from oif_writer import write_oib, write_oif

import imgio
from imgio.readers.base import STATS

DYES = ["DAPI", "Alexa Fluor 488"]


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(8).integers(0, 4096, (3, 2, 4, 24, 32), dtype=np.uint16)


@pytest.fixture(scope="module", params=["oif", "oib"])
def path(request: pytest.FixtureRequest, data: np.ndarray, tmp_path_factory: Any) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "oif":
        return write_oif(folder, "cells", data, dyes=DYES)
    return write_oib(folder / "cells.oib", data, dyes=DYES)


def test_pixels_and_metadata(path: Path, data: np.ndarray) -> None:
    img = imgio.Image(path)
    assert img.reader.name == "oif" and img.dims.order == "TCZYX"
    np.testing.assert_array_equal(img.data, data)
    with oiffile.OifFile(path) as ref:
        assert ref.series[0].dims == ("C", "Z", "T")
        np.testing.assert_array_equal(img.get_image_data("CZTYX"), ref.asarray())
    assert img.channel_names == DYES
    assert img.channel_colors[0] == (0, 0, 255)  # DAPI blue, by name
    assert img.physical_pixel_sizes == pytest.approx((0.5, 0.2, 0.2))
    assert img.time_interval == pytest.approx(2.0)
    assert img.metadata["Channel 2 Parameters"]["DyeName"] == "Alexa Fluor 488"


def test_lazy_one_plane_one_file(path: Path, data: np.ndarray, stats: Any) -> None:
    img = imgio.Image(path)
    assert img.shape and STATS.bytes_read == 0
    plane = img.get_image_data("YX", T=2, C=1, Z=3)
    np.testing.assert_array_equal(plane, data[2, 1, 3])
    assert STATS.chunks_decoded == 1
    lazy = img.xarray_dask_data.isel(Z=1, Y=slice(5, 20))
    again = pickle.loads(pickle.dumps(lazy))
    np.testing.assert_array_equal(again.values, data[:, :, 1, 5:20])


def test_single_plane_names(tmp_path: Path) -> None:
    plane = np.arange(6 * 7, dtype=np.uint8).reshape(1, 1, 1, 6, 7)
    img = imgio.Image(write_oif(tmp_path, "one", plane, dyes=["GFP"]))
    assert img.reader.source(0).dims == "CYX"
    np.testing.assert_array_equal(img.get_image_data("YX"), plane[0, 0, 0])
    assert img.channel_names == ["GFP"]


def test_http_oib(data: np.ndarray, tmp_path: Path) -> None:
    from _servers import RangeHTTPServer

    oib = write_oib(tmp_path / "cells.oib", data, dyes=DYES)
    with RangeHTTPServer(tmp_path) as http:
        remote = imgio.Image(f"{http.url}/cells.oib")
        np.testing.assert_array_equal(remote.data, data)
        http.reset()
        remote.get_image_data("YX", T=1, C=0, Z=2)
        gets = [r for r in http.requests if r.method == "GET"]
        assert 0 < sum(r.body_bytes for r in gets) < oib.stat().st_size // 10  # one plane's stream


def test_bad_files(data: np.ndarray, tmp_path: Path) -> None:
    oif = write_oif(tmp_path / "a", "cells", data, dyes=DYES)
    (tmp_path / "a" / "cells.oif.files" / "s_C002Z003T002.tif").unlink()
    with pytest.raises(
        imgio.CorruptFileError, match=r"plane \{'T': 1, 'C': 1, 'Z': 2\} has no file"
    ):
        imgio.Image(oif)
    lonely = tmp_path / "b" / "x.oif"
    lonely.parent.mkdir()
    lonely.write_bytes(oif.read_bytes())
    with pytest.raises(imgio.MissingFileError, match=r"x\.oif\.files is missing"):
        imgio.Image(lonely)
    oib = write_oib(tmp_path / "c.oib", data, dyes=DYES)
    raw = oib.read_bytes()
    for cut in (300, len(raw) // 2):  # the suffix names the format: the OIF reader reports
        (tmp_path / "cut.oib").write_bytes(raw[:cut])
        with pytest.raises(
            imgio.CorruptFileError, match=r"cut\.oib.*(corrupted Olympus|plane \d+: .*file ends)"
        ):
            _ = imgio.Image(tmp_path / "cut.oib").data
    (tmp_path / "bad.oib").write_bytes(b"\0" * 8 + raw[8:])  # its OLE2 signature damaged
    with pytest.raises(imgio.CorruptFileError, match=r"bad\.oib: an OIB is an OLE2 .* 00 00"):
        imgio.Image(tmp_path / "bad.oib")
    oif2 = write_oif(tmp_path / "d", "cells", data, dyes=DYES)
    (tmp_path / "d" / "cells.oif.files" / "s_C001Z001T001.tif").write_bytes(b"II*\0nonsense")
    img = imgio.Image(oif2)
    with pytest.raises(imgio.CorruptFileError, match=r"plane 0: .*s_C001Z001T001\.tif"):
        img.get_image_data("YX", T=0, C=0, Z=0)
