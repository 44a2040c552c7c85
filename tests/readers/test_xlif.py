"""Leica LAS X projects (XLEF/XLCF/XLIF) against liffile and the LIF they were made from.

Projects are synthetic (``tests/xlif_writer.py``): the tile-scan LIF in ``tests/data``
exported as XLIFs whose pixels are in a LOF file, per-plane TIFF or PNG files, or one
multi-page TIFF, nested in an XLCF collection under an XLEF experiment.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import liffile
import numpy as np
import pytest
from samples import DATA
from xlif_writer import write_xlef, write_xlif

import imgio
from imgio.readers.base import STATS

LIF = DATA / "readlif-PR2729_frameOrderCombinedScanTypes.lif"
LETTERS = {"λ": "E", "Λ": "W"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("xlif") / "proj"
    write_xlif(LIF, root / "Images", kind="lof", name="A")
    write_xlif(LIF, root / "Images", kind="tif", name="B")
    write_xlif(LIF, root / "Col" / "Sub", kind="png", name="C")
    write_xlif(LIF, root / "Col", kind="pages", name="D")
    write_xlef(root / "Col" / "Col.xlcf", ["Sub/C.xlif", "D.xlif"], kind="Collection")
    return write_xlef(root / "proj.xlef", ["Images/A.xlif", "Images/B.xlif", "Col/Col.xlcf"])


def test_every_image_equals_liffile_and_the_lif(project: Path) -> None:
    img = imgio.Image(project, reconstruct_mosaic=False)
    lif = imgio.Image(LIF, reconstruct_mosaic=False)
    assert img.reader.name == "xlif"
    with liffile.LifFile(project) as ref:
        assert img.scenes == tuple(image.path for image in ref.images)
        assert img.scenes == ("A", "B", "Col/C", "Col/D")
        for i, image in enumerate(ref.images):
            img.set_scene(i)
            order = "".join(LETTERS.get(d, d) for d in image.dims)
            np.testing.assert_array_equal(img.get_image_data(order), image.asarray())
            np.testing.assert_array_equal(img.data, lif.data)
            assert img.channel_names == ["Green", "Red"]
            assert img.physical_pixel_sizes == pytest.approx(lif.physical_pixel_sizes)
            assert img.mosaic_tile_positions == lif.mosaic_tile_positions


def test_mosaic_reconstructed_like_the_lif(project: Path) -> None:
    img, lif = imgio.Image(project), imgio.Image(LIF)
    for i in range(len(img.scenes)):
        img.set_scene(i)
        assert img.dims == lif.dims and img.mosaic_tile_positions is None
        np.testing.assert_array_equal(img.data, lif.data)


def test_open_reads_no_pixels_and_a_plane_decodes_one_file(project: Path, stats: Any) -> None:
    img = imgio.Image(project, reconstruct_mosaic=False)
    assert img.shape and STATS.bytes_read == 0
    for scene in ("B", "Col/C", "Col/D"):
        img.set_scene(scene)
        STATS.reset()
        plane = img.get_image_data("YX", M=2, T=1, C=1, Z=0)
        assert STATS.chunks_decoded == 1 and plane.shape == (64, 64)
    img.set_scene("A")  # LOF pixels: byte ranges, only that plane's rows
    STATS.reset()
    img.get_image_data("YX", M=2, T=1, C=1, Z=0)
    assert STATS.bytes_read == 64 * 64


def test_pickled_sources_read(project: Path) -> None:
    img = imgio.Image(project)
    for i in range(len(img.scenes)):
        img.set_scene(i)
        lazy = img.xarray_dask_data.isel(T=1, Y=slice(20, 80))
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(lazy)).values, lazy.values)


def test_single_xlif_opens_alone(project: Path) -> None:
    img = imgio.Image(project.parent / "Images" / "B.xlif")
    assert img.scenes == ("B",) and img.dims.order == "TCZYX"
    assert "<LMSDataContainerHeader" in img.metadata


def test_references_leaving_the_folder_are_refused(tmp_path: Path) -> None:
    outside = write_xlif(LIF, tmp_path / "elsewhere", kind="tif", name="E")
    root = tmp_path / "proj"
    xlef = write_xlef(root / "p.xlef", ["../elsewhere/E.xlif"])
    with pytest.raises(imgio.ExternalFileError, match=r"E\.xlif.*allow_external_files"):
        imgio.Image(xlef)
    img = imgio.Image(xlef, allow_external_files=True)
    assert img.scenes == ("E",) and img.data.shape == (2, 2, 3, 97, 97)
    # an XLIF in the folder whose frames are outside it
    text = (
        outside.read_bytes().decode("utf-16-le").replace('File=".\\E_', 'File="..\\elsewhere\\E_')
    )
    (root / "F.xlif").write_bytes(text.encode("utf-16-le"))
    with pytest.raises(imgio.ExternalFileError, match="E_0000.tif"):
        imgio.Image(root / "F.xlif")
    # a frame file that is a symlink out of the folder
    inner = write_xlif(LIF, root / "G", kind="tif", name="G")
    (root / "G" / "G_0007.tif").unlink()
    (root / "G" / "G_0007.tif").symlink_to(tmp_path / "elsewhere" / "E_0007.tif")
    with pytest.raises(imgio.ExternalFileError, match="G_0007.tif"):
        imgio.Image(inner)
    assert imgio.Image(inner, allow_external_files=True).scenes == ("G",)


def test_bad_projects(tmp_path: Path) -> None:
    missing = write_xlef(tmp_path / "m.xlef", ["nothere.xlif"])
    with pytest.raises(imgio.MissingFileError, match="nothere.xlif"):
        imgio.Image(missing)
    loop = write_xlef(tmp_path / "loop.xlef", ["loop.xlef"])
    with pytest.raises(imgio.CorruptFileError, match="cycle"):
        imgio.Image(loop)
    xlif = write_xlif(LIF, tmp_path / "x", kind="tif", name="G")
    (tmp_path / "x" / "G_0005.tif").unlink()
    with pytest.raises(imgio.MissingFileError, match=r"G_0005\.tif, which does not exist"):
        imgio.Image(xlif)
    cut = write_xlif(LIF, tmp_path / "y", kind="tif", name="H")
    (tmp_path / "y" / "H_0003.tif").write_bytes(b"II*\0garbage")
    img = imgio.Image(cut, reconstruct_mosaic=False)
    with pytest.raises(imgio.CorruptFileError, match=r"plane 3: .*H_0003\.tif"):
        img.get_image_data("YX", T=0, M=0, Z=1, C=1)
    bad = tmp_path / "bad.xlif"
    bad.write_bytes(b'<?xml version="1.0"?><LMSDataContainerHeader Version="2"><Element')
    with (
        pytest.raises(imgio.CorruptFileError, match="corrupted LAS X XML"),
        warnings.catch_warnings(),
    ):
        imgio.Image(bad)


def test_http_project(project: Path) -> None:
    from _servers import RangeHTTPServer

    local = imgio.Image(project, reconstruct_mosaic=False)
    with RangeHTTPServer(project.parent) as http:
        remote = imgio.Image(f"{http.url}/{project.name}", reconstruct_mosaic=False)
        assert remote.scenes == local.scenes
        for scene in remote.scenes:
            remote.set_scene(scene)
            local.set_scene(scene)
            np.testing.assert_array_equal(remote.data, local.data)


def _ifd_entry(data: bytearray, tag: int) -> int:
    """Offset of ``tag``'s entry in the first IFD of a little-endian classic TIFF."""
    ifd = int.from_bytes(data[4:8], "little")
    for i in range(int.from_bytes(data[ifd : ifd + 2], "little")):
        at = ifd + 2 + 12 * i
        if int.from_bytes(data[at : at + 2], "little") == tag:
            return at
    raise AssertionError(f"no tag {tag}")


