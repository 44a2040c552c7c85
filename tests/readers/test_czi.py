"""CZI reader: the shared samples against their manifest and pylibCZIrw/aicspylibczi,
synthetic files (every codec, pyramids, overlapping mosaic tiles, RGB, time stamps)
written by ``tests/czi_writer.py``, laziness, pickling, conversion and bad input."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import aicspylibczi
import numpy as np
import pytest
from czi_writer import Sub, metadata_xml, write_czi
from pylibCZIrw import czi as pyczi
from samples import ROOTS, array_sha256, load_manifest

import imgio
from imgio.readers.base import STATS

RNG = np.random.default_rng(20261129)


def czi_cases() -> list[Any]:
    out = []
    for root in ROOTS:
        manifest = load_manifest(root)
        if manifest is None:
            out.append(pytest.param(root, None, marks=pytest.mark.skip(reason=f"no {root}")))
            continue
        for entry in manifest["files"]:
            if entry.get("category") == "czi" or entry["file"].endswith(".czi"):
                out.append(pytest.param(root, entry, id=f"{root.name}:{entry['file']}"))
    return out


@pytest.mark.parametrize(("root", "entry"), czi_cases())
def test_sample_against_manifest(root: Path, entry: dict[str, Any]) -> None:
    path = root / entry["file"]
    truth = entry["ground_truth"]
    img = imgio.Image(path)
    assert img.dtype == np.dtype(truth.get("read_image", {}).get("dtype", "uint16"))
    scales = truth["scaling_um"]
    for axis in "XYZ":
        want = scales.get(axis) or None
        assert getattr(img.physical_pixel_sizes, axis) == pytest.approx(want), axis
    names = truth["channel_names"]
    assert img.channel_names is not None and len(img.channel_names) == len(names)
    for got, want in zip(img.channel_names, names, strict=True):
        if want:
            assert got == want
    if "read_image" in truth:
        assert len(img.scenes) == 1
        read = truth["read_image"]
        got = img.get_image_data("TCZYXS" if "S" in img.dims.order else "TCZYX")
        got = got[..., ::-1] if got.ndim == 6 else got  # aicspylibczi gives BGR
        assert got.size == int(np.prod(read["shape"]))
        assert array_sha256(got) == read["sha256"]
        return
    # tile-scan scenes: each scene's tiles against the manifest (aicspylibczi's M axis)
    tiles = imgio.Image(path, reconstruct_mosaic=False)
    assert len(tiles.scenes) == len(truth["read_image_per_scene"])
    for s, read in enumerate(truth["read_image_per_scene"]):
        tiles.set_scene(s)
        n_m = read["shape"][read["axes"].index("M")]
        got = tiles.get_image_data("MYX") if n_m > 1 else tiles.get_image_data("YX")
        assert array_sha256(got) == read["sha256"], s


def test_mosaic_scenes_against_pylibczirw(shared_samples: Path) -> None:
    path = shared_samples / "czi" / "czitools-S3_1Pos_2Mosaic_T1_Z1_CH1.czi"
    img = imgio.Image(path)
    assert img.scenes == ("TR1", "P1", "TR2")
    assert img.channel_colors == [(0, 161, 255)]
    with pyczi.open_czi(str(path)) as doc:
        boxes = doc.scenes_bounding_rectangle
        for s in range(3):
            r = boxes[s]
            want = doc.read(roi=(r.x, r.y, r.w, r.h), plane={"C": 0, "T": 0, "Z": 0}, scene=s)
            img.set_scene(s)
            np.testing.assert_array_equal(img.get_image_data("YX"), want[..., 0])
    tiles = imgio.Image(path, reconstruct_mosaic=False)
    assert tiles.dims.order == "MTCZYX" and tiles.dims.M == 10
    czi = aicspylibczi.CziFile(str(path))
    boxes = czi.get_all_mosaic_tile_bounding_boxes(S=0)
    scene_box = czi.get_mosaic_scene_bounding_box(index=0)
    want = sorted((b.y - scene_box.y, b.x - scene_box.x) for b in boxes.values())
    assert sorted(tiles.mosaic_tile_positions or []) == want
    assert tiles.get_mosaic_tile_position(1) == tiles.mosaic_tile_positions[1]  # type: ignore[index]


def test_cell_division_metadata(shared_samples: Path) -> None:
    img = imgio.Image(shared_samples / "czi" / "czitools-CellDivision_T3_Z5_CH2_X240_Y170.czi")
    assert img.dims.order == "TCZYX" and img.shape == (3, 2, 5, 170, 240)
    assert img.channel_names == ["LED555", "LED470"]
    assert img.channel_colors == [(255, 126, 0), (0, 255, 51)]  # ZEN's #FFFF7E00, #FF00FF33
    t = img.xarray_dask_data.coords["T"].values
    assert t[1] - t[0] == pytest.approx(60.075)  # Offsets "0 60.075 120.15" in seconds
    plane = img.get_image_data("YX", T=2, C=1, Z=3)
    czi = aicspylibczi.CziFile(str(img.path))
    want = czi.read_image(T=2, C=1, Z=3)[0].squeeze()
    np.testing.assert_array_equal(plane, want)


# ------------------------------------------------------------------ synthetic files
def _stack(path: Path, compressions: list[str]) -> np.ndarray[Any, Any]:
    data = RNG.integers(0, 65535, (len(compressions), 37, 53), dtype=np.uint16)
    subs = [
        Sub(a, dims={"C": 0, "Z": z}, compression=c)
        for z, (a, c) in enumerate(zip(data, compressions, strict=True))
    ]
    write_czi(path, subs, xml=metadata_xml([("GFP", "#FF00FF00")], {"X": 2.5e-7, "Y": 2.5e-7}))
    return data


def test_every_codec(tmp_path: Path) -> None:
    codecs = ["none", "zstd0", "zstd1", "zstd1-hilo", "jpegxr"]
    data = _stack(tmp_path / "codecs.czi", codecs)
    img = imgio.Image(tmp_path / "codecs.czi")
    np.testing.assert_array_equal(img.get_image_data("ZYX"), data)
    assert img.channel_names == ["GFP"] and img.channel_colors == [(0, 255, 0)]
    assert img.physical_pixel_sizes.X == pytest.approx(0.25)
    with pyczi.open_czi(str(tmp_path / "codecs.czi")) as doc:  # the file is a valid CZI
        for z in range(len(codecs)):
            np.testing.assert_array_equal(doc.read(plane={"Z": z, "C": 0, "T": 0})[..., 0], data[z])


def test_rgb_gray8_and_time_stamps(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 255, (3, 20, 30, 3), dtype=np.uint8)
    write_czi(
        tmp_path / "rgb.czi",
        [Sub(a, dims={"T": t}) for t, a in enumerate(rgb)],
        timestamps=[10.0, 12.5, 15.75],  # seconds, not evenly spaced
    )
    img = imgio.Image(tmp_path / "rgb.czi")
    assert img.dims.order == "TCZYXS" and img.dtype == np.uint8
    np.testing.assert_array_equal(img.get_image_data("TYXS"), rgb)  # RGB, not the file's BGR
    assert img.reader.scenes()[0].time_interval == pytest.approx(2.875)  # the mean step
    # T coordinates: the acquisition times themselves, from the first
    np.testing.assert_allclose(img.xarray_dask_data.coords["T"].values, [0.0, 2.5, 5.75])
    with pyczi.open_czi(str(tmp_path / "rgb.czi")) as doc:
        np.testing.assert_array_equal(doc.read(plane={"T": 1, "C": 0, "Z": 0})[..., ::-1], rgb[1])


@pytest.mark.parametrize("dtype", ["u1", "<u2"])
def test_jpegxr_rgb(tmp_path: Path, dtype: str) -> None:
    """JPEG XR RGB subblocks (Bgr24/Bgr48 in the file, lossless): RGB as S, like pylibCZIrw."""
    top = 255 if dtype == "u1" else 65535
    rgb = RNG.integers(0, top, (2, 24, 40, 3)).astype(dtype)
    path = tmp_path / f"jxr-{dtype[-2:]}.czi"
    write_czi(path, [Sub(a, dims={"Z": z}, compression="jpegxr") for z, a in enumerate(rgb)])
    img = imgio.Image(path)
    assert img.dims.order == "TCZYXS" and img.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(img.get_image_data("ZYXS"), rgb)  # BGR in the file, RGB out
    with pyczi.open_czi(str(path)) as doc:  # pylibCZIrw returns the BGR order of the file
        np.testing.assert_array_equal(doc.read(plane={"Z": 1, "C": 0, "T": 0})[..., ::-1], rgb[1])


def _mosaic(path: Path) -> np.ndarray[Any, Any]:
    """A 3 x 2 tile scan with 8-pixel overlaps plus a factor-2 pyramid layer."""
    full = RNG.integers(0, 4000, (2, 120, 88), dtype=np.uint16)  # C Y X
    subs = []
    m = 0
    for ty in range(3):
        for tx in range(2):
            y0, x0 = ty * 40 - (8 if ty else 0), tx * 44 - (8 if tx else 0)
            for c in range(2):
                tile = full[c, y0 : y0 + 48 if ty else 40, x0 : x0 + 52 if tx else 44].copy()
                subs.append(
                    Sub(
                        tile,
                        x=1000 + x0,
                        y=500 + y0,
                        dims={"C": c, "M": m, "S": 0},
                        compression="zstd1",
                    )
                )
            m += 1
    for c in range(2):
        subs.append(
            Sub(full[c, ::2, ::2].copy(), x=1000, y=500, dims={"C": c, "S": 0}, size=(120, 88))
        )
    write_czi(
        path,
        subs,
        xml=metadata_xml([("DAPI", "#FF0000FF"), ("Cy5", "#FFFF00FF")], scenes=["Tiles"]),
    )
    return full


def test_mosaic_pyramid_and_tiles(tmp_path: Path) -> None:
    full = _mosaic(tmp_path / "mosaic.czi")
    img = imgio.Image(tmp_path / "mosaic.czi")
    assert img.scenes == ("Tiles",) and img.resolution_levels == (0, 1)
    np.testing.assert_array_equal(img.get_image_data("CYX"), full)
    np.testing.assert_array_equal(img.get_image_data("CYX", level=1), full[:, ::2, ::2])
    with pyczi.open_czi(str(tmp_path / "mosaic.czi")) as doc:
        want = doc.read(roi=(1000, 500, 88, 120), plane={"C": 1, "T": 0, "Z": 0})[..., 0]
    np.testing.assert_array_equal(img.get_image_data("YX", C=1), want)
    tiles = imgio.Image(tmp_path / "mosaic.czi", reconstruct_mosaic=False)
    assert tiles.dims.M == 6 and tiles.resolution_levels == (0,)
    positions = tiles.mosaic_tile_positions
    assert positions == [(0, 0), (0, 36), (32, 0), (32, 36), (72, 0), (72, 36)]
    y, x = positions[3]
    np.testing.assert_array_equal(tiles.get_image_data("CYX", M=3), full[:, y : y + 48, x : x + 52])


def test_region_decodes_covering_tiles_only(tmp_path: Path) -> None:
    _mosaic(tmp_path / "mosaic.czi")
    STATS.reset()
    img = imgio.Image(tmp_path / "mosaic.czi")
    lazy = img.get_xarray_dask_data()
    assert STATS.chunks_decoded == 0  # open and graph: no pixels
    region = lazy.isel(C=1, Y=slice(0, 20), X=slice(0, 20)).values  # one tile of one channel
    assert region.shape == (1, 1, 20, 20)
    assert STATS.chunks_decoded == 1
    STATS.reset()
    img.get_image_data("YX", C=0, Y=slice(35, 45), X=slice(30, 40))  # the four-tile corner
    assert STATS.chunks_decoded == 4
    STATS.reset()
    img.get_image_data("YX", C=0, level=1)
    assert STATS.chunks_decoded == 1


def test_pickle_and_convert(tmp_path: Path) -> None:
    import tifffile
    import zarr

    full = _mosaic(tmp_path / "mosaic.czi")
    img = imgio.Image(tmp_path / "mosaic.czi")
    src = pickle.loads(pickle.dumps(img.reader.source(0, 0)))
    np.testing.assert_array_equal(
        src[(slice(0, 1), slice(0, 2), slice(0, 1), slice(0, 120), slice(0, 88))][0, :, 0], full
    )
    img.save(tmp_path / "out.ome.tif", tile=64)
    with tifffile.TiffFile(tmp_path / "out.ome.tif") as tif:
        np.testing.assert_array_equal(tif.series[0].asarray().squeeze(), full)
        assert len(tif.series[0].levels) >= 1
    back = imgio.Image(tmp_path / "out.ome.tif")
    assert back.channel_names == ["DAPI", "Cy5"] and back.channel_colors == [
        (0, 0, 255),
        (255, 0, 255),
    ]
    img.save(tmp_path / "out.ome.zarr")
    group = zarr.open_group(tmp_path / "out.ome.zarr", mode="r")
    np.testing.assert_array_equal(np.asarray(group["0"]).squeeze(), full)
    omero = group.attrs["omero"]["channels"]
    assert [c["label"] for c in omero] == ["DAPI", "Cy5"]
    assert [c["color"].upper() for c in omero] == ["0000FF", "FF00FF"]


# ------------------------------------------------------------------ bad input
def _read_everything(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imgio.ImgioWarning)
        img = imgio.Image(path)
        for s in range(len(img.scenes)):
            img.get_image_data(scene=s)


@pytest.mark.parametrize("cut", [10, 600, 0.3, 0.7, -300, -40])
def test_truncated(tmp_path: Path, cut: float) -> None:
    _stack(tmp_path / "ok.czi", ["zstd1", "none", "zstd0"])
    data = (tmp_path / "ok.czi").read_bytes()
    at = int(cut * len(data)) if isinstance(cut, float) else cut
    (tmp_path / "cut.czi").write_bytes(data[:at])
    with pytest.raises(imgio.ImgioError, match=r"cut\.czi"):
        _read_everything(tmp_path / "cut.czi")


def test_flipped_bytes_name_the_subblock(tmp_path: Path) -> None:
    _stack(tmp_path / "ok.czi", ["zstd0", "zstd1", "none"])
    data = bytearray((tmp_path / "ok.czi").read_bytes())
    first = data.find(b"ZISRAWSUBBLOCK")
    payload = first + 32 + 256
    data[payload : payload + 8] = bytes(8)  # the zstd frame header of subblock 0, zeroed
    (tmp_path / "bad.czi").write_bytes(bytes(data))
    img = imgio.Image(tmp_path / "bad.czi")
    with pytest.raises(imgio.CorruptFileError, match=r"bad\.czi.*subblock 0 at offset"):
        img.get_image_data("YX", Z=0)
    np.testing.assert_array_equal(img.get_image_data("YX", Z=2).shape, (37, 53))


@pytest.mark.parametrize("field", ["count", "position", "size", "pixel_type"])
def test_corrupt_directory(tmp_path: Path, field: str) -> None:
    _stack(tmp_path / "ok.czi", ["none", "none"])
    data = bytearray((tmp_path / "ok.czi").read_bytes())
    d = data.find(b"ZISRAWDIRECTORY") + 32
    entry = d + 128
    where = {
        "count": (d, 4),
        "position": (entry + 6, 8),
        "size": (entry + 32 + 8, 4),
        "pixel_type": (entry + 2, 4),
    }
    at, n = where[field]
    data[at : at + n] = b"\xff" * (n - 1) + b"\x7f"
    (tmp_path / "bad.czi").write_bytes(bytes(data))
    with pytest.raises(imgio.CorruptFileError, match=r"bad\.czi"):
        _read_everything(tmp_path / "bad.czi")


def test_manifest_in_tests_data_names_a_czi() -> None:
    manifest = json.loads((Path(__file__).parents[1] / "data" / "manifest.json").read_text())
    assert any(e["file"].endswith(".czi") for e in manifest["files"])


@pytest.mark.parametrize("suffix", [".ome.tif", ".ome.zarr"])
def test_converted_sample_keeps_metadata(tmp_path: Path, suffix: str) -> None:
    src = Path(__file__).parents[1] / "data" / "aicsimageio-s_1_t_1_c_1_z_1.czi"
    img = imgio.Image(src)
    out = tmp_path / f"out{suffix}"
    img.save(out)
    back = imgio.Image(out)
    np.testing.assert_array_equal(back.get_image_data("YX"), img.get_image_data("YX"))
    assert back.channel_names == ["Bright"] and back.channel_colors == [(255, 255, 255)]
    assert back.physical_pixel_sizes.X == pytest.approx(1.0833333333333333)
    if suffix == ".ome.tif":
        import tifffile

        with tifffile.TiffFile(out) as tif:
            np.testing.assert_array_equal(
                tif.series[0].asarray().squeeze(), img.get_image_data("YX")
            )
            assert 'PhysicalSizeX="1.08333' in tif.ome_metadata
            assert 'Name="Bright"' in tif.ome_metadata
