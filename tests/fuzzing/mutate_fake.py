"""The Bio-Formats family: ``.fake`` files, whose *name* is the whole header.

Bio-Formats' fake reader builds an image from ``key=value`` pairs in the file name
(``img&sizeZ=3&sizeC=2&pixelType=uint16.fake``): the seeds name a few shapes (planes,
channels, series, resolutions, RGB, indexed, float, tiles), the mutator edits the pairs
(sizes zero, negative, huge or not numbers; unknown pixel types and keys; pairs dropped,
repeated or cut) and renames the (empty) file. Every case opens through the Bio-Formats
fallback reader, which the fork-per-case harness cannot run (one JVM per process):
``python -m benchmarks.fuzz_jvm`` runs this family in one process.
"""

from __future__ import annotations

import random
from pathlib import Path

__all__ = ["REPRODUCERS", "fake_seeds", "mutate_fake"]

#: names the bioformats fuzz runs found, with what imgio does now: "refused" (an imgio
#: error at open, at once: the geometry check), "opens" (read, levels past an empty one
#: dropped), "deadline" (Bio-Formats' setId does not end: the worker is stopped at the
#: deadline) or "slow" (65536 channels: Bio-Formats opens it in seconds, then imgio's OME
#: model and the tile verbs' thumbnail, which composites every channel, take minutes).
#: Were: memory (a 64 GiB array), other exception (ArithmeticException from Bio-Formats'
#: optimal tile size) and hangs (no answer within 30 s). The fast ones are tests
#: (tests/readers/test_bioformats_reader.py); ``benchmarks.fuzz_jvm`` replays them all.
REPRODUCERS = {
    "plain&sizeX=1e9.fake": "refused",
    "plain&sizeX=2147483647&sizeY=64.fake": "refused",
    "plain&sizeX=969&sizeY=64&sizeX=2147483647.fake": "refused",
    "plain&sizeX=2147483648&sizeY=64.fake": "refused",
    "plain&sizeX=2147483648.fake": "refused",
    "indexed&sizeX=2147483647&sizeY=2147483647&indexed=3&pixelType=uint8.fake": "refused",
    "order&sizeX=32&sizeY=32&sizeZ=3&dimOrder=XYCZT&physicalSizeX=0.5&sizeZ=2147483647.fake": (
        "refused"
    ),
    "rgb&sizeX=64&sizeY=48&sizeC=3&rgb=3&pixelType=uint8&sizeZ=1e9.fake": "refused",
    "pyramid&sizeX=3&sizeY=768&resolutions=3&resolutionScale=2.fake": "opens",
    "pyramid&sizeX=100000000&sizeY=768&resolutions=3&,=&resolutionScale=2&sizeX=3.fake": "opens",
    "series&sizeX=50&sizeY=40&series=3&sizeZ=2&series=2147483647.fake": "deadline",
    "float&sizeX=40&sizeY=30&pixelType=float&sizeT=3&plates=65535.fake": "deadline",
    "float&sizeX=40&sizeY=30&pixelType=float&sizeT=3&sizeC=2147483648.fake": "deadline",
    "series&&sizeY=40&series=3&sizeZ=100000000.fake": "deadline",
    "order&sizeX=32&sizeY=32&sizeZ=3&sizeC=100000000&dimOrder=XYCZT&physicalSizeX=0.5.fake": (
        "deadline"
    ),
    "pyramid&sizeX=1024&sizeY=768&resolutions=2147483648&resolutionScale=2.fake": "deadline",
    "stack&sizeX=80&sizeY=60&sizeZ=100000000&sizeC=3&pixelType=uint16&plateRows=-1.fake": (
        "deadline"
    ),
    "rgb&sizeX=64&sizeY=48&sizeC=100000000&rgb=2&pixelType=uint8.fake": "deadline",
    "stack&sizeX=80&sizeY=60&sizeZ=4&sizeC=3&sizeT=2&pixelType=uint16&sizeC=65536.fake": "slow",
    "stack&sizeX=80&sizeY&sizeZ=4&sizeC=65536&sizeT=2&pixelType=uint16.fake": "slow",
}

