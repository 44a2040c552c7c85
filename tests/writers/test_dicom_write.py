"""DICOM WSI series written by ``imgio.write(..., format="dicom")`` and ``imgio convert``,
checked with independent readers: dciodvfy (the IOD), pydicom (frames, offset table,
UIDs), wsidicom and OpenSlide 4 (pixels of every level, focal planes, optical paths)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest

import imgio
from imgio.cli import main
from imgio.errors import ImgioError, TargetExistsError

pydicom = pytest.importorskip("pydicom")
SVS = Path(__file__).resolve().parents[3] / "shared" / "samples" / "wsi"
CMU = SVS / "libvips-CMU-1-Small-Region.svs"
UID = re.compile(r"^[12](\.(0|[1-9][0-9]*))+$")
LOSSLESS = ["jpeg2000-lossless", "jpegls-lossless", "none"]


def smooth_rgb(h: int = 700, w: int = 900) -> np.ndarray[Any, Any]:
    """An RGB image without sharp edges (JPEG keeps it close)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack(
        [128 + 100 * np.sin(x / 40), 128 + 100 * np.cos(y / 50), (x + y) / (h + w) * 255], -1
    ).astype(np.uint8)


def fluorescence() -> np.ndarray[Any, Any]:
    """C=2, Z=3 uint16 planes, odd sizes, noise plus gradients."""
    rng = np.random.default_rng(7)
    data = rng.integers(0, 3000, (2, 3, 213, 317), dtype=np.uint16)
    data += np.arange(317, dtype=np.uint16) * 50
    return data


def instances(folder: Path) -> dict[str, Any]:
    """Every instance of ``folder`` by file name (headers and pixel data)."""
    return {p.name: pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))}


def frames_of(ds: Any) -> list[bytes]:
    """The encapsulated frames, located through the Basic Offset Table only."""
    data = ds.PixelData
    tag, length = struct.unpack("<II", data[:8])
    assert tag == 0xE000FFFE and length == 4 * ds.NumberOfFrames  # the table is filled
    offsets = np.frombuffer(data[8 : 8 + length], "<u4")
    base = 8 + length
    out = []
    for off in offsets:
        tag, n = struct.unpack("<II", data[base + off : base + off + 8])
        assert tag == 0xE000FFFE
        out.append(data[base + off + 8 : base + off + 8 + n])
    return out


def matrix(ds: Any) -> np.ndarray[Any, Any]:
    """The total pixel matrix of a TILED_FULL instance from pydicom's decoded frames,
    as (optical paths, focal planes, rows, columns[, samples])."""
    frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), ds.Rows, ds.Columns, -1)
    if ds.PhotometricInterpretation.startswith("YBR") and "JPEG" not in str(
        ds.file_meta.TransferSyntaxUID.name
    ):
        frames = pydicom.pixels.convert_color_space(frames, ds.PhotometricInterpretation, "RGB")
    rows, cols = (
        -(-ds.TotalPixelMatrixRows // ds.Rows),
        -(-ds.TotalPixelMatrixColumns // ds.Columns),
    )
    paths, planes = int(ds.NumberOfOpticalPaths), int(ds.TotalPixelMatrixFocalPlanes)
    grid = frames.reshape(paths, planes, rows, cols, ds.Rows, ds.Columns, -1)
    full = grid.transpose(0, 1, 2, 4, 3, 5, 6).reshape(
        paths, planes, rows * ds.Rows, cols * ds.Columns, -1
    )
    full = full[:, :, : ds.TotalPixelMatrixRows, : ds.TotalPixelMatrixColumns]
    return full[..., 0] if ds.SamplesPerPixel == 1 else full


def dciodvfy_errors(path: Path) -> list[str]:
    out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in out.stderr.splitlines() if line.startswith("Error")]


needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="no dicom3tools")


