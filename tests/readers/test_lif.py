"""The LIF reader against the manifest (readlif's ground truth) and readlif itself.

Every LIF sample (``tests/data`` and the shared folder) is read whole and compared to
the manifest's checksum, pixel samples and pixel sizes, and image by image to
readlif 0.6.6 (an independent reader, GPL, used here as a test reference only).
Tile scans: the reconstructed mosaic equals the tiles placed at their positions, and a
region read decodes only the tiles it covers.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import liffile
import numpy as np
import pytest
import readlif.reader
from samples import DATA, ROOTS, array_sha256, load_manifest, to_axes
from xlif_writer import lof_from_lif

import imgio
from imgio.readers.base import STATS

#: readlif's axis names in the manifest -> imgio letters
AXES = {"LAMBDA_EM": "E", "LAMBDA_EX": "W"}
TILESCAN = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"


def entries(category: str) -> list[Any]:
    out = []
    for root in ROOTS:
        manifest = load_manifest(root)
        if manifest is None:
            out.append(pytest.param(None, id=f"{root.name}-absent", marks=pytest.mark.skip))
            continue
        out += [
            pytest.param(root / e["file"], e, id=f"{root.name}:{Path(e['file']).name}")
            for e in manifest["files"]
            if e.get("category") == category and not e["bad_input"]
        ]
    return out


def letters(axes: str) -> str:
    return "".join(AXES.get(a, a) for a in axes.split(","))


@pytest.mark.parametrize(("path", "entry"), entries("lif"))
def test_manifest(path: Path, entry: dict[str, Any]) -> None:
    truth = entry["ground_truth"]
    img = imgio.Image(path, reconstruct_mosaic=False)
    assert img.scenes == tuple(image["name"] for image in truth["images"])
    for i, image in enumerate(truth["images"]):
        img.set_scene(i)
        pixels = image["pixels"]
        got = to_axes(img.data, img.dims.order, letters(pixels["axes"]), tuple(pixels["shape"]))
        assert got.dtype == np.dtype(pixels["dtype"])
        assert array_sha256(got) == pixels["sha256"], image["name"]
        for sample in pixels["samples"]:
            assert got[tuple(sample["index"])] == sample["value"]
        # readlif's scale is pixels per µm (frames per second for T)
        scale = image["scale_n"]
        sizes = img.physical_pixel_sizes
        for d in "ZYX":
            want = 1 / abs(scale[d]) if scale.get(d) else None
            assert getattr(sizes, d) == pytest.approx(want), (image["name"], d)
        if scale.get("T"):
            assert img.time_interval == pytest.approx(1 / scale["T"])


#: readlif's numeric dimension codes -> imgio letters
CODES = {1: "X", 2: "Y", 3: "Z", 4: "T", 5: "E", 9: "W", 10: "M"}


@pytest.mark.parametrize(("path", "entry"), entries("lif"))
def test_against_readlif(path: Path, entry: dict[str, Any]) -> None:
    """Every plane of every image equals readlif's ``get_plane``."""
    img = imgio.Image(path, reconstruct_mosaic=False)
    lif = readlif.reader.LifFile(str(path))
    for i, ref in enumerate(lif.get_iter_image()):
        img.set_scene(i)
        data = img.xarray_data
        shown = [CODES[d] for d in ref.display_dims]  # readlif's plane is (shown[1], shown[0])
        others = {code: n for code, n in ref.dims_n.items() if code not in ref.display_dims}
        for index in np.ndindex(*others.values()):
            requested = dict(zip(others, index, strict=True))
            for c in range(ref.channels):
                want = np.asarray(ref.get_plane(ref.display_dims, c, dict(requested)))
                sel = {CODES[k]: v for k, v in requested.items()} | {"C": c}
                got = data.isel(sel).transpose(..., shown[1], shown[0]).values.squeeze()
                np.testing.assert_array_equal(got, want, err_msg=f"{ref.name} {sel}")


