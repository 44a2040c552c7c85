"""OME-Zarr reader: real samples against their manifest, synthetic stores against zarr."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from imgio._location import Location
from imgio.errors import CorruptFileError, ImgioWarning, SelectionError, UnsupportedFormatError
from imgio.readers._registry import open_reader
from imgio.readers.base import STATS
from imgio.readers.ome_zarr import OmeZarrReader

# tests/readers/test_ome_zarr.py -> parents[2] is the project root; shared/ sits beside it
SHARED = Path(
    os.environ.get("IMGIO_SAMPLES", Path(__file__).resolve().parents[3] / "shared" / "samples")
)
DATA = Path(__file__).resolve().parents[1] / "data" / "ome-zarr"


def open_zarr(path: Path | str) -> OmeZarrReader:
    return OmeZarrReader(Location(str(path)))


def read_all(reader: OmeZarrReader, scene: int, level: int) -> np.ndarray:
    src = reader.source(scene, level)
    return src[tuple(slice(0, n) for n in src.shape)]


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(
        np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"))).tobytes()
    ).hexdigest()


# ---------------------------------------------------------------- synthetic stores
def write_image(
    group: zarr.Group,
    levels: list[np.ndarray],
    axes: list[dict[str, Any]],
    *,
    scales: list[list[float]],
    translations: list[list[float]] | None = None,
    global_scale: list[float] | None = None,
    chunks: tuple[int, ...],
    shards: tuple[int, ...] | None = None,
    omero: dict[str, Any] | None = None,
    name: str | None = None,
) -> None:
    """An NGFF image in ``group``: 0.4 attributes on Zarr v2, 0.5 (under "ome") on v3."""
    v3 = group.metadata.zarr_format == 3
    datasets = []
    for i, data in enumerate(levels):
        kw: dict[str, Any] = {"shards": shards} if shards and v3 else {}
        arr = group.create_array(str(i), shape=data.shape, dtype=data.dtype, chunks=chunks, **kw)
        arr[...] = data
        ct: list[dict[str, Any]] = [{"type": "scale", "scale": scales[i]}]
        if translations:
            ct.append({"type": "translation", "translation": translations[i]})
        datasets.append({"path": str(i), "coordinateTransformations": ct})
    ms: dict[str, Any] = {"axes": axes, "datasets": datasets}
    if global_scale:
        ms["coordinateTransformations"] = [{"type": "scale", "scale": global_scale}]
    if name:
        ms["name"] = name
    meta: dict[str, Any] = {"multiscales": [ms]}
    if omero:
        meta["omero"] = omero
    if v3:
        group.attrs["ome"] = {"version": "0.5", **meta}
    else:
        ms["version"] = "0.4"
        group.attrs.update(meta)


def pyramid(
    shape: tuple[int, ...], n: int, dtype: str = "uint16", seed: int = 0
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 60000, size=shape).astype(dtype)
    return [np.ascontiguousarray(base[..., :: 2**i, :: 2**i]) for i in range(n)]


AXES_CZYX = [
    {"name": "c", "type": "channel"},
    {"name": "z", "type": "space", "unit": "nanometer"},
    {"name": "y", "type": "space", "unit": "nanometer"},
    {"name": "x", "type": "space", "unit": "nanometer"},
]


@pytest.fixture(scope="module", params=["v2", "v3", "v3-sharded"])
def image_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[np.ndarray], str]:
    """A CZYX 3-level image in nm, with translations and a global scale."""
    kind = request.param
    path = tmp_path_factory.mktemp(kind) / "img.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2 if kind == "v2" else 3)
    levels = pyramid((2, 3, 150, 170), 3)
    write_image(
        group,
        levels,
        AXES_CZYX,
        scales=[[1, 500, 200 * 2**i, 200 * 2**i] for i in range(3)],
        translations=[[0, 1000, 100 * 2**i, 50] for i in range(3)],
        global_scale=[1, 2, 1, 1],
        chunks=(1, 1, 16, 16),
        shards=(1, 1, 64, 64) if kind == "v3-sharded" else None,
        omero={
            "channels": [{"label": "DAPI", "color": "0000FF"}, {"label": "GFP", "color": "00FF00"}]
        },
        name="cells",
    )
    return path, levels, kind


def test_image_metadata(image_store: tuple[Path, list[np.ndarray], str]) -> None:
    path, levels, _ = image_store
    reader = open_zarr(path)
    (info,) = reader.scenes()
    assert (info.name, info.dims, info.dtype) == ("cells", "CZYX", np.dtype("uint16"))
    assert info.shapes == tuple(a.shape for a in levels)
    assert info.channel_names == ("DAPI", "GFP")
    assert info.channel_colors == (0x0000FFFF, 0x00FF00FF)
    # nm -> µm; the global scale doubles Z scale and Z translation
    assert info.pixel_sizes == pytest.approx((1.0, 0.2, 0.2))
    assert [dict(s) for s in info.level_scales] == [
        pytest.approx({"Z": 1.0, "Y": 0.2 * 2**i, "X": 0.2 * 2**i}) for i in range(3)
    ]
    assert dict(info.origin) == pytest.approx({"Z": 2.0, "Y": 0.1, "X": 0.05})


def test_region_reads_match_zarr(image_store: tuple[Path, list[np.ndarray], str]) -> None:
    path, levels, _ = image_store
    reader = open_zarr(path)
    rng = np.random.default_rng(42)
    for level, expected in enumerate(levels):
        direct = zarr.open_array(str(path), path=str(level), mode="r")
        src = reader.source(0, level)
        assert (src.dims, src.shape, src.dtype) == ("CZYX", expected.shape, expected.dtype)
        assert src.chunks == direct.chunks == (1, 1, 16, 16)
        for _ in range(6):
            key = []
            for n in expected.shape:
                a, b = sorted(rng.integers(0, n + 1, size=2))
                key.append(slice(int(a), int(max(b, a + 1)) if a < n else n))
            key_t = tuple(key)
            np.testing.assert_array_equal(src[key_t], direct[key_t])
            np.testing.assert_array_equal(src[key_t], expected[key_t])


def test_region_touches_only_covering_chunks(tmp_path: Path) -> None:
    """Chunks outside the region are overwritten with garbage: decoding one would fail."""
    path = tmp_path / "img.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    data = pyramid((64, 64), 1)[0]
    write_image(
        group,
        [data],
        [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
        scales=[[1, 1]],
        chunks=(16, 16),
    )
    covering = {(1, 1), (1, 2), (2, 1), (2, 2)}  # rows/cols 20:40 hit chunks 1 and 2 on each axis
    for i in range(4):
        for j in range(4):
            if (i, j) not in covering:
                (path / "0" / f"{i}.{j}").write_bytes(b"not a blosc frame")
    src = open_zarr(path).source(0, 0)
    STATS.reset()
    np.testing.assert_array_equal(src[(slice(20, 40), slice(20, 40))], data[20:40, 20:40])
    assert STATS.chunks_decoded == 4
    with pytest.raises(CorruptFileError, match=r"RuntimeError: .*blosc"):  # names the codec error
        src[(slice(0, 20), slice(20, 40))]


def test_source_pickles_and_reads_in_new_process(
    image_store: tuple[Path, list[np.ndarray], str],
) -> None:
    path, levels, _ = image_store
    src = open_zarr(path).source(0, 1)
    blob = pickle.dumps(src)
    assert len(blob) < 2000 and b"LocalStore" not in blob
    code = (
        "import pickle, sys, hashlib; src = pickle.loads(sys.stdin.buffer.read());"
        "a = src[(slice(0, 2), slice(1, 3), slice(5, 70), slice(3, 80))];"
        "print(hashlib.sha256(a.tobytes()).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, check=True)
    assert (
        out.stdout.decode().strip()
        == hashlib.sha256(levels[1][:2, 1:3, 5:70, 3:80].tobytes()).hexdigest()
    )
    again = pickle.loads(blob)  # in this process too
    np.testing.assert_array_equal(
        again[(slice(0, 1),) * 2 + (slice(0, 9), slice(0, 9))], levels[1][:1, :1, :9, :9]
    )


def test_token_changes_when_array_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "t.zarr"
    arr = zarr.create_array(str(path), shape=(8, 8), chunks=(4, 4), dtype="uint8")
    first = open_zarr(path).source(0, 0).token
    assert first == open_zarr(path).source(0, 0).token
    zarr.create_array(str(path), shape=(8, 9), chunks=(4, 4), dtype="uint8", overwrite=True)
    assert open_zarr(path).source(0, 0).token != first
    assert arr.shape == (8, 8)


def test_labels_are_scenes(tmp_path: Path) -> None:
    path = tmp_path / "with-labels.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    yx = [
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]
    write_image(root, pyramid((40, 30), 2), yx, scales=[[0.5, 0.5], [1, 1]], chunks=(16, 16))
    labels = root.create_group("labels")
    labels.attrs["labels"] = ["nuclei", "gone"]
    mask = (pyramid((40, 30), 1, "uint8", seed=3)[0] % 4).astype("uint32")
    nuclei = labels.create_group("nuclei")
    write_image(nuclei, [mask], yx, scales=[[0.5, 0.5]], chunks=(16, 16))
    nuclei.attrs["image-label"] = {  # a colour and properties per value; malformed ones skipped
        "colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}, {"label-value": "x"}, {}],
        "properties": [{"label-value": 1, "class": "nucleus"}, {"label-value": 3, "area": 7}],
    }
    with pytest.warns(ImgioWarning, match="gone"):
        reader = open_zarr(path)
    assert [s.name for s in reader.scenes()] == ["Image:0", "labels/nuclei"]
    info = reader.scenes()[1]
    assert (info.dims, info.shape, info.dtype, info.pixel_sizes.X) == (
        "YX",
        (40, 30),
        np.dtype("uint32"),
        0.5,
    )
    np.testing.assert_array_equal(read_all(reader, 1, 0), mask)
    assert reader.scenes()[0].label_table is None
    assert info.label_table == {1: {"rgba": (255, 0, 0, 255), "class": "nucleus"}, 3: {"area": 7}}


def test_hcs_plate(tmp_path: Path) -> None:
    path = tmp_path / "plate.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    wells = [("A", "1"), ("B", "2")]
    root.attrs["ome"] = {
        "version": "0.5",
        "plate": {
            "rows": [{"name": "A"}, {"name": "B"}],
            "columns": [{"name": "1"}, {"name": "2"}],
            "wells": [
                {"path": f"{r}/{c}", "rowIndex": i, "columnIndex": i}
                for i, (r, c) in enumerate(wells)
            ],
        },
    }
    axes = [
        {"name": "c", "type": "channel"},
        {"name": "y", "type": "space"},
        {"name": "x", "type": "space"},
    ]
    expected = {}
    for k, (r, c) in enumerate(wells):
        well = root.create_group(f"{r}/{c}")
        well.attrs["ome"] = {"version": "0.5", "well": {"images": [{"path": "0"}, {"path": "1"}]}}
        for f in ("0", "1"):
            data = pyramid((1, 20, 24), 2, seed=10 * k + int(f))
            write_image(
                well.create_group(f), data, axes, scales=[[1, 1, 1], [1, 2, 2]], chunks=(1, 8, 8)
            )
            expected[f"{r}/{c}/{f}"] = data
    reader = open_zarr(path)
    assert [s.name for s in reader.scenes()] == list(expected)
    assert [s.well for s in reader.scenes()] == [(0, 0), (0, 0), (1, 1), (1, 1)]  # rowIndex...
    for i, (name, data) in enumerate(expected.items()):
        assert reader.scenes()[i].n_levels == 2
        np.testing.assert_array_equal(read_all(reader, i, 1), data[1], err_msg=name)


OME_XML = """<?xml version="1.0" encoding="UTF-8"?>
<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">
<Image ID="Image:0" Name="first"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8"
 SizeX="12" SizeY="10" SizeZ="1" SizeC="1" SizeT="1">
 <Channel ID="Channel:0:0" Name="Brightfield"/></Pixels></Image>
