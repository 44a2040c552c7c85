"""Animated PNG (APNG): frames on T, composited as the animation shows them, against
Pillow; the first delay as the time interval; one frame read decodes one animation."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import imgio
from imgio.errors import CorruptFileError
from imgio.readers.base import STATS


def _apng(path: Path, mode: str, n: int = 4, default_image: bool = False) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    shape = {"L": (12, 14), "RGB": (12, 14, 3), "RGBA": (12, 14, 4)}[mode]
    base = rng.integers(0, 255, shape, dtype=np.uint8)
    arrays = []
    for k in range(n):
        a = base.copy()
        a[2 + k : 5 + k, 3:7] = 40 * k + 20  # a moving patch: Pillow writes sub-rectangles
        arrays.append(a)
    frames = [PILImage.fromarray(a, mode) for a in arrays]
    frames[0].save(
        path,
        format="PNG",
        save_all=True,
        append_images=frames[1:],
        duration=[30, 40, 50, 60][:n],
        default_image=default_image,
    )
    return arrays


def _pillow_frames(path: Path) -> np.ndarray:
    with PILImage.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert(im.mode)))
        return np.stack(out)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_frames_against_pillow(tmp_path: Path, mode: str) -> None:
    path = tmp_path / f"anim-{mode}.png"
    arrays = _apng(path, mode)
    img = imgio.Image(path)
    assert img.dims.T == 4
    assert img.time_interval == pytest.approx(0.03)
    want = _pillow_frames(path)
    got = img.get_image_data("TYXS" if mode != "L" else "TYX")
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, np.stack(arrays))
    np.testing.assert_array_equal(
        img.get_image_data("YX" + ("S" if mode != "L" else ""), T=2), want[2]
    )


def test_default_image_outside_the_animation_is_frame_zero(tmp_path: Path) -> None:
    path = tmp_path / "default.png"
    _apng(path, "RGB", n=3, default_image=True)
    img = imgio.Image(path)
    want = _pillow_frames(path)
    assert img.dims.T == len(want) == 3
    np.testing.assert_array_equal(img.get_image_data("TYXS"), want)


def test_one_frame_read_decodes_once_and_a_still_png_stays_still(tmp_path: Path) -> None:
    path = tmp_path / "anim.png"
    _apng(path, "RGB")
    img = imgio.Image(path)
    STATS.reset()
    img.get_image_data("YXS", T=1)
    assert STATS.chunks_decoded == 1
    still = tmp_path / "still.png"
    buf = io.BytesIO()
    PILImage.fromarray(np.zeros((4, 5, 3), np.uint8)).save(buf, format="PNG")
    still.write_bytes(buf.getvalue())
    assert "T" not in imgio.Image(still).reader.scenes()[0].dims


def test_damaged_frame_is_a_corrupt_file_error(tmp_path: Path) -> None:
    path = tmp_path / "anim.png"
    _apng(path, "RGB")
    data = bytearray(path.read_bytes())
    at = data.rfind(b"fdAT")
    data[at + 12 : at + 40] = b"\xff" * 28  # the last frame's compressed bytes
    path.write_bytes(bytes(data))
    img = imgio.Image(path)
    with pytest.raises(CorruptFileError, match="anim.png"):
        img.get_image_data("TYXS")


def test_many_frames_of_a_large_canvas_are_refused_at_open(tmp_path: Path) -> None:
    # 2000 tiny fcTL/fdAT pairs over a 4096 x 4096 RGBA canvas: 128 GiB to decode at once
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    n, seq = 2000, 0
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4096, 4096, 8, 6, 0, 0, 0))
    out += chunk(b"acTL", struct.pack(">II", n, 0))
    tiny = zlib.compress(b"\0" + b"\0" * 4)
    for i in range(n):
        fctl = struct.pack(">IIIIIHHBB", seq, 1, 1, 0, 0, 1, 10, 0, 0)
        seq += 1
        out += chunk(b"fcTL", fctl)
        if i == 0:
            out += chunk(b"IDAT", tiny)
        else:
            out += chunk(b"fdAT", struct.pack(">I", seq) + tiny)
            seq += 1
    out += chunk(b"IEND", b"")
    path = tmp_path / "bomb.png"
    path.write_bytes(out)
    with pytest.raises(CorruptFileError, match="2000 frames"):
        imgio.Image(path)


def test_actl_declaring_more_frames_than_the_file_has_is_refused_before_decoding(
    tmp_path: Path,
) -> None:
    # the fuzzer's flip: acTL num_frames 16,777,216 over 4 frames; imagecodecs' APNG
    # decoder allocates what acTL declares (36 GiB for a 24 x 32 RGB canvas)
    import struct
    import zlib

    path = tmp_path / "anim.png"
    _apng(path, "RGB")
    data = bytearray(path.read_bytes())
    at = data.find(b"acTL")
    assert struct.unpack_from(">I", data, at + 4)[0] == 4
    struct.pack_into(">I", data, at + 4, 2**24)
    struct.pack_into(">I", data, at + 12, zlib.crc32(bytes(data[at : at + 12])))
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="acTL declares 16777216 frames; the file has 4"):
        imgio.Image(path)
