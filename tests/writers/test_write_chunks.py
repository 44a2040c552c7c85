"""OME-Zarr default chunks chosen by bytes (thin images) and one "auto" pyramid rule for
OME-TIFF and OME-Zarr (issue 20)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

import imgio
from imgio.writers._zarr_levels import MIN_CHUNK_BYTES


def _files(store: Path, level: str = "0") -> list[Path]:
    return [p for p in (store / level).rglob("*") if p.is_file() and not p.name.startswith(".z")]


@pytest.mark.parametrize(
    ("shape", "dims"),
    [((512, 1, 512), "ZYX"), ((10, 128, 1, 128), "TZYX"), ((1, 20000), "YX")],
)
def test_thin_images_get_chunks_of_at_least_256_kib(tmp_path: Path, shape, dims) -> None:
    """An x-z scan (Y of 1), an x-z-t scan and a line scan: few chunks, none tiny."""
    data = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    out = imgio.write(data, tmp_path / "thin.ome.zarr", dims=dims, compression="none")
    arr = zarr.open_group(out, mode="r")["0"]
    chunk_bytes = int(np.prod(arr.chunks)) * arr.dtype.itemsize
    assert chunk_bytes >= min(MIN_CHUNK_BYTES, data.nbytes)
    assert len(_files(Path(out))) == int(np.prod(arr.cdata_shape)) <= 2
    np.testing.assert_array_equal(np.asarray(arr[:]).reshape(shape), data)


def test_planes_of_512_px_and_more_keep_one_plane_chunks(tmp_path: Path) -> None:
    data = np.zeros((3, 4, 600, 700), dtype=np.uint8)
    out = imgio.write(data, tmp_path / "z.ome.zarr", dims="CZYX", pyramid_levels=1)
    assert zarr.open_group(out, mode="r")["0"].chunks == (1, 1, 1, 600, 700)
    big = np.zeros((2, 1500, 1300), dtype=np.uint16)
    out = imgio.write(big, tmp_path / "big.ome.zarr", dims="ZYX", pyramid_levels=1)
    assert zarr.open_group(out, mode="r")["0"].chunks == (1, 1, 1, 1024, 1024)


def test_explicit_chunks_are_kept(tmp_path: Path) -> None:
    data = np.zeros((64, 1, 64), dtype=np.uint8)
    out = imgio.write(data, tmp_path / "c.ome.zarr", dims="ZYX", chunks=32)
    assert zarr.open_group(out, mode="r")["0"].chunks == (1, 1, 1, 1, 32)


@pytest.mark.parametrize("size", [(2100, 60), (1100, 300), (513, 513), (512, 400)])
def test_auto_pyramid_depth_is_the_same_for_tiff_and_zarr(tmp_path: Path, size) -> None:
    data = np.zeros((2, *size), dtype=np.uint16)
    tif = imgio.write(data, tmp_path / "a.ome.tif", dims="CYX")
    zar = imgio.write(data, tmp_path / "a.ome.zarr", dims="CYX")
    with tifffile.TiffFile(tif) as t:
        tiff_levels = [lvl.shape[-2:] for lvl in t.series[0].levels]
    attrs = json.loads((Path(zar) / ".zattrs").read_text())
    datasets = attrs["multiscales"][0]["datasets"]
    group = zarr.open_group(zar, mode="r")
    zarr_levels = [group[d["path"]].shape[-2:] for d in datasets]
    assert tiff_levels == zarr_levels
    assert max(tiff_levels[-1]) <= 512 and (len(tiff_levels) == 1 or max(tiff_levels[-2]) > 512)
