"""imgio.write(..., "x.ims"): opened by imaris-ims-file-reader and h5py, and by imgio.

The pyramid is checked against a 2 x 2 mean computed here with numpy, the attributes
against what Imaris writes (text as one-byte string arrays, ImageSize, extents), the
thumbnail's shape and colours, and the atomic-write rules of every imgio writer.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import dask.array as da
import h5py
import numpy as np
import pytest
import xarray as xr

import imgio
from imgio.errors import ImgioError, TargetExistsError


def _half(a: np.ndarray) -> np.ndarray:
    """2 x 2 mean over Y and X (odd edges replicated), rounding half up, in int64."""
    y, x = a.shape[-2:]
    p = np.pad(a.astype(np.int64), [(0, 0)] * (a.ndim - 2) + [(0, y % 2), (0, x % 2)], "edge")
    s = p[..., ::2, ::2] + p[..., 1::2, ::2] + p[..., ::2, 1::2] + p[..., 1::2, 1::2]
    return ((s + 2) // 4).astype(a.dtype)


def _text(value: np.ndarray) -> str:
    return b"".join(value.tolist()).decode()


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(9).integers(0, 4000, (2, 2, 5, 300, 301), dtype=np.uint16)


@pytest.fixture(scope="module")
def written(data: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    arr = xr.DataArray(
        da.from_array(data, chunks=(1, 1, 2, 100, 301)),
        dims=list("TCZYX"),
        coords={
            "C": ["DAPI", "GFP"],
            "T": [0.0, 2.5],
            "Z": 1.0 + np.arange(5) * 0.8,
            "Y": 10.0 + np.arange(300) * 0.2,
            "X": np.arange(301) * 0.2,
        },
        attrs={"units": {"T": "s"}, "channel_colors": (0x0000FFFF, 0x00FF00FF)},
    )
    path = tmp_path_factory.mktemp("wims") / "cells.ims"
    assert imgio.write(arr, path, chunks=(4, 64, 64)) == path
    return path


def test_imaris_reader_opens_it(written: Path, data: np.ndarray) -> None:
    from imaris_ims_file_reader.ims import ims

    ref = ims(str(written))
    try:
        assert ref.shape == data.shape
        assert ref.ResolutionLevels == 3  # 301 -> 151 -> 76: down to about two chunks
        assert ref.resolution == pytest.approx((0.8, 0.2, 0.2))
        np.testing.assert_array_equal(ref[1, 1], data[1, 1])
        ref.change_resolution_lock(1)
        np.testing.assert_array_equal(ref[0, 0], _half(data[0, 0]))
    finally:
        ref.close()


def test_h5py_sees_the_imaris_layout(written: Path, data: np.ndarray) -> None:
    with h5py.File(written) as f:
        assert _text(f.attrs["ImarisVersion"]) == "5.5.0"
        group = f["DataSet/ResolutionLevel 1/TimePoint 1/Channel 0"]
        assert [_text(group.attrs[f"ImageSize{d}"]) for d in "ZYX"] == ["5", "150", "151"]
        stored = group["Data"]
        assert stored.chunks == (4, 64, 64) and stored.shape == (8, 192, 192)  # padded
        np.testing.assert_array_equal(stored[:5, :150, :151], _half(data[1, 0]))
        assert stored.compression == "gzip"
        hist = np.asarray(group["Histogram"])
        assert hist.sum() == 5 * 150 * 151
        info = f["DataSetInfo/Image"].attrs
        assert _text(info["X"]) == "301" and _text(info["Unit"]) == "um"
        assert float(_text(info["ExtMin1"])) == pytest.approx(10.0)
        assert float(_text(info["ExtMax0"])) == pytest.approx(301 * 0.2)
        channel = f["DataSetInfo/Channel 1"].attrs
        assert _text(channel["Name"]) == "GFP" and _text(channel["Color"]) == "0.000 1.000 0.000"
        lo, hi = (float(v) for v in _text(channel["ColorRange"]).split())
        assert (lo, hi) == (float(data[0, 1].min()), float(data[0, 1].max()))
        times = f["DataSetInfo/TimeInfo"].attrs
        assert _text(times["TimePoint2"]).endswith("00:00:02.500")
        thumb = np.asarray(f["Thumbnail/Data"])
        assert thumb.dtype == np.uint8 and thumb.shape == (75, 76 * 4)  # smallest level
        rgba = thumb.reshape(75, 76, 4)
        assert (rgba[..., 3] == 255).all() and rgba[..., 0].max() == 0  # blue + green only
        assert rgba[..., 2].max() > 0 and rgba[..., 1].max() > 0


def test_imgio_reads_it_back(written: Path, data: np.ndarray) -> None:
    img = imgio.Image(written)
    np.testing.assert_array_equal(img.data, data)
    assert img.channel_names == ["DAPI", "GFP"]
    assert img.channel_colors == [(0, 0, 255), (0, 255, 0)]
    assert tuple(img.physical_pixel_sizes) == pytest.approx((0.8, 0.2, 0.2))
    coords = img.xarray_dask_data.coords
    np.testing.assert_allclose(coords["T"].values, [0.0, 2.5])
    assert float(coords["Z"][0]) == pytest.approx(1.0)
    img.set_resolution_level(2)
    np.testing.assert_array_equal(img.data, _half(_half(data)))


def _imaris_half(a: np.ndarray) -> np.ndarray:
    """ImarisWriter's rule on the last three axes (Z, Y, X): a dimension halves when it
    exceeds 1 and (10 n)^2 > the product of the other two; mean, odd edges replicated."""
    z, y, x = a.shape[-3:]
    rule = [z > 1 and 100 * z * z > x * y, y > 1 and 100 * y * y > x * z]
    rule.append(x > 1 and 100 * x * x > y * z)
    axes = [a.ndim - 3 + i for i, h in enumerate(rule) if h]
    pad = [(0, a.shape[i] % 2 if i in axes else 0) for i in range(a.ndim)]
    p = np.pad(a.astype(np.int64), pad, "edge")
    total = np.zeros([-(-n // 2) if i in axes else n for i, n in enumerate(a.shape)], np.int64)
    for offsets in np.ndindex(*(2,) * len(axes)):
        key = [slice(None)] * a.ndim
        for axis, o in zip(axes, offsets, strict=True):
            key[axis] = slice(o, None, 2)
        total += p[tuple(key)]
    count = 1 << len(axes)
    return ((total + count // 2) // count).astype(a.dtype)


@pytest.mark.parametrize("chunks", [(2, 10, 16), (3, 11, 7)])
def test_pyramid_built_chunk_row_by_chunk_row(tmp_path: Path, chunks: tuple[int, ...]) -> None:
    """Every level equals halving the whole level above, whatever the chunk rows; Y and
    X halve first, then Z too once the planes are small (5 x 38 x 25: 50^2 > 38 x 25)."""
    vol = np.random.default_rng(4).integers(0, 255, (1, 1, 5, 150, 97), dtype=np.uint8)
    imgio.write(vol, tmp_path / "p.ims", chunks=chunks, pyramid_levels=5)
    img = imgio.Image(tmp_path / "p.ims")
    assert img.resolution_levels == (0, 1, 2, 3, 4)
    want = vol
    for r in img.resolution_levels:
        img.set_resolution_level(r)
        np.testing.assert_array_equal(img.data, want)
        want = _imaris_half(want)
    assert [img.reader.scenes()[0].shapes[r][2:] for r in range(5)] == [
        (5, 150, 97), (5, 75, 49), (5, 38, 25), (3, 19, 13), (2, 10, 7)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("shape", "chunks", "sizes"),
    [
        # a thick stack: Z halves with Y and X from the first level
        ((64, 96, 80), (8, 32, 32), [(64, 96, 80), (32, 48, 40), (16, 24, 20), (8, 12, 10)]),
        # a long narrow strip: X (3) stays while (10 x 3)^2 <= Y x Z, Z (2) until 20^2 > X Y
        ((2, 600, 3), (2, 64, 3), [(2, 600, 3), (2, 300, 3), (2, 150, 2), (1, 75, 1)]),
    ],
    ids=["thick-stack", "narrow-strip"],
)
def test_pyramid_follows_imariswriter_rule(
    tmp_path: Path, shape: tuple[int, ...], chunks: tuple[int, ...], sizes: list[Any]
) -> None:
    """imaris-ims-file-reader and h5py read each level; sizes follow ImarisWriter's rule."""
    from imaris_ims_file_reader.ims import ims

    vol = np.random.default_rng(5).integers(0, 4000, (1, 1, *shape), dtype=np.uint16)
    path = imgio.write(vol, tmp_path / "t.ims", chunks=chunks, pyramid_levels=4)
    levels = [vol]
    for _ in sizes[1:]:
        levels.append(_imaris_half(levels[-1]))
    with h5py.File(path) as f:
        for r, (size, want) in enumerate(zip(sizes, levels, strict=True)):
            group = f[f"DataSet/ResolutionLevel {r}/TimePoint 0/Channel 0"]
            assert tuple(int(_text(group.attrs[f"ImageSize{d}"])) for d in "ZYX") == size
            stored = group["Data"]
            assert all(s % c == 0 for s, c in zip(stored.shape, stored.chunks, strict=True))
            np.testing.assert_array_equal(stored[: size[0], : size[1], : size[2]], want[0, 0])
    ref = ims(str(path))
    try:
        assert ref.ResolutionLevels == len(sizes)
        ref.change_resolution_lock(len(sizes) - 1)
        last = np.asarray(ref[0, 0])
        assert last.size == math.prod(sizes[-1])  # it squeezes lone Z, Y or X
        np.testing.assert_array_equal(last.reshape(sizes[-1]), levels[-1][0, 0])
    finally:
        ref.close()


