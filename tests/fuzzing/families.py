"""Reader families to fuzz: a seed builder and a mutator each. A new reader plugs in here.

To fuzz a new format, add ``FAMILIES["czi"] = Family("czi", seeds=..., mutate=mutate_bytes)``
(or a structure-aware mutator of its own); ``python -m benchmarks.fuzz --seeds czi=DIR``
fuzzes the files of any folder with the generic byte mutator without code.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .mutate_text import mutate_xml
from .mutate_tiff import mutate_tiff
from .mutate_zarr import mutate_store
from .seeds import tiff_seeds, zarr_seeds

__all__ = ["FAMILIES", "Family", "entry_of", "folder_seeds", "mutate_bytes"]

TIFF_SIGNATURES = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


@dataclass(frozen=True)
class Family:
    name: str
    seeds: Callable[[Path], list[Path]]  # writes seeds into the folder, returns them
    mutate: Callable[[Path, random.Random], str]  # mutates a copied seed in place


def mutate_bytes(path: Path, rng: random.Random) -> str:
    """Any file: TIFF-aware edits for TIFF files, else byte flips, cuts and splices."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        if not files:
            return "noop"
        path = rng.choice(files)
    data = path.read_bytes()
    if data[:4] in TIFF_SIGNATURES:
        new, done = mutate_tiff(data, rng, rng.choice((1, 1, 2, 3)))
        path.write_bytes(new)
        return f"{path.name}: {'; '.join(done)}"
    if data.lstrip()[:1] == b"<":
        path.write_text(mutate_xml(data.decode("utf-8", "replace"), rng))
        return f"{path.name}: xml"
    buf = bytearray(data)
    kind = rng.choice(("flip", "cut", "splice"))
    if kind == "flip" and buf:
        for _ in range(rng.randint(1, 16)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif kind == "cut":
        del buf[rng.randrange(len(buf) + 1) :]
    elif buf:
        a = rng.randrange(len(buf))
        buf[a:a] = buf[rng.randrange(len(buf)) :][:64]
    path.write_bytes(bytes(buf))
    return f"{path.name}: {kind}"


def mutate_zarr(path: Path, rng: random.Random) -> str:
    return "; ".join(mutate_store(path, rng) for _ in range(rng.choice((1, 1, 2))))


def folder_seeds(folder: Path) -> Callable[[Path], list[Path]]:
    """Seeds that are the files (and zarr folders) of an existing folder."""

    def build(_: Path) -> list[Path]:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))

    return build


def entry_of(case: Path) -> Path:
    """What to open for a case: the file, or a multi-file folder's first OME-TIFF."""
    if case.is_dir() and (case / "a.ome.tif").exists():
        return case / "a.ome.tif"
    return case


FAMILIES: dict[str, Family] = {
    "tiff": Family("tiff", tiff_seeds, mutate_bytes),
    "ome-zarr": Family("ome-zarr", zarr_seeds, mutate_zarr),
}
