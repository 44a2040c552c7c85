"""The TIFF reader against tifffile on synthetic files of every layout variant.

Each variant is written by tifffile into ``tmp_path``; imgio must return what
tifffile's ``series[i].levels[j].asarray()`` returns (reordered into imgio's
presented dims), whole and at seeded random windows on every level, with dask
chunks on native tile edges and only the covering tiles decoded.
"""

from __future__ import annotations

import math
import pickle
import re
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from samples import to_axes

import imgio
from imgio.readers.base import STATS

RNG_SEED = 20261124
Writer = Callable[[Path], Path]


def ramp(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray[Any, Any]:
    """Deterministic, non-repeating-looking pixels of any dtype."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) > 0.5
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dtype)
    info = np.iinfo(dtype)
    smooth = np.indices(shape).sum(axis=0) * 7 + rng.integers(0, 5, shape)
    return (smooth % min(int(info.max) + 1 - int(info.min), 1 << 16) + int(info.min)).astype(dtype)


# ------------------------------------------------------------------ variants
def _imwrite(name: str, data: Any, **kwargs: Any) -> Writer:
    def write(tmp: Path) -> Path:
        path = tmp / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tifffile.imwrite(path, data() if callable(data) else data, **kwargs)
        return path

    return write


def _pyramid(
    name: str, *, subifds: bool, tile: tuple[int, int] = (32, 32), **kwargs: Any
) -> Writer:
    def write(tmp: Path) -> Path:
        path = tmp / name
        base = (
            ramp((3, 150, 130), np.uint16, seed=3)
            if kwargs.get("channels")
            else ramp((150, 130), np.uint8)
        )
        levels = [base]
        while min(levels[-1].shape[-2:]) > 40:
            levels.append(levels[-1][..., ::2, ::2].copy())
        opts: dict[str, Any] = {"tile": tile, "compression": "zlib"}
        with tifffile.TiffWriter(path, ome=kwargs.get("ome", False)) as tw:
            meta = (
                {
                    "axes": "CYX",
                    "Channel": {"Name": ["a", "b", "c"]},
                    "PhysicalSizeX": 0.5,
                    "PhysicalSizeY": 0.5,
                }
                if kwargs.get("ome")
                else None
            )
            tw.write(base, subifds=len(levels) - 1 if subifds else 0, metadata=meta, **opts)
            for lvl in levels[1:]:
                tw.write(lvl, subfiletype=1, metadata=None if subifds else None, **opts)
        return path

    return write


def _ome_multiscene(tmp: Path) -> Path:
    path = tmp / "scenes.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tw:
        tw.write(
            ramp((2, 3, 4, 40, 50), np.uint16, 1),
            tile=(16, 16),
            compression="zlib",
            metadata={
                "axes": "TCZYX",
                "Name": "first",
                "Channel": {"Name": ["DAPI", "GFP", "RFP"]},
                "PhysicalSizeX": 0.25,
                "PhysicalSizeY": 0.25,
                "PhysicalSizeZ": 2.0,
                "TimeIncrement": 1.5,
            },
        )
        tw.write(
            ramp((60, 30, 3), np.uint8, 2),
            photometric="rgb",
            metadata={"axes": "YXS", "Name": "rgb"},
        )
        tw.write(ramp((3, 20, 30), np.float32, 3), metadata={"axes": "ZYX", "Name": "floats"})
    return path


def _ome_multiscene_pyramids(tmp: Path) -> Path:
    """Two OME scenes, each with its own SubIFD pyramid of a different depth."""
    path = tmp / "scene-pyramids.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tw:
        for i, (shape, n_sub) in enumerate((((2, 90, 70), 2), ((3, 64, 80, 3), 1))):
            base = ramp(shape, np.uint8, 10 + i)
            rgb = len(shape) == 4
            opts: dict[str, Any] = {"tile": (16, 16), "compression": "zlib"}
            if rgb:
                opts["photometric"] = "rgb"
            axes = "ZYXS" if rgb else "CYX"
            tw.write(base, subifds=n_sub, metadata={"axes": axes, "Name": f"s{i}"}, **opts)
            for k in range(1, n_sub + 1):
                f = 2**k
                level = base[:, ::f, ::f] if not rgb else base[:, ::f, ::f, :]
                tw.write(level.copy(), subfiletype=1, **opts)
    return path


def _ome_order(axes: str) -> Writer:
    def write(tmp: Path) -> Path:
        sizes = {"T": 2, "C": 3, "Z": 4, "Y": 24, "X": 18}
        path = tmp / f"order-{axes}.ome.tif"
        data = ramp(tuple(sizes[a] for a in axes), np.uint16, 4)
        tifffile.imwrite(path, data, ome=True, metadata={"axes": axes})
        return path

    return write


def _ome_multifile(tmp: Path) -> Path:
    """Two files, each holding half of the Z planes; the OME-XML in both lists all."""
    names = ["set_z0.ome.tif", "set_z1.ome.tif"]
    uuids = [f"urn:uuid:{uuid.UUID(int=i + 1)}" for i in range(2)]
    planes = ramp((4, 20, 16), np.uint8, 5)
    tiffdata = "".join(
        f'<TiffData FirstZ="{2 * i}" IFD="0" PlaneCount="2">'
        f'<UUID FileName="{n}">{u}</UUID></TiffData>'
        for i, (n, u) in enumerate(zip(names, uuids, strict=True))
    )
    for i, (n, u) in enumerate(zip(names, uuids, strict=True)):
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="{u}">'
            '<Image ID="Image:0" Name="multifile"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" '
            'Type="uint8" SizeX="16" SizeY="20" SizeZ="4" SizeC="1" SizeT="1">'
            f'<Channel ID="Channel:0:0" SamplesPerPixel="1"/>{tiffdata}</Pixels></Image></OME>'
        )
        with tifffile.TiffWriter(tmp / n) as tw:
            for z in (2 * i, 2 * i + 1):
                tw.write(
                    planes[z],
                    description=xml if z == 2 * i else None,
                    metadata=None,
                    contiguous=False,
                )
    return tmp / names[0]


def _imagej(tmp: Path) -> Path:
    path = tmp / "hyper.tif"
    tifffile.imwrite(
        path,
        ramp((3, 4, 2, 30, 20), np.uint16, 6),
        imagej=True,
        resolution=(1 / 0.2, 1 / 0.2),
        metadata={
            "axes": "TZCYX",
            "spacing": 1.5,
            "unit": "um",
            "finterval": 2.0,
            "Labels": ["ch-a", "ch-b"] * 12,
        },
    )
    return path


def _missing_tiles(tmp: Path) -> Path:
    def tiles():  # type: ignore[no-untyped-def]
        for i in range(12):
            yield None if i in (1, 7) else np.full((16, 16), i + 1, np.uint16)

    path = tmp / "missing.tif"
    tifffile.imwrite(path, tiles(), shape=(48, 64), dtype=np.uint16, tile=(16, 16))
    return path


def _mixed_pages(tmp: Path) -> Path:
    """Pages of different shapes and dtypes: one tifffile series (scene) each."""
    path = tmp / "mixed.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(ramp((30, 20), np.uint8), metadata=None)
        tw.write(ramp((10, 40, 3), np.uint8), photometric="rgb", metadata=None, tile=(16, 16))
        tw.write(ramp((25, 25), np.float64), metadata=None, compression="zlib")
    return path


VARIANTS: dict[str, Writer] = {
    "strips-uint8": _imwrite("s.tif", ramp((70, 50), np.uint8), rowsperstrip=7),
    "tiled-uint16-zlib": _imwrite(
        "t.tif", ramp((100, 70), np.uint16), tile=(32, 32), compression="zlib"
    ),
    "rgb-contig-jpeg": _imwrite(
        "j.tif", ramp((70, 90, 3), np.uint8), tile=(32, 32), compression="jpeg", photometric="rgb"
    ),
    "rgb-separate-tiled-lzw": _imwrite(
        "p.tif",
        ramp((3, 70, 90), np.uint8),
        tile=(32, 32),
        compression="lzw",
        planarconfig="separate",
        photometric="rgb",
    ),
    "rgb-separate-strips": _imwrite(
        "ps.tif",
        ramp((3, 50, 40), np.uint16),
        rowsperstrip=9,
        planarconfig="separate",
        photometric="rgb",
    ),
    "multipage": _imwrite("m.tif", ramp((5, 30, 40), np.int16), metadata=None),
    "shaped-4d": _imwrite("q.tif", ramp((2, 3, 30, 40), np.float32), compression="zstd"),
    "bilevel": _imwrite("b.tif", ramp((37, 45), bool)),
    "4bit": _imwrite("b4.tif", ramp((30, 21), np.uint8) % 16, bitspersample=4),
    "12bit": _imwrite("b12.tif", ramp((30, 21), np.uint16) % 4096, bitspersample=12),
    **{
        f"dtype-{t}": _imwrite(f"d-{t}.tif", ramp((40, 30), t), tile=(16, 16), compression="zlib")
        for t in (
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "int8",
            "int16",
            "int32",
            "int64",
            "float16",
            "float32",
            "float64",
        )
    },
    **{
        f"comp-{c}": _imwrite(
            f"c-{c}.tif",
            ramp((50, 60, 3), np.uint8),
            tile=(32, 32),
            compression=c,
            photometric="rgb",
        )
        for c in (
            "none",
            "deflate",
            "lzw",
            "zstd",
            "lzma",
            "packbits",
            "jpeg2000",
            "webp",
            "png",
            "jpegxl",
            "lerc",
        )
    },
    "predictor-horizontal": _imwrite(
        "ph.tif", ramp((50, 60), np.uint16), compression="zlib", predictor=True, tile=(16, 32)
    ),
    "predictor-float": _imwrite(
        "pf.tif", ramp((50, 60), np.float32), compression="zlib", predictor=3, rowsperstrip=8
    ),
    "predictor-int16-bigendian": _imwrite(
        "pbe.tif",
        ramp((40, 30), np.int16),
        compression="zlib",
        predictor=True,
        byteorder=">",
        rowsperstrip=5,
    ),
    "predictor-float16": _imwrite(
        "pf16.tif", ramp((40, 30), np.float16), compression="zlib", predictor=3, tile=(16, 16)
    ),
    "ycbcr-jpeg-subsampled": _imwrite(
        "ycc.tif",
        ramp((70, 90, 3), np.uint8),
        tile=(32, 32),
        compression="jpeg",
        photometric="ycbcr",
        subsampling=(2, 2),
    ),
    "rgba-extrasamples": _imwrite(
        "rgba.tif",
        ramp((40, 30, 4), np.uint8),
        photometric="rgb",
        extrasamples=["unassalpha"],
        compression="lzw",
        tile=(16, 16),
    ),
    "palette": _imwrite(
        "pal.tif",
        ramp((40, 30), np.uint8),
        photometric="palette",
        colormap=np.tile(np.arange(256, dtype=np.uint16) * 256, (3, 1)),
    ),
    "tile-larger-than-image": _imwrite(
        "big-tile.tif", ramp((20, 25), np.uint16), tile=(64, 64), compression="zlib"
    ),
    "rows-per-strip-over-length": _imwrite("rps.tif", ramp((20, 25), np.uint8), rowsperstrip=100),
    "generic-mixed-pages": _mixed_pages,
    "bigtiff": _imwrite("big.tif", ramp((2, 40, 50), np.uint16), bigtiff=True, tile=(16, 16)),
    "big-endian-raw": _imwrite("be.tif", ramp((40, 50), np.uint16), byteorder=">"),
    "big-endian-zlib-tiled": _imwrite(
        "bez.tif", ramp((40, 50), np.float32), byteorder=">", compression="zlib", tile=(16, 16)
    ),
    "volumetric-tiles": _imwrite(
        "vol.tif",
        ramp((9, 40, 40), np.uint8),
        tile=(4, 16, 16),
        volumetric=True,
        compression="zlib",
    ),
    "pyramid-subifds": _pyramid("pyr-sub.tif", subifds=True),
    "pyramid-pages": _pyramid("pyr-pages.tif", subifds=False),
    "ome-pyramid-subifds": _pyramid("pyr.ome.tif", subifds=True, ome=True, channels=True),
    "ome-multiscene": _ome_multiscene,
    "ome-multiscene-pyramids": _ome_multiscene_pyramids,
    **{f"ome-order-{a}": _ome_order(a) for a in ("ZCTYX", "TZCYX", "CTZYX", "TCZYX")},
    "ome-multifile": _ome_multifile,
    "imagej-hyperstack": _imagej,
    "missing-tiles": _missing_tiles,
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("variants")
    out = {}
    for name, write in VARIANTS.items():
        folder = root / name
        folder.mkdir()
        out[name] = write(folder)
    return out


# ------------------------------------------------------------------ helpers
def reference(path: Path) -> list[dict[str, Any]]:
    """tifffile's view: per series its axes, the pixels of every level and the tile grid."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tifffile.TiffFile(path) as tif:
            for series in tif.series:
                levels = []
                for level in series.levels:
                    key = level.keyframe
                    grid = (
                        (key.tilelength, key.tilewidth)
                        if key.is_tiled
                        else (key.rowsperstrip, key.imagewidth)
                    )
                    levels.append({"data": level.asarray(), "grid": grid})
                out.append({"axes": series.axes, "levels": levels})
    return out


def presented(img: imgio.Image, scene: int, level: int) -> str:
    return "".join(map(str, img.get_xarray_dask_data(scene=scene, level=level).dims))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_matches_tifffile(variant: str, written: dict[str, Path]) -> None:
    path = written[variant]
    ref = reference(path)
    img = imgio.Image(path)
    assert len(img.scenes) == len(ref)
    rng = np.random.default_rng(RNG_SEED)
    for s, series in enumerate(ref):
        assert len(img.get_multiscale(s)) == len(series["levels"])
        for lvl, level in enumerate(series["levels"]):
            want = level["data"]
            dims = presented(img, s, lvl)
            lazy = img.get_xarray_dask_data(scene=s, level=lvl)
            full = img.get_image_data(scene=s, level=lvl)
            assert full.dtype == want.dtype
            np.testing.assert_array_equal(to_axes(full, dims, series["axes"], want.shape), want)
            # dask chunk edges fall on native tile/strip edges
            for d, native in zip("YX", level["grid"], strict=True):
                edges = np.cumsum(lazy.chunks[dims.index(d)])[:-1]
                assert np.all(edges % native == 0), (d, lazy.chunks, native)
            # seeded random windows, via xarray slicing and via get_image_data
            ya, xa = series["axes"].index("Y"), series["axes"].index("X")
            ny, nx = want.shape[ya], want.shape[xa]
            for _ in range(3):
                y0, x0 = int(rng.integers(0, ny)), int(rng.integers(0, nx))
                y1, x1 = int(rng.integers(y0 + 1, ny + 1)), int(rng.integers(x0 + 1, nx + 1))
                index = [slice(None)] * want.ndim
                index[ya], index[xa] = slice(y0, y1), slice(x0, x1)
                expect = want[tuple(index)]
                region = lazy.isel(Y=slice(y0, y1), X=slice(x0, x1)).values
                np.testing.assert_array_equal(
                    to_axes(region, dims, series["axes"], expect.shape), expect
                )
                direct = img.get_image_data(scene=s, level=lvl, Y=slice(y0, y1), X=slice(x0, x1))
                np.testing.assert_array_equal(
                    to_axes(direct, dims, series["axes"], expect.shape), expect
                )


# ------------------------------------------------------------------ laziness
def test_region_decodes_only_covering_tiles(tmp_path: Path) -> None:
    path = tmp_path / "grid.tif"
    data = ramp((2, 256, 320), np.uint16)
    tifffile.imwrite(path, data, tile=(32, 64), compression="zlib", metadata={"axes": "ZYX"})
    img = imgio.Image(path, chunks={"Y": 256, "X": 320})
    lazy = img.xarray_dask_data
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(5):
        y0, x0 = int(rng.integers(0, 200)), int(rng.integers(0, 250))
        y1, x1 = y0 + int(rng.integers(1, 56)), x0 + int(rng.integers(1, 70))
        tiles = (math.ceil(y1 / 32) - y0 // 32) * (math.ceil(x1 / 64) - x0 // 64)
        STATS.reset()
        got = lazy.isel(Z=1, Y=slice(y0, y1), X=slice(x0, x1)).values
        assert STATS.chunks_decoded == tiles, (y0, y1, x0, x1)
        np.testing.assert_array_equal(got.squeeze(), data[1, y0:y1, x0:x1])
        STATS.reset()
        img.get_image_data("YX", Z=0, Y=slice(y0, y1), X=slice(x0, x1))
        assert STATS.chunks_decoded == tiles


def test_open_and_shape_queries_build_nothing(written: dict[str, Path]) -> None:
    img = imgio.Image(written["ome-multiscene"])
    reader = img.reader
    assert "ome_metadata" not in reader.__dict__
    STATS.reset()
    assert img.dims.order == "TCZYX"
    assert img.shape == (2, 3, 4, 40, 50)
    assert img.scenes == ("first", "rgb", "floats")
    assert img.channel_names == ["DAPI", "GFP", "RFP"]
    assert img.physical_pixel_sizes == imgio.PhysicalPixelSizes(2.0, 0.25, 0.25)
    assert img.file._cache == {}  # no dask graph built
    assert "ome_metadata" not in reader.__dict__  # no ome_types model built
    assert STATS.chunks_decoded == 0
    ome = img.ome_metadata
    import ome_types

    assert isinstance(ome, ome_types.OME)
    assert [im.name for im in ome.images] == ["first", "rgb", "floats"]
    assert "ome_metadata" in reader.__dict__


# ------------------------------------------------------------------ metadata
def test_ome_metadata_and_coords(written: dict[str, Path]) -> None:
    img = imgio.Image(written["ome-multiscene"])
    da = img.xarray_dask_data
    assert list(da.C.values) == ["DAPI", "GFP", "RFP"]
    np.testing.assert_allclose(da.X.values, np.arange(50) * 0.25)
    np.testing.assert_allclose(da.Z.values, np.arange(4) * 2.0)
    np.testing.assert_allclose(da.coords["T"].values, np.arange(2) * 1.5)
    assert img.time_interval == 1.5
    want = tifffile.imread(written["ome-multiscene"], series=0)  # TCZYX, the reference
    np.testing.assert_array_equal(img.get_image_data("ZYX", T=1, C="GFP"), want[1, 1])
    np.testing.assert_array_equal(da.sel(C="GFP").isel(T=1).values, want[1, 1])
    img.set_scene("rgb")
    assert img.dims.order == "TCZYXS" and img.shape == (1, 1, 1, 60, 30, 3)
    img.set_scene(2)
    assert img.dtype == np.float32 and img.dims.Z == 3


def test_pyramid_coords_same_extent_at_every_level(written: dict[str, Path]) -> None:
    img = imgio.Image(written["ome-pyramid-subifds"])
    assert img.channel_names == ["a", "b", "c"]
    levels = img.multiscale
    assert len(levels) == len(img.resolution_levels) >= 3
    extents = []
    for lvl, da in enumerate(levels):
        part = da.sel(X=slice(10.0, 40.0), Y=slice(5.0, 30.0))
        step = 0.5 * 2**lvl
        extents.append((part.sizes["X"] * step, part.sizes["Y"] * step))
        assert img.get_xarray_dask_data(level=lvl).attrs["level"] == lvl
    for ex in extents:  # the same tissue (within one coarse pixel) at every level
        assert ex == pytest.approx(extents[0], abs=0.5 * 2 ** (len(levels) - 1))
    img.set_resolution_level(1)
    assert img.current_resolution_level == 1
    assert img.physical_pixel_sizes.X == pytest.approx(1.0, rel=0.02)
    assert img.shape == tuple(levels[1].shape)


def test_imagej_metadata(written: dict[str, Path]) -> None:
    img = imgio.Image(written["imagej-hyperstack"])
    assert img.dims.order == "TCZYX" and img.shape == (3, 2, 4, 30, 20)
    assert img.physical_pixel_sizes == pytest.approx((1.5, 0.2, 0.2))
    assert img.time_interval == 2.0
    with tifffile.TiffFile(written["imagej-hyperstack"]) as tif:
        want = tif.series[0].asarray()  # TZCYX
    np.testing.assert_array_equal(img.get_image_data("TCZYX"), want.transpose(0, 2, 1, 3, 4))


def test_missing_tiles_read_as_zero(written: dict[str, Path]) -> None:
    img = imgio.Image(written["missing-tiles"])
    data = img.get_image_data("YX")
    assert data[0:16, 16:32].max() == 0 and data[16:32, 48:64].max() == 0
    assert data[0, 0] == 1 and data[47, 63] == 12


def test_multifile_ome_set(written: dict[str, Path]) -> None:
    img = imgio.Image(written["ome-multifile"])
    assert img.dims.Z == 4
    src = img.reader.source(0)
    assert len({loc.url for loc in src.locations}) == 2  # planes come from both files


def test_lenient_ome_wrong_channel_count(tmp_path: Path) -> None:
    path = tmp_path / "wrong.ome.tif"
    tifffile.imwrite(path, ramp((2, 20, 20), np.uint8), ome=True, metadata={"axes": "CYX"})
    with tifffile.TiffFile(path) as tif:
        xml = tif.pages.first.description
    extra = xml.replace(
        "</Pixels>", '<Channel ID="Channel:0:9" Name="ghost" SamplesPerPixel="1"/></Pixels>'
    )
    extra = re.sub(r'(<Channel ID="Channel:0:0")', r'\1 Name="one"', extra)
    tifffile.tiffcomment(path, extra.encode())
    with pytest.warns(imgio.ImgioWarning, match="channel"):
        img = imgio.Image(path)
        assert img.channel_names == ["Channel:0:0", "Channel:0:1"]
    assert img.shape[1] == 2


def test_lenient_ome_invalid_xml(tmp_path: Path) -> None:
    path = tmp_path / "broken.ome.tif"
    data = ramp((3, 20, 20), np.uint8)
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "ZYX"})
    with tifffile.TiffFile(path) as tif:
        xml = tif.pages.first.description
    broken = xml.replace("<Pixels", "<Pixels <<broken", 1)
    tifffile.tiffcomment(path, broken.encode())
    with pytest.warns(imgio.ImgioWarning):
        img = imgio.Image(path)
        img.channel_names  # noqa: B018 - metadata is parsed on first use
    got = img.get_image_data()
    assert got.size == data.size
    with pytest.warns(imgio.ImgioWarning, match="OME"):
        ome = img.ome_metadata
    assert len(ome.images) == len(img.scenes)


