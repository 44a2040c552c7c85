"""Transparency is kept as an alpha sample wherever the file has it (GIF, PNG ``tRNS`` of
every colour type, WebP), as Pillow and AICSImageIO read it (issue #21): checked pixel
for pixel against Pillow on files Pillow writes here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageSequence

import imgio

RNG = np.random.default_rng(20261207)
PALETTE = [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9] + [0] * (252 * 3)


def _pillow_frames(path: Path, mode: str) -> np.ndarray[Any, Any]:
    with PILImage.open(path) as im:
        return np.stack([np.asarray(f.convert(mode)) for f in ImageSequence.Iterator(im)])


def _assert_same_visible(got: np.ndarray[Any, Any], want: np.ndarray[Any, Any]) -> None:
    """Alpha equal everywhere; colour equal where a pixel shows (alpha > 0): the colour
    under a fully transparent pixel is not defined (decoders write 0 or the palette's)."""
    assert got.shape == want.shape
    np.testing.assert_array_equal(got[..., -1], want[..., -1])
    shown = want[..., -1] > 0
    np.testing.assert_array_equal(got[shown][..., :-1], want[shown][..., :-1])


def _palette_frame(n_colors: int = 4) -> PILImage.Image:
    im = PILImage.fromarray(RNG.integers(0, n_colors, (20, 30), dtype=np.uint8), "P")
    im.putpalette(PALETTE)
    return im


def _read(path: Path) -> np.ndarray[Any, Any]:
    img = imgio.Image(path)
    order = "TYXS" if img.dims.T > 1 else "YXS"
    data = img.get_image_data(order)
    return data if img.dims.T > 1 else data[None]


def test_transparent_gif(tmp_path: Path) -> None:
    path = tmp_path / "t.gif"
    _palette_frame().save(path, transparency=3)
    assert imgio.Image(path).dims.S == 4
    _assert_same_visible(_read(path), _pillow_frames(path, "RGBA"))


@pytest.mark.parametrize("first_transparent", [False, True])
def test_animated_gif_with_transparent_frames(tmp_path: Path, first_transparent: bool) -> None:
    # only the second frame has a transparent colour (first_transparent: both frames):
    # its transparent pixels show the frame before, as in a viewer and in Pillow
    path = tmp_path / "anim.gif"
    first, second = _palette_frame(3 + first_transparent), _palette_frame(4)
    first.save(
        path,
        save_all=True,
        append_images=[second],
        duration=100,
        transparency=3,
        disposal=1,
        optimize=False,
    )
    raw = bytearray(path.read_bytes())
    gces = [i for i in range(len(raw) - 3) if raw[i : i + 3] == b"\x21\xf9\x04"]
    assert len(gces) == 2 and all(raw[i + 3] & 1 for i in gces)  # Pillow flags both frames
    if not first_transparent:
        raw[gces[0] + 3] &= 0xFE  # the first frame opaque: only the second has transparency
        path.write_bytes(bytes(raw))
    img = imgio.Image(path)
    assert (img.dims.T, img.dims.S) == (2, 4)
    _assert_same_visible(_read(path), _pillow_frames(path, "RGBA"))


def test_opaque_gif_stays_rgb(tmp_path: Path) -> None:
    path = tmp_path / "opaque.gif"
    _palette_frame(3).save(path)
    assert imgio.Image(path).dims.S == 3
    np.testing.assert_array_equal(_read(path), _pillow_frames(path, "RGB"))


@pytest.mark.parametrize("kind", ["palette", "rgb", "grey", "rgb16"])
def test_png_trns_of_every_colour_type(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.png"
    if kind == "palette":
        _palette_frame().save(path, transparency=3)
        mode, samples = "RGBA", 4
    elif kind == "rgb":
        rgb = RNG.integers(0, 2, (20, 30, 3), dtype=np.uint8) * 255
        PILImage.fromarray(rgb).save(path, transparency=(255, 255, 255))
        mode, samples = "RGBA", 4
    elif kind == "grey":
        grey = RNG.integers(0, 2, (20, 30), dtype=np.uint8) * 255
        PILImage.fromarray(grey, "L").save(path, transparency=255)
        mode, samples = "LA", 2
    else:  # 16-bit RGB with tRNS: written by imagecodecs (Pillow writes no 16-bit RGB)
        pytest.importorskip("imagecodecs")
        path = _rgb16_trns(path)
        mode, samples = "", 4
    img = imgio.Image(path)
    assert img.dims.S == samples
    got = _read(path)
    if mode:
        _assert_same_visible(got, _pillow_frames(path, mode))
    else:
        assert got.dtype == np.uint16
        assert set(np.unique(got[..., 3]).tolist()) == {0, 65535}


def _rgb16_trns(path: Path) -> Path:
    """A 16-bit RGB PNG with a tRNS chunk, assembled from a plain one (chunk, CRC)."""
    import struct
    import zlib

    import imagecodecs

    rgb = np.zeros((8, 10, 3), np.uint16)
    rgb[2:6, 3:7] = 40000
    data = imagecodecs.png_encode(rgb)
    trns_body = struct.pack(">HHH", 0, 0, 0)  # black is transparent
    chunk = struct.pack(">I", 6) + b"tRNS" + trns_body
    chunk += struct.pack(">I", zlib.crc32(b"tRNS" + trns_body) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + 13 + 4
    path.write_bytes(data[:ihdr_end] + chunk + data[ihdr_end:])
    return path


def test_png_without_trns_stays_rgb(tmp_path: Path) -> None:
    path = tmp_path / "rgb.png"
    PILImage.fromarray(RNG.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(path)
    assert imgio.Image(path).dims.S == 3


@pytest.mark.parametrize("lossless", [True, False])
@pytest.mark.parametrize("frames", [1, 2])
def test_webp_alpha(tmp_path: Path, lossless: bool, frames: int) -> None:
    path = tmp_path / "a.webp"
    ims = []
    for _ in range(frames):
        rgba = RNG.integers(0, 255, (20, 30, 4), dtype=np.uint8)
        rgba[..., 3] = np.where(RNG.random((20, 30)) < 0.3, 0, 255)
        ims.append(PILImage.fromarray(rgba, "RGBA"))
    ims[0].save(path, save_all=True, append_images=ims[1:], lossless=lossless, quality=90)
    img = imgio.Image(path)
    assert img.dims.S == 4 and img.dims.T == frames
    want = _pillow_frames(path, "RGBA")
    got = _read(path)
    if lossless:
        _assert_same_visible(got, want)
    else:  # both decode with libwebp: the same pixels
        np.testing.assert_array_equal(got[..., 3], want[..., 3])
