"""The DICOM WSI reader against pydicom (an independent parser), wsidicom and OpenSlide 4.

Samples: highdicom's test slides (tests/data/dicom, MIT, and the shared folder) read
the same as pydicom's ``pixel_array`` tiled into the total pixel matrix. Everything the
samples lack is written by ``tests/dicom_wsi.py`` and checked against pydicom's own
frame parser (every transfer syntax), wsidicom and OpenSlide (a regular pyramid).
"""

from __future__ import annotations

import math
import pickle
import shutil
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
import pydicom
import pytest
from dicom_wsi import LOSSY, TS, Slide, frames_of, pyramid, shrink, write_level
from samples import DATA, SHARED

import imgio
from imgio.errors import CorruptFileError, ImgioError, UnsupportedFormatError
from imgio.readers.base import STATS

SAMPLE_DIRS = [DATA / "dicom", SHARED / "dicom"]
SLIDE_SAMPLES = [
    pytest.param(p, id=f"{root.parent.name}:{p.name}")
    for root in SAMPLE_DIRS
    if root.is_dir()
    for p in sorted(root.glob("*/*.dcm"))
    if "sm_image" in p.name and "seg" not in p.name
]


def tiled(ds: Any) -> np.ndarray:
    """pydicom's pixel_array (frames) placed on the total pixel matrix (TILED_FULL)."""
    px = ds.pixel_array
    if int(ds.NumberOfFrames) == 1:
        px = px[None]
    tr, tc = ds.Rows, ds.Columns
    rows, cols = ds.TotalPixelMatrixRows, ds.TotalPixelMatrixColumns
    gx = math.ceil(cols / tc)
    out = np.zeros((math.ceil(rows / tr) * tr, gx * tc) + px.shape[3:], px.dtype)
    for i, frame in enumerate(px):
        out[(i // gx) * tr : (i // gx + 1) * tr, (i % gx) * tc : (i % gx + 1) * tc] = frame
    return out[:rows, :cols]


@pytest.mark.parametrize("path", SLIDE_SAMPLES)
def test_highdicom_samples_equal_pydicom(path: Path) -> None:
    ds = pydicom.dcmread(path)
    img = imgio.Image(path)
    got = np.squeeze(img.data, axis=(0, 1, 2))
    assert np.array_equal(got, tiled(ds))
    spacing = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing
    assert img.physical_pixel_sizes.Y == pytest.approx(float(spacing[0]) * 1000)
    path0 = ds.OpticalPathSequence[0]
    assert img.metadata.get("icc_profile") == path0.get("ICCProfile")
    power = path0.get("ObjectiveLensPower")
    spec = ds.SpecimenDescriptionSequence[0]
    assert img.metadata["Specimens"][0]["SpecimenIdentifier"] == spec.SpecimenIdentifier
    assert img.metadata.get("objective_power") == (None if power is None else float(power))


def test_non_slide_dicom_is_unsupported() -> None:
    path = DATA / "dicom" / "sm_annotations" / "highdicom-sm_annotations.dcm"
    if not path.is_file():
        pytest.skip("sample absent")
    with pytest.raises(UnsupportedFormatError, match="not VL Whole Slide"):
        imgio.Image(path)


def independent(paths: list[Path], syntax: str) -> np.ndarray:
    """Level pixels from pydicom's frame parser + imagecodecs (TILED_FULL, one path/plane)."""
    out = None
    for path in paths:
        ds, frames = frames_of(path)
        tr, tc = ds.Rows, ds.Columns
        rows, cols = ds.TotalPixelMatrixRows, ds.TotalPixelMatrixColumns
        gx = math.ceil(cols / tc)
        s = ds.SamplesPerPixel
        if out is None:
            dtype = np.uint8 if ds.BitsAllocated == 8 else np.uint16
            out = np.zeros((math.ceil(rows / tr) * tr, gx * tc) + ((s,) if s > 1 else ()), dtype)
        offset = int(ds.get("ConcatenationFrameOffsetNumber", 0))
        for i, data in enumerate(frames):
            if syntax in ("explicit", "implicit", "deflated"):
                tile = np.frombuffer(data, out.dtype).reshape((tr, tc) + out.shape[2:])
            elif syntax == "rle":
                tile = np.frombuffer(imagecodecs.dicomrle_decode(data, out.dtype.str), out.dtype)
                tile = (
                    tile.reshape((s, tr, tc)).transpose(1, 2, 0) if s > 1 else tile.reshape(tr, tc)
                )
            else:
                tile = imagecodecs.imread(data)
            n = offset + i
            ty, tx = n // gx, n % gx
            out[ty * tr : (ty + 1) * tr, tx * tc : (tx + 1) * tc] = tile
    assert out is not None
    return out[:rows, :cols]


@pytest.mark.parametrize("syntax", [s for s in TS if s != "explicit-ybr422"])
def test_transfer_syntaxes(tmp_path: Path, syntax: str) -> None:
    grey = syntax in ("jpeg12", "jpeg-lossless")
    image = pyramid(3, (70, 90), rgb=not grey, dtype=np.uint16 if syntax == "jpeg12" else np.uint8)
    if syntax == "jpeg12":
        image >>= 4
    files = write_level(tmp_path, image, (32, 48), slide=Slide(), syntax=syntax)
    img = imgio.Image(tmp_path)
    got = np.asarray(img.data).reshape(image.shape[2:])
    assert got.dtype == image.dtype
    diff = np.abs(got.astype(int) - independent(files, syntax).astype(int))
    if syntax == "htj2k":  # imagecodecs.imread picks OpenJPH, which wraps values past 255
        assert np.count_nonzero(diff) < diff.size // 100  # where OpenJPEG (imgio) clips
    else:
        assert diff.max() == 0
    if syntax not in LOSSY:
        assert np.array_equal(got, image[0, 0])
    if syntax in ("explicit", "implicit", "deflated", "rle", "jpeg") or "j2k" == syntax[:3]:
        if syntax != "htj2k":  # pydicom decodes these itself (numpy, Pillow)
            try:
                want = tiled(pydicom.dcmread(files[0]))
            except (RuntimeError, NotImplementedError):
                return
            assert np.abs(got.astype(int) - want.astype(int)).max() <= (2 if syntax in LOSSY else 0)


@pytest.fixture(scope="module")
def odd_pyramid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """Three levels 3x and 2.5x apart with different tiles, a label, an overview, a thumbnail."""
    folder = tmp_path_factory.mktemp("odd")
    slide = Slide()
    base = pyramid(5, (300, 420))
    levels = [base, shrink(base, 3), shrink(shrink(base, 3), 2.5)]
    tiles = [(64, 96), (40, 40), (16, 32)]
    for k, (arr, tile) in enumerate(zip(levels, tiles, strict=True)):
        write_level(
            folder,
            arr,
            tile,
            slide=slide,
            spacing_mm=0.00025 * arr.shape[2] ** 0 * 300 / arr.shape[2],
            name=f"L{k}",
            syntax="jpegls" if k else "explicit",
            icc=b"fake icc" if k == 0 else None,
        )
    for flavor, seed in (("LABEL", 7), ("OVERVIEW", 8), ("THUMBNAIL", 9)):
        arr = pyramid(seed, (30, 50))
        write_level(
            folder, arr, (30, 50), slide=slide, flavor=flavor, name=flavor.lower(), spacing_mm=0.01
        )
    return folder, levels


def test_odd_pyramid_levels_and_associated(odd_pyramid: tuple[Path, list[np.ndarray]]) -> None:
    folder, levels = odd_pyramid
    img = imgio.Image(folder / "L1-0.dcm")  # any instance opens the whole series
    assert img.scenes == ("Image:0", "label", "macro", "thumbnail")
    assert img.resolution_levels == (0, 1, 2)
    for k, want in enumerate(levels):
        img.set_resolution_level(k)
        got = np.asarray(img.data)[0, 0, 0]
        assert np.array_equal(got, want[0, 0]), k
    img.set_resolution_level(0)
    assert img.physical_pixel_sizes.X == pytest.approx(0.25)
    assert img.metadata["icc_profile"] == b"fake icc"
    info = img.reader.scenes()
    assert [s.associated for s in info] == [None, "label", "macro", "thumbnail"]
    img.set_scene("label")
    assert np.array_equal(np.asarray(img.data)[0, 0, 0], pyramid(7, (30, 50))[0, 0])
    assert img.physical_pixel_sizes.X == pytest.approx(10.0)


def test_region_decodes_covering_frames_only(
    odd_pyramid: tuple[Path, list[np.ndarray]],
) -> None:
    folder, levels = odd_pyramid
    img = imgio.Image(folder)
    STATS.reset()
    region = img.xarray_dask_data[0, 0, 0, 70:140, 100:200].values
    assert np.array_equal(region, levels[0][0, 0, 70:140, 100:200])
    # rows 70..139 -> tiles 1..2 (64 px), columns 100..199 -> tiles 1..2 (96 px)
    assert STATS.chunks_decoded == 4
    src = img.reader.source(0, 1)
    again = pickle.loads(pickle.dumps(src))
    assert np.array_equal(
        again[(slice(5, 77), slice(3, 99), slice(0, 3))], levels[1][0, 0, 5:77, 3:99]
    )


def test_wsidicom_and_openslide_agree(tmp_path: Path) -> None:
    """A regular pyramid (2x, same tiles) read by imgio, wsidicom and OpenSlide 4."""
    wsidicom = pytest.importorskip("wsidicom")
    openslide = pytest.importorskip("openslide")
    slide = Slide()
    base = pyramid(11, (256, 384))
    for k, arr in enumerate([base, shrink(base, 2)]):
        write_level(
            tmp_path,
            arr,
            (64, 64),
            slide=slide,
            spacing_mm=0.00025 * 2**k,
            name=f"L{k}",
            syntax="jpeg",
        )
    img = imgio.Image(tmp_path)
    ours = np.asarray(img.data)[0, 0, 0]
    with wsidicom.WsiDicom.open(tmp_path) as wsi:
        theirs = np.asarray(wsi.read_region((0, 0), 0, (384, 256)).convert("RGB"))
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    osr = openslide.OpenSlide(str(sorted(tmp_path.glob("L0*.dcm"))[0]))
    try:
        assert osr.level_count == 2
        rgba = np.asarray(osr.read_region((0, 0), 0, (384, 256)))
    finally:
        osr.close()
    assert np.abs(ours.astype(int) - rgba[..., :3].astype(int)).max() <= 1
    from imgio.slide import OpenSlide

    first = str(sorted(tmp_path.glob("L0*.dcm"))[0])
    with openslide.OpenSlide(first) as theirs_osr:
        want = dict(theirs_osr.properties)
    got = OpenSlide(first).properties
    for key in want:  # OpenSlide's quickhash-1 is its own hash of its own reading
        if key.startswith("openslide.") and key != "openslide.quickhash-1":
            assert got.get(key) == want[key], key
    img.set_resolution_level(1)
    assert img.shape[-3:-1] == (128, 192)


def test_sparse_missing_tiles_planes_and_paths(tmp_path: Path) -> None:
    """TILED_SPARSE, 2 fluorescence paths x 3 focal planes, 16 bit, some tiles absent."""
    image = pyramid(13, (100, 130), rgb=False, dtype=np.uint16, nc=2, nz=3)
    missing = [(0, 1, 0, 1), (1, 2, 2, 2)]
    paths = [("DAPI", "DAPI", (0, 0, 255)), ("FITC", "FITC", (0, 255, 0))]
    write_level(
        tmp_path,
        image,
        (40, 50),
        slide=Slide(),
        sparse=True,
        missing=missing,
        z_um=[1.0, 1.5, 2.0],
        paths=paths,
        syntax="jpegls",
        offsets="none",
    )
    img = imgio.Image(tmp_path)
    assert img.dims.order == "TCZYX" and img.shape == (1, 2, 3, 100, 130)
    assert img.channel_names == ["DAPI", "FITC"]
    assert img.reader.scenes()[0].channel_colors == (0x0000FFFF, 0x00FF00FF)
    assert img.physical_pixel_sizes.Z == pytest.approx(0.5)
    assert list(img.xarray_dask_data.Z.values) == pytest.approx([1.0, 1.5, 2.0])
    got = np.asarray(img.data)[0]
    want = image.copy()
    for c, z, ty, tx in missing:
        want[c, z, ty * 40 : (ty + 1) * 40, tx * 50 : (tx + 1) * 50] = 0
    assert np.array_equal(got, want)


def test_concatenation_and_offset_tables(tmp_path: Path) -> None:
    image = pyramid(17, (150, 170))
    for offsets in ("basic", "none", "extended"):
        folder = tmp_path / offsets
        folder.mkdir()
        write_level(
            folder,
            image,
            (32, 32),
            slide=Slide(),
            syntax="jpegxl-lossless",
            parts=3,
            offsets=offsets,
        )
        img = imgio.Image(folder)
        assert img.resolution_levels == (0,)
        assert np.array_equal(np.asarray(img.data)[0, 0, 0], image[0, 0]), offsets
    wsidicom = pytest.importorskip("wsidicom")
    folder = tmp_path / "jpeg"
    folder.mkdir()
    write_level(folder, image, (32, 32), slide=Slide(), syntax="jpeg", parts=3)
    with wsidicom.WsiDicom.open(folder) as wsi:
        theirs = np.asarray(wsi.read_region((0, 0), 0, (170, 150)).convert("RGB"))
    ours = np.asarray(imgio.Image(folder).data)[0, 0, 0]
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_multi_fragment_frames_without_offset_table(tmp_path: Path) -> None:
    image = pyramid(19, (64, 64))
    write_level(tmp_path, image, (32, 32), slide=Slide(), syntax="jpeg")
    path = next(tmp_path.glob("*.dcm"))
    ds = pydicom.dcmread(path)
    frames = list(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=4))
    ds.PixelData = pydicom.encaps.encapsulate(frames, fragments_per_frame=3, has_bot=False)
    ds.save_as(path, enforce_file_format=True)
    got = np.asarray(imgio.Image(path).data)[0, 0, 0]
    assert np.array_equal(got, independent([path], "jpeg"))


def test_two_series_are_two_scenes(tmp_path: Path) -> None:
    a, b = pyramid(21, (40, 60)), pyramid(22, (50, 30), rgb=False)
    write_level(tmp_path, a, (20, 20), slide=Slide(description="HE"), name="a")
    write_level(tmp_path, b, (25, 30), slide=Slide(description="IHC"), name="b")
    img = imgio.Image(tmp_path)
    assert sorted(img.scenes) == ["HE", "IHC"]
    img.set_scene("IHC")
    assert np.array_equal(np.asarray(img.data).reshape(50, 30), b[0, 0])
    # a single instance opens its own series only
    assert imgio.Image(tmp_path / "a-0.dcm").scenes == ("Image:0",)


def test_folder_of_files_without_suffix(tmp_path: Path) -> None:
    image = pyramid(25, (40, 60))
    write_level(tmp_path, image, (20, 20), slide=Slide())[0].rename(tmp_path / "IM0001")
    assert np.array_equal(np.asarray(imgio.Image(tmp_path).data)[0, 0, 0], image[0, 0])


def test_dicomdir_is_followed(tmp_path: Path) -> None:
    from pydicom.fileset import FileSet

    src = tmp_path / "src"
    src.mkdir()
    image = pyramid(23, (40, 60))
    write_level(src, image, (20, 30), slide=Slide())
    fs = FileSet()
    fs.add(pydicom.dcmread(next(src.glob("*.dcm"))))
    out = tmp_path / "media"
    fs.write(out)
    shutil.rmtree(src)
    for target in (out, out / "DICOMDIR"):
        assert np.array_equal(np.asarray(imgio.Image(target).data)[0, 0, 0], image[0, 0])


def test_jpeg_tiles_pass_through(tmp_path: Path) -> None:
    from imgio.tiles import TileSource

    image = pyramid(29, (128, 128))
    files = write_level(tmp_path, image, (64, 64), slide=Slide(), syntax="jpeg")
    _, frames = frames_of(files[0])
    ts = TileSource(imgio.Image(tmp_path))
    level = ts.levels - 1  # tile z of full resolution
    assert ts.get_tile(1, 0, level, format="jpeg") == frames[1]


def test_slide_properties(odd_pyramid: tuple[Path, list[np.ndarray]]) -> None:
    from imgio.slide import OpenSlide

    folder, _ = odd_pyramid
    osr = OpenSlide(folder)
    props = osr.properties
    assert props["openslide.vendor"] == "dicom"
    assert props["openslide.objective-power"] == "20"
    assert float(props["openslide.mpp-x"]) == pytest.approx(0.25)
    assert props["openslide.level-count"] == "3"
    assert set(osr.associated_images) == {"label", "macro", "thumbnail"}


def test_standard_metadata_and_ome(odd_pyramid: tuple[Path, list[np.ndarray]]) -> None:
    folder, _ = odd_pyramid
    img = imgio.Image(folder)
    std = img.standard_metadata
    assert std.objective == "20x"
    assert std.imaging_datetime is not None and std.imaging_datetime.year == 2026
    ome = img.ome_metadata
    assert ome.instruments[0].objectives[0].nominal_magnification == 20.0
    assert ome.images[0].pixels.physical_size_x == pytest.approx(0.25)


def test_truncated_instance_is_corrupt(tmp_path: Path) -> None:
    image = pyramid(31, (64, 64))
    files = write_level(tmp_path, image, (32, 32), slide=Slide(), syntax="jpegls")
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) - 200])
    with pytest.raises(CorruptFileError):
        imgio.Image(files[0]).data  # noqa: B018