SEEDS = (
    "plain&sizeX=96&sizeY=64.fake",
    "stack&sizeX=80&sizeY=60&sizeZ=4&sizeC=3&sizeT=2&pixelType=uint16.fake",
    "rgb&sizeX=64&sizeY=48&sizeC=3&rgb=3&pixelType=uint8.fake",
    "series&sizeX=50&sizeY=40&series=3&sizeZ=2.fake",
    "pyramid&sizeX=1024&sizeY=768&resolutions=3&resolutionScale=2.fake",
    "float&sizeX=40&sizeY=30&pixelType=float&sizeT=3.fake",
    "indexed&sizeX=64&sizeY=64&indexed=true&pixelType=uint8.fake",
    "order&sizeX=32&sizeY=32&sizeZ=3&sizeC=2&dimOrder=XYCZT&physicalSizeX=0.5.fake",
)
KEYS = (
    "sizeX", "sizeY", "sizeZ", "sizeC", "sizeT", "series", "resolutions", "resolutionScale",
    "rgb", "pixelType", "bitsPerPixel", "indexed", "dimOrder", "physicalSizeX",
    "physicalSizeZ", "little", "interleaved", "falseColor", "scaleFactor", "thumbSizeX",
    "tileSizeX", "tileSizeY", "sizeY", "plates", "plateRows", "plateCols", "fields",
)  # fmt: skip
VALUES = (
    "0", "-1", "1", "2", "3", "7", "65535", "65536", "2147483647", "2147483648",
    "100000000", "1e9", "0.5", "-0.0", "nan", "abc", "", "true", "false",
    "int8", "uint32", "double", "bit", "int64", "XYZCT", "XYTTT", "QQQQQ",
)  # fmt: skip


def fake_seeds(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in SEEDS:
        case = folder / name.split("&")[0]
        case.mkdir(exist_ok=True)
        (case / name).touch()
        out.append(case)
    return out


def _edit(pairs: list[str], rng: random.Random) -> str:
    kind = rng.choice(("value", "value", "value", "add", "drop", "repeat", "cut", "bytes"))
    if kind == "value" and len(pairs) > 1:
        i = rng.randrange(1, len(pairs))
        key = pairs[i].split("=")[0]
        pairs[i] = f"{key}={rng.choice(VALUES)}"
        return f"{pairs[i]}"
    if kind == "add" or len(pairs) < 2:
        pair = f"{rng.choice(KEYS)}={rng.choice(VALUES)}"
        pairs.append(pair)
        return f"+{pair}"
    if kind == "drop":
        return f"-{pairs.pop(rng.randrange(1, len(pairs)))}"
    if kind == "repeat":
        pair = rng.choice(pairs[1:])
        pairs.append(pair.split("=")[0] + "=" + rng.choice(VALUES))
        return f"repeat {pairs[-1]}"
    if kind == "cut":
        i = rng.randrange(1, len(pairs))
        pairs[i] = pairs[i][: rng.randrange(len(pairs[i]) + 1)]
        return f"cut {pairs[i]!r}"
    i = rng.randrange(1, len(pairs))
    junk = "".join(rng.choice("=&;,.%+ x9") for _ in range(rng.randint(1, 4)))
    pairs[i] = pairs[i] + junk
    return f"junk {pairs[i]!r}"


def mutate_fake(case: Path, rng: random.Random) -> str:
    """Edit the ``key=value`` pairs of the case folder's ``.fake`` file name (1 to 3 edits)."""
    fake = next(case.glob("*.fake")) if case.is_dir() else case
    pairs = fake.name[: -len(".fake")].split("&")
    done = [_edit(pairs, rng) for _ in range(rng.choice((1, 1, 2, 3)))]
    name = "&".join(p.replace("/", "_") for p in pairs)[:200] + ".fake"
    fake.rename(fake.with_name(name))
    return "; ".join(done)