# ------------------------------------------------------------------ errors
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(imgio.MissingFileError, match="nope.tif"):
        imgio.Image(tmp_path / "nope.tif")


def test_unsupported_lists_each_reader(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(imgio.UnsupportedFormatError) as info:
        imgio.Image(path)
    message = str(info.value)
    for name in ("tiff", "ome-zarr", "ome-companion"):
        assert f"{name}: " in message
    fake = tmp_path / "fake.tif"
    fake.write_bytes(b"XYZW89a" + b"\0" * 100)  # (GIF bytes are read by the images reader)
    with pytest.raises(imgio.UnsupportedFormatError, match=r"tiff: not a TIFF file"):
        imgio.Image(fake)


def test_truncated_tiled_file_names_the_tile(tmp_path: Path) -> None:
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, ramp((128, 128), np.uint16, 9), tile=(32, 32), compression="zlib")
    data = full.read_bytes()
    with tifffile.TiffFile(full) as tif:
        offsets = tif.pages.first.dataoffsets
    cut = tmp_path / "cut.tif"
    # tifffile puts the IFD first: cutting inside the tile data keeps the structure readable
    cut.write_bytes(data[: offsets[8] + 10])
    with pytest.raises(
        imgio.CorruptFileError, match=r"segment 8 of plane 0.*cut\.tif has \d+ bytes"
    ):
        imgio.Image(cut).get_image_data()


