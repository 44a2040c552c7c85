"""Round-trip matrix: dtype x compression x tile/chunk x layout x writer, read independently.

Every case is read back by the format's own library (tifffile for OME-TIFF, zarr for
OME-Zarr), by bioio (bioio-ome-tiff / bioio-ome-zarr: pixels, dims, physical sizes and
channel names; every case, as a bioio open costs ~20 ms here) and by imgio; lossless
codecs must give every value back, and the first
reduced level must equal a numpy reference (mean, or top-left for booleans). What a
codec cannot hold is refused with an ``ImgioError`` naming the dtype and the codec before
anything is written.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr

import imgio
from imgio.writers.ome_tiff import CODEC_LIMITS

with warnings.catch_warnings():  # bioio's plugins import with deprecation noise
    warnings.simplefilter("ignore")
    import bioio
    import bioio_ome_tiff
    import bioio_ome_zarr

DTYPES = ("bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
LAYOUTS = {"YX": (37, 45), "CZYX": (2, 2, 37, 45), "YXS": (37, 45, 3)}  # odd sizes on purpose
TIFF_CODECS = ("none", "zlib", "zstd", "lzw", "jpeg", "jpeg2000", "jpegxl", "webp")
ZARR_CODECS = ("none", "zstd", "lz4", "zlib")
LOSSY = {"jpeg": 12.0}  # mean absolute error allowed (RGB JPEG is YCbCr 4:2:0)
SIZES = {"YX": (None, 0.5, 0.25), "CZYX": (2.0, 0.5, 0.25), "YXS": (None, 0.75, 0.75)}
NAMES = {"YX": ["only"], "CZYX": ["DAPI", "GFP"], "YXS": None}  # RGB: no names given


def metadata(layout: str) -> dict[str, Any]:
    """Physical sizes and channel names each file of a layout is written with."""
    return {"physical_pixel_sizes": SIZES[layout], "channel_names": NAMES[layout]}


def check_bioio(
    path: Any, reader: Any, layout: str, want: np.ndarray[Any, Any], written: str = ""
) -> None:
    """bioio (with the format's plugin) sees the pixels, dims, sizes and names written
    (with ``metadata(written or layout)``), ``want`` being the pixels in ``layout``."""
    written = written or layout
    img = bioio.BioImage(path, reader=reader)
    shape = dict(zip(layout, want.shape, strict=True))
    for d in "TCZYX":
        assert getattr(img.dims, d) == shape.get(d, 1), (d, img.dims)
    assert (img.dims.S if "S" in img.dims.order else 1) == shape.get("S", 1)
    got = img.get_image_data(layout)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)
    z, y, x = SIZES[written]
    pps = img.physical_pixel_sizes
    assert (pps.Y, pps.X) == (y, x) and (z is None or pps.Z == z), pps
    if NAMES[written] is not None:
        assert [str(n) for n in img.channel_names] == NAMES[written]


def sample(dtype: str, shape: tuple[int, ...], seed: int) -> np.ndarray[Any, Any]:
    """Noise over the dtype's range (extremes included), so every bit of a value matters."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) > 0.5
    if dt.kind in "ui":
        info = np.iinfo(dt)
        out = rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
        out.flat[:2] = info.min, info.max
        return out
    out = (rng.standard_normal(shape) * 1e3).astype(dt)
    out.flat[:2] = np.finfo(dt).tiny, np.finfo(dt).max / 2
    return out


def reference_level1(a: np.ndarray[Any, Any], y: int, x: int) -> np.ndarray[Any, Any]:
    """2 x 2 mean (integers round half up), or top-left for booleans; odd edges replicated."""
    key = [slice(None)] * a.ndim
    if a.dtype == np.bool_:
        key[y], key[x] = slice(None, None, 2), slice(None, None, 2)
        return a[tuple(key)]
    pad = [(0, 0)] * a.ndim
    pad[y], pad[x] = (0, a.shape[y] % 2), (0, a.shape[x] % 2)
    p = np.pad(a, pad, mode="edge")
    parts = []
    for dy in (0, 1):
        for dx in (0, 1):
            key[y], key[x] = slice(dy, None, 2), slice(dx, None, 2)
            parts.append(p[tuple(key)])
    if a.dtype.kind in "ui":
        total = sum(q.astype(object) for q in parts)  # exact, no overflow
        return ((total + 2) // 4).astype(a.dtype)
    return (sum(q.astype(np.float64) for q in parts) * 0.25).astype(a.dtype)


def accepted(codec: str, dtype: str, samples: int) -> bool:
    if dtype == "bool" and samples > 1:
        return False  # 1-bit TIFF pages hold one sample per pixel
    if codec not in CODEC_LIMITS:
        return True
    dtypes, allowed = CODEC_LIMITS[codec]
    return dtype in dtypes and samples in allowed


def check_pixels(got: np.ndarray[Any, Any], want: np.ndarray[Any, Any], codec: str) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    if codec in LOSSY:
        assert np.abs(got.astype(float) - want).mean() <= LOSSY[codec]
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("codec", TIFF_CODECS)
def test_ome_tiff_matrix(tmp_path, codec, layout):
    shape = LAYOUTS[layout]
    samples = shape[-1] if layout.endswith("S") else 1
    y, x = layout.index("Y"), layout.index("X")
    for k, dtype in enumerate(DTYPES):
        a = sample(dtype, shape, k)
        if codec in LOSSY:  # a smooth image, as JPEG is meant for
            a = (np.indices(shape).sum(axis=0) * 3 % 200).astype(dtype)
        out = tmp_path / f"{dtype}.ome.tif"
        options = {"dims": layout, "compression": codec, "tile": (16, 32)[k % 2]}
        options |= metadata(layout)
        if not accepted(codec, dtype, samples):
            with pytest.raises(imgio.ImgioError, match=rf"{codec}.*{dtype}|{dtype}.*{codec}"):
                imgio.write(a, out, **options)
            assert not [f for f in tmp_path.iterdir() if f.name.startswith(f"{dtype}.")]
            continue
        imgio.write(a, out, pyramid_levels=2, **options)
        with tifffile.TiffFile(out) as tif:
            levels = tif.series[0].levels
            got = levels[0].asarray().reshape(shape)  # tifffile squeezes singleton dims
            check_pixels(got, a, codec)
            half = levels[1].asarray()
            if codec not in LOSSY:
                ref = reference_level1(a, y, x)
                np.testing.assert_allclose(half.reshape(ref.shape), ref, rtol=1e-6)
        back = imgio.Image(out).get_image_data(layout)
        check_pixels(back, got, "none")  # imgio reads what tifffile reads, exactly
        check_bioio(out, bioio_ome_tiff.Reader, layout, got)


@pytest.mark.parametrize("codec", ZARR_CODECS)
@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_matrix(tmp_path, version, codec):
    # every dtype with every codec; layouts and chunk sizes rotate so that each codec sees
    # each layout three times (a zarr write costs ~0.1 s: the full product would be slow)
    shift = ZARR_CODECS.index(codec)
    for k, dtype in enumerate(DTYPES):
        layout = list(LAYOUTS)[(k + shift) % len(LAYOUTS)]
        shape = LAYOUTS[layout]
        a = sample(dtype, shape, k)
        # what the zarr arrays hold: T C Z Y X (RGB samples become channels)
        if layout == "YX":
            want = a[None, None, None]
        elif layout == "CZYX":
            want = a[None]
        else:
            want = np.moveaxis(a, -1, 0)[None, :, None]
        out = imgio.write(
            a,
            tmp_path / f"{dtype}.ome.zarr",
            dims=layout,
            compression=codec,
            chunks=(16, 32)[(k + shift) % 2],
            ngff_version=version,
            pyramid_levels=2,
            **metadata(layout),
        )
        group = zarr.open_group(out, mode="r")
        np.testing.assert_array_equal(group["0"][...], want)
        assert group["0"].dtype == want.dtype
        np.testing.assert_allclose(group["1"][...], reference_level1(want, 3, 4), rtol=1e-6)
        back = imgio.Image(out).get_image_data("TCZYX")
        np.testing.assert_array_equal(back, want)
        assert back.dtype == want.dtype
        if layout != "YXS":  # RGB samples are channels in NGFF
            check_bioio(out, bioio_ome_zarr.Reader, layout, a)
        else:
            check_bioio(out, bioio_ome_zarr.Reader, "CYX", want[0, :, 0], layout)


def test_boolean_mask_reported_case(tmp_path):
    """The exact reproducer of the report: a compressed boolean OME-TIFF read by tifffile."""
    a = np.random.default_rng(0).random((64, 64)) > 0.5
    imgio.write(a, tmp_path / "b.ome.tif", dims="YX")
    assert (tifffile.imread(tmp_path / "b.ome.tif") == a).all()


def test_jpeg2000_float_refused_before_writing(tmp_path):
    out = tmp_path / "f.ome.tif"
    with pytest.raises(imgio.ImgioError, match="jpeg2000.*float32"):
        imgio.write(np.zeros((20, 20), np.float32), out, compression="jpeg2000")
    assert not out.exists()


def test_float_pyramid_is_a_mean(tmp_path):
    """A non-constant float pyramid against numpy: nearest-neighbour would differ."""
    a = np.random.default_rng(3).random((2, 70, 90)).astype(np.float32)
    nearest = a[:, ::2, ::2]
    assert not np.allclose(reference_level1(a, 1, 2), nearest)  # the test can fail
    for suffix, option in ((".ome.tif", {"tile": 32}), (".ome.zarr", {"chunks": 32})):
        out = imgio.write(a, tmp_path / f"f{suffix}", dims="CYX", pyramid_levels=3, **option)
        img = imgio.Image(out)
        ref = a
        for level in (1, 2):
            ref = reference_level1(ref, 1, 2)
            img.set_resolution_level(level)
            np.testing.assert_allclose(img.get_image_data("CYX"), ref, rtol=1e-6)
