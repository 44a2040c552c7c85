"""Reader families to fuzz: a seed builder and a mutator each. A new reader plugs in here.

To fuzz a new format, add ``FAMILIES["x"] = Family("x", seeds=..., mutate=mutate_bytes)``
(or a structure-aware mutator of its own, see :func:`structured`);
``python -m benchmarks.fuzz --seeds x=DIR`` adds the files of any folder to a family's
seeds (a name that is no family gets the generic byte mutator).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .mutate_czi import mutate_czi
from .mutate_dicom import mutate_dicom
from .mutate_fake import fake_seeds, mutate_fake
from .mutate_images import mutate_image
from .mutate_ims import mutate_ims
from .mutate_lif import mutate_lif
from .mutate_mrc import mutate_mrc
from .mutate_nd2 import mutate_nd2
from .mutate_ngff06 import mutate_ngff06, ngff06_seeds
from .mutate_sequence import mutate_metamorph, mutate_sequence, mutate_vsi
from .mutate_text import mutate_xml
from .mutate_tiff import mutate_tiff
from .mutate_zarr import mutate_store
from .seeds import tiff_seeds, zarr_seeds
from .seeds_dicom import dicom_seeds
from .seeds_formats import czi_seeds, image_seeds, lif_seeds, nd2_seeds
from .seeds_micro import ims_seeds, mrc_seeds
from .seeds_projects import (
    metamorph_seeds,
    olympus_seeds,
    sequence_seeds,
    vsi_seeds,
    xlif_seeds,
)

__all__ = ["FAMILIES", "Family", "entry_of", "folder_seeds", "mutate_bytes", "structured"]

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


def structured(
    mutate: Callable[[bytes, random.Random, int], tuple[bytes, list[str]]],
) -> Callable[[Path, random.Random], str]:
    """A file mutator from a format's ``mutate(data, rng, n)``: 1 to 3 structure-aware edits,
    or (one case in seven) the generic byte mutator."""

    def run(path: Path, rng: random.Random) -> str:
        if path.is_dir() or rng.random() < 0.15:
            return mutate_bytes(path, rng)
        new, done = mutate(path.read_bytes(), rng, rng.choice((1, 1, 2, 3)))
        path.write_bytes(new)
        return f"{path.name}: {'; '.join(done)}"

    return run


def mutate_zarr(path: Path, rng: random.Random) -> str:
    return "; ".join(mutate_store(path, rng) for _ in range(rng.choice((1, 1, 2))))


def folder_seeds(
    folder: Path, also: Callable[[Path], list[Path]] | None = None
) -> Callable[[Path], list[Path]]:
    """Seeds that are the files (and zarr folders) of an existing folder (plus ``also``'s)."""

    def build(work: Path) -> list[Path]:
        found = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        return (also(work) if also is not None else []) + found

    return build


def entry_of(case: Path) -> Path:
    """What to open for a case: the file, or a multi-file folder's entry (its first OME-TIFF,
    its sequence pattern, else its XLEF, OIF, XLIF, .nd, .vsi or .fake file)."""
    if case.is_dir() and (case / "a.ome.tif").exists():
        return case / "a.ome.tif"
    if case.is_dir() and (case / "pattern.txt").is_file():  # a file sequence
        return case / (case / "pattern.txt").read_text()
    if case.is_dir() and not case.name.endswith(".zarr"):
        for pattern in ("*.xlef", "*.oif", "*.xlif", "*.nd", "*.vsi", "*.fake"):
            found = sorted(case.glob(pattern))
            if found:
                return found[0]
    return case


FAMILIES: dict[str, Family] = {
    "tiff": Family("tiff", tiff_seeds, mutate_bytes),
    "ome-zarr": Family("ome-zarr", zarr_seeds, mutate_zarr),
    "ngff-0.6": Family("ngff-0.6", ngff06_seeds, mutate_ngff06),
    "czi": Family("czi", czi_seeds, structured(mutate_czi)),
    "lif": Family("lif", lif_seeds, structured(mutate_lif)),
    "nd2": Family("nd2", nd2_seeds, structured(mutate_nd2)),
    "images": Family("images", image_seeds, structured(mutate_image)),
    "dicom": Family("dicom", dicom_seeds, structured(mutate_dicom)),
    # multi-file projects: byte flips, cuts and splices, XML-aware on the XLEF/XLIF files
    "olympus": Family("olympus", olympus_seeds, mutate_bytes),
    "xlif": Family("xlif", xlif_seeds, mutate_bytes),
    # file sets: the .nd text (structure-aware) and the image files (deleted, replaced,
    # twinned, linked outside, TIFF-aware mutations)
    "metamorph": Family("metamorph", metamorph_seeds, mutate_metamorph),
    "sequence": Family("sequence", sequence_seeds, mutate_sequence),
    "vsi": Family("vsi", vsi_seeds, mutate_vsi),  # ETS headers and tile records
    # Imaris: h5py edits of attributes, data set shapes/types and groups (bytes 1 in 7)
    "imaris": Family("imaris", ims_seeds, lambda p, rng: _ims(p, rng)),
    # MRC and DeltaVision: header fields, byte-order marks, extended header records
    "mrc": Family("mrc", mrc_seeds, structured(mutate_mrc)),
    # Bio-Formats fallback on .fake names (one JVM per process: benchmarks.fuzz_jvm runs it)
    "bioformats": Family("bioformats", fake_seeds, mutate_fake),
}


def _ims(path: Path, rng: random.Random) -> str:
    return mutate_bytes(path, rng) if rng.random() < 0.15 else mutate_ims(path, rng)
