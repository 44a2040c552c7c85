"""imgio.references: kerchunk JSON read by plain zarr + fsspec equals imgio's and tifffile's."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
import tifffile
import zarr
from _servers import RangeHTTPServer
from fuzzing.seeds import _multi_file
from fuzzing.seeds_wsi import restart_starts

import imgio
from imgio.cli import main

SHARED = Path(
    os.environ.get("IMGIO_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "samples")
)


@pytest.fixture(autouse=True, scope="module")
def _codecs() -> None:
    from imagecodecs.numcodecs import register_codecs

    register_codecs(verbose=False)


def open_refs(refs: dict[str, Any], **options: Any) -> zarr.Group:
    """The references as a zarr group, without imgio: fsspec's reference filesystem."""
    if "remote_protocol" in options:
        options.setdefault("remote_options", {"asynchronous": True})
    fs = fsspec.filesystem("reference", fo=refs, asynchronous=True, **options)
    return zarr.open_group(zarr.storage.FsspecStore(fs, read_only=True), mode="r")


def whole(img: imgio.Image, scene: int = 0, level: int = 0) -> np.ndarray[Any, Any]:
    """imgio's read of one level in the reader's native dims."""
    src = img.reader.source(scene, level)
    return np.asarray(src[tuple(slice(0, n) for n in src.shape)])


RNG = np.random.default_rng(18)
U16 = RNG.integers(0, 60000, (3, 300, 260), dtype=np.uint16)
RGB = np.clip(RNG.normal(128, 30, (4, 2, 1, 1, 1)) + np.zeros((4, 2, 200, 150, 3)), 0, 255).astype(
    np.uint8
)
RGB[..., 40:90, 30:80, :] = 250
F32 = RNG.normal(0, 1, (2, 130, 170)).astype(np.float32)