@pytest.mark.parametrize("keep", [10, 11])
def test_file_cut_inside_the_pixel_data_header_is_corrupt(tmp_path: Path, keep: int) -> None:
    """Cut 10 or 11 bytes into the Pixel Data element's 12-byte explicit VR header (fuzz:
    struct.error from the frame table's build at the first read)."""
    write_level(tmp_path, pyramid(41, (64, 64)), (32, 32), slide=Slide(), syntax="jpeg")
    path = next(tmp_path.glob("*.dcm"))
    data = path.read_bytes()
    at = data.rindex(b"\xe0\x7f\x10\x00OB")
    path.write_bytes(data[: at + keep])
    with pytest.raises(CorruptFileError, match=f"cut after {keep} of its 12 header bytes"):
        imgio.Image(path).data  # noqa: B018


def test_control_characters_in_header_text_leave_the_ome_model(tmp_path: Path) -> None:
    """Header text with characters XML cannot hold (fuzz: lxml's ValueError from the OME
    model's to_xml): the model keeps the rest of the text."""
    write_level(tmp_path, pyramid(43, (32, 32)), (32, 32), slide=Slide())
    path = next(tmp_path.glob("*.dcm"))
    ds = pydicom.dcmread(path)
    ds.Manufacturer, ds.ManufacturerModelName = "Scan\x01ner", "M\x00odel"
    ds.SeriesDescription = "slide\x1f one"
    ds.save_as(path, enforce_file_format=True)
    ome = imgio.Image(path).ome_metadata
    microscope = ome.instruments[0].microscope
    assert (microscope.manufacturer, microscope.model) == ("Scanner", "Model")
    assert ome.images[0].description == "slide one"
    assert "Scanner" in ome.to_xml()


