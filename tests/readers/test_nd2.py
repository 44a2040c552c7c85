"""The ND2 reader against the manifest and the ``nd2`` library; laziness; OME round trips.

Every ND2 sample (``tests/data`` and the shared folder) is compared to the manifest's
checksum, pixel samples, channel names and voxel sizes, and to ``nd2.ND2File`` (the
format's own library) for pixels, channel colours and time stamps. An ND2 converted to
OME-TIFF and OME-Zarr reads back (with tifffile and zarr) with the same pixels,
channel names, colours and pixel sizes.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import nd2
import numpy as np
import pytest
import tifffile
import zarr
from _servers import RangeHTTPServer
from samples import DATA, array_sha256, to_axes
from test_lif import entries

import imgio
from imgio._colors import unpack_rgba
from imgio.readers.base import STATS

ZSTACK = DATA / "arcadia-example-zstack.nd2"


@pytest.mark.parametrize(("path", "entry"), entries("nd2"))
def test_manifest(path: Path, entry: dict[str, Any]) -> None:
    truth = entry["ground_truth"]
    pixels = truth["pixels"]
    img = imgio.Image(path)
    assert img.scenes == ("Image:0",)
    got = to_axes(img.data, img.dims.order, pixels["axes"], tuple(pixels["shape"]))
    assert got.dtype == np.dtype(truth["dtype"])
    assert array_sha256(got) == pixels["sha256"]
    for sample in pixels["samples"]:
        assert got[tuple(sample["index"])] == sample["value"]
    assert img.channel_names == truth["channel_names"]
    vox = truth["voxel_size_um"]
    z = vox["z"] if "Z" in truth["sizes"] else None
    assert img.physical_pixel_sizes == pytest.approx((z, vox["y"], vox["x"]))


@pytest.mark.parametrize(("path", "entry"), entries("nd2"))
def test_against_nd2(path: Path, entry: dict[str, Any]) -> None:
    img = imgio.Image(path)
    with nd2.ND2File(path) as f:
        want = f.asarray()
        sizes = dict(f.sizes)
        colors = [c.channel.color for c in f.metadata.channels]
        times = [f.frame_metadata(i).channels[0].time.relativeTimeMs for i in range(f._frame_count)]
    data = img.xarray_dask_data.transpose(*[d for d in sizes], ...).values
    np.testing.assert_array_equal(data.reshape(want.shape), want)
    assert [unpack_rgba(c)[:3] for c in img.reader.scenes()[0].channel_colors] == [
        (c.r, c.g, c.b) for c in colors
    ]
    if "T" in sizes:  # seconds between time points: the measured mean step
        steps = np.diff(times) / 1000.0
        assert img.time_interval == pytest.approx(steps.mean(), rel=1e-3)
        assert img.xarray_dask_data.coords["T"].values[1] == pytest.approx(img.time_interval)
    else:
        assert img.time_interval is None


def test_one_plane_touches_one_frame(stats: Any) -> None:
    img = imgio.Image(ZSTACK)
    with nd2.ND2File(ZSTACK) as f:
        want = f.asarray()
    plane = img.get_image_data("YX", Z=7)
    np.testing.assert_array_equal(plane, want[7])
    assert STATS.chunks_decoded == 1 and STATS.bytes_read == 128 * 128 * 2
    STATS.reset()
    region = img.xarray_dask_data.isel(Z=slice(2, 5), Y=slice(30, 40)).values.squeeze()
    np.testing.assert_array_equal(region, want[2:5, 30:40])
    assert STATS.chunks_decoded == 3 and STATS.bytes_read == 3 * 10 * 128 * 2  # rows only


def test_pickle_and_http(tmp_path: Path) -> None:
    """Sources pickle without handles; the same reads work over HTTP byte ranges."""
    img = imgio.Image(ZSTACK)
    lazy = img.xarray_dask_data.isel(Z=slice(3, 9))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(lazy)).values, lazy.values)
    with RangeHTTPServer(ZSTACK.parent) as http:
        remote = imgio.Image(f"{http.url}/{ZSTACK.name}")
        assert remote.physical_pixel_sizes == img.physical_pixel_sizes
        http.reset()
        np.testing.assert_array_equal(
            remote.get_image_data("YX", Z=4), img.get_image_data("YX", Z=4)
        )
        gets = [r for r in http.requests if r.method == "GET"]
        assert sum(r.body_bytes for r in gets) == 128 * 128 * 2  # exactly that frame


def test_converted_round_trip(tmp_path: Path) -> None:
    """ND2 -> OME-TIFF and OME-Zarr: pixels, names, colours and sizes read back."""
    img = imgio.Image(ZSTACK)
    want = img.get_image_data("ZYX")
    tif, store = tmp_path / "z.ome.tif", tmp_path / "z.ome.zarr"
    imgio.write(img, tif)
    imgio.write(img, store)
    with tifffile.TiffFile(tif) as t:
        np.testing.assert_array_equal(t.series[0].asarray().reshape(want.shape), want)
        ome = t.ome_metadata or ""
    assert 'Name="FITC BP"' in ome and 'PhysicalSizeZ="6.0"' in ome
    assert 'PhysicalSizeX="0.323390342594048"' in ome
    group = zarr.open_group(store, mode="r")
    attrs = json.loads(json.dumps(group.attrs.asdict()))
    ngff = attrs.get("ome", attrs)
    np.testing.assert_array_equal(np.asarray(group["0"]).reshape(want.shape), want)
    channel = ngff["omero"]["channels"][0]
    assert channel["label"] == "FITC BP" and channel["color"].upper() == "07FF00"
    scale = ngff["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale[-3:] == pytest.approx([6.0, 0.323390342594048, 0.323390342594048])
    for back in (imgio.Image(tif), imgio.Image(store)):
        np.testing.assert_array_equal(back.get_image_data("ZYX"), want)
        assert back.channel_names == ["FITC BP"] and back.channel_colors == [(7, 255, 0)]
        assert back.physical_pixel_sizes == pytest.approx(img.physical_pixel_sizes)


def test_library_frame_path(monkeypatch: pytest.MonkeyPatch, stats: Any) -> None:
    """Compressed and legacy files read frames through nd2 (forced here on the sample)."""
    import imgio.readers.nd2 as reader

    monkeypatch.setattr(reader, "_raw_layout", lambda *args: None)
    img = imgio.Image(ZSTACK)
    src = img.reader.source(0)
    assert isinstance(src, reader.Nd2FrameSource)
    with nd2.ND2File(ZSTACK) as f:
        want = f.asarray()
    np.testing.assert_array_equal(img.get_image_data("ZYX"), want)
    STATS.reset()
    np.testing.assert_array_equal(img.get_image_data("YX", Z=3, Y=slice(5, 50)), want[3, 5:50])
    assert STATS.chunks_decoded == 1
    again = pickle.loads(pickle.dumps(img.xarray_dask_data.isel(Z=slice(8, 11))))
    np.testing.assert_array_equal(again.values.squeeze(), want[8:11])


# ---------------------------------------------------------------- own metadata decoding
def _metadata_chunks(path: Path) -> dict[bytes, bytes]:
    with nd2.ND2File(path) as f:
        rdr: Any = f._rdr
        names = [k for k in rdr.chunkmap if k.startswith(b"Image") and b"DataSeq" not in k]
        return {k: rdr._load_chunk(k) for k in names}


@pytest.mark.parametrize(("path", "entry"), entries("nd2"))
def test_clx_lite_decoder_matches_nd2(path: Path, entry: dict[str, Any]) -> None:
    from nd2._parse._clx_lite import json_from_clx_lite_variant

    from imgio.readers._clxlite import decode

    chunks = {k: v for k, v in _metadata_chunks(path).items() if not v.startswith(b"<")}
    assert b"ImageMetadataSeqLV|0!" in chunks
    for data in chunks.values():
        assert decode(data) == json_from_clx_lite_variant(data, strip_prefix=False)
    meta = chunks[b"ImageMetadataSeqLV|0!"]
    full = decode(meta)["SLxPictureMetadata"]
    part = decode(meta, frozenset({"sSampleSetting"}))["SLxPictureMetadata"]
    assert "sSampleSetting" in full["sPicturePlanes"]
    del full["sPicturePlanes"]["sSampleSetting"]
    assert part == full


def _written(tmp: Path) -> list[Path]:
    from nd2_writer import write_nd2

    rng = np.random.default_rng(3)
    tzc = rng.integers(0, 4000, (2, 3, 16, 24, 2), dtype=np.uint16)
    pos = rng.integers(0, 250, (2, 2, 16, 24, 1), dtype=np.uint8)
    rgb = rng.integers(0, 250, (2, 16, 24, 3), dtype=np.uint8)
    return [
        write_nd2(tmp / "tzc.nd2", tzc, [("T", 2), ("Z", 3)], channels=("DAPI", "GFP")),
        write_nd2(tmp / "pos.nd2", pos, [("P", 2), ("Z", 2)], positions=("A1", "B2")),
        write_nd2(tmp / "rgb.nd2", rgb, [("T", 2)], rgb=True, channels=("Brightfield",)),
        write_nd2(tmp / "zip.nd2", tzc[0, :, :, :, :1], [("Z", 3)], compress=True),
    ]


@pytest.mark.parametrize(("path", "entry"), [*entries("nd2"), (None, {})])
def test_own_decoding_gives_nd2s_structure(
    path: Path | None, entry: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The samples (or, for ``None``, written two-channel, position, RGB and compressed
    files): imgio's trimmed metadata decoding gives what nd2's full decoding gives."""

    for one in [path] if path is not None else _written(tmp_path):
        _same_with_and_without_priming(one, monkeypatch)


