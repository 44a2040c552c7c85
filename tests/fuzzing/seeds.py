"""Small seed files of every family, written by tifffile/zarr/imgio into a folder."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np

from .seeds_wsi import wsi_tiff_seeds

__all__ = ["SECRET_VALUE", "tiff_seeds", "write_secret", "zarr_seeds"]

SECRET_VALUE = 173  # every pixel of the file outside the confinement folder


def _rng() -> np.random.Generator:
    return np.random.default_rng(7)


def write_secret(folder: Path) -> Path:
    """A TIFF outside the case folders: reading its pixels means confinement failed."""
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret.ome.tif"
    if not path.exists():
        tifffile.imwrite(path, np.full((2, 8, 8), SECRET_VALUE, "u1"), ome=True)
    return path


def _ome_xml(n_z: int, files: list[tuple[str, int]], sizes: tuple[int, int] = (8, 8)) -> str:
    """OME-XML of one image of ``n_z`` planes, plane k in file ``files[k]`` at its IFD."""
    data = "".join(
        f'<TiffData FirstZ="{z}" IFD="{ifd}" PlaneCount="1">'
        f'<UUID FileName="{name}">urn:uuid:0000000{z}-0000-0000-0000-000000000000</UUID>'
        "</TiffData>"
        for z, (name, ifd) in enumerate(files)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" '
        'UUID="urn:uuid:00000000-0000-0000-0000-000000000000">'
        '<Image ID="Image:0" Name="multi"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" '
        f'Type="uint8" SizeX="{sizes[1]}" SizeY="{sizes[0]}" SizeZ="{n_z}" SizeC="1" SizeT="1" '
        'PhysicalSizeX="0.5" PhysicalSizeY="0.5">'
        '<Channel ID="Channel:0:0" Name="DAPI" SamplesPerPixel="1"/>'
        f"{data}</Pixels></Image></OME>"
    )


def tiff_seeds(folder: Path) -> list[Path]:
    """Seeds of the TIFF family: plain, tiled, ImageJ (with IJMetadata, RGB), OME, multi-file
    OME, BigTIFF and whole-slide (SVS-like here, NDPI, Philips, SCN, BIF, QPI and a libvips
    pyramid from :mod:`.seeds_wsi`).

    A multi-file seed is a folder (every file of it is mutated and opened by its first).
    """
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    rng = _rng()
    out: list[Path] = []

    def add(name: str, data: np.ndarray, **kw: object) -> None:
        path = folder / name
        tifffile.imwrite(path, data, **kw)  # type: ignore[arg-type]
        out.append(path)

    add("pages.tif", rng.integers(0, 255, (5, 24, 24), "u1"))
    add("strips.tif", rng.integers(0, 4000, (40, 32), "u2"), rowsperstrip=8)
    add("tiled.tif", rng.integers(0, 4000, (64, 48), "u2"), tile=(16, 16), compression="zlib")
    add("rgb.tif", rng.integers(0, 255, (32, 32, 3), "u1"), photometric="rgb")
    add(
        "planar.tif",
        rng.integers(0, 255, (3, 32, 32), "u1"),
        photometric="rgb",
        planarconfig="separate",
    )
    add("float.tif", rng.random((2, 16, 16)).astype("f4"), tile=(16, 16))
    add(
        "imagej.tif",
        rng.integers(0, 255, (2, 3, 2, 16, 16), "u1"),
        imagej=True,
        metadata={"axes": "TZCYX", "spacing": 2.0, "unit": "um"},
        resolution=(2.0, 2.0),
    )
    # ImageJ with its IJMetadata tags (labels, display ranges, LUTs, info) and an RGB one
    luts = [np.stack([np.zeros(256, "u1"), np.arange(256, dtype="u1"), np.zeros(256, "u1")])] * 3
    add(
        "imagej-meta.tif",
        rng.integers(0, 4000, (2, 3, 16, 16), "u2"),
        imagej=True,
        metadata={
            **{"axes": "ZCYX", "Labels": list("abcdef"), "Ranges": (0, 4000) * 3},
            **{"LUTs": luts, "Info": "x=1\ny=2", "unit": "um", "finterval": 0.5},
        },
        resolution=(4.0, 4.0),
    )
    add(
        "imagej-rgb.tif",
        rng.integers(0, 255, (3, 16, 16, 3), "u1"),
        imagej=True,
        metadata={"axes": "TYXS"},
        photometric="rgb",
    )
    add(
        "ome.ome.tif",
        rng.integers(0, 255, (2, 3, 16, 16), "u1"),
        ome=True,
        metadata={"axes": "CZYX", "PhysicalSizeX": 0.5, "Channel": {"Name": ["a", "b"]}},
    )
    add(
        "big.tif",
        rng.integers(0, 255, (3, 16, 16), "u1"),
        bigtiff=True,
        tile=(16, 16),
        photometric="minisblack",
    )
    # OME-TIFF pyramid with SubIFDs
    path = folder / "pyramid.ome.tif"
    with tifffile.TiffWriter(path) as tif:
        base = rng.integers(0, 255, (64, 64), "u1")
        tif.write(base, tile=(32, 32), subifds=1, metadata={"axes": "YX"})
        tif.write(base[::2, ::2], tile=(32, 32), subfiletype=1)
    out.append(path)
    # SVS-like: Aperio description, tiled base plus a reduced page
    path = folder / "slide.svs"
    with tifffile.TiffWriter(path) as tif:
        base = rng.integers(0, 255, (64, 64, 3), "u1")
        desc = "Aperio Image Library v10.0.0\n64x64 [0,0 64x64] (32x32) JPEG/RGB Q=70"
        tif.write(
            base,
            tile=(32, 32),
            photometric="rgb",
            description=desc + "|AppMag = 20|MPP = 0.4990",
            metadata=None,
        )
        tif.write(base[::2, ::2], photometric="rgb", description=desc, metadata=None)
    out.append(path)
    # the other whole-slide flavours: NDPI, Philips, SCN, BIF, QPI, a libvips pyramid
    out += wsi_tiff_seeds(folder, rng)
    out.append(_multi_file(folder / "multifile"))
    out.append(_companion(folder / "companion"))
    return out


def _multi_file(folder: Path) -> Path:
    """Two OME-TIFF files; the first's XML places plane 1 in the second by UUID FileName."""
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    files = [("a.ome.tif", 0), ("b.ome.tif", 0)]
    xml = _ome_xml(2, files)
    tifffile.imwrite(folder / "a.ome.tif", np.full((8, 8), 1, "u1"), description=xml, metadata=None)
    tifffile.imwrite(folder / "b.ome.tif", np.full((8, 8), 2, "u1"), description=xml, metadata=None)
    return folder


