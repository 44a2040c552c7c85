"""OME-Zarr 0.6 (RFC-5 coordinate systems and transformations), stores written by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

import imgio

RNG = np.random.default_rng(60)
LEVEL0 = RNG.integers(0, 60000, (2, 5, 64, 80), dtype=np.uint16)  # c z y x
PHYSICAL = {
    "name": "physical",
    "axes": [
        {"name": "c", "type": "channel"},
        {"name": "z", "type": "space", "unit": "micrometer"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "nanometer"},
    ],
}


def store_06(
    path: Path,
    levels: list[np.ndarray[Any, Any]],
    transforms: list[list[dict[str, Any]]],
    systems: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Path:
    """A 0.6 image group: arrays ``s0``, ``s1``... and the ``ome`` attributes given."""
    group = zarr.open_group(path, mode="w", zarr_format=3)
    datasets = []
    for k, (data, cts) in enumerate(zip(levels, transforms, strict=True)):
        group.create_array(f"s{k}", data=data, chunks=(1, 1, 32, 32)[-data.ndim :])
        for ct in cts:
            ct.setdefault("input", f"s{k}")
            ct.setdefault("output", "physical")
        datasets.append({"path": f"s{k}", "coordinateTransformations": cts})
    multiscale = {
        "name": "hand-made",
        "coordinateSystems": systems or [PHYSICAL],
        "datasets": datasets,
        **extra,
    }
    group.attrs["ome"] = {"version": "0.6", "multiscales": [multiscale]}
    return path


def _seq(scale: list[float], translation: list[float]) -> dict[str, Any]:
    return {
        "type": "sequence",
        "transformations": [
            {"type": "scale", "scale": scale},
            {"type": "translation", "translation": translation},
        ],
    }


def test_sequence_of_scale_and_translation(tmp_path: Path) -> None:
    level1 = LEVEL0[:, :, ::2, ::2]
    path = store_06(
        tmp_path / "seq.ome.zarr",
        [LEVEL0, level1],
        [
            [_seq([1, 2.0, 0.5, 250.0], [0, 10.0, 20.0, 3000.0])],
            [_seq([1, 2.0, 1.0, 500.0], [0, 10.0, 20.25, 3125.0])],
        ],
        # the multiscale's own transformation leads elsewhere; not applied
        coordinateTransformations=[
            {
                "type": "translation",
                "translation": [0, 1e6, 1e6, 1e6],
                "input": "physical",
                "output": "world",
            }
        ],
    )
    img = imgio.Image(path)
    assert img.reader.scenes()[0].dims == "CZYX" and img.scenes == ("hand-made",)
    assert tuple(img.physical_pixel_sizes) == pytest.approx((2.0, 0.5, 0.25))
    np.testing.assert_array_equal(img.get_image_data("CZYX"), LEVEL0)
    da = img.xarray_dask_data
    assert float(da.X[0]) == pytest.approx(3.0) and float(da.Y[1]) == pytest.approx(20.5)
    assert float(da.Z[0]) == pytest.approx(10.0)
    img.set_resolution_level(1)
    np.testing.assert_array_equal(img.get_image_data("CZYX"), level1)
    assert img.physical_pixel_sizes.X == pytest.approx(0.5)


def test_map_axis_permutes_the_dims(tmp_path: Path) -> None:
    """The array is stored x-major (dim_0 is x): mapAxis says so; imgio presents Y X."""
    stored = np.ascontiguousarray(np.swapaxes(LEVEL0, 2, 3))  # c z x y
    array_cs = {"name": "array", "axes": [{"name": f"dim_{i}", "type": "array"} for i in range(4)]}
    cts = [
        {
            "type": "sequence",
            "transformations": [
                {
                    "type": "mapAxis",
                    "mapAxis": {"c": "dim_0", "z": "dim_1", "y": "dim_3", "x": "dim_2"},
                    "input": "array",
                    "output": "physical",
                },
                {"type": "scale", "scale": [1, 1.5, 0.5, 750.0]},
            ],
        }
    ]
    path = store_06(tmp_path / "map.ome.zarr", [stored], [cts], [PHYSICAL, array_cs])
    img = imgio.Image(path)
    assert img.reader.scenes()[0].dims == "CZXY"
    np.testing.assert_array_equal(img.get_image_data("CZYX"), LEVEL0)
    assert tuple(img.physical_pixel_sizes) == pytest.approx((1.5, 0.5, 0.75))


def test_affine_inverse_and_by_dimension(tmp_path: Path) -> None:
    affine = {
        "type": "affine",
        "affine": [[1, 0, 0, 0, 0], [0, 3, 0, 0, 1], [0, 0, 0.5, 0, 2], [0, 0, 0, 500, 0]],
    }
    inverse = {"type": "inverseOf", "transformation": {"type": "scale", "scale": [1, 0.5, 4, 2]}}
    by_dim = {
        "type": "byDimension",
        "input": "s2",
        "output": "physical",
        "transformations": [
            {
                "type": "scale",
                "scale": [4.0, 0.125],
                "input": ["dim_1", "dim_2"],
                "output": ["z", "y"],
            },
            {"type": "identity", "input": ["dim_0", "dim_3"], "output": ["c", "x"]},
        ],
    }
    path = store_06(tmp_path / "mix.ome.zarr", [LEVEL0] * 3, [[affine], [inverse], [by_dim]])
    info = imgio.Image(path).reader.scenes()[0]
    assert info.level_scales is not None
    assert info.level_scales[0] == pytest.approx({"Z": 3.0, "Y": 0.5, "X": 0.5})
    assert info.origin == pytest.approx({"Z": 1.0, "Y": 2.0, "X": 0.0})
    assert info.level_scales[1] == pytest.approx({"Z": 2.0, "Y": 0.25, "X": 0.0005})
    assert info.level_scales[2] == pytest.approx({"Z": 4.0, "Y": 0.125, "X": 0.001})


@pytest.mark.parametrize(
    "transform",
    [
        {"type": "displacements", "path": "coordinateTransformations/field"},
        {
            "type": "rotation",
            "rotation": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0.6, -0.8], [0, 0, 0.8, 0.6]],
        },
        {"type": "scale", "path": "params/scale"},
        {"type": "twist", "angle": 3},
        {"type": "sequence", "transformations": []},
        {"type": "scale", "scale": [1, -1.0, 0.5, 250.0]},
    ],
    ids=["displacements", "rotation", "scale-in-array", "unknown", "empty-sequence", "negative"],
)
def test_unplaceable_transform_warns_and_reads_pixels(tmp_path: Path, transform: Any) -> None:
    path = store_06(tmp_path / "odd.ome.zarr", [LEVEL0], [[transform]])
    with pytest.warns(imgio.ImgioWarning, match="read in pixel units"):
        img = imgio.Image(path)
    np.testing.assert_array_equal(img.get_image_data("CZYX"), LEVEL0)
    assert tuple(img.physical_pixel_sizes) == (None, None, None)


def test_written_by_hand_matches_zarr(tmp_path: Path) -> None:
    """Two scenes' worth: a 2-D 0.6 image beside labels is read as zarr reads it."""
    plane = RNG.integers(0, 255, (70, 90), dtype=np.uint8)
    group = zarr.open_group(tmp_path / "two.ome.zarr", mode="w", zarr_format=3)
    group.create_array("0", data=plane, chunks=(32, 32))
    group.attrs["ome"] = {
        "version": "0.6",
        "multiscales": [
            {
                "coordinateSystems": [
                    {
                        "name": "um",
                        "axes": [
                            {"name": "y", "type": "space", "unit": "millimeter"},
                            {"name": "x", "type": "space", "unit": "millimeter"},
                        ],
                    }
                ],
                "datasets": [
                    {
                        "path": "0",
                        "coordinateTransformations": [
                            {"type": "scale", "scale": [0.001, 0.002], "input": "0", "output": "um"}
                        ],
                    }
                ],
            }
        ],
    }
    img = imgio.Image(tmp_path / "two.ome.zarr")
    np.testing.assert_array_equal(
        img.get_image_data("YX"), zarr.open_array(tmp_path / "two.ome.zarr" / "0", mode="r")[...]
    )
    assert (img.physical_pixel_sizes.Y, img.physical_pixel_sizes.X) == pytest.approx((1.0, 2.0))
