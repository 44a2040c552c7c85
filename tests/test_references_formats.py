"""imgio.references beyond TIFF: CZI (uncompressed / zstd subblocks), LIF, uncompressed ND2;
what is not byte ranges is refused with the reason."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from czi_writer import Sub, metadata_xml, write_czi
from nd2_writer import write_nd2
from test_references import open_refs, whole

import imgio

SHARED = Path(
    os.environ.get("IMGIO_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "samples")
)
RNG = np.random.default_rng(1818)


@pytest.fixture(autouse=True, scope="module")
def _codecs() -> None:
    from imagecodecs.numcodecs import register_codecs

    register_codecs(verbose=False)


def test_czi_zstd_tiles_on_a_grid(tmp_path: Path) -> None:
    """Three Z planes, each 2 x 2 subblocks, zstd0 and zstd1 mixed: one zarr chunk each."""
    data = RNG.integers(0, 65535, (3, 64, 80), dtype=np.uint16)
    subs = [
        Sub(data[z, y : y + 32, x : x + 40], x=x, y=y, dims={"C": 0, "Z": z, "M": m},
            compression=("zstd0", "zstd1")[(z + m) % 2])
        for z in range(3)
        for m, (y, x) in enumerate([(0, 0), (0, 40), (32, 0), (32, 40)])
    ]  # fmt: skip
    path = write_czi(tmp_path / "grid.czi", subs, xml=metadata_xml([("GFP", "#FF00FF00")], {}))
    refs = imgio.references(path)
    img = imgio.Image(path)
    src = img.reader.source(0, 0)
    got = open_refs(refs)["0"][...]
    np.testing.assert_array_equal(got, whole(img))
    np.testing.assert_array_equal(got.reshape(3, 64, 80), data)
    assert open_refs(refs)["0"].chunks[-2:] == (32, 40) and src.dims.endswith("ZYX")


def test_czi_uncompressed_over_http(tmp_path: Path) -> None:
    from _servers import RangeHTTPServer

    data = RNG.integers(0, 255, (2, 40, 50), dtype=np.uint8)
    write_czi(tmp_path / "raw.czi", [Sub(a, dims={"T": t}) for t, a in enumerate(data)])
    with RangeHTTPServer(tmp_path) as http:
        refs = imgio.references(f"{http.url}/raw.czi")
        got = open_refs(refs, remote_protocol="http")["0"][...]
    np.testing.assert_array_equal(got.reshape(data.shape), data)


@pytest.mark.parametrize(
    ("subs", "why"),
    [
        ([Sub(np.ones((8, 8), np.uint16), compression="zstd1-hilo")], "hi/lo byte packing"),
        ([Sub(np.ones((8, 8), np.uint16), compression="jpegxr")], "JPEG XR"),
        ([Sub(np.ones((8, 8, 3), np.uint8))], "stored BGR"),
        (
            [
                Sub(np.ones((16, 16), np.uint8), dims={"M": 0}),
                Sub(np.ones((16, 16), np.uint8), x=10, dims={"M": 1}),
            ],
            "overlap",
        ),
        (
            [
                Sub(np.ones((8, 8), np.uint8), dims={"Z": 0}),
                Sub(np.ones((8, 8), np.uint8), dims={"Z": 1}, compression="zstd0"),
            ],
            "uncompressed, zstd0",
        ),
    ],
    ids=["hilo", "jpegxr", "bgr", "overlapping-mosaic", "mixed-raw-and-zstd"],
)
def test_czi_refusals(tmp_path: Path, subs: list[Any], why: str) -> None:
    path = write_czi(tmp_path / "no.czi", subs)
    with pytest.raises(imgio.NotByteRangesError, match=why):
        imgio.references(path)


def test_nd2_uncompressed_and_compressed(tmp_path: Path) -> None:
    import nd2

    data = RNG.integers(0, 4000, (3, 32, 48, 2), dtype=np.uint16)  # T Y X C
    path = write_nd2(tmp_path / "raw.nd2", data, [("T", 3)], channels=("DAPI", "GFP"))
    group = open_refs(imgio.references(path))
    with imgio.Image(path) as img:
        np.testing.assert_array_equal(group["0"][...], whole(img))
    with nd2.ND2File(path) as f:
        theirs = f.asarray()  # T C Y X
    np.testing.assert_array_equal(np.moveaxis(group["0"][...], -1, 1), theirs)
    packed = write_nd2(tmp_path / "z.nd2", data, [("T", 3)], channels=("a", "b"), compress=True)
    with pytest.raises(imgio.NotByteRangesError, match="frames are compressed"):
        imgio.references(packed)


def _shared(folder: str) -> list[Any]:
    found = sorted((SHARED / folder).glob("*")) if (SHARED / folder).is_dir() else []
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason="shared samples absent"))]
    return [pytest.param(p, id=p.name) for p in found]


@pytest.mark.parametrize("path", _shared("lif") + _shared("nd2") + _shared("czi"))
def test_shared_instrument_files(path: Path) -> None:
    """Every scene: zarr's read equals imgio's, or a NotByteRangesError says why."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mosaic in (True, False):
            img = imgio.Image(path, reconstruct_mosaic=mosaic)
            for scene, info in enumerate(img.reader.scenes()):
                try:
                    refs = imgio.references(img, scene=scene)
                except imgio.NotByteRangesError as exc:
                    assert "cannot be zarr chunks" in str(exc) or "not " in str(exc)
                    continue
                group = open_refs(refs)
                for level in range(info.n_levels):
                    np.testing.assert_array_equal(group[str(level)][...], whole(img, scene, level))