def _companion(folder: Path) -> Path:
    """A companion OME-XML naming two BinaryOnly TIFF files."""
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    for k in range(2):
        tifffile.imwrite(folder / f"p{k}.ome.tif", np.full((8, 8), k + 1, "u1"))
    xml = _ome_xml(2, [("p0.ome.tif", 0), ("p1.ome.tif", 0)])
    (folder / "set.companion.ome").write_text(xml)
    return folder


def zarr_seeds(folder: Path) -> list[Path]:
    """OME-Zarr stores written by imgio (NGFF 0.4 zarr v2, 0.5 zarr v3 sharded) and plain zarr."""
    import zarr

    import imgio

    folder.mkdir(parents=True, exist_ok=True)
    rng = _rng()
    data = rng.integers(0, 255, (2, 64, 64), "u1")
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, kw in (
            ("v04.ome.zarr", {"ngff_version": "0.4"}),
            ("v05.ome.zarr", {"ngff_version": "0.5", "shards": 64}),
        ):
            path = folder / name
            if path.exists():
                shutil.rmtree(path)
            imgio.write(
                data, path, dims="CYX", chunks=32, physical_pixel_sizes=(None, 0.5, 0.5), **kw
            )
            out.append(path)
        path = folder / "plain.zarr"
        if path.exists():
            shutil.rmtree(path)
        arr = zarr.create_array(path, shape=(40, 30), chunks=(16, 16), dtype="u2", zarr_format=3)
        arr[:] = rng.integers(0, 4000, (40, 30), "u2")
        out.append(path)
        path = folder / "plain2.zarr"
        if path.exists():
            shutil.rmtree(path)
        arr = zarr.create_array(path, shape=(20, 30), chunks=(8, 16), dtype="f4", zarr_format=2)
        arr[:] = rng.random((20, 30)).astype("f4")
        out.append(path)
    # a stray top-level json beside the stores is never needed: keep seeds self-contained
    for p in out:
        assert any((p / m).exists() for m in ("zarr.json", ".zgroup", ".zarray")), json.dumps(
            str(p)
        )
    return out
