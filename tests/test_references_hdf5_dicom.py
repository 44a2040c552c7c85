"""imgio.references for Imaris (HDF5 chunks) and DICOM (frames), and OME-Zarr's refusal:
plain zarr + fsspec's reference filesystem reads what h5py / pydicom / imgio read, locally
and through the HTTP range server; what is no byte range is refused with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from _servers import RangeHTTPServer
from dicom_wsi import Slide, pyramid, write_level
from ims_writer import write_ims
from test_references import open_refs, whole

import imgio

RNG = np.random.default_rng(1818)
# smooth enough that deflate compresses it (two levels, T=2, C=2, odd sizes: padding)
IMS = (RNG.integers(0, 8, (2, 2, 5, 70, 90)) + np.arange(90) * 40).astype(np.uint16)


@pytest.fixture(autouse=True, scope="module")
def _codecs() -> None:
    from imagecodecs.numcodecs import register_codecs

    register_codecs(verbose=False)


@pytest.fixture(scope="module")
def ims_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ims")
    levels = [IMS, np.ascontiguousarray(IMS[..., ::2, ::2])]
    return write_ims(folder / "cells.ims", levels, chunks=(2, 32, 32), names=("a", "b"))


def _h5_level(path: Path, level: int) -> np.ndarray[Any, Any]:
    """h5py's read of one level, padding cropped to the image size (T, C, Z, Y, X)."""
    with h5py.File(path, "r") as f:
        group = f[f"DataSet/ResolutionLevel {level}"]
        n_t, n_c = len(group), len(group["TimePoint 0"])
        out = []
        for t in range(n_t):
            row = []
            for c in range(n_c):
                ch = group[f"TimePoint {t}/Channel {c}"]
                z, y, x = (int(b"".join(ch.attrs[f"ImageSize{d}"])) for d in "ZYX")
                row.append(ch["Data"][:z, :y, :x])
            out.append(row)
    return np.asarray(out)


def test_imaris_chunks_are_the_hdf5_chunks(ims_file: Path) -> None:
    refs = imgio.references(ims_file)
    group = open_refs(refs)
    with h5py.File(ims_file, "r") as f:
        ds = f["DataSet/ResolutionLevel 0/TimePoint 1/Channel 0/Data"]
        info = ds.id.get_chunk_info_by_coord((2, 32, 0))
    # chunk (t=1, c=0, z=1, y=1, x=0) is that HDF5 chunk's byte range, deflate via zlib
    assert refs["refs"]["0/1.0.1.1.0"] == [str(ims_file), info.byte_offset, info.size]
    assert group["0"].chunks == (1, 1, 2, 32, 32)
    with imgio.Image(ims_file) as img:
        for level in (0, 1):
            got = group[str(level)][...]
            np.testing.assert_array_equal(got, _h5_level(ims_file, level))
            np.testing.assert_array_equal(got, whole(img, 0, level))
    np.testing.assert_array_equal(group["0"][...], IMS)


def test_imaris_references_over_http(ims_file: Path) -> None:
    with RangeHTTPServer(ims_file.parent) as http:
        refs = imgio.references(f"{http.url}/{ims_file.name}", level=1)
        assert refs["refs"]["0/0.0.0.0.0"][0] == f"{http.url}/{ims_file.name}"
        got = open_refs(refs, remote_protocol="http")["0"][...]
    np.testing.assert_array_equal(got, IMS[..., ::2, ::2])


@pytest.mark.parametrize(
    ("options", "why"),
    [({"shuffle": True, "compression": "gzip"}, "shuffle"), ({"compression": "lzf"}, "LZF")],
    ids=["shuffle", "lzf"],
)
def test_imaris_refuses_filters_by_name(tmp_path: Path, options: dict[str, Any], why: str) -> None:
    path = write_ims(tmp_path / "f.ims", [IMS[:1, :1]], chunks=(2, 32, 32))
    with h5py.File(path, "a") as f:
        group = f["DataSet/ResolutionLevel 0/TimePoint 0/Channel 0"]
        del group["Data"]
        group.create_dataset(
            "Data", data=np.zeros((6, 96, 96), np.uint16), chunks=(2, 32, 32), **options
        )
    with pytest.raises(imgio.NotByteRangesError, match=why):
        imgio.references(path)


# DICOM: (image, tile, syntax, sparse missing tiles)
GREY = pyramid(3, (90, 130), rgb=False, dtype=np.uint16, nc=2, nz=2)
RGB = pyramid(4, (90, 130))
DICOM = {
    "native-rgb": (RGB, "explicit", ()),
    "implicit-grey-sparse": (GREY, "implicit", ((0, 1, 1, 1),)),
    "jpeg-ybr": (RGB, "jpeg", ()),
    "jpegls-grey-sparse": (GREY, "jpegls", ((1, 0, 0, 2),)),
    "j2k-rgb": (RGB, "j2k", ()),
    "htj2k-grey": (GREY, "htj2k-lossless", ()),
    "rle-grey": (GREY, "rle", ()),
    "jpeg-lossless-grey": (GREY, "jpeg-lossless", ()),
}