@pytest.mark.parametrize(("path", "entry"), entries("lif"))
def test_channels_like_bioio_lif(path: Path, entry: dict[str, Any]) -> None:
    """Channel names and scene names as bioio-lif (liffile based) reports them."""
    from bioio_lif import Reader

    img = imgio.Image(path, reconstruct_mosaic=False)
    ref = Reader(str(path))
    assert img.scenes == tuple(ref.scenes)
    for i in range(len(img.scenes)):
        img.set_scene(i)
        ref.set_scene(i)
        assert img.channel_names == [str(n) for n in ref.channel_names]


def test_tilescan_mosaic(stats: Any) -> None:
    tiles = imgio.Image(TILESCAN, reconstruct_mosaic=False)
    positions = tiles.get_mosaic_tile_positions()
    assert tiles.dims.order == "MTCZYX" and tiles.dims.M == 4 == len(positions)
    # stage positions (FieldY/FieldX grid 2x2, 33 px apart at 3.968 µm per pixel)
    assert positions == [(0, 0), (33, 0), (0, 33), (33, 33)]
    assert tiles.get_mosaic_tile_position(3) == (33, 33)
    mosaic = imgio.Image(TILESCAN)
    assert mosaic.mosaic_tile_positions is None
    assert mosaic.dims.order == "TCZYX" and (mosaic.dims.Y, mosaic.dims.X) == (97, 97)
    want = np.zeros(mosaic.shape, mosaic.dtype)
    for m, (y, x) in enumerate(positions):  # later tiles over earlier ones
        want[..., y : y + 64, x : x + 64] = tiles.get_image_data("TCZYX", M=m)
    np.testing.assert_array_equal(mosaic.data, want)
    assert mosaic.channel_names == ["Green", "Red"]
    assert mosaic.channel_colors == [(0, 255, 0), (255, 0, 0)]
    assert mosaic.physical_pixel_sizes == pytest.approx((6.227615, 3.968254, 3.968254))
    # a corner region inside tile 0 decodes only tile 0 (one plane per T, C, Z)
    STATS.reset()
    corner = mosaic.xarray_dask_data.isel(Y=slice(0, 30), X=slice(0, 30)).values
    np.testing.assert_array_equal(corner, want[..., :30, :30])
    assert STATS.chunks_decoded == 2 * 2 * 3
    STATS.reset()
    mosaic.get_image_data("YX", T=1, C=0, Z=2, Y=slice(40, 90), X=slice(40, 90))
    assert STATS.chunks_decoded == 4  # one plane of each of the four tiles


def test_plane_reads_touch_one_plane(stats: Any) -> None:
    img = imgio.Image(TILESCAN, reconstruct_mosaic=False)
    plane = img.get_image_data("YX", M=2, T=1, C=1, Z=0)
    assert STATS.chunks_decoded == 1 and STATS.bytes_read == 64 * 64
    STATS.reset()
    rows = img.xarray_dask_data.isel(M=2, T=1, C=1, Z=0, Y=slice(10, 20)).values
    np.testing.assert_array_equal(rows, plane[10:20])
    assert STATS.chunks_decoded == 1 and STATS.bytes_read == 10 * 64  # only those rows


def test_pickled_source_reads_in_a_new_reader() -> None:
    img = imgio.Image(TILESCAN)
    lazy = img.xarray_dask_data.isel(T=1, Y=slice(20, 80))
    again = pickle.loads(pickle.dumps(lazy))
    np.testing.assert_array_equal(again.values, lazy.values)
    src = pickle.loads(pickle.dumps(img.reader.source(0)))
    assert src.shape == (2, 3, 2, 97, 97)


def test_open_reads_no_pixels() -> None:
    STATS.reset()
    img = imgio.Image(TILESCAN)
    assert img.shape and STATS.bytes_read == 0
    assert img.metadata.startswith('<LMSDataContainerHeader Version="2">')


def test_info_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from imgio.cli import main

    assert main(["info", str(TILESCAN)]) == 0
    out = capsys.readouterr().out
    assert "TileScan_001" in out and "Green" in out