<Image ID="Image:1" Name="second"><Pixels ID="Pixels:1" DimensionOrder="XYZCT" Type="uint8"
 SizeX="6" SizeY="5" SizeZ="1" SizeC="1" SizeT="1">
 <Channel ID="Channel:1:0" Name="Red"/></Pixels></Image>
</OME>"""


@pytest.mark.parametrize("with_xml", [True, False])
def test_bioformats2raw_series(tmp_path: Path, with_xml: bool) -> None:
    path = tmp_path / "bf.ome.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    root.attrs["bioformats2raw.layout"] = 3
    axes = [
        {"name": n, "type": t}
        for n, t in zip("tczyx", ["time", "channel", "space", "space", "space"], strict=True)
    ]
    datas = [pyramid((1, 1, 1, 10, 12), 1, "uint8", 1), pyramid((1, 1, 1, 5, 6), 1, "uint8", 2)]
    for i, data in enumerate(datas):
        write_image(root.create_group(str(i)), data, axes, scales=[[1] * 5], chunks=(1, 1, 1, 4, 4))
    if with_xml:
        root.create_group("OME").attrs["series"] = ["0", "1"]
        (path / "OME" / "METADATA.ome.xml").write_text(OME_XML)
    reader = open_zarr(path)
    names = [s.name for s in reader.scenes()]
    assert names == (["first", "second"] if with_xml else ["0", "1"])
    if with_xml:
        assert reader.ome_xml() == OME_XML
        assert (
            reader.metadata["ome_xml"] == OME_XML and reader.metadata["bioformats2raw.layout"] == 3
        )
        assert [s.channel_names for s in reader.scenes()] == [("Brightfield",), ("Red",)]
    else:
        assert reader.ome_xml() is None
    for i, data in enumerate(datas):
        np.testing.assert_array_equal(read_all(reader, i, 0), data[0])


def test_plain_arrays_and_groups(tmp_path: Path) -> None:
    v2 = zarr.open_group(str(tmp_path / "xr.zarr"), mode="w", zarr_format=2)
    a = v2.create_array("signal", shape=(3, 8, 9), chunks=(1, 4, 4), dtype="float32")
    a.attrs["_ARRAY_DIMENSIONS"] = ["time", "y", "x"]
    a[...] = np.arange(a.size, dtype="float32").reshape(a.shape)
    v2.create_array("x", shape=(9,), dtype="float64").attrs["_ARRAY_DIMENSIONS"] = [
        "x"
    ]  # a coordinate
    v2.create_array("guess", shape=(2, 3, 4, 5), chunks=(1, 1, 4, 5), dtype="uint8")
    reader = open_zarr(tmp_path / "xr.zarr")
    by_name = {s.name: s for s in reader.scenes()}
    assert set(by_name) == {"signal", "guess"}
    assert by_name["signal"].dims == "TYX" and by_name["guess"].dims == "CZYX"
    i = [s.name for s in reader.scenes()].index("signal")
    np.testing.assert_array_equal(
        reader.source(i, 0)[(slice(1, 3), slice(2, 7), slice(0, 9))], a[1:3, 2:7, :]
    )

    v3 = zarr.create_array(
        str(tmp_path / "one.zarr"),
        shape=(4, 6, 5),
        chunks=(2, 3, 5),
        dtype="int16",
        dimension_names=["angle", "y", "x"],
    )
    v3[...] = 7
    reader = open_zarr(tmp_path / "one.zarr")
    (info,) = reader.scenes()
    assert (info.name, info.dims, info.shape) == ("Image:0", "AYX", (4, 6, 5))
    assert int(read_all(reader, 0, 0).sum()) == 7 * 120


def test_unsupported_and_corrupt(tmp_path: Path) -> None:
    empty = tmp_path / "nothing.zarr"
    empty.mkdir()
    assert not OmeZarrReader.sniff_location(Location(str(empty)))
    with pytest.raises(UnsupportedFormatError, match="ome-zarr"):
        open_reader(Location(str(empty)))

    bad = tmp_path / "bad.zarr"
    group = zarr.open_group(str(bad), mode="w", zarr_format=2)
    yx = [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    write_image(group, [np.zeros((4, 4), "uint8")], yx, scales=[[1.0, 1.0]], chunks=(4, 4))
    assert OmeZarrReader.sniff_location(Location(str(bad)))
    ms = group.attrs["multiscales"]
    ms[0]["datasets"][0]["coordinateTransformations"][0]["scale"] = [1.0, 1.0, 1.0]
    group.attrs["multiscales"] = ms
    with pytest.raises(
        CorruptFileError, match=r"datasets\[0\]\.coordinateTransformations\[0\]\.scale"
    ):
        open_zarr(bad)
    ms[0]["datasets"][0] = {"path": "missing"}
    group.attrs["multiscales"] = ms
    with pytest.raises(CorruptFileError, match="no zarr array at 'missing'"):
        open_zarr(bad)


def test_lenient_omero_and_selection_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    axes = [
        {"name": "c", "type": "channel"},
        {"name": "y", "type": "space", "unit": "millimeter"},
        {"name": "x", "type": "space", "unit": "millimeter"},
    ]
    write_image(
        group,
        [np.ones((3, 4, 4), "uint8")],
        axes,
        scales=[[1, 0.002, 0.001]],
        chunks=(1, 4, 4),
        omero={"channels": [{"label": "a"}]},
    )
    with pytest.warns(ImgioWarning, match="1 entries for 3 channels"):
        reader = open_zarr(path)
    info = reader.scenes()[0]
    assert (
        info.channel_names is not None
        and len(info.channel_names) == 3
        and info.channel_names[0] == "a"
    )
    assert (info.pixel_sizes.Y, info.pixel_sizes.X) == pytest.approx((2.0, 1.0))
    with pytest.raises(SelectionError, match=r"0\.\.0"):
        reader.source(0, 1)
    with pytest.raises(SelectionError):
        reader.source(1, 0)


def test_remote_fsspec_store() -> None:
    url = "memory://imgio-test/remote.ome.zarr"
    store = zarr.storage.FsspecStore.from_url(url, read_only=False)
    group = zarr.open_group(store, mode="w", zarr_format=3)
    yx = [
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]
    data = pyramid((30, 40), 2)
    write_image(group, data, yx, scales=[[0.3, 0.3], [0.6, 0.6]], chunks=(8, 8))
    location = Location(url)
    assert OmeZarrReader.sniff_location(location)
    reader = OmeZarrReader(location)
    src = reader.source(0, 1)
    np.testing.assert_array_equal(src[(slice(3, 11), slice(2, 17))], data[1][3:11, 2:17])
    clone = pickle.loads(pickle.dumps(src))  # same process: the memory filesystem is shared
    np.testing.assert_array_equal(clone[(slice(0, 15), slice(0, 20))], data[1])


def test_dataarray_coordinates(image_store: tuple[Path, list[np.ndarray], str]) -> None:
    from imgio.arrays._lazy import as_dataarray

    path, levels, _ = image_store
    reader = open_zarr(path)
    info = reader.scenes()[0]
    da0 = as_dataarray(reader.source(0, 0), info, 0)
    da2 = as_dataarray(reader.source(0, 2), info, 2)
    assert list(da0.coords["C"].values) == ["DAPI", "GFP"]
    np.testing.assert_allclose(da0.coords["X"].values[:3], [0.05, 0.25, 0.45])
    np.testing.assert_allclose(np.diff(da2.coords["Y"].values[:2]), [0.8])
    np.testing.assert_array_equal(da2.isel(T=0, C=1, Z=2).values, levels[2][1, 2])


# ---------------------------------------------------------------- real samples
def _sample_cases() -> list[Any]:
    """Every OME-Zarr directory of the shared samples and of tests/data/ome-zarr (own manifest)."""
    cases = []
    for manifest in (DATA / "manifest.json", SHARED / "manifest.json"):
        if not manifest.is_file():
            cases.append(
                pytest.param(
                    None, id=f"{manifest.parent.name}-absent", marks=pytest.mark.skip("absent")
                )
            )
            continue
        root = manifest.parent if manifest.parent != DATA else DATA.parent
        for entry in json.loads(manifest.read_text())["files"]:
            if entry.get("category") == "ome-zarr" and entry.get("kind") == "directory":
                cases.append(
                    pytest.param(
                        (root / entry["file"], entry), id=f"{manifest.parent.name}:{entry['file']}"
                    )
                )
    return cases


def _expected_scenes(gt: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(scene name or None, image ground truth) per scene the manifest describes."""
    if "plate" in gt:
        return [
            (f"{w}/{img}", gt["wells"][w]["field0"])
            for w in gt["plate"]["wells"]
            for img in gt["wells"][w]["images"][:1]
        ]
    if gt.get("layout") == "bioformats2raw":
        names = [im["name"] for im in gt["ome_xml"]["images"]]
        return [(names[int(k)] if names[int(k)] else k, v) for k, v in gt["series"].items()]
    return [(None, gt["image"])]


