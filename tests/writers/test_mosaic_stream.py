"""``imgio mosaic`` to OME-TIFF without dask: the same file as ``write(mosaic(...))``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile

import imgio
from imgio.cli import main
from imgio.errors import CorruptFileError, ImgioError

SIZES = [(40, 50), (33, 50), (40, 41), (20, 26), (40, 50), (37, 45), (40, 50)]


def _grey16(folder: Path, n: int) -> list[str]:
    rng = np.random.default_rng(1)
    paths = []
    for i in range(n):
        arr = rng.integers(0, 65535, SIZES[i % len(SIZES)], dtype=np.uint16)
        paths.append(str(folder / f"g{i}.png"))
        Path(paths[-1]).write_bytes(imagecodecs.png_encode(arr))
    return paths


def _rgb_jpegs(folder: Path, n: int, size: tuple[int, int] | None = None) -> list[str]:
    yy, xx = np.mgrid[0:64, 0:64]
    paths = []
    for i in range(n):
        h, w = size or SIZES[i % len(SIZES)]
        base = ((np.sin(xx / 7 + i) + np.cos(yy / 5)) * 60 + 128).astype(np.uint8)[:h, :w]
        rgb = np.stack([base, np.roll(base, i, 0), 255 - base], -1)
        paths.append(str(folder / f"c{i}.jpg"))
        Path(paths[-1]).write_bytes(imagecodecs.jpeg8_encode(rgb, level=90))
    return paths


def _levels(path: Path) -> tuple[list[np.ndarray], str]:
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        return [level.asarray() for level in series.levels], tif.pages[0].description


CASES = {
    "grey16-ragged-spacing-bg": ("png", 7, 3, ["--spacing", "3", "--background", "1000"]),
    "grey16-overlap": ("png", 5, 2, ["--overlap", "6", "--compression", "zlib"]),
    "rgb-jpeg-spacing-overlap": ("jpg", 5, 2, ["--spacing", "4", "--overlap", "9"]),
    "rgb-jpeg-aligned": ("jpg", 6, 3, ["--compression", "jpeg", "--quality", "80"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_cli_mosaic_equals_dask_path(tmp_path: Path, case: str) -> None:
    kind, n, across, extra = CASES[case]
    if case == "rgb-jpeg-aligned":  # cells of whole tiles, as the seed's job
        paths = _rgb_jpegs(tmp_path, n, size=(32, 64))
    else:
        paths = _grey16(tmp_path, n) if kind == "png" else _rgb_jpegs(tmp_path, n)
    out = tmp_path / "cli.ome.tif"
    args = ["mosaic", str(out), *paths, "--across", str(across), "--tile", "32", "--quiet"]
    assert main(args + extra) == 0
    opts = dict(zip(extra[::2], extra[1::2], strict=True))
    reference = imgio.write(
        imgio.mosaic(
            paths,
            across=across,
            spacing=int(opts.get("--spacing", 0)),
            overlap=int(opts.get("--overlap", 0)),
            background=float(opts.get("--background", 0)),
        ),
        tmp_path / "dask.ome.tif",
        tile=32,
        compression=opts.get("--compression", "zstd"),
        quality=int(opts["--quality"]) if "--quality" in opts else None,
    )
    got, got_xml = _levels(out)
    want, want_xml = _levels(Path(reference))
    assert got_xml == want_xml
    assert [a.shape for a in got] == [a.shape for a in want] and len(got) >= 2
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
    if kind == "png":  # and the level-0 pixels are the sectors themselves
        first = imagecodecs.png_decode(Path(paths[0]).read_bytes())
        h, w = first.shape
        if "--overlap" in opts:  # cropped where the next column and row start
            h, w = h - int(opts["--overlap"]), w - int(opts["--overlap"])
        np.testing.assert_array_equal(got[0][:h, :w], first[:h, :w])


def test_cli_mosaic_metadata_from_first_item(tmp_path: Path) -> None:
    for i in range(3):  # an OME-TIFF item brings channel names and pixel sizes
        imgio.write(
            np.full((2, 20, 24), i, np.uint8),
            tmp_path / f"s{i}.ome.tif",
            dims="CYX",
            channel_names=["DAPI", "GFP"],
            physical_pixel_sizes=(None, 0.5, 0.25),
        )
    paths = [str(tmp_path / f"s{i}.ome.tif") for i in range(3)]
    out = tmp_path / "m.ome.tif"
    assert main(["mosaic", str(out), *paths, "--across", "2", "--tile", "16", "--quiet"]) == 0
    with imgio.Image(out) as img:
        assert img.channel_names == ["DAPI", "GFP"]
        assert tuple(img.physical_pixel_sizes)[1:] == (0.5, 0.25)
        assert img.shape == (1, 2, 1, 40, 48)
        np.testing.assert_array_equal(img.get_image_data("CYX")[:, 20:, :24], 2)
        np.testing.assert_array_equal(img.get_image_data("CYX")[:, 20:, 24:], 0)
    reference = imgio.write(imgio.mosaic(paths, across=2), tmp_path / "d.ome.tif", tile=16)
    assert _levels(out)[1] == _levels(Path(reference))[1]


def test_cli_mosaic_imports_no_dask(tmp_path: Path) -> None:
    paths = _rgb_jpegs(tmp_path, 4)
    script = (
        "import sys\nfrom imgio.cli import main\n"
        f"assert main(['mosaic', {str(tmp_path / 'm.ome.tif')!r}, *{paths!r}, '--across', '2',"
        " '--compression', 'jpeg', '--tile', '32']) == 0\n"
        "print(sorted(m for m in ('dask', 'xarray', 'pandas', 'tqdm') if m in sys.modules))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(imgio.__file__).parents[1]))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert done.stderr == ""  # no progress display when stderr is not a terminal
    assert (tmp_path / "m.ome.tif").exists()


def _error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    assert main(args) == 2
    return capsys.readouterr().err.strip().removeprefix("imgio: error: ")


def test_bad_sector_same_error_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _rgb_jpegs(tmp_path, 4, size=(32, 32))
    data = Path(paths[2]).read_bytes()
    Path(paths[2]).write_bytes(data[: len(data) * 2 // 3])  # header intact, scan cut
    out = tmp_path / "out" / "m.ome.tif"
    out.parent.mkdir()
    message = _error(capsys, ["mosaic", str(out), *paths, "--across", "2", "--quiet"])
    with pytest.raises(CorruptFileError) as dask_error:
        imgio.write(imgio.mosaic(paths, across=2), out)
    assert message == str(dask_error.value) and "c2.jpg" in message
    assert list(out.parent.iterdir()) == []
    grey = _grey16(tmp_path, 1)  # a 16-bit sector among 8-bit ones
    message = _error(capsys, ["mosaic", str(out), paths[0], *grey, "--across", "2"])
    with pytest.raises(ImgioError, match="mosaic item 1: expected dims TCZYXS") as dask_error:
        imgio.mosaic([paths[0], *grey], across=2)
    assert message == str(dask_error.value)
    assert list(out.parent.iterdir()) == []


def test_each_sector_decoded_once(tmp_path: Path) -> None:
    from imgio.readers.base import STATS

    paths = _rgb_jpegs(tmp_path, 5)  # ragged: cells straddle tiles, some tiles wait
    STATS.reset()
    out = tmp_path / "m.ome.tif"
    assert main(["mosaic", str(out), *paths, "--across", "2", "--tile", "16", "--quiet"]) == 0
    assert STATS.chunks_decoded == 5


def test_large_items_read_in_native_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An item above CELL_BYTES is read in blocks of whole native tiles, each tile once."""
    import imgio.writers._mosaic_stream as stream
    from imgio.readers.base import STATS

    rng = np.random.default_rng(5)
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"t{i}.ome.tif"))
        arr = rng.integers(0, 4000, (2, 100 + 10 * i, 90), dtype=np.uint16)
        imgio.write(arr, paths[-1], dims="CYX", tile=32, pyramid_levels=1)
    monkeypatch.setattr(stream, "CELL_BYTES", 32 * 32 * 2 * 4)
    STATS.reset()
    out = tmp_path / "m.ome.tif"
    args = ["mosaic", str(out), *paths, "--across", "2", "--spacing", "5", "--tile", "48"]
    assert main([*args, "--quiet"]) == 0
    # each native 32² tile once: 4 x 3 per item and channel (100-120 x 90 pixels)
    assert STATS.chunks_decoded == 2 * 3 * 12
    reference = imgio.write(
        imgio.mosaic(paths, across=2, spacing=5), tmp_path / "d.ome.tif", tile=48
    )
    got, want = _levels(out), _levels(Path(reference))
    assert got[1] == want[1]
    for a, b in zip(got[0], want[0], strict=True):
        np.testing.assert_array_equal(a, b)
