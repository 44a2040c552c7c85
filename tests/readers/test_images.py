"""Common images (PNG, JPEG, GIF, WebP, BMP, JPEG XL): the shared samples against their
manifest and Pillow, files made here with Pillow/imagecodecs (16-bit, palette with
transparency, every EXIF orientation, animations), lazy frames, mosaics, bad input."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage
from PIL import ImageOps
from samples import SHARED, array_sha256, assert_stats_close, load_manifest

import imgio
from imgio.readers.base import STATS

RNG = np.random.default_rng(7)


def common_cases() -> list[Any]:
    manifest = load_manifest(SHARED)
    if manifest is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no {SHARED}"))]
    return [pytest.param(e, id=e["file"]) for e in manifest["files"] if e["category"] == "common"]


def pillow_frames(path: Path, mode: str) -> np.ndarray[Any, Any]:
    """Every frame as Pillow composites it, converted to ``mode``, EXIF orientation applied."""
    with PILImage.open(path) as im:
        frames = []
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            frames.append(np.asarray(ImageOps.exif_transpose(im.convert(mode))))
    return np.stack(frames)


@pytest.mark.parametrize("entry", common_cases())
def test_sample_against_manifest(entry: dict[str, Any]) -> None:
    path = SHARED / entry["file"]
    truth = entry["ground_truth"]
    want = truth["pixels"]
    img = imgio.Image(path)
    got = img.get_image_data(("T" if len(want["shape"]) == 4 else "") + "YXS")
    pil = truth["pil"]
    if pil.get("exif_orientation", 1) != 1:  # the manifest has the stored raster; imgio turns it
        np.testing.assert_array_equal(got, pillow_frames(path, "RGB")[0])
        return
    if got.dtype == np.uint16 and want["dtype"] == "uint8":  # Pillow keeps the high byte
        got = (got >> 8).astype(np.uint8)
    if got.shape[-1] == 4 and want["shape"][-1] == 3:  # imgio keeps the GIF's transparency
        ref = pillow_frames(path, "RGBA")
        np.testing.assert_array_equal(got[..., 3], ref[..., 3])
        shown = ref[..., 3] > 0
        np.testing.assert_array_equal(got[shown], ref[shown])
        return
    assert list(got.shape) == want["shape"] and str(got.dtype) == want["dtype"]
    if truth["lossy"]:
        assert_stats_close(got, want["stats"], lossy=True)
    else:
        assert array_sha256(got) == want["sha256"]


def _png(path: Path, arr: np.ndarray[Any, Any]) -> Path:
    path.write_bytes(imagecodecs.png_encode(arr))
    return path


@pytest.mark.parametrize(
    ("shape", "dtype", "dims"),
    [
        ((20, 30), np.uint8, "YX"),
        ((20, 30), np.uint16, "YX"),
        ((20, 30, 3), np.uint16, "YXS"),
        ((20, 30, 2), np.uint8, "YXS"),
        ((20, 30, 4), np.uint8, "YXS"),
    ],
)
def test_png_depths_and_alpha(
    tmp_path: Path, shape: tuple[int, ...], dtype: Any, dims: str
) -> None:
    arr = RNG.integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
    img = imgio.Image(_png(tmp_path / "a.png", arr))
    assert img.reader.name == "images" and img.reader.scenes()[0].dims == dims
    np.testing.assert_array_equal(img.get_image_data(dims), arr)


def test_palette_with_transparency_becomes_rgba(tmp_path: Path) -> None:
    im = PILImage.fromarray(RNG.integers(0, 4, (16, 24), dtype=np.uint8), mode="P")
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
    im.info["transparency"] = 3
    im.save(tmp_path / "p.png", transparency=3)
    got = imgio.Image(tmp_path / "p.png").get_image_data("YXS")
    np.testing.assert_array_equal(got, pillow_frames(tmp_path / "p.png", "RGBA")[0])
    im.save(tmp_path / "p.bmp")
    got = imgio.Image(tmp_path / "p.bmp").get_image_data("YXS")
    np.testing.assert_array_equal(got, pillow_frames(tmp_path / "p.bmp", "RGB")[0])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation(tmp_path: Path, orientation: int) -> None:
    arr = np.zeros((24, 40, 3), np.uint8)
    arr[:8, :16] = (255, 0, 0)  # a red block at the top left of the stored raster
    exif = PILImage.Exif()
    exif[274] = orientation
    PILImage.fromarray(arr).save(tmp_path / "o.jpg", exif=exif, quality=95)
    got = imgio.Image(tmp_path / "o.jpg").get_image_data("YXS")
    want = pillow_frames(tmp_path / "o.jpg", "RGB")[0]
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want).max() <= 2  # two libjpeg builds


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_jpeg_exif_transposed_frame_larger_than_a_copy_block(
    tmp_path: Path, orientation: int
) -> None:
    """Transposing orientations are copied in blocks: edges that are no block multiple."""
    arr = RNG.integers(0, 255, (300, 517, 3), dtype=np.uint8)
    exif = PILImage.Exif()
    exif[274] = orientation
    PILImage.fromarray(arr).save(tmp_path / "o.jpg", exif=exif, quality=95)
    got = imgio.Image(tmp_path / "o.jpg").get_image_data("YXS")
    want = pillow_frames(tmp_path / "o.jpg", "RGB")[0]
    assert got.shape == want.shape == (517, 300, 3)
    assert np.abs(got.astype(int) - want).max() <= 2


def test_jpeg_sof_height_inflated_decodes_in_bounded_time(tmp_path: Path) -> None:
    """Fuzz reproducer: an EXIF-rotated JPEG whose SOF height became 65535 (a 34 KB file that
    decodes to 60 MB) went past the 5 s hang limit in the whole-frame rotation; it reads, the
    missing rows as the decoder fills them, turned as the EXIF tag says."""
    import imagecodecs

    arr = RNG.integers(0, 255, (64, 48, 3), dtype=np.uint8)
    exif = PILImage.Exif()
    exif[274] = 6
    path = tmp_path / "tall.jpg"
    PILImage.fromarray(arr).save(path, exif=exif, quality=90)
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 7] = (65535).to_bytes(2, "big")  # the frame height
    path.write_bytes(bytes(data))
    got = imgio.Image(path).get_image_data("YXS")
    stored = np.asarray(imagecodecs.jpeg8_decode(bytes(data)))
    assert stored.shape == (65535, 48, 3)
    np.testing.assert_array_equal(got, np.rot90(stored, -1))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_frames_are_t_and_lazy(tmp_path: Path, fmt: str) -> None:
    frames = [RNG.integers(0, 255, (18, 26, 3), dtype=np.uint8) for _ in range(5)]
    path = tmp_path / f"anim.{fmt.lower()}"
    ims = [PILImage.fromarray(f) for f in frames]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    ims[0].save(path, fmt, save_all=True, append_images=ims[1:], duration=200, loop=0, **extra)
    STATS.reset()
    img = imgio.Image(path)
    assert img.dims.order == "TCZYXS" and img.dims.T == 5
    assert STATS.chunks_decoded == 0
    frame3 = img.get_image_data("YXS", T=3)
    assert STATS.chunks_decoded == 1  # one frame decoded, not the animation
    # Pillow encodes unchanged pixels of later GIF frames with a transparent colour: the
    # alpha is kept (issue #21), opaque where the frame before shows through
    want = pillow_frames(path, "RGBA" if fmt == "GIF" else "RGB")
    assert img.dims.S == want.shape[-1]
    np.testing.assert_array_equal(frame3, want[3])
    np.testing.assert_array_equal(img.get_image_data("TYXS"), want)
    assert img.xarray_dask_data.coords["T"].values[1] == pytest.approx(0.2)


def test_webp_and_jpegxl_stills(tmp_path: Path) -> None:
    arr = RNG.integers(0, 255, (21, 33, 3), dtype=np.uint8)
    (tmp_path / "a.webp").write_bytes(imagecodecs.webp_encode(arr, lossless=True))
    np.testing.assert_array_equal(imgio.imread(tmp_path / "a.webp", T=0, C=0, Z=0), arr)
    (tmp_path / "a.jxl").write_bytes(imagecodecs.jpegxl_encode(arr, lossless=True))
    img = imgio.Image(tmp_path / "a.jxl")
    np.testing.assert_array_equal(img.get_image_data("YXS"), arr)


def test_source_pickles(tmp_path: Path) -> None:
    arr = RNG.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    img = imgio.Image(_png(tmp_path / "a.png", arr))
    src = img.reader.source(0)
    np.testing.assert_array_equal(src[(slice(0, 20), slice(0, 30), slice(0, 3))], arr)
    back = pickle.loads(pickle.dumps(src))
    np.testing.assert_array_equal(back[(slice(2, 5), slice(0, 30), slice(1, 2))], arr[2:5, :, 1:2])


def _sectors(root: Path, kind: str) -> tuple[list[Path], np.ndarray[Any, Any]]:
    tiles = [RNG.integers(0, 255, (40, 50, 3), dtype=np.uint8) for _ in range(6)]
    paths = []
    for i, t in enumerate(tiles):
        p = root / f"sector_{i}.{kind}"
        PILImage.fromarray(t).save(p, quality=98) if kind == "jpg" else _png(p, t)
        paths.append(p)
    rows = [
        np.concatenate([pillow_frames(p, "RGB")[0] for p in paths[r * 3 : r * 3 + 3]], 1)
        for r in range(2)
    ]
    return paths, np.concatenate(rows, 0)


@pytest.mark.parametrize("kind", ["png", "jpg"])
def test_mosaic_of_sectors(tmp_path: Path, kind: str) -> None:
    paths, want = _sectors(tmp_path, kind)
    joined = imgio.mosaic(paths, across=3)
    got = joined.values.reshape(want.shape)
    tol = 0 if kind == "png" else 3
    assert np.abs(got.astype(int) - want).max() <= tol
    from imgio.cli import main

    out = tmp_path / "out.ome.tif"
    assert main(["mosaic", str(out), *map(str, paths), "--across", "3", "--tile", "32"]) == 0
    with tifffile.TiffFile(out) as tif:
        assert tif.is_ome
        assert np.abs(tif.series[0].asarray().reshape(want.shape).astype(int) - want).max() <= tol


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kind", ["png", "gif", "jpg"])
@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9])
def test_truncated(tmp_path: Path, kind: str, cut: float) -> None:
    arr = RNG.integers(0, 255, (64, 80, 3), dtype=np.uint8)
    buf = io.BytesIO()
    ims = [PILImage.fromarray(arr), PILImage.fromarray(arr[::-1].copy())]
    if kind == "gif":
        ims[0].save(buf, "GIF", save_all=True, append_images=ims[1:])
    else:
        ims[0].save(buf, "PNG" if kind == "png" else "JPEG")
    data = buf.getvalue()
    (tmp_path / f"cut.{kind}").write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(imgio.ImgioError, match=rf"cut\.{kind}"):
        img = imgio.Image(tmp_path / f"cut.{kind}")
        img.get_image_data()


def test_flipped_png_bytes_name_the_frame(tmp_path: Path) -> None:
    arr = RNG.integers(0, 255, (64, 80, 3), dtype=np.uint8)
    data = bytearray(imagecodecs.png_encode(arr))
    idat = data.find(b"IDAT")
    data[idat + 40 : idat + 60] = b"\xff" * 20
    (tmp_path / "bad.png").write_bytes(bytes(data))
    img = imgio.Image(tmp_path / "bad.png")
    with pytest.raises(imgio.CorruptFileError, match=r"bad\.png: cannot decode PNG frame 0"):
        img.get_image_data()


def test_huge_header_is_refused(tmp_path: Path) -> None:
    data = bytearray(imagecodecs.png_encode(np.zeros((4, 4), np.uint8)))
    data[16:24] = (1 << 30).to_bytes(4, "big") * 2  # IHDR width and height
    (tmp_path / "huge.png").write_bytes(bytes(data))
    with pytest.raises(imgio.ImgioError, match=r"huge\.png"):
        imgio.Image(tmp_path / "huge.png").get_image_data()


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_whole_jpeg_decodes_once_into_the_result(tmp_path: Path, mode: str, stats: Any) -> None:
    """``Image.data`` of an upright JPEG decodes straight into its result, once; other
    layouts (CMYK) take the general path with the same pixels as Pillow."""
    rgb = np.random.default_rng(3).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    path = tmp_path / f"{mode}.jpg"
    PILImage.fromarray(rgb).convert(mode).save(path, quality=95)
    img = imgio.Image(path)
    got = img.data
    assert STATS.chunks_decoded == 1
    want = np.asarray(PILImage.open(path).convert("RGB" if mode != "L" else "L"))
    assert got.dtype == np.uint8 and got.shape[3:5] == (40, 56)
    if mode != "CMYK":
        np.testing.assert_array_equal(got.reshape(want.shape), want)