@pytest.mark.parametrize("name", list(DICOM))
def test_dicom_frames(tmp_path: Path, name: str) -> None:
    image, syntax, missing = DICOM[name]
    path = write_level(
        tmp_path, image, (32, 48), slide=Slide(), syntax=syntax, sparse=bool(missing),
        missing=missing, z_um=[0.0, 1.0][: image.shape[1]],
        paths=(("1", None, None), ("2", None, None))[: image.shape[0]],
    )[0]  # fmt: skip
    refs = imgio.references(path)
    got = open_refs(refs)["0"][...]
    with imgio.Image(path) as img:
        np.testing.assert_array_equal(got, whole(img))
    if syntax in ("explicit", "implicit", "rle", "jpegls", "htj2k-lossless", "jpeg-lossless"):
        np.testing.assert_array_equal(got.reshape(-1), _lossless(image, missing).reshape(-1))
    frames = [v for k, v in refs["refs"].items() if not k.split("/")[-1].startswith(".")]
    assert all(isinstance(v, list) and v[0] == str(path) for v in frames)


def _lossless(image: np.ndarray[Any, Any], missing: Any) -> np.ndarray[Any, Any]:
    out = image.copy()
    for c, z, ty, tx in missing:
        out[c, z, ty * 32 : (ty + 1) * 32, tx * 48 : (tx + 1) * 48] = 0  # background of grey
    return out.squeeze()


def test_dicom_over_http(tmp_path: Path) -> None:
    path = write_level(tmp_path, RGB, (32, 48), slide=Slide(), syntax="jpeg")[0]
    with imgio.Image(path) as img:
        mine = whole(img)
    with RangeHTTPServer(tmp_path) as http:
        refs = imgio.references(f"{http.url}/{path.name}")
        got = open_refs(refs, remote_protocol="http")["0"][...]
    np.testing.assert_array_equal(got, mine)


def test_dicom_refusals(tmp_path: Path) -> None:
    from pydicom import dcmread
    from pydicom.encaps import encapsulate, generate_frames

    for sub in "drs":
        (tmp_path / sub).mkdir()
    deflated = write_level(tmp_path / "d", GREY[:1], (32, 48), slide=Slide(), syntax="deflated")
    with pytest.raises(imgio.NotByteRangesError, match="deflated"):
        imgio.references(deflated[0])
    rle = write_level(tmp_path / "r", RGB, (32, 48), slide=Slide(), syntax="rle")
    with pytest.raises(imgio.NotByteRangesError, match="RLE colour"):
        imgio.references(rle[0])
    split = write_level(tmp_path / "s", RGB, (32, 48), slide=Slide(), syntax="jpegls")[0]
    ds = dcmread(split)
    frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    ds.PixelData = encapsulate(frames, fragments_per_frame=2, has_bot=True)
    ds["PixelData"].is_undefined_length = True
    ds.save_as(split, enforce_file_format=True)
    with pytest.raises(imgio.NotByteRangesError, match="several fragments"):
        imgio.references(split)


def test_ome_zarr_folder_says_open_it_with_zarr(tmp_path: Path) -> None:
    path = imgio.write(GREY[0, 0], tmp_path / "a.ome.zarr", dims="YX", ngff_version="0.4")
    with pytest.raises(imgio.NotByteRangesError, match="already a Zarr store.*open_group.*'0'"):
        imgio.references(path)


def test_zipped_ome_zarr_members_are_byte_ranges(tmp_path: Path) -> None:
    """A zipped NGFF 0.4 store: each chunk member's data in the archive is a reference;
    zarr reading the ZIP itself (ZipStore) is the independent check; over HTTP too."""
    import zarr

    data = GREY[:, 0]  # C Y X
    path = imgio.write(
        data, tmp_path / "z.ome.zarr.zip", dims="CYX", ngff_version="0.4", chunks=(1, 1, 1, 32, 48),
        pyramid_levels=2, compression="zstd",
    )  # fmt: skip
    refs = imgio.references(path)
    group = open_refs(refs)
    store = zarr.storage.ZipStore(path, mode="r", read_only=True)
    theirs = zarr.open_group(store, mode="r")
    with imgio.Image(path) as img:
        for level in ("0", "1"):
            np.testing.assert_array_equal(group[level][...], theirs[level][...])
            np.testing.assert_array_equal(group[level][...], whole(img, 0, int(level)))
    np.testing.assert_array_equal(group["0"][...].reshape(data.shape), data)
    with RangeHTTPServer(tmp_path) as http:
        remote = imgio.references(f"{http.url}/{path.name}", level=0)
        got = open_refs(remote, remote_protocol="http")["0"][...]
    np.testing.assert_array_equal(got.reshape(data.shape), data)


def test_ozx_inner_chunks_of_shards(tmp_path: Path) -> None:
    """A sharded Zarr v3 .ozx: each inner chunk (through its shard's index) is a reference;
    a re-zipped archive whose members are deflated is refused."""
    import zipfile

    import zarr

    data = GREY[:, 0]
    path = imgio.write(
        data, tmp_path / "s.ozx", dims="CYX", chunks=(1, 1, 1, 32, 32), shards=(1, 1, 1, 64, 64),
        pyramid_levels=2,
    )  # fmt: skip
    refs = imgio.references(path)
    group = open_refs(refs)
    theirs = zarr.open_group(zarr.storage.ZipStore(path, mode="r", read_only=True), mode="r")
    for level in ("0", "1"):
        assert group[level].chunks[-2:] == (32, 32)  # the inner chunks, not the shards
        np.testing.assert_array_equal(group[level][...], theirs[level][...])
    np.testing.assert_array_equal(group["0"][...].reshape(data.shape), data)
    deflated = tmp_path / "d.ozx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with pytest.raises(imgio.NotByteRangesError, match="deflated in the archive"):
        imgio.references(deflated)