def _same_with_and_without_priming(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import imgio.readers.nd2 as reader

    fast = imgio.Image(path).reader
    with monkeypatch.context() as m:
        m.setattr(reader, "_prime", lambda f: None)  # nd2 decodes everything itself
        slow = imgio.Image(path).reader
    assert fast.scenes() == slow.scenes()
    assert fast._seq.tolist() == slow._seq.tolist()
    assert fast._raw == slow._raw


def test_clx_lite_bad_input_is_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import struct
    import zlib

    from imgio.readers import _clxlite
    from imgio.readers._clxlite import decode

    monkeypatch.setattr(_clxlite, "MAX_INFLATED", 1000)

    name = "a\0".encode("utf-16-le")
    level = bytes([11, 2]) + name
    deep = b"".join(level + struct.pack("<IQ", 1, 10**6) for _ in range(200))
    with pytest.raises(ValueError, match="nested deeper"):
        decode(deep)
    bomb = bytes([76, 0]) + bytes(10) + zlib.compress(bytes(1001))
    with pytest.raises(ValueError, match="inflates beyond"):
        decode(bomb)
    with pytest.raises(ValueError, match="runs past"):
        decode(bytes([6, 2]) + name + b"\0\0")  # a double cut after two bytes
    with pytest.raises(ValueError, match="unknown CLX-Lite data type 0"):
        decode(bytes([0, 2]) + name)