def test_http_reads_byte_ranges() -> None:
    """Remote LIF: the structure once, then exactly the bytes of the planes read."""
    from _servers import RangeHTTPServer

    local = imgio.Image(TILESCAN, reconstruct_mosaic=False)
    with RangeHTTPServer(TILESCAN.parent) as http:
        remote = imgio.Image(f"{http.url}/{TILESCAN.name}", reconstruct_mosaic=False)
        assert remote.scenes == local.scenes and remote.dims == local.dims
        assert remote.mosaic_tile_positions == local.mosaic_tile_positions
        http.reset()
        got = remote.get_image_data("ZYX", M=1, T=1, C=0)
        np.testing.assert_array_equal(got, local.get_image_data("ZYX", M=1, T=1, C=0))
        gets = [r for r in http.requests if r.method == "GET"]
        assert sum(r.body_bytes for r in gets) == 3 * 64 * 64  # three planes, nothing else


def test_lof_reads_like_its_lif(tmp_path: Path) -> None:
    lof = lof_from_lif(TILESCAN, tmp_path / "TileScan_001.lof")
    img, ref = imgio.Image(lof), imgio.Image(TILESCAN)
    assert img.reader.name == "lif" and img.scenes == ("TileScan_001",)
    assert img.dims == ref.dims and img.channel_names == ref.channel_names
    assert img.physical_pixel_sizes == ref.physical_pixel_sizes
    np.testing.assert_array_equal(img.data, ref.data)


def test_z_stack_scanned_downwards_keeps_its_direction() -> None:
    """LAS X stores a downward Z stack with a negative length: the planes stay in file
    order (as LAS X, readlif and bioio-lif show them), the size is positive and the Z
    coordinates descend from the origin (µm)."""
    img = imgio.Image(TILESCAN)
    assert img.physical_pixel_sizes.Z == pytest.approx(6.227615)
    z = img.xarray_dask_data.coords["Z"].values
    np.testing.assert_allclose(z, [-0.020352, -6.247967, -12.475582], atol=1e-6)


def test_lambda_sweeps_have_wavelength_coordinates(shared_samples: Path) -> None:
    """Emission (E) and excitation (W) sweeps labelled in nm from the XML's start and step."""
    img = imgio.Image(shared_samples / "lif" / "readlif-LeicaLASX_wavelength-sweep_example.lif")
    img.set_scene("x_y_lambdaEmi")
    np.testing.assert_allclose(img.xarray_dask_data.coords["E"], np.arange(550, 741, 10))
    img.set_scene("x_y_lambdaExc")
    np.testing.assert_allclose(img.xarray_dask_data.coords["W"], np.arange(490, 561, 5))
    img.set_scene("x_y_z_t_lambdaEmi")
    x = img.xarray_dask_data
    np.testing.assert_allclose(x.coords["E"], np.arange(550, 596, 5))
    assert x.coords["Z"].values[0] == pytest.approx(-2.5)  # upward Z: origin + k * size


def test_transposed_reads_scatter_into_the_output(stats: Any) -> None:
    """File order T M Z C, shown M T C Z: whole planes and row bands go straight into the
    transposed output (one vectored read per run of planes), equal to liffile's array."""
    img = imgio.Image(TILESCAN, reconstruct_mosaic=False)
    src = img.reader.source(0)
    assert src.dims != img.dims.order  # a transposed read
    with liffile.LifFile(TILESCAN) as lif:
        native = lif.images[0].asarray()
    perm = [src.dims.index(d) for d in img.dims.order]
    np.testing.assert_array_equal(img.data, native.transpose(perm))
    STATS.reset()
    band = img.xarray_dask_data.isel(Y=slice(10, 20)).values
    np.testing.assert_array_equal(band, native.transpose(perm)[..., 10:20, :])
    assert STATS.bytes_read == 4 * 2 * 2 * 3 * 10 * 64  # only those rows of every plane
    from imgio.arrays._lazy import Reordered

    shown = Reordered(src, img.dims.order)
    out = np.empty((*shown.shape[:-2], 10, shown.shape[-1]), src.dtype)
    key = tuple(slice(0, n) for n in shown.shape[:-2]) + (slice(10, 20), slice(0, 64))
    assert shown.read_into(key, out)  # rows of every plane, scattered into a transposed out
    np.testing.assert_array_equal(out, band)