VARIANTS: dict[str, tuple[np.ndarray[Any, Any], dict[str, Any]]] = {
    "tiles-raw": (U16, {"tile": (64, 64)}),
    "strips-raw-incomplete": (U16, {"rowsperstrip": 64}),
    "strips-zlib-incomplete": (U16, {"rowsperstrip": 64, "compression": "zlib"}),
    "tiles-zstd-predictor": (U16, {"tile": (64, 64), "compression": "zstd", "predictor": True}),
    "strips-lzw-predictor": (U16, {"rowsperstrip": 50, "compression": "lzw", "predictor": True}),
    "big-endian-deflate": (U16, {"tile": (32, 48), "compression": "deflate", "byteorder": ">"}),
    "planar-separate-tiles": (
        U16,
        {"tile": (64, 64), "planarconfig": "separate", "photometric": "rgb", "compression": "zlib"},
    ),
    "float-predictor": (F32, {"tile": (32, 32), "compression": "zlib", "predictor": 3}),
    "rgb-jpeg-tiles-tzc": (RGB, {"tile": (64, 64), "compression": "jpeg", "photometric": "rgb"}),
    "rgb-jpeg-strips": (
        RGB[0, 0, :192],
        {"rowsperstrip": 48, "compression": "jpeg", "photometric": "rgb"},
    ),
    "jpeg2000-tiles": (U16[0], {"tile": (128, 128), "compression": "jpeg2000"}),
    "contig-rgb-predictor": (
        RGB[0, 0],
        {"tile": (64, 64), "compression": "lzw", "predictor": True, "photometric": "rgb"},
    ),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_tiff_variants_read_through_zarr(tmp_path: Path, name: str) -> None:
    data, options = VARIANTS[name]
    path = tmp_path / f"{name}.tif"
    options = {"photometric": "minisblack", **options}
    tifffile.imwrite(path, data, metadata=None, **options)
    refs = imgio.references(path)
    assert refs["version"] == 1
    with imgio.Image(path) as img:
        mine = whole(img)
    got = open_refs(refs)["0"][...]
    np.testing.assert_array_equal(got, mine)  # the same as imgio's read
    theirs = tifffile.imread(path)  # and as the format's own library
    np.testing.assert_array_equal(got.reshape(theirs.shape), theirs)
    if "jpeg" not in name:
        np.testing.assert_array_equal(got.reshape(data.shape), data)
    chunk_refs = [v for k, v in refs["refs"].items() if not k.split("/")[-1].startswith(".")]
    ranges = [v for v in chunk_refs if isinstance(v, list)]
    assert ranges and {r[0] for r in ranges} == {str(path)}  # byte ranges of the file itself
    inline = [v for v in chunk_refs if isinstance(v, str)]
    assert len(inline) == (
        data.size // data.shape[-2] // data.shape[-1] if name == "strips-zlib-incomplete" else 0
    )


def test_pyramid_ngff_attributes_and_xarray(tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    data = RNG.integers(0, 4000, (2, 1100, 900), dtype=np.uint16)
    path = imgio.write(
        data,
        tmp_path / "p.ome.tif",
        dims="CYX",
        physical_pixel_sizes=(None, 0.5, 0.25),
        channel_names=["DAPI", "GFP"],
        tile=(256, 256),
        compression="zstd",
    )
    img = imgio.Image(path)
    assert len(img.resolution_levels) > 1
    refs = imgio.references(img)
    group = open_refs(refs)
    attrs = dict(group.attrs)
    ms = attrs["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == [d.lower() for d in img.reader.scenes()[0].dims]
    assert [d["path"] for d in ms["datasets"]] == [str(k) for k in img.resolution_levels]
    assert [c["label"] for c in attrs["omero"]["channels"]] == ["DAPI", "GFP"]
    for k in img.resolution_levels:
        np.testing.assert_array_equal(group[str(k)][...], whole(img, 0, k))
        scale = ms["datasets"][k]["coordinateTransformations"][0]["scale"]
        shape = group[str(k)].shape
        assert scale[-1] == pytest.approx(0.25 * 900 / shape[-1])
        assert scale[-2] == pytest.approx(0.5 * 1100 / shape[-2])
    assert ms["axes"][-1]["unit"] == "micrometer"
    # xarray reads the whole group: the levels' differing sizes get their own dim names
    fs = fsspec.filesystem("reference", fo=refs, asynchronous=True)
    ds = xr.open_zarr(zarr.storage.FsspecStore(fs, read_only=True), consolidated=False)
    assert ds["0"].dims[-2:] == ("y", "x")
    assert ds["0"].dtype == np.uint16
    np.testing.assert_array_equal(ds["0"].values.reshape(data.shape), data)
    one = imgio.references(img, level=1)
    assert [
        d["path"] for d in json.loads(one["refs"][".zattrs"])["multiscales"][0]["datasets"]
    ] == ["0"]
    np.testing.assert_array_equal(open_refs(one)["0"][...], whole(img, 0, 1))


def test_over_http_range_server(tmp_path: Path) -> None:
    data = RNG.integers(0, 255, (3, 400, 500), dtype=np.uint8)
    tifffile.imwrite(
        tmp_path / "r.tif",
        data,
        tile=(128, 128),
        compression="zlib",
        metadata=None,
        photometric="minisblack",
    )
    with RangeHTTPServer(tmp_path) as http:
        url = f"{http.url}/r.tif"
        refs = imgio.references(url)
        assert refs["refs"]["0/0.0.0"][0] == url
        http.reset()
        got = open_refs(refs, remote_protocol="http")["0"][:, 100:200, 300:400]
        np.testing.assert_array_equal(got, data[:, 100:200, 300:400])
        ranges = [r for r in http.requests if r.path == "/r.tif"]
        assert ranges and len(ranges) <= 3 * 2 * 2  # only the covering tiles


def test_cli_refs(tmp_path: Path) -> None:
    data = RNG.integers(0, 255, (2, 64, 80), dtype=np.uint8)
    path = tmp_path / "c.tif"
    tifffile.imwrite(
        path, data, compression="zstd", tile=(32, 32), metadata=None, photometric="minisblack"
    )
    out = tmp_path / "refs.json"
    assert main(["refs", str(path), "-o", str(out)]) == 0
    np.testing.assert_array_equal(open_refs(json.loads(out.read_text()))["0"][...], data)
    assert main(["refs", str(path), "--scene", "7", "-o", str(out)]) == 2


def test_refused_with_the_reason(tmp_path: Path) -> None:
    bits = tmp_path / "bits.tif"
    tifffile.imwrite(bits, np.ones((32, 32), bool), metadata=None)
    with pytest.raises(imgio.NotByteRangesError, match="1-bit samples are packed"):
        imgio.references(bits)
    jpeg = tmp_path / "j.tif"
    tifffile.imwrite(
        jpeg, RGB[0, 0], rowsperstrip=64, compression="jpeg", photometric="rgb", metadata=None
    )
    with pytest.raises(imgio.NotByteRangesError, match="last strip holds 8 of 64 rows"):
        imgio.references(jpeg)
    zarr_path = imgio.write(np.zeros((16, 16), np.uint8), tmp_path / "z.ome.zarr")
    with pytest.raises(imgio.NotByteRangesError, match="already a Zarr store.*open it with"):
        imgio.references(zarr_path)
    with pytest.raises(imgio.SelectionError, match="no scene named"):
        imgio.references(jpeg, scene="nope")


def test_chunks_outside_the_folder_need_permission(tmp_path: Path) -> None:
    folder = _multi_file(tmp_path / "set")
    refs = imgio.references(folder / "a.ome.tif")  # both files inside: fine
    assert {v[0] for k, v in refs["refs"].items() if isinstance(v, list)} == {
        str(folder / "a.ome.tif"),
        str(folder / "b.ome.tif"),
    }
    np.testing.assert_array_equal(open_refs(refs)["0"][..., 0, 0].ravel(), [1, 2])
    other = tmp_path / "elsewhere"
    other.mkdir()
    (folder / "b.ome.tif").rename(other / "b.ome.tif")
    (folder / "b.ome.tif").symlink_to(other / "b.ome.tif")
    img = imgio.Image(folder / "a.ome.tif", allow_external_files=True)
    with pytest.raises(imgio.ExternalFileError, match="outside the folder"):
        imgio.references(img)
    refs = imgio.references(img, allow_external_files=True)
    np.testing.assert_array_equal(open_refs(refs)["0"][..., 0, 0].ravel(), [1, 2])


def _shared_tiffs() -> list[Any]:
    names = ["tiff", "wsi", "imagej", "ome-tiff"]
    files = [p for n in names for p in sorted((SHARED / n).glob("*")) if p.is_file()]
    small = [
        p
        for p in files
        if p.stat().st_size < 20_000_000 and (".tif" in p.name or p.suffix in (".svs", ".stk"))
    ]
    if not small:
        return [pytest.param(None, marks=pytest.mark.skip(reason="shared samples absent"))]
    return [pytest.param(p, id=p.name) for p in small]


@pytest.mark.parametrize("path", _shared_tiffs())
def test_shared_samples(path: Path) -> None:
    """Every scene and level: zarr's read equals imgio's, or a NotByteRangesError says why."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = imgio.Image(path)
        for scene, info in enumerate(img.reader.scenes()):
            try:
                refs = imgio.references(img, scene=scene)
            except imgio.NotByteRangesError as exc:
                assert "cannot be zarr chunks" in str(exc)
                continue
            group = open_refs(refs)
            for level in range(info.n_levels):
                src = img.reader.source(scene, level)
                # a window of at most 700 x 700 pixels off the origin (crossing chunk edges)
                key = tuple(
                    slice(n // 3, min(n, n // 3 + 700)) if d in "YX" else slice(0, n)
                    for d, n in zip(src.dims, src.shape, strict=True)
                )
                np.testing.assert_array_equal(group[str(level)][key], src[key])


def test_ndpi_like_restart_interval_tiles(tmp_path: Path) -> None:
    """An NDPI-style page: one JPEG strip with restart markers, McuStarts (65426) as tiles;
    each tile is a byte range decoded with the JPEG header tifffile derives."""
    import io

    from PIL import Image as PILImage

    h, w = 128, 512
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([(yy * 2) % 256, xx % 256, ((yy + xx) // 3) % 256], -1).astype(np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, "JPEG", quality=90, subsampling=2, restart_marker_blocks=8)
    jpeg = buf.getvalue()
    starts = restart_starts(jpeg)
    assert len(starts) == (h // 16) * (w // 128)
    path = tmp_path / "like.ndpi.tif"
    tifffile.imwrite(
        path, iter([jpeg]), shape=(h, w, 3), dtype=np.uint8, photometric="ycbcr",
        compression=7, rowsperstrip=h, subsampling=(2, 2), metadata=None,
        extratags=[(65420, "I", 1, 1, True), (271, "s", 0, "Hamamatsu", True),
                   (65426, "I", len(starts), starts, True)],
    )  # fmt: skip
    assert tifffile.TiffFile(path).pages[0].is_ndpi
    refs = imgio.references(path)
    config = json.loads(refs["refs"]["0/.zarray"])
    assert config["chunks"] == [16, 128, 3] and config["compressor"]["header"]
    got = open_refs(refs)["0"][...]
    with imgio.Image(path) as img:
        np.testing.assert_array_equal(got, whole(img))
    # the original pixels, within JPEG's loss
    assert np.abs(got.astype(int) - rgb).mean() < 3