@needs_dciodvfy
@pytest.mark.parametrize("compression", ["jpeg", "jpeg2000", *LOSSLESS])
def test_dciodvfy_finds_no_errors_rgb(tmp_path, compression):
    out = imgio.write(
        smooth_rgb(300, 400),
        tmp_path / "s",
        format="dicom",
        compression=compression,
        physical_pixel_sizes=(None, 0.5, 0.5),
        tile=128,
    )
    files = sorted(out.glob("*.dcm"))
    assert len(files) == 3  # 400 -> 200 -> 100 px: down to one tile
    for f in files:
        assert dciodvfy_errors(f) == [], f.name


@needs_dciodvfy
@pytest.mark.parametrize("compression", ["jpeg2000-lossless", "none"])
def test_dciodvfy_finds_no_errors_fluorescence(tmp_path, compression):
    out = imgio.write(
        fluorescence(),
        tmp_path / "f",
        format="dicom",
        dims="CZYX",
        channel_names=["DAPI", "GFP"],
        compression=compression,
        physical_pixel_sizes=(2.0, 0.5, 0.5),
        tile=128,
    )
    for f in sorted(out.glob("*.dcm")):
        assert dciodvfy_errors(f) == [], f.name


@pytest.mark.parametrize("compression", LOSSLESS)
def test_lossless_rgb_levels_read_back_exactly(tmp_path, compression, ref_halve_rgb):
    """pydicom, wsidicom and OpenSlide read every level as the source and its 2x2 means."""
    rgb = smooth_rgb(300, 500)
    out = imgio.write(
        rgb,
        tmp_path / "s",
        format="dicom",
        compression=compression,
        physical_pixel_sizes=(None, 0.25, 0.25),
        tile=128,
    )
    wsidicom = pytest.importorskip("wsidicom")
    openslide = pytest.importorskip("openslide")
    expected = [rgb]
    while max(expected[-1].shape[:2]) > 128:
        expected.append(ref_halve_rgb(expected[-1]))
    dss = instances(out)
    assert sorted(dss) == [f"level-{k}.dcm" for k in range(len(expected))]
    slide = None  # OpenSlide 4 reads no JPEG-LS
    if compression != "jpegls-lossless":
        slide = openslide.OpenSlide(str(out / "level-0.dcm"))
        assert slide.level_count == len(expected)
    with wsidicom.WsiDicom.open(out) as wsi:
        for k, want in enumerate(expected):
            np.testing.assert_array_equal(matrix(dss[f"level-{k}.dcm"])[0, 0], want)
            h, w = want.shape[:2]
            got = np.asarray(wsi.read_region((0, 0), k, (w, h)).convert("RGB"))
            np.testing.assert_array_equal(got, want)
            if slide is not None:
                got = np.asarray(slide.read_region((0, 0), k, (w, h)).convert("RGB"))
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("compression", ["jpeg", "jpeg2000"])
def test_lossy_rgb_reads_back_close(tmp_path, compression):
    rgb = smooth_rgb()
    out = imgio.write(
        rgb,
        tmp_path / "s",
        format="dicom",
        compression=compression,
        physical_pixel_sizes=(None, 0.25, 0.25),
    )
    openslide = pytest.importorskip("openslide")
    ds = pydicom.dcmread(out / "level-0.dcm")
    assert ds.LossyImageCompression == "01"
    want = {"jpeg": "YBR_FULL_422", "jpeg2000": "YBR_ICT"}[compression]
    assert ds.PhotometricInterpretation == want
    got = np.asarray(
        openslide.OpenSlide(str(out / "level-0.dcm"))
        .read_region((0, 0), 0, (900, 700))
        .convert("RGB")
    ).astype(int)
    diff = np.abs(got - rgb)
    assert diff.mean() < 1.5 and diff.max() < 24


def test_default_compression_is_jpeg_for_rgb_and_lossless_jpeg2000_for_grey(tmp_path):
    rgb = imgio.write(
        smooth_rgb(64, 64), tmp_path / "rgb", format="dicom", physical_pixel_sizes=0.5
    )
    grey = imgio.write(
        np.arange(64 * 64, dtype=np.uint16).reshape(64, 64),
        tmp_path / "g",
        format="dicom",
        physical_pixel_sizes=0.5,
    )
    jpeg = pydicom.dcmread(rgb / "level-0.dcm").file_meta.TransferSyntaxUID
    assert jpeg == "1.2.840.10008.1.2.4.50"
    ds = pydicom.dcmread(grey / "level-0.dcm")
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.90"
    np.testing.assert_array_equal(matrix(ds)[0, 0], np.arange(64 * 64).reshape(64, 64))


