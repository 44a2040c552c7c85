"""Every TIFF-family sample against its manifest ground truth (tifffile's view).

Roots: ``tests/data`` (small files shipped with imgio) and the shared sample folder
(``IMGIO_SAMPLES`` or ``../shared/samples``), skipped when absent.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from samples import (
    ROOTS,
    array_sha256,
    assert_samples,
    assert_stats_close,
    expected_arrays,
    expected_error,
    load_manifest,
    tiff_entries,
    to_axes,
)

import imgio

#: what the error message must name, per bad file (a regex on the message)
BAD_MESSAGES = {
    "pillow-libtiff_segfault.tif": r"segment|offsets|byte counts|impossible",
    "pillow-oom-225817ca0f8c663be7ab4b9e717b02c661e66834.tif": r"corrupt|IFD",
    "libvips-truncated.jpg": r"truncated\.jpg: cannot decode JPEG frame 0: .*end-of-image",
    "openslide-unopenable.tiff": r"52479|compression",
    "histolab-broken.svs": r"not a TIFF file",
    "libvips-ojpeg-tile.tif": r"cannot decode segment 0 of plane 0.*JPEG",
}


def cases() -> list[Any]:
    out = []
    for root in ROOTS:
        if load_manifest(root) is None:
            out.append(
                pytest.param(
                    root,
                    None,
                    id=f"{root.name}-absent",
                    marks=pytest.mark.skip(reason=f"no manifest.json in {root}"),
                )
            )
            continue
        for entry in tiff_entries(root):
            out.append(pytest.param(root, entry, id=f"{root.name}:{entry['file']}"))
    return out


def _open_and_read_all(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imgio.ImgioWarning)
        img = imgio.Image(path)
        for scene in range(len(img.scenes)):
            img.get_image_data(scene=scene)


@pytest.mark.parametrize(("root", "entry"), cases())
def test_sample(root: Path, entry: dict[str, Any]) -> None:
    path = root / entry["file"]
    error = expected_error(entry)
    if entry["bad_input"] or error:
        with pytest.raises(imgio.ImgioError) as info:  # refusing at open or at read both count
            _open_and_read_all(path)
        pattern = BAD_MESSAGES.get(path.name)
        if pattern:
            assert re.search(pattern, str(info.value), re.IGNORECASE | re.DOTALL), str(info.value)
        return
    if entry["kind"] == "directory":
        check_companion(root, entry)
        return
    truth = entry["ground_truth"]
    img = imgio.Image(path)
    assert len(img.scenes) == truth["n_series"]
    for series in truth["series"]:
        assert len(img.get_multiscale(series["index"])) == series["n_levels"]
    for want in expected_arrays(entry):
        lazy = img.get_xarray_dask_data(scene=want.scene, level=want.level)
        dims = "".join(map(str, lazy.dims))
        if want.level > 0:  # the manifest records shapes only; compare the lazy shape
            shape = to_axes(np.empty(lazy.shape, np.uint8), dims, want.axes, want.shape).shape
            assert (shape, lazy.dtype) == (want.shape, want.dtype), want.label
            continue
        got = to_axes(img.get_image_data(scene=want.scene, level=0), dims, want.axes, want.shape)
        assert (got.shape, got.dtype) == (want.shape, want.dtype), want.label
        if want.lossy:
            assert want.stats is not None
            assert_stats_close(got, want.stats, lossy=True)
        else:
            assert array_sha256(got) == want.sha256, want.label
            assert_samples(got, want)
        # the dask path gives the same pixels as the direct read (a corner of big images)
        corner = lazy.isel(Y=slice(0, 512), X=slice(0, 512))
        if corner.shape == lazy.shape:
            np.testing.assert_array_equal(to_axes(corner.values, dims, want.axes, want.shape), got)
        else:
            direct = img.get_image_data(scene=want.scene, Y=slice(0, 512), X=slice(0, 512))
            np.testing.assert_array_equal(corner.values, direct)
    check_metadata(img, entry)


def check_metadata(img: imgio.Image, entry: dict[str, Any]) -> None:
    truth = entry["ground_truth"]
    path = Path(img.path)
    sizes = img.physical_pixel_sizes
    if "ome" in truth:
        for i, image in enumerate(truth["ome"]["images"]):
            img.set_scene(i)
            got = img.physical_pixel_sizes
            for d in "XYZ":
                value, unit = image["physical_size"][d], image["physical_size"][f"{d}_unit"]
                want = imgio_um(value, unit)
                assert getattr(got, d) == pytest.approx(want), (d, got, image["physical_size"])
            names = img.channel_names
            assert names is not None and len(names) == img.dims.C
            if len(image["channels"]) == img.dims.C:
                for got_name, channel in zip(names, image["channels"], strict=True):
                    if channel["name"]:
                        assert got_name == channel["name"]
            assert img.current_scene == (image["name"] or f"Image:{i}")
        img.set_scene(0)
    if "imagej_metadata" in truth:
        meta = truth["imagej_metadata"]
        unit = (meta.get("unit") or "pixel").replace("\\u00B5", "µ")
        if unit in ("pixel", ""):
            assert (sizes.X, sizes.Y) == (None, None)
        else:
            res = truth["resolution"]["XResolution"]
            assert unit == "µm"
            assert sizes.X == pytest.approx(res[1] / res[0])
            if "spacing" in meta:
                assert sizes.Z == pytest.approx(meta["spacing"])
    if "svs_description_head" in truth:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            found = re.search(r"MPP\s*=\s*([0-9.]+)", tif.pages.first.description)
        if found is None:
            assert (sizes.X, sizes.Y) == (None, None)
            return
        mpp = float(found.group(1))
        assert (sizes.X, sizes.Y) == (mpp, mpp)  # level 0 exactly as written
        # the same tissue extent at every level
        extents = [float(a.X[-1] - a.X[0] + (a.X[1] - a.X[0])) for a in img.multiscale]
        assert extents == pytest.approx([extents[0]] * len(extents), rel=0.01)
    if "stk_metadata" in truth:
        stk = truth["stk_metadata"]
        if stk.get("CalibrationUnits") in ("", "pixel", None):  # uncalibrated: no size
            assert sizes == imgio.PhysicalPixelSizes(None, None, None)
        elif stk.get("CalibrationUnits") in ("um", "µm", "micron"):
            assert sizes.X == pytest.approx(stk["XCalibration"])
    if "fei_pixel_size_m" in truth:
        fei = truth["fei_pixel_size_m"]
        assert sizes.X == pytest.approx(fei["PixelWidth"] * 1e6)
        assert sizes.Y == pytest.approx(fei["PixelHeight"] * 1e6)


def imgio_um(value: float | None, unit: str | None) -> float | None:
    if value is None:
        return None
    factor = {"µm": 1.0, "nm": 1e-3, "mm": 1e3, "m": 1e6, None: 1.0}[unit]
    return value * factor


def check_companion(root: Path, entry: dict[str, Any]) -> None:
    """A companion ``.ome`` + BinaryOnly TIFFs: the assembled image equals the files' planes."""
    truth = entry["ground_truth"]
    folder = root / entry["file"]
    image = truth["companion"]["images"][0]
    img = imgio.Image(folder / truth["companion_file"])
    assert img.reader.name == "ome-companion"
    assert img.scenes == (image["name"],)
    files = image["tiff_data_files"]
    size = image["size"]
    plane = truth["tiff_files"][files[0]]["series"][0]["level0"]
    samples = plane["shape"][-1] if plane["axes"].endswith("S") else 1
    assert img.dims.order == "TCZYX" + ("S" if samples > 1 else "")
    assert img.shape[:5] == (size["T"], size["C"], size["Z"], size["Y"], size["X"])
    # with one plane per file and FirstZ in file order, plane z is file z
    for z, name in enumerate(files):
        want = truth["tiff_files"][name]["series"][0]["level0"]
        got = img.get_image_data("YXS" if samples > 1 else "YX", Z=z, T=0, C=0)
        assert (
            array_sha256(to_axes(got, "YXS"[: got.ndim], want["axes"], tuple(want["shape"])))
            == want["sha256"]
        ), name
    # opening the folder finds the companion inside it
    assert imgio.Image(folder).shape == img.shape
