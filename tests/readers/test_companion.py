"""OME companion files (``.companion.ome`` + BinaryOnly OME-TIFFs) on synthetic sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import imgio
from imgio.readers.base import STATS

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


# OME Color is signed RGBA: red (0xFF0000FF) and yellow (0xFFFF00FF), opaque; not the
# colours imgio would guess from the names "dapi" and "gfp"
COLORS = (-16776961, -65281)


def _binary_only(companion: str, uid: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{NS}" UUID="{uid}">'
        f'<BinaryOnly MetadataFile="{companion}" UUID="urn:uuid:0"/></OME>'
    )


def write_set(
    folder: Path,
    data: np.ndarray[Any, Any],
    *,
    order: str = "XYZCT",
    drop: tuple[int, ...] = (),
    channels: tuple[str, ...] = ("dapi", "gfp"),
    name: str = "set.companion.ome",
) -> Path:
    """data is (T, C, Z, Y, X); planes go to two files in DimensionOrder, 3 planes per TiffData."""
    sizes = dict(zip("TCZYX", data.shape, strict=True))
    axes = order[2:][::-1]  # slowest first
    planes = data.transpose(["TCZ".index(a) for a in axes] + [3, 4]).reshape(-1, *data.shape[3:])
    half = (len(planes) + 1) // 2
    files = ["part-a.ome.tif", "part-b.ome.tif"]
    tiffdata = []
    for f, (fname, chunk) in enumerate(zip(files, (planes[:half], planes[half:]), strict=True)):
        uid = f"urn:uuid:00000000-0000-0000-0000-00000000000{f}"
        with tifffile.TiffWriter(folder / fname) as tw:
            for i, plane in enumerate(chunk):
                tw.write(
                    plane,
                    tile=(16, 16),
                    compression="zlib",
                    metadata=None,
                    description=_binary_only(name, uid) if i == 0 else None,
                )
        for start in range(0, len(chunk), 3):
            p = f * half + start
            if p in drop:
                continue
            idx = np.unravel_index(p, tuple(sizes[a] for a in axes))
            first = " ".join(f'First{a}="{int(i)}"' for a, i in zip(axes, idx, strict=True))
            count = min(3, len(chunk) - start)
            tiffdata.append(
                f'<TiffData {first} IFD="{start}" PlaneCount="{count}">'
                f'<UUID FileName="{fname}">{uid}</UUID></TiffData>'
            )
    chans = "".join(
        f'<Channel ID="Channel:0:{i}" Name="{n}" SamplesPerPixel="1" Color="{c}"/>'
        for i, (n, c) in enumerate(zip(channels, COLORS, strict=False))
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{NS}">'
        f'<Image ID="Image:0" Name="companion-set"><Pixels ID="Pixels:0" DimensionOrder="{order}" '
        f'Type="{data.dtype.name}" SizeX="{sizes["X"]}" SizeY="{sizes["Y"]}" SizeZ="{sizes["Z"]}" '
        f'SizeC="{sizes["C"]}" SizeT="{sizes["T"]}" PhysicalSizeX="0.3" PhysicalSizeY="0.3" '
        f'PhysicalSizeZ="2.0">{chans}{"".join(tiffdata)}</Pixels></Image></OME>'
    )
    (folder / name).write_text(xml)
    return folder / name


def stack(seed: int = 3) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).integers(0, 60000, (2, 2, 3, 40, 36), dtype=np.uint16)


@pytest.mark.parametrize("order", ["XYZCT", "XYCZT", "XYTCZ", "XYCTZ"])
def test_companion_planes_in_dimension_order(tmp_path: Path, order: str) -> None:
    data = stack()
    path = write_set(tmp_path, data, order=order)
    img = imgio.Image(path)
    assert img.reader.name == "ome-companion"
    assert img.scenes == ("companion-set",)
    assert img.dims.order == "TCZYX" and img.shape == data.shape
    assert img.channel_names == ["dapi", "gfp"]
    assert img.channel_colors == [(255, 0, 0), (255, 255, 0)]
    assert img.physical_pixel_sizes == imgio.PhysicalPixelSizes(2.0, 0.3, 0.3)
    np.testing.assert_array_equal(img.get_image_data("TCZYX"), data)
    np.testing.assert_array_equal(img.get_image_data("ZYX", T=1, C="gfp"), data[1, 1])
    STATS.reset()
    region = img.xarray_dask_data.isel(T=0, C=1, Z=2, Y=slice(20, 30), X=slice(10, 20)).values
    assert STATS.chunks_decoded == 2  # tiles (1, 0) and (1, 1) of one plane in one file
    np.testing.assert_array_equal(region, data[0, 1, 2, 20:30, 10:20])


def test_companion_folder_and_metadata(tmp_path: Path) -> None:
    data = stack(4)
    path = write_set(tmp_path, data)
    img = imgio.Image(tmp_path)  # the folder holding one companion
    assert img.reader.name == "ome-companion"
    np.testing.assert_array_equal(img.data, data)
    assert "ome_metadata" not in img.reader.__dict__
    ome = img.ome_metadata
    assert ome.images[0].pixels.size_t == 2 and ome.images[0].name == "companion-set"
    assert img.metadata == path.read_text()


def test_companion_missing_planes_warn_and_read_zero(tmp_path: Path) -> None:
    data = stack(5)
    path = write_set(tmp_path, data, drop=(3,))  # planes 3..5 of XYZCT: T=0, C=1, Z=0..2
    with pytest.warns(imgio.ImgioWarning, match="3 of 12 planes have no TiffData"):
        img = imgio.Image(path)
    got = img.get_image_data("TCZYX")
    assert got[0, 1].max() == 0
    np.testing.assert_array_equal(got[1], data[1])


def test_companion_missing_file(tmp_path: Path) -> None:
    path = write_set(tmp_path, stack())
    (tmp_path / "part-b.ome.tif").unlink()
    with pytest.raises(imgio.MissingFileError, match="part-b.ome.tif"):
        imgio.Image(path)


def test_binary_only_tiff_opens_alone(tmp_path: Path) -> None:
    data = stack(6)
    write_set(tmp_path, data)
    img = imgio.Image(tmp_path / "part-a.ome.tif")
    assert img.reader.name == "tiff"
    with pytest.warns(imgio.ImgioWarning, match=r"companion set; open 'set\.companion\.ome'"):
        img.scenes  # noqa: B018 - metadata is read on first use
    assert img.get_image_data().size == data.size // 2


def test_plain_ome_xml_is_not_a_companion(tmp_path: Path) -> None:
    path = tmp_path / "meta.ome"
    path.write_text(
        f'<?xml version="1.0"?><OME xmlns="{NS}"><Image ID="Image:0"><Pixels ID="Pixels:0" '
        'DimensionOrder="XYZCT" Type="uint8" SizeX="2" SizeY="2" SizeZ="1" SizeC="1" SizeT="1">'
        '<BinData Length="0"/></Pixels></Image></OME>'
    )
    with pytest.raises(
        imgio.UnsupportedFormatError, match="ome-companion: OME-XML without TiffData"
    ):
        imgio.Image(path)