@pytest.mark.parametrize(("field", "value"), [(0, 9), (3, 2**30), (2, 10)])
def test_rle_header_that_does_not_fit_its_frame_is_corrupt(
    tmp_path: Path, field: int, value: int
) -> None:
    """An RLE frame header whose segment count or offsets do not fit the frame (fuzz: byte
    flips made imagecodecs' decoder read past the frame: SIGSEGV) is refused before it."""
    image = pyramid(47, (32, 32))
    write_level(tmp_path, image, (16, 16), slide=Slide(), syntax="rle")
    path = next(tmp_path.glob("*.dcm"))
    data = bytearray(path.read_bytes())
    at = data.index(np.array([3, 64], "<u4").tobytes())  # the first frame's RLE header
    data[at + 4 * field : at + 4 * field + 4] = np.array([value], "<u4").tobytes()
    path.write_bytes(bytes(data))
    with imgio.Image(path) as img:
        with pytest.raises(CorruptFileError, match="RLE (header declares|segment offsets)"):
            img.get_image_data("YXS", Y=slice(0, 16), X=slice(0, 16))
        np.testing.assert_array_equal(  # the other frames still read
            img.get_image_data("YXS", Y=slice(16, 32), X=slice(16, 32)),
            image.reshape(32, 32, 3)[16:, 16:],
        )