def test_forced_reader_and_sniffing(tmp_path: Path) -> None:
    data = ramp((20, 30), np.uint8)
    odd = tmp_path / "image.dat"
    tifffile.imwrite(odd, data)
    np.testing.assert_array_equal(imgio.Image(odd).get_image_data("YX"), data)
    assert imgio.Image(odd, reader="tiff").reader.name == "tiff"
    with pytest.raises(imgio.UnsupportedFormatError, match="no reader of that name"):
        imgio.Image(odd, reader="nonexistent")
    ome = tmp_path / "plain-suffix.tif"
    tifffile.imwrite(
        ome,
        ramp((2, 20, 30), np.uint8),
        ome=True,
        metadata={"axes": "CYX", "Channel": {"Name": ["x", "y"]}},
    )
    img = imgio.Image(ome)
    assert img.channel_names == ["x", "y"]
    assert img.ome_metadata.images[0].pixels.size_c == 2


def test_source_pickles_without_handles(written: dict[str, Path]) -> None:
    img = imgio.Image(written["tiled-uint16-zlib"])
    src = img.reader.source(0, 0)
    clone = pickle.loads(pickle.dumps(src))
    key = (slice(10, 60), slice(5, 69))
    np.testing.assert_array_equal(clone[key], src[key])


def test_garbage_tile_names_the_tile(tmp_path: Path) -> None:
    path = tmp_path / "garbage.tif"
    tifffile.imwrite(path, ramp((64, 64), np.uint16), tile=(32, 32), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages.first.dataoffsets[3]
    raw = bytearray(path.read_bytes())
    raw[offset : offset + 16] = b"\xff" * 16
    path.write_bytes(bytes(raw))
    img = imgio.Image(path)
    np.testing.assert_array_equal(
        img.get_image_data("YX", Y=slice(0, 32)), ramp((64, 64), np.uint16)[:32]
    )
    with pytest.raises(
        imgio.CorruptFileError, match=r"segment 3 of plane 0 \(tile row 1, column 1\)"
    ):
        img.get_image_data("YX", Y=slice(40, 50), X=slice(40, 50))


@pytest.mark.parametrize("fraction", [0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
def test_truncated_anywhere_raises_imgio_errors_only(tmp_path: Path, fraction: float) -> None:
    """Cut a multi-page tiled OME-TIFF anywhere: open and read raise ImgioError, or succeed."""
    full = tmp_path / "full.ome.tif"
    data = ramp((4, 64, 64), np.uint16, 8)
    tifffile.imwrite(
        full, data, tile=(32, 32), compression="zlib", ome=True, metadata={"axes": "ZYX"}
    )
    raw = full.read_bytes()
    cut = tmp_path / "cut.ome.tif"
    cut.write_bytes(raw[: int(len(raw) * fraction)])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", imgio.ImgioWarning)
            img = imgio.Image(cut)
            got = img.get_image_data()
    except imgio.ImgioError as exc:
        assert "cut.ome.tif" in str(exc)
        return
    # what opened must be what tifffile sees in the remaining bytes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tifffile.TiffFile(cut) as tif:
            want = tif.series[0].asarray()
    assert got.size == want.size
    np.testing.assert_array_equal(got.reshape(want.shape), want)


def _with_xml(
    tmp_path: Path, name: str, edit: Callable[[str], str]
) -> tuple[Path, np.ndarray[Any, Any]]:
    path = tmp_path / name
    data = ramp((3, 20, 20), np.uint16, 13)
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "ZYX", "PhysicalSizeX": 0.7})
    with tifffile.TiffFile(path) as tif:
        xml = tif.pages.first.description
    tifffile.tiffcomment(path, edit(xml).encode())
    return path, data


def test_lenient_ome_declares_more_planes_than_pages(tmp_path: Path) -> None:
    # more planes than the file has IFDs: the planes that exist (issue #21)
    path, data = _with_xml(tmp_path, "more.ome.tif", lambda x: x.replace('SizeZ="3"', 'SizeZ="5"'))
    with pytest.warns(imgio.ImgioWarning, match=r"SizeZ=5 \(5 planes declared, 3 stored\)"):
        img = imgio.Image(path)
        assert img.dims.Z == 3
    np.testing.assert_array_equal(img.get_image_data("ZYX"), data)
    assert img.physical_pixel_sizes.X == 0.7


def test_lenient_ome_maps_fewer_planes_than_declared(tmp_path: Path) -> None:
    # planes the file could hold but its TiffData does not map: read as 0
    def map_two(xml: str) -> str:
        return re.sub(r"<TiffData.*?(/>|</TiffData>)", '<TiffData IFD="0" PlaneCount="2"/>', xml)

    path, data = _with_xml(tmp_path, "fewer.ome.tif", map_two)
    with pytest.warns(imgio.ImgioWarning, match="lacks 1 of 3 planes"):
        img = imgio.Image(path)
        assert img.dims.Z == 3
    got = img.get_image_data("ZYX")
    np.testing.assert_array_equal(got[:2], data[:2])
    assert got[2].max() == 0


def test_lenient_ome_that_does_not_fit_the_pages(tmp_path: Path) -> None:
    def point_past_the_pages(xml: str) -> str:
        return re.sub(r"<TiffData.*?(/>|</TiffData>)", '<TiffData IFD="7" PlaneCount="3"/>', xml)

    path, data = _with_xml(tmp_path, "unfit.ome.tif", point_past_the_pages)
    with pytest.warns(imgio.ImgioWarning, match="OME-XML does not match the pages"):
        img = imgio.Image(path)
        assert img.physical_pixel_sizes.X is None  # nothing from the untrusted XML
    np.testing.assert_array_equal(img.get_image_data().reshape(data.shape), data)