def test_damaged_frame_tiffs_are_corrupt_file_errors(tmp_path: Path) -> None:
    """Fuzz reproducers: a frame TIFF whose ImageWidth count became 2 (tifffile's TypeError
    escaped) and one declaring a plane far larger than the XLIF's (decoded before checking)."""
    xlif = write_xlif(LIF, tmp_path, kind="tif", name="B")
    untouched = imgio.Image(xlif).get_image_data("YX", T=1, C=1, Z=2)
    first = tmp_path / "B_0000.tif"
    data = bytearray(first.read_bytes())
    data[_ifd_entry(data, 256) + 4 : _ifd_entry(data, 256) + 8] = (2).to_bytes(4, "little")
    first.write_bytes(bytes(data))
    img = imgio.Image(xlif)
    with pytest.raises(imgio.CorruptFileError, match=r"plane 0: .*B_0000\.tif"):
        img.get_image_data("YX", T=0, C=0, Z=0)
    np.testing.assert_array_equal(img.get_image_data("YX", T=1, C=1, Z=2), untouched)
    big = tmp_path / "B_0001.tif"
    data = bytearray(big.read_bytes())
    at = _ifd_entry(data, 257)  # ImageLength, a SHORT stored in the entry
    data[at + 8 : at + 10] = (60000).to_bytes(2, "little")
    big.write_bytes(bytes(data))
    first.write_bytes((tmp_path / "B_0002.tif").read_bytes())  # plane 0 readable again
    with pytest.raises(
        imgio.CorruptFileError, match=r"B_0001\.tif: page 0 declares .* the plane needs"
    ):
        _ = imgio.Image(xlif).data


@pytest.mark.parametrize("bigtiff", [False, True])
@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize(
    ("shape", "dtype"), [((5, 7), "u1"), ((6, 9), "u2"), ((4, 3, 3), "u1"), ((300, 2), "f4")]
)
def test_one_page_frame_fast_path_equals_tifffile(
    tmp_path: Path, bigtiff: bool, byteorder: str, shape: tuple[int, ...], dtype: str
) -> None:
    import tifffile

    from imgio.readers._frames import _first_ifd_bytes, _one_page_tiff

    data = np.arange(np.prod(shape), dtype=dtype).reshape(shape)
    path = tmp_path / "f.tif"
    tifffile.imwrite(path, data, bigtiff=bigtiff, byteorder=byteorder, photometric=None)
    raw = path.read_bytes()
    assert _first_ifd_bytes(raw) == data.nbytes
    np.testing.assert_array_equal(_one_page_tiff(raw, data.nbytes), tifffile.imread(path))
    assert _one_page_tiff(raw, data.nbytes // 2) is None  # not the plane: tifffile's checks