def test_extended_offset_beyond_int64_is_corrupt(tmp_path: Path) -> None:
    """An Extended Offset Table entry of 2**64 - 1 (fuzz: OverflowError in int64 math)."""
    write_level(tmp_path, pyramid(37, (64, 64)), (32, 32), slide=Slide(), syntax="jpeg",
                offsets="extended")  # fmt: skip
    path = next(tmp_path.glob("*.dcm"))
    ds = pydicom.dcmread(path)
    table = bytearray(ds.ExtendedOffsetTable)
    table[8:16] = b"\xff" * 8
    ds.ExtendedOffsetTable = bytes(table)
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(CorruptFileError, match="Extended Offset Table points outside"):
        imgio.Image(path).data  # noqa: B018


def test_tiled_full_matrix_larger_than_its_frames_is_refused(tmp_path: Path) -> None:
    """A flipped Total Pixel Matrix Columns (fuzz reproducer: 12 RLE frames of 16 x 16 in
    a declared 23,858,298 x 40 matrix) is refused at open: the tile verbs would decode
    2.8 GB of background for a 9 kB file."""
    write_level(tmp_path, pyramid(23, (40, 64)), (16, 16), slide=Slide(), syntax="rle")
    path = next(tmp_path.glob("*.dcm"))
    ds = pydicom.dcmread(path)
    assert ds.NumberOfFrames == 12
    ds.TotalPixelMatrixColumns = 23_858_298
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(CorruptFileError, match=r"TILED_FULL with 12 frames and no concatenation"):
        imgio.Image(path)