@pytest.mark.parametrize("case", _sample_cases())
def test_sample(case: tuple[Path, dict[str, Any]]) -> None:
    path, entry = case
    gt = entry["ground_truth"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImgioWarning)
        reader = open_zarr(path)
    scenes = list(reader.scenes())
    expected = _expected_scenes(gt)
    assert reader.zarr_format == gt["zarr_format"]
    for name, image in expected:
        index = 0 if name is None else [s.name for s in scenes].index(name)
        info = scenes[index]
        assert info.dims == image["level0"]["axes"]
        assert info.shapes == tuple(tuple(lv["shape"]) for lv in image["levels"])
        for level, lv in enumerate(image["levels"]):
            src = reader.source(index, level)
            assert (src.dtype.name, src.chunks) == (lv["dtype"], tuple(lv["chunks"]))
        level0 = read_all(reader, index, 0)
        assert sha256(level0) == image["level0"]["sha256"]
        for sample in image["level0"]["samples"]:
            assert level0[tuple(sample["index"])] == pytest.approx(sample["value"])
        omero = image.get("omero_channels")
        if omero:
            assert info.channel_names == tuple(c["label"] for c in omero)


# ---------------------------------------------------------------- through imgio.Image
def test_image_object(image_store: tuple[Path, list[np.ndarray], str]) -> None:
    import imgio

    path, levels, _ = image_store
    img = imgio.Image(path)
    assert img.reader.name == "ome-zarr"
    assert img.scenes == ("cells",)
    assert img.dims.order == "TCZYX" and img.shape == (1, *levels[0].shape)
    assert img.channel_names == ["DAPI", "GFP"]
    assert tuple(img.physical_pixel_sizes) == pytest.approx((1.0, 0.2, 0.2))
    np.testing.assert_array_equal(img.data[0], levels[0])  # read_into path
    np.testing.assert_array_equal(img.get_image_data("ZYX", C=1, T=0), levels[0][1])
    img.set_resolution_level(2)
    np.testing.assert_array_equal(img.xarray_dask_data.isel(T=0, C=0).values, levels[2][0])
