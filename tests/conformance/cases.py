"""The table of the reader conformance suite: one line per reader (and file kind).

A reader joins the suite with one :class:`Case` line: its registry name, a function
that returns a sample path (a small file in ``tests/data``, or one written into a temp
folder by the test writers), the fuzz family whose mutator damages it, and whether the
sample can be read over HTTP. :mod:`tests.conformance.test_readers` runs every test on
every line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class Case:
    reader: str  # the registry name the file must open with
    make: Callable[[Path], Path]  # writes (or finds) the sample; gets a fresh temp folder
    family: str  # tests/fuzzing family whose mutator damages the sample
    local_only: str = ""  # why the sample cannot be read over HTTP (empty: it can)
    id: str = ""

    @property
    def name(self) -> str:
        return self.id or self.reader


def _data(name: str) -> Callable[[Path], Path]:
    return lambda _tmp: DATA / name


def _png(tmp: Path) -> Path:
    import imagecodecs

    rgba = np.random.default_rng(3).integers(0, 255, (40, 56, 4), dtype=np.uint8)
    path = tmp / "rgba.png"
    path.write_bytes(imagecodecs.png_encode(rgba))
    return path


def _oib(tmp: Path) -> Path:
    from oif_writer import write_oib

    data = np.random.default_rng(8).integers(0, 4096, (2, 2, 3, 24, 32), dtype=np.uint16)
    return write_oib(tmp / "cells.oib", data, dyes=("DAPI", "GFP"))


def _xlif(tmp: Path) -> Path:
    from xlif_writer import write_xlef, write_xlif

    lif = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"
    root = tmp / "proj"
    write_xlif(lif, root / "Images", kind="tif", name="A")
    return write_xlef(root / "proj.xlef", ["Images/A.xlif"])


def _pyramid_tiff(tmp: Path) -> Path:
    """A two-scene OME-TIFF pyramid with different pixel sizes per scene (imgio's writer)."""
    import xarray as xr

    import imgio

    rng = np.random.default_rng(5)

    def scene(shape: tuple[int, int, int], step: float) -> xr.DataArray:
        coords = {"C": ["DAPI", "GFP"], "Y": np.arange(shape[1]) * step}
        coords["X"] = np.arange(shape[2]) * step
        pixels = rng.integers(0, 60000, shape, dtype=np.uint16)
        return xr.DataArray(pixels, dims=("C", "Y", "X"), coords=coords)

    path = tmp / "two.ome.tif"
    imgio.write([scene((2, 700, 900), 0.5), scene((2, 300, 260), 2.0)], path, tile=128)
    return path


def _ims(tmp: Path) -> Path:
    """A two-level, two-channel time-lapse Imaris file with padded chunks and a thumbnail."""
    from ims_writer import write_ims

    rng = np.random.default_rng(18)
    l0 = rng.integers(0, 4000, (2, 2, 5, 70, 90), dtype=np.uint16)
    levels = [l0, np.ascontiguousarray(l0[..., ::2, ::2])]
    thumb = rng.integers(0, 255, (16, 20, 4), dtype=np.uint8)
    times = ("2024-01-01 10:00:00.000", "2024-01-01 10:00:02.500")
    return write_ims(
        tmp / "cells.ims",
        levels,
        chunks=(2, 32, 32),
        names=("a", "b"),
        times=times,
        thumbnail=thumb,
    )


def _dv(tmp: Path) -> Path:
    from dv_writer import write_dv

    data = np.random.default_rng(6).integers(0, 4000, (2, 2, 3, 24, 30), dtype=np.uint16)
    return write_dv(tmp / "cells.dv", data, sequence=1, waves=(525, 610), times=(0.0, 1.5))


def _mrc(tmp: Path) -> Path:
    """A float volume with an FEI1 extended header (one metadata block per section)."""
    import mrcfile
    from mrcfile.dtypes import get_ext_header_dtype

    path = tmp / "vol.mrc"
    with mrcfile.new(path) as m:
        m.set_data(np.random.default_rng(7).random((4, 24, 30), dtype=np.float32))
        m.voxel_size = 1.5
        ext = np.zeros(4, dtype=get_ext_header_dtype(b"FEI1", "<"))
        ext["Metadata size"] = ext.dtype.itemsize
        ext["Alpha tilt"] = [-3.0, -1.0, 1.0, 3.0]
        ext["Pixel size X"] = ext["Pixel size Y"] = 1.5e-10
        m.set_extended_header(ext)
        m.header.exttyp = b"FEI1"
    return path


def _dicom_instance(tmp: Path) -> Path:
    """One instance: a TILED_FULL JPEG-LS level (the highdicom-like single-file slide)."""
    from dicom_wsi import Slide, pyramid, write_level

    image = pyramid(3, (90, 130))
    return write_level(tmp, image, (32, 48), slide=Slide(), syntax="jpegls")[0]


def _dicom_series(tmp: Path) -> Path:
    """A folder: a two-level JPEG pyramid at a 2.5x ratio with other tiles, a label."""
    from dicom_wsi import Slide, pyramid, shrink, write_level

    slide, base = Slide(), pyramid(4, (200, 260))
    folder = tmp / "slide"
    folder.mkdir()
    write_level(folder, base, (64, 64), slide=slide, syntax="jpeg", name="L0")
    write_level(folder, shrink(base, 2.5), (32, 48), slide=slide, name="L1", spacing_mm=0.000625)
    write_level(folder, pyramid(5, (30, 50)), (30, 50), slide=slide, flavor="LABEL", name="lab")
    return folder


def _sequence(tmp: Path) -> Path:
    """T x C planes (OME-TIFF pyramids) named ``p_t{T}_c{C}.ome.tif``: a file sequence."""
    import imgio

    rng = np.random.default_rng(6)
    for t, c in np.ndindex(2, 2):
        plane = rng.integers(0, 60000, (300, 260), dtype=np.uint16)
        imgio.write(
            plane,
            tmp / f"p_t{t}_c{c}.ome.tif",
            dims="YX",
            tile=64,
            pyramid_levels=2,
            physical_pixel_sizes=(None, 0.5, 0.5),
        )
    return tmp / "p_t{T}_c{C}.ome.tif"


def _nd(tmp: Path) -> Path:
    from metamorph_writer import write_nd

    data = np.random.default_rng(7).integers(0, 4096, (2, 2, 2, 3, 40, 50), dtype=np.uint16)
    return write_nd(tmp / "acq", "exp", data, [("DAPI", True), ("BF", False)], ["A", "B"])


def _vsi(tmp: Path) -> Path:
    """Two stacks; the .vsi's tree names the first one's channels, sizes and objective."""
    from vsi_writer import StackTree, write_vsi

    rng = np.random.default_rng(8)
    zc = rng.integers(0, 4000, (1, 2, 2, 150, 130), dtype=np.uint16)
    rgb = rng.integers(0, 255, (1, 1, 1, 70, 90, 3), dtype=np.uint8)
    tree = StackTree(
        slots=[("T", 1), ("Z", 2), ("C", 2)],
        pixel_size_xy=(0.5, 0.5),
        channels=["DAPI", "GFP"],
        z_start_step=(10.0, 2.0),
        objective=(20.0, "UPLSAPO 20x"),
    )
    return write_vsi(
        tmp / "slide", "s", [zc, rgb], tree={1: tree}, compression="jpeg2000", tile=64, levels=2
    )


def _fake(tmp: Path) -> Path:
    """A Bio-Formats ``.fake`` file (no built-in reader claims it: the opt-in fallback)."""
    import pytest

    from imgio.readers import bioformats

    if not bioformats.available():
        pytest.skip("imgio[bioformats] (JPype, the Bio-Formats jar, Java) is not installed")
    path = tmp / "img&sizeZ=3&sizeC=2&sizeT=2&sizeX=300&sizeY=200.fake"
    path.touch()
    return path


CASES: list[Case] = [
    Case("tiff", _pyramid_tiff, "tiff", id="tiff-ome-pyramid-2-scenes"),
    Case("tiff", _data("galaxy-multiseries.ome.tiff"), "tiff", id="tiff-ome-multiseries"),
    Case("tiff", _data("largeimage-small_la.tiff"), "tiff", id="tiff-grey-alpha"),
    Case("tiff", _data("galaxy-xyz_8bit__mitotic_plate_calibrated.tiff"), "tiff", id="tiff-imagej"),
    Case("ome-zarr", _data("ome-zarr/galaxy-image-04.zarr"), "ome-zarr", id="ome-zarr-image"),
    Case(
        "ome-zarr", _data("ome-zarr/omezarrpy-plate-rows-2.zarr"), "ome-zarr", id="ome-zarr-plate"
    ),
    Case(
        "ome-companion",
        _data("omemodel-set-1-meta-companion"),
        "tiff",
        local_only="a companion set is found by listing a folder",
    ),
    Case("czi", _data("aicsimageio-s_1_t_1_c_1_z_1.czi"), "czi"),
    Case("images", _png, "images"),
    Case("lif", _data("readlif-PR2729_frameOrderCombinedScanTypes.lif"), "lif"),
    Case("nd2", _data("arcadia-example-zstack.nd2"), "nd2"),
    Case("xlif", _xlif, "xlif"),
    Case("oif", _oib, "olympus"),
    Case("imaris", _ims, "imaris"),
    Case("deltavision", _dv, "mrc"),
    Case("mrc", _mrc, "mrc"),
    # a .fake file is its name: the mutation run has nothing to damage but the empty bytes
    Case(
        "bioformats",
        _fake,
        "tiff",
        local_only="a .fake file is empty: the server refuses a range of it (416); remote "
        "files via a cached copy are tested in tests/readers/test_bioformats_reader.py",
    ),
    Case("dicom", _dicom_instance, "dicom", id="dicom-instance"),
    Case(
        "dicom",
        _dicom_series,
        "dicom",
        local_only="a series folder is found by listing it",
        id="dicom-series-folder",
    ),
    Case("sequence", _sequence, "sequence", local_only="HTTP cannot list a pattern's files"),
    Case("metamorph", _nd, "metamorph"),
    Case("vsi", _vsi, "vsi", local_only="HTTP cannot list the ETS folders"),
]