def test_sparse_matrix_far_larger_than_its_frames_stays_bounded(tmp_path: Path) -> None:
    """TILED_SPARSE may leave tiles out, so the same flipped size opens; its region reads
    decode what they cover, and a thumbnail is refused rather than decoding 2.7 GiB."""
    image = pyramid(23, (40, 64))
    write_level(tmp_path, image, (16, 16), slide=Slide(), syntax="rle", sparse=True)
    path = next(tmp_path.glob("*.dcm"))
    ds = pydicom.dcmread(path)
    ds.TotalPixelMatrixColumns = 23_858_298
    ds.save_as(path, enforce_file_format=True)
    img = imgio.Image(path)
    assert img.dims.X == 23_858_298
    region = img.tiles.get_region(left=0, top=0, width=64, height=40)
    np.testing.assert_array_equal(region, image[0, 0])
    with pytest.raises(ImgioError, match="no level coarse enough"):
        img.tiles.thumbnail(64, 64)


def test_tiled_full_missing_concatenation_part_reads_background(tmp_path: Path) -> None:
    image = pyramid(29, (150, 170), rgb=False)
    parts = write_level(tmp_path, image, (32, 32), slide=Slide(), parts=3)
    parts[1].unlink()  # frames 11..20 of 30 (tile rows of 6 tiles) are lost
    got = np.asarray(imgio.Image(tmp_path).data).reshape(150, 170)
    want = image[0, 0].copy()
    for n in range(10, 20):
        ty, tx = divmod(n, 6)
        want[ty * 32 : (ty + 1) * 32, tx * 32 : (tx + 1) * 32] = 0
    assert np.array_equal(got, want)


def test_remote_instance_reads_ranges(tmp_path: Path) -> None:
    from _servers import RangeHTTPServer

    image = pyramid(37, (256, 320))
    write_level(tmp_path, image, (32, 32), slide=Slide())
    name = next(tmp_path.glob("*.dcm")).name
    with RangeHTTPServer(tmp_path) as server:
        img = imgio.Image(f"{server.url}/{name}")
        opened = server.bytes_sent  # the header only, never the pixel data
        server.reset()
        region = img.xarray_dask_data[0, 0, 0, 40:60, 70:100].values
        sent = server.bytes_sent
    assert np.array_equal(region, image[0, 0, 40:60, 70:100])
    size = (tmp_path / name).stat().st_size
    header = pydicom.dcmread(tmp_path / name, stop_before_pixels=True)
    assert opened < size / 2 and header.NumberOfFrames == 80
    assert sent < size / 10  # 4 frames of 80