def test_header_uids_spacing_and_offset_table(tmp_path):
    out = imgio.write(
        smooth_rgb(),
        tmp_path / "s",
        format="dicom",
        tile=256,
        physical_pixel_sizes=(None, 0.25, 0.5),
    )
    dss = instances(out)
    shared = {
        (d.StudyInstanceUID, d.SeriesInstanceUID, d.FrameOfReferenceUID) for d in dss.values()
    }
    assert len(shared) == 1
    sops = [d.SOPInstanceUID for d in dss.values()]
    assert len(set(sops)) == len(sops)
    for uid in [*next(iter(shared)), *sops]:
        assert UID.match(uid) and len(uid) <= 64
    for k, (name, ds) in enumerate(sorted(dss.items())):
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.77.1.6"
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.DimensionOrganizationType == "TILED_FULL"
        assert list(ds.ImageType)[2] == "VOLUME"
        assert list(ds.ImageType)[0] == ("ORIGINAL" if k == 0 else "DERIVED")
        assert ds.InstanceNumber == k + 1
        rows, cols = ds.TotalPixelMatrixRows, ds.TotalPixelMatrixColumns
        assert (rows, cols) == (-(-700 // 2**k), -(-900 // 2**k)), name
        spacing = [
            float(v)
            for v in ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing
        ]
        assert spacing == pytest.approx([0.25e-3 * 2**k, 0.5e-3 * 2**k])
        assert (ds.ImagedVolumeHeight, ds.ImagedVolumeWidth) == pytest.approx((0.175, 0.45))
        assert int(ds.NumberOfFrames) == -(-rows // 256) * -(-cols // 256)
        frames = frames_of(ds)  # through the Basic Offset Table
        assert all(f[:2] == b"\xff\xd8" and f.rstrip(b"\0")[-2:] == b"\xff\xd9" for f in frames)
        assert ds.OpticalPathSequence[0].ICCProfile[36:40] == b"acsp"  # an ICC profile


def test_fluorescence_optical_paths_and_focal_planes(tmp_path, ref_halve):
    data = fluorescence()
    out = imgio.write(
        data,
        tmp_path / "f",
        format="dicom",
        dims="CZYX",
        channel_names=["DAPI", "GFP"],
        physical_pixel_sizes=(2.0, 0.5, 0.5),
        tile=128,
    )
    wsidicom = pytest.importorskip("wsidicom")
    ds = pydicom.dcmread(out / "level-0.dcm")
    assert [p.OpticalPathDescription for p in ds.OpticalPathSequence] == ["DAPI", "GFP"]
    assert ds.NumberOfOpticalPaths == 2 and ds.TotalPixelMatrixFocalPlanes == 3
    measures = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert float(measures.SpacingBetweenSlices) == pytest.approx(0.002)
    np.testing.assert_array_equal(matrix(ds), data)  # frames: rows, then Z, then C
    level1 = pydicom.dcmread(out / "level-1.dcm")
    np.testing.assert_array_equal(matrix(level1), ref_halve(data))
    with wsidicom.WsiDicom.open(out) as wsi:
        base = wsi.levels.base_level
        assert base.focal_planes == [0.0, 2.0, 4.0]
        assert sorted(base.optical_paths) == ["1", "2"]  # wsidicom keeps no order
        for c, path in enumerate(("1", "2")):  # the identifiers the writer gave C = 0, 1
            for z, depth in enumerate(base.focal_planes):
                got = np.asarray(wsi.read_region((0, 0), 0, (317, 213), z=depth, path=path))
                np.testing.assert_array_equal(got, data[c, z])


def test_jpeg_tiles_of_a_tiff_pass_through_unchanged(tmp_path, ref_halve_rgb):
    """Level 0 frames are the source's stored JPEG tiles (tables merged), byte for byte."""
    rgb = smooth_rgb(600, 700)
    src = imgio.write(
        rgb,
        tmp_path / "src.ome.tif",
        compression="jpeg",
        tile=256,
        pyramid_levels=1,
        physical_pixel_sizes=(None, 0.5, 0.5),
    )
    with imgio.Image(src) as img:
        raw = img.source(scene=0, level=0)
        out = imgio.write(img, tmp_path / "d", format="dicom")
        stored = [raw.raw_tile((0, 0, 0, r, c, 0)) for r in range(3) for c in range(3)]
        decoded = img.get_image_data("YXS", T=0, C=0, Z=0)
    ds = pydicom.dcmread(out / "level-0.dcm")
    assert (ds.Rows, ds.Columns) == (256, 256)
    assert ds.PhotometricInterpretation == "YBR_FULL_422"  # tifffile's YCbCr 4:2:0 tiles
    for frame, tile in zip(frames_of(ds), stored, strict=True):
        assert frame[: len(tile)] == tile and frame[len(tile) :] in (b"", b"\0")
    # the same bytes; pydicom's decoder rounds YCbCr -> RGB by at most 1 otherwise than imgio's
    assert np.abs(matrix(ds)[0, 0].astype(int) - decoded).max() <= 1
    level1 = matrix(pydicom.dcmread(out / "level-1.dcm"))[0, 0].astype(int)
    assert np.abs(level1 - ref_halve_rgb(decoded)).mean() < 1.5  # re-encoded from the decoded tiles
    with imgio.Image(src) as img:  # lossless from JPEG tiles: still lossy, as DICOM requires
        lossless = imgio.write(img, tmp_path / "l", format="dicom", compression="none")
    ds = pydicom.dcmread(lossless / "level-0.dcm")
    assert (ds.LossyImageCompression, ds.LossyImageCompressionMethod) == ("01", "ISO_10918_1")
    ratio = float(ds.LossyImageCompressionRatio)  # of the stored tiles
    assert 768 * 768 * 3 / sum(len(t) for t in stored) == pytest.approx(ratio, rel=0.01)


@pytest.mark.skipif(not CMU.is_file(), reason="shared samples absent")
def test_convert_svs_passthrough_label_and_macro(tmp_path):
    openslide = pytest.importorskip("openslide")
    wsidicom = pytest.importorskip("wsidicom")
    out = tmp_path / "cmu"
    assert main(["convert", str(CMU), str(out), "--format", "dicom", "--quiet"]) == 0
    with imgio.Image(CMU) as img:
        src = img.source(scene=0, level=0)
        cols = -(-src.shape[4] // 240)
        slide = img.get_image_data("YXS", T=0, C=0, Z=0)
        label = img.get_image_data("YXS", scene="Label")
        macro = img.get_image_data("YXS", scene="Macro")
        dss = instances(out)
        frames = frames_of(dss["level-0.dcm"])
        for k, frame in enumerate(frames):
            tile = src.raw_tile((0, 0, 0, k // cols, k % cols, 0))
            assert frame[: len(tile)] == tile and frame[len(tile) :] in (b"", b"\0")
    assert dss["level-0.dcm"].PhotometricInterpretation == "RGB"  # Aperio codes RGB
    spacing = dss["level-0.dcm"].SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert [float(v) for v in spacing.PixelSpacing] == pytest.approx([0.499e-3, 0.499e-3])
    assert list(dss["label.dcm"].ImageType)[2] == "LABEL"
    assert list(dss["overview.dcm"].ImageType)[2] == "OVERVIEW"
    assert list(dss["thumbnail.dcm"].ImageType)[2] == "THUMBNAIL"
    osl = openslide.OpenSlide(str(out / "level-0.dcm"))
    h, w = slide.shape[:2]
    got = np.asarray(osl.read_region((0, 0), 0, (w, h)).convert("RGB"))
    np.testing.assert_array_equal(got, slide)  # passthrough: not a value changed
    assert {"label", "macro", "thumbnail"} <= set(osl.associated_images)
    assert osl.properties["openslide.objective-power"] == "20"  # AppMag of the SVS
    with wsidicom.WsiDicom.open(out) as wsi:
        np.testing.assert_array_equal(np.asarray(wsi.read_region((0, 0), 0, (w, h))), slide)
        got_label = np.asarray(wsi.read_label().convert("RGB")).astype(int)
        got_macro = np.asarray(wsi.read_overview().convert("RGB")).astype(int)
    assert got_label.shape == label.shape and np.abs(got_label - label).mean() < 5
    assert got_macro.shape == macro.shape and np.abs(got_macro - macro).mean() < 5


def test_refuses_an_existing_target_and_replaces_it_with_overwrite(tmp_path):
    target = tmp_path / "s"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    with pytest.raises(TargetExistsError, match="overwrite=True"):
        imgio.write(smooth_rgb(64, 64), target, format="dicom", physical_pixel_sizes=0.5)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    imgio.write(
        smooth_rgb(64, 64), target, format="dicom", overwrite=True, physical_pixel_sizes=0.5
    )
    assert sorted(p.name for p in target.iterdir()) == ["level-0.dcm"]


def test_cli_refuses_an_existing_target(tmp_path, capsys):
    src = imgio.write(smooth_rgb(64, 64), tmp_path / "a.ome.tif")
    (tmp_path / "out").mkdir()
    assert main(["convert", str(src), str(tmp_path / "out"), "--format", "dicom"]) != 0
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failure_midway_leaves_nothing(tmp_path, exc):
    def fill(block, block_info=None):
        if block_info is not None and block_info[0]["array-location"][0][0] >= 256:
            raise exc("boom")
        return block + 1

    bad = da.zeros((512, 256), dtype=np.uint8, chunks=(64, 128)).map_blocks(fill, dtype=np.uint8)
    with pytest.raises(exc):
        imgio.write(
            bad, tmp_path / "s", format="dicom", dims="YX", tile=64, physical_pixel_sizes=0.5
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        (np.zeros((64, 64, 4), np.uint8), {}, "1 \\(grey\\) or 3 \\(RGB\\) samples"),
        (np.zeros((64, 64), np.float32), {}, "cannot hold float32"),
        (np.zeros((64, 64), np.uint16), {"compression": "jpeg"}, "cannot hold uint16"),
        (np.zeros((64, 64), np.uint8), {"compression": "zstd"}, "expected one of"),
        (np.zeros((2, 64, 64), np.uint8), {"dims": "TYX"}, "2 time points"),
        (np.zeros((64, 64), np.uint8), {"chunks": 64}, "chunks= does not apply"),
        (np.zeros((64, 64), np.uint8), {"tile": 100}, "multiples of 16"),
    ],
)
def test_bad_input_gives_imgio_errors(tmp_path, data, options, message):
    with pytest.raises(ImgioError, match=message):
        imgio.write(data, tmp_path / "s", format="dicom", **options)
    assert list(tmp_path.iterdir()) == []


def test_unknown_pixel_size_warns_and_leaves_pixel_spacing_out(tmp_path):
    with pytest.warns(imgio.ImgioWarning, match="no pixel size"):
        out = imgio.write(smooth_rgb(64, 64), tmp_path / "s", format="dicom")
    measures = pydicom.dcmread(out / "level-0.dcm").SharedFunctionalGroupsSequence[0]
    assert "PixelSpacing" not in measures.PixelMeasuresSequence[0]


def test_channel_colours_become_palettes_and_scenes_become_series(tmp_path):
    xr = pytest.importorskip("xarray")
    data = fluorescence()[:, 0, :64, :64]
    arr = xr.DataArray(
        data, dims=("C", "Y", "X"), coords={"C": ["DAPI", "GFP"]},
        attrs={"channel_colors": (0x0000FFFF, 0x00FF00FF)},
    )  # fmt: skip
    out = imgio.write(
        [arr, smooth_rgb(64, 64)], tmp_path / "s", format="dicom", physical_pixel_sizes=0.5
    )
    dss = instances(out)
    assert sorted(dss) == ["s0-level-0.dcm", "s1-level-0.dcm"]
    assert dss["s0-level-0.dcm"].StudyInstanceUID == dss["s1-level-0.dcm"].StudyInstanceUID
    assert dss["s0-level-0.dcm"].SeriesInstanceUID != dss["s1-level-0.dcm"].SeriesInstanceUID
    paths = dss["s0-level-0.dcm"].OpticalPathSequence
    assert [p.OpticalPathDescription for p in paths] == ["DAPI", "GFP"]
    for path, (r, g, b) in zip(paths, [(0, 0, 255), (0, 255, 0)], strict=True):
        lut = path.PaletteColorLookupTableSequence[0]
        assert list(lut.RedPaletteColorLookupTableDescriptor) == [0, 0, 16]  # 65536 entries
        ends = [
            np.frombuffer(getattr(lut, f"{c}PaletteColorLookupTableData"), "<u2")[[0, -1]]
            for c in ("Red", "Green", "Blue")
        ]
        assert [list(e) for e in ends] == [[0, v * 257] for v in (r, g, b)]
    if shutil.which("dciodvfy"):
        assert dciodvfy_errors(out / "s0-level-0.dcm") == []


def test_missing_stored_tiles_are_encoded_as_the_stored_ones(tmp_path):
    """A level-0 tile the source cannot give as stored bytes is encoded, in the same colour
    coding as the stored tiles, so that one Photometric Interpretation holds for all."""
    from imgio.writers._input import standardize
    from imgio.writers.dicom import DicomPart, write_dicom

    rgb = smooth_rgb(480, 480)
    src = imgio.write(rgb, tmp_path / "src.ome.tif", compression="jpeg", tile=240,
                      pyramid_levels=1, physical_pixel_sizes=0.5)  # fmt: skip
    with imgio.Image(src) as img:
        stored = img.source(scene=0, level=0)
        decoded = img.get_image_data("YXS", T=0, C=0, Z=0)
        tiles = {(r, c): stored.raw_tile((0, 0, 0, r, c, 0)) for r in range(2) for c in range(2)}
    part = DicomPart(
        standardize(decoded, dims="YXS", physical_pixel_sizes=0.5),
        raw_tile=lambda plane, r, c: None if (r, c) == (1, 0) else tiles[r, c],
        raw_tile_shape=(240, 240),
    )
    write_dicom([part], tmp_path / "d")
    ds = pydicom.dcmread(tmp_path / "d" / "level-0.dcm")
    frames = frames_of(ds)
    for k in (0, 1, 3):
        assert frames[k].rstrip(b"\0") == tiles[divmod(k, 2)].rstrip(b"\0")
    assert frames[2].rstrip(b"\0") != tiles[1, 0].rstrip(b"\0")  # encoded from pixels
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    got = matrix(ds)[0, 0].astype(int)
    assert np.abs(got[240:, :240] - decoded[240:, :240]).mean() < 1.5
    level1 = pydicom.dcmread(tmp_path / "d" / "level-1.dcm")
    assert level1.PhotometricInterpretation == "YBR_FULL_422"


def test_extended_offset_table_when_offsets_outgrow_32_bits(tmp_path, monkeypatch):
    """Past the Basic Offset Table's reach (4 GiB; lowered here) the table is left empty
    and the Extended Offset Table locates every frame."""
    from imgio.writers import _dicom_file

    monkeypatch.setattr(_dicom_file, "BOT_LIMIT", 1000)
    rgb = smooth_rgb(300, 500)
    progress: list[tuple[int, int]] = []
    out = imgio.write(
        rgb, tmp_path / "s", format="dicom", compression="jpeg2000-lossless", tile=128,
        physical_pixel_sizes=0.5, progress=lambda done, total: progress.append((done, total)),
    )  # fmt: skip
    ds = pydicom.dcmread(out / "level-0.dcm")
    assert ds.PixelData[4:8] == b"\0\0\0\0"  # an empty Basic Offset Table
    offsets = np.frombuffer(ds.ExtendedOffsetTable, "<u8")
    lengths = np.frombuffer(ds.ExtendedOffsetTableLengths, "<u8")
    assert len(offsets) == len(lengths) == ds.NumberOfFrames == 12
    for off, n in zip(offsets, lengths, strict=True):  # each points at its frame's item
        assert struct.unpack("<II", ds.PixelData[8 + off : 16 + off]) == (0xE000FFFE, n)
    np.testing.assert_array_equal(matrix(ds)[0, 0], rgb)
    assert progress[-1] == (progress[-1][1], progress[-1][1]) and len(progress) == progress[-1][1]


# ---------------------------------------------------------------- imgio reads them back
def _imgio_reads_dicom() -> bool:
    from imgio.readers import BUILTIN_READERS

    return "dicom" in BUILTIN_READERS


needs_reader = pytest.mark.skipif(not _imgio_reads_dicom(), reason="no imgio DICOM reader")


@needs_reader
def test_imgio_round_trip_of_every_level(tmp_path, ref_halve_rgb):
    rgb = smooth_rgb(300, 500)
    out = imgio.write(rgb, tmp_path / "s", format="dicom", compression="none", tile=128,
                      physical_pixel_sizes=0.25)  # fmt: skip
    with imgio.Image(out) as img:
        assert img.physical_pixel_sizes.X == pytest.approx(0.25)
        want = rgb
        for k in range(len(img.resolution_levels)):
            np.testing.assert_array_equal(img.get_image_data("YXS", level=k), want)
            want = ref_halve_rgb(want)
        again = imgio.write(img, tmp_path / "again", format="dicom", compression="none")
    with imgio.Image(again) as back:
        np.testing.assert_array_equal(back.get_image_data("YXS"), rgb)


@needs_reader
def test_imgio_round_trip_of_optical_paths_and_focal_planes(tmp_path):
    data = fluorescence()
    out = imgio.write(
        data, tmp_path / "f", format="dicom", dims="CZYX", tile=128,
        channel_names=["DAPI", "GFP"], physical_pixel_sizes=(2.0, 0.5, 0.5),
    )  # fmt: skip
    with imgio.Image(out) as img:
        assert img.channel_names == ["DAPI", "GFP"]
        assert img.physical_pixel_sizes == pytest.approx((2.0, 0.5, 0.5))
        np.testing.assert_array_equal(img.xarray_dask_data.coords["Z"].values, [0.0, 2.0, 4.0])
        np.testing.assert_array_equal(img.get_image_data("CZYX", T=0), data)


@needs_reader
@pytest.mark.skipif(not CMU.is_file(), reason="shared samples absent")
def test_imgio_reads_a_converted_svs_as_the_svs(tmp_path):
    out = tmp_path / "cmu"
    assert main(["convert", str(CMU), str(out), "--format", "dicom", "--quiet"]) == 0
    with imgio.Image(CMU) as svs, imgio.Image(out) as dcm:
        np.testing.assert_array_equal(
            dcm.get_image_data("YXS", T=0, C=0, Z=0), svs.get_image_data("YXS", T=0, C=0, Z=0)
        )
        assert dcm.physical_pixel_sizes.X == pytest.approx(0.499)
        roles = {i.associated for i in dcm.reader.scenes()}
        assert {"label", "macro", "thumbnail"} <= roles


def test_focal_planes_keep_their_depth(tmp_path):
    xr = pytest.importorskip("xarray")
    wsidicom = pytest.importorskip("wsidicom")
    planes = np.arange(3 * 64 * 64, dtype=np.uint16).reshape(3, 64, 64)
    data = xr.DataArray(planes, dims=("Z", "Y", "X"), coords={"Z": [10.0, 12.0, 14.0]})
    out = imgio.write(data, tmp_path / "z", format="dicom", physical_pixel_sizes=0.5)
    with wsidicom.WsiDicom.open(out) as wsi:
        assert wsi.levels.base_level.focal_planes == [10.0, 12.0, 14.0]
        got = np.asarray(wsi.read_region((0, 0), 0, (64, 64), z=12.0))
    np.testing.assert_array_equal(got, planes[1])