def test_rgb_float_and_2d(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    imgio.write(rgb, tmp_path / "rgb.ims")
    img = imgio.Image(tmp_path / "rgb.ims")
    assert img.channel_names == ["red", "green", "blue"]
    np.testing.assert_array_equal(img.get_image_data("YXC"), rgb)
    flt = np.random.default_rng(2).random((3, 33, 20), dtype=np.float32)
    imgio.write(flt, tmp_path / "f.ims", dims="ZYX", pyramid_levels=1, compression="none")
    np.testing.assert_array_equal(imgio.imread(tmp_path / "f.ims")[0, 0], flt)
    with h5py.File(tmp_path / "f.ims") as f:
        assert f["DataSet/ResolutionLevel 0/TimePoint 0/Channel 0/Data"].compression is None
        assert "ResolutionLevel 1" not in f["DataSet"]


def test_refusals_and_atomicity(tmp_path: Path, data: np.ndarray) -> None:
    target = tmp_path / "a.ims"
    with pytest.raises(ImgioError, match="Imaris files hold uint8, uint16, uint32, float32"):
        imgio.write(data.astype(np.int16), target)
    with pytest.raises(ImgioError, match="one image; found 2 scenes"):
        imgio.write([data[0], data[1]], target)
    with pytest.raises(ImgioError, match="tile= is not an Imaris option"):
        imgio.write(data[0, 0], target, tile=256)
    assert not target.exists()

    def boom(block: np.ndarray) -> np.ndarray:
        if block[0, 0, 0, 0, 0] >= 0 and boom.calls > 3:  # type: ignore[attr-defined]
            raise RuntimeError("source failed mid-write")
        boom.calls += 1  # type: ignore[attr-defined]
        return block

    boom.calls = 0  # type: ignore[attr-defined]
    failing = da.from_array(data, chunks=(1, 1, 5, 100, 301)).map_blocks(boom, dtype=data.dtype)
    with pytest.raises(RuntimeError, match="mid-write"):
        imgio.write(failing, target)
    assert list(tmp_path.iterdir()) == []  # no half file, no partial left
    imgio.write(data[0, 0, :1], target)
    with pytest.raises(TargetExistsError):
        imgio.write(data[0, 0, :1], target)
    imgio.write(data[0, 1, :1], target, overwrite=True)
    np.testing.assert_array_equal(imgio.imread(target)[0, 0], data[0, 1, :1])


def test_streams_in_bounded_memory(tmp_path: Path) -> None:
    """A 64 MiB lazy volume is written holding about two chunk rows (4 MiB each), not the
    volume: numpy's allocations are traced (tracemalloc), after a small warm-up write."""
    import tracemalloc

    def block(block_info: Any = None) -> np.ndarray:
        (z0, z1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
        out = np.empty((z1 - z0, y1 - y0, x1 - x0), np.uint16)  # no wider temporaries
        out[...] = (np.arange(x0, x1) % 4000).astype(np.uint16)
        out += np.arange(y0, y1, dtype=np.uint16)[None, :, None]
        return out

    chunks = ((16,), (128,) * 16, (1024,))
    vol = da.map_blocks(block, chunks=chunks, dtype=np.uint16, meta=np.empty((0, 0, 0), np.uint16))
    opts: dict[str, Any] = {"dims": "ZYX", "chunks": (16, 128, 128), "compression": "none"}
    imgio.write(vol[:, :256, :256], tmp_path / "warm.ims", **opts)  # imports, caches
    tracemalloc.start()
    try:
        imgio.write(vol, tmp_path / "big.ims", **opts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 << 20, f"peak {peak >> 20} MiB"
    img = imgio.Image(tmp_path / "big.ims")
    assert img.resolution_levels == (0, 1, 2, 3)
    np.testing.assert_array_equal(img.get_image_data("ZYX")[:, 1500:1520], vol[:, 1500:1520])
