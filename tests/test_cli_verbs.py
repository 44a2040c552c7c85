"""The command line as a new user meets it: cheap verbs, help, version, errors without
tracebacks, overwrite rules, progress only on a terminal, SIGTERM and SIGKILL during a
write, ``imgio clean``, and ``imgio serve`` binding before it prints its URL."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import zarr

import imgio
from imgio.cli import VERBS, main
from imgio.sample import make_sample

HEAVY = ("dask", "xarray", "pandas", "scipy")
ENV = dict(os.environ, PYTHONPATH=str(Path(imgio.__file__).parents[1]))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in sample at 512 px: C=3, 3 levels, 0.325 µm."""
    return make_sample(tmp_path_factory.mktemp("verbs") / "demo.ome.tif", size=512)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-channel 600 x 800 OME-TIFF (few DeepZoom tiles)."""
    path = tmp_path_factory.mktemp("small") / "demo.ome.tif"
    rng = np.random.default_rng(1)
    imgio.write(rng.integers(0, 4000, (3, 600, 800), dtype=np.uint16), path, dims="CYX")
    return path


def _modules_after(argv: list[str]) -> tuple[str, list[str]]:
    """Run ``main(argv)`` in a fresh interpreter: its stdout and the heavy modules loaded."""
    script = (
        "import sys\nfrom imgio.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "mods = ('numpy', 'zarr', 'tifffile', 'starlette', 'imgio.readers.sequence') + "
        + repr(HEAVY)
        + "\n"
        "print('MODULES', sorted(m for m in mods if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=ENV, check=True
    )
    *out, last = done.stdout.strip().splitlines()
    assert last.startswith("MODULES ")
    return "\n".join(out), eval(last.removeprefix("MODULES "))


def test_info_imports_no_dask_xarray_pandas_scipy(demo: Path) -> None:
    out, loaded = _modules_after(["info", str(demo)])
    assert "level 2: T:1 C:3 Z:1 Y:128 X:128" in out
    assert not set(loaded) & set(HEAVY), loaded
    assert "starlette" not in loaded  # nor the server
    assert "imgio.readers.sequence" not in loaded  # one file is not a file sequence


def test_info_reports_the_dask_chunks_dask_would_make(demo: Path) -> None:
    """The chunks ``info`` computes without dask are those of the DataArray."""
    from imgio.cli import describe

    info = describe(str(demo))
    with imgio.Image(demo) as img:
        for level in info["scenes"][0]["levels"]:
            data = img.get_xarray_dask_data(level=level["level"])
            assert level["dask_chunks"] == [c[0] for c in data.chunks]
    from imgio.arrays._lazy import chunk_edges

    for spec in ({"Y": 128}, 300, (1, 2, 1, 100, 1000)):
        with imgio.Image(demo, chunks=spec) as img:
            want = [c[0] for c in img.xarray_dask_data.chunks]
            assert list(chunk_edges(img.source(), spec)) == want, spec


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["serve", "--help"]])
def test_help_and_version_import_nothing_heavy(argv: list[str]) -> None:
    out, loaded = _modules_after(argv)
    assert out
    assert loaded == [], loaded


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"imgio {imgio.__version__}"


def test_one_version_everywhere() -> None:
    """pyproject takes its version from ``imgio.__version__`` (what ``--version`` prints),
    and the changelog has an entry for it (the release is tagged ``v`` + that version)."""
    import re
    import tomllib

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "imgio._version.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", imgio.__version__)
    headings = re.findall(r"^## (\S+)", (root / "CHANGELOG.md").read_text(), re.M)
    assert headings[0] == imgio.__version__  # the newest entry is this version's
    done = subprocess.run(
        [sys.executable, "-m", "imgio.cli", "--version"], capture_output=True, text=True, env=ENV
    )
    assert done.stdout.strip() == f"imgio {imgio.__version__}"
    # and the files imgio writes say the same version (not an installed distribution's)
    from imgio.writers import _dicom_dataset, _omexml

    assert f"imgio {imgio.__version__}" in _omexml.ome_xml([])
    assert _dicom_dataset._version() == imgio.__version__


def test_top_level_help_lists_every_verb_without_markup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":class:" not in text and ":func:" not in text
    listed = re.findall(r"^    (\w+)", text, flags=re.M)
    assert listed == list(VERBS)
    assert set(VERBS) >= {"info", "convert", "mosaic", "thumbnail", "tiles", "serve", "clean"}


@pytest.mark.parametrize("verb", list(VERBS))
def test_every_verb_has_help_with_defaults(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([verb, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: imgio {verb}")
    want = {
        "serve": ["(default: 8000)", "(default: 127.0.0.1)", "--access-log"],
        "tiles": ["(default: 254)", "(default: jpeg)", "--overwrite"],
        "convert": ["(default: auto)", "(default: 0)", "(default: mean)"],
        "thumbnail": ["(default: 512)"],
    }.get(verb, [])
    for phrase in want:
        assert phrase in text, (verb, phrase)
    for empty in ("None", "False", "[]"):
        assert f"(default: {empty})" not in text


def test_bad_style_json_is_a_clean_error(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    done = subprocess.run(
        [sys.executable, "-m", "imgio.cli", "thumbnail", str(demo), str(out)]
        + ["--style", '{"bands": [{"band": 0,}]}'],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("imgio: error: --style: expected a large_image style as JSON")
    assert "invalid JSON" in done.stderr
    assert not out.exists()


def test_tiles_refuses_to_overwrite_and_replaces_when_told(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdir = tmp_path / "dz"
    assert main(["tiles", str(small), str(outdir), "--quiet"]) == 0
    dzi, files = outdir / "demo.dzi", outdir / "demo_files"
    before = {p: p.stat().st_mtime_ns for p in files.rglob("*.jpeg")}
    first_dzi = dzi.read_text()
    capsys.readouterr()
    assert main(["tiles", str(small), str(outdir), "--quiet", "--tile-size", "510"]) == 2
    err = capsys.readouterr().err
    assert "exists" in err and "--overwrite" in err and "overwrite=True" not in err
    assert dzi.read_text() == first_dzi
    assert {p: p.stat().st_mtime_ns for p in files.rglob("*.jpeg")} == before
    args = ["tiles", str(small), str(outdir), "--quiet", "--tile-size", "510", "--overwrite"]
    assert main(args) == 0
    assert 'TileSize="510"' in dzi.read_text()
    top = max(int(p.name) for p in files.iterdir())
    # 800 x 600 px at 510 px tiles: 2 x 2 at the top level, no tile of the 254-px run left
    assert sorted(p.name for p in (files / str(top)).iterdir()) == sorted(
        f"{c}_{r}.jpeg" for c in range(2) for r in range(2)
    )
    assert not [p for p in outdir.iterdir() if p.name.startswith(".")]  # no partials


def _run_tiles(src: Path, outdir: Path, stderr: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "imgio.cli", "tiles", str(src), str(outdir)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=ENV,
    )


def test_progress_only_on_a_terminal(small: Path, tmp_path: Path) -> None:
    piped = _run_tiles(small, tmp_path / "a", subprocess.PIPE)
    out, err = piped.communicate(timeout=120)
    assert piped.returncode == 0 and out.decode().strip().endswith("demo.dzi")
    assert err == b""  # nothing when stderr is not a terminal (CI logs, pipes)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # 100 columns
    on_tty = _run_tiles(small, tmp_path / "b", slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert on_tty.wait(timeout=120) == 0
    text = shown.decode(errors="replace")
    levels = sum(1 for _ in (tmp_path / "b" / "demo_files").iterdir())
    n_tiles = sum(len(list(d.iterdir())) for d in (tmp_path / "b" / "demo_files").iterdir())
    assert levels > 5
    assert "tiles" in text and f"{n_tiles}/{n_tiles}" in text  # one bar, run to the end


def _partials(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".partial")]


def _start_convert(src: Path, out: Path) -> subprocess.Popen[str]:
    """``imgio convert`` to OME-Zarr in a subprocess, returned once its partial exists."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgio.cli", "convert", str(src), str(out), "--quiet"]
        + ["--compression", "zlib"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    deadline = time.monotonic() + 120
    while not _partials(out.parent):
        assert proc.poll() is None, f"the write ended before it could be stopped: {proc.stderr}"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return proc


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample that takes a few hundred ms to convert (noise does not compress)."""
    path = tmp_path_factory.mktemp("big") / "noise.ome.tif"
    rng = np.random.default_rng(0)
    imgio.write(rng.integers(0, 60000, (3, 1536, 1536), dtype=np.uint16), path, dims="CYX")
    return path


@pytest.mark.parametrize(
    ("signum", "status", "last_line"),
    [
        (signal.SIGTERM, 143, "imgio: terminated (SIGTERM)"),
        (signal.SIGINT, 130, "imgio: interrupted"),
    ],
)
def test_a_signal_during_a_write_removes_the_partial(
    big: Path, tmp_path: Path, signum: int, status: int, last_line: str
) -> None:
    out = tmp_path / "out.ome.zarr"
    proc = _start_convert(big, out)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert err.strip().splitlines()[-1] == last_line
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no partial, no half output


def test_sigkill_partials_are_listed_and_cleaned(
    big: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.ome.zarr"
    proc = _start_convert(big, out)
    proc.kill()
    proc.communicate(timeout=60)
    (left,) = _partials(tmp_path)
    assert left.name.startswith(".out.ome.zarr.") and not out.exists()
    assert main(["clean", str(tmp_path), "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith(f"stale    {left.name}  (") and left.exists()
    assert main(["clean", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith(f"removed  {left.name}")
    assert not left.exists()
    assert main(["clean", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"no partial files in {tmp_path}"
    assert main(["clean", str(tmp_path / "nope")]) == 2


def test_next_write_into_the_folder_removes_dead_partials(big: Path, tmp_path: Path) -> None:
    proc = _start_convert(big, tmp_path / "killed.ome.zarr")
    proc.kill()
    proc.communicate(timeout=60)
    (left,) = _partials(tmp_path)
    imgio.write(np.zeros((8, 8), "u1"), tmp_path / "other.ome.zarr", dims="YX")
    assert not left.exists()
    assert zarr.open_group(tmp_path / "other.ome.zarr", mode="r")["0"].shape[-2:] == (8, 8)


def test_clean_keeps_partials_of_live_writers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from imgio.writers._target import partial_name

    live = partial_name(tmp_path / "x.ome.tif")  # this process: alive
    live.write_bytes(b"being written")
    other = tmp_path / ".y.ome.tif.otherhost-1-0123456789ab.partial"
    other.write_bytes(b"someone else's")
    assert main(["clean", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(lines) == sorted(
        [
            f"kept     {live.name}  (its writer is still running)",
            f"kept     {other.name}  (written on another host)",
        ]
    )
    assert live.exists() and other.exists()


def test_serve_exits_cleanly_when_the_port_is_taken(demo: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "imgio.cli", "serve", str(demo), "--port", str(port)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr == (
        f"imgio: error: cannot serve on http://127.0.0.1:{port}/: the port is taken "
        "(is another server running?); choose another with --port\n"
    )


def test_serve_binds_before_printing_and_logs_access(demo: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgio.cli", "serve", str(demo), "--port", "0", "--access-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        line = proc.stderr.readline()
        found = re.fullmatch(
            r"imgio: serving .*demo\.ome\.tif on (http://127\.0\.0\.1:\d+/)\n", line
        )
        assert found, line
        # the URL is printed once the socket listens: the first request succeeds, no retry
        with urllib.request.urlopen(found[1] + "api/images", timeout=30) as r:
            assert r.status == 200
        logged = proc.stdout.readline()
        assert '"GET /api/images HTTP/1.1" 200' in logged
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
