"""The reader conformance suite: what holds for one reader holds for every reader.

Every line of :data:`tests.conformance.cases.CASES` runs every test here (as zarr-python
runs one ``StoreTests`` over every store, and large_image one table over every tile
source). A new reader joins with one line there. What is checked, per scene and level:

- pickling an ``Image`` and each array source gives equal objects that read equal pixels;
- a read over the loopback HTTP range server equals the local read;
- after ``close()`` no file handle of the sample is left open;
- region reads equal ``whole[slices]`` through the source, dask and the lazy array;
- every level covers the same physical extent (coordinates in µm);
- scenes are independent: what is read for scene ``k`` is the same whichever scene is
  current;
- the tile verbs (``get_region``, ``get_tile``, ``thumbnail``) agree with region reads;
- a short mutation run gives only imgio errors.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

import imgio
from imgio.tiles import TileSource

from .cases import CASES, Case

pytestmark = pytest.mark.filterwarnings("ignore::imgio.ImgioWarning")


@pytest.fixture(scope="module", params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    spec: Case = request.param
    path = spec.make(tmp_path_factory.mktemp(spec.name))
    return spec, path


def _open(path: Path | str) -> imgio.Image:
    return imgio.Image(path)


def _windows(shape: tuple[int, ...], dims: str, rng: random.Random) -> Iterator[tuple[slice, ...]]:
    """A few seeded windows: the whole, a corner, an odd interior box."""
    yield tuple(slice(0, n) for n in shape)
    for _ in range(3):
        key = []
        for d, n in zip(dims, shape, strict=True):
            if d in "YX" and n > 1:
                a = rng.randrange(n)
                b = rng.randrange(a + 1, n + 1)
                key.append(slice(a, b))
            else:
                a = rng.randrange(n)
                key.append(slice(a, a + 1))
        yield tuple(key)


def _levels(file: imgio.ImageFile) -> Iterator[tuple[int, int]]:
    for s in range(file.n_scenes):
        for level in range(file.n_levels(s)):
            yield s, level


def test_opens_with_its_reader(case: Any) -> None:
    spec, path = case
    with _open(path) as img:
        assert img.reader.name == spec.reader
        assert img.scenes and all(isinstance(n, str) for n in img.scenes)


def test_pickles(case: Any) -> None:
    _, path = case
    with _open(path) as img:
        clone = pickle.loads(pickle.dumps(img))
        assert clone.scenes == img.scenes
        for s, level in _levels(img.file):
            assert clone.file.presented(s, level) == img.file.presented(s, level)
            assert clone.file.channel_names(s) == img.file.channel_names(s)
            assert clone.file.physical_pixel_sizes(s, level) == img.file.physical_pixel_sizes(
                s, level
            )
            src = img.file.source(s, level)
            again = pickle.loads(pickle.dumps(src))
            corner = tuple(slice(0, min(n, 16)) for n in src.shape)
            np.testing.assert_array_equal(again[corner], src[corner])
        clone.close()


def test_remote_equals_local(case: Any) -> None:
    spec, path = case
    if spec.local_only:
        pytest.skip(f"{spec.name}: {spec.local_only}")
    from _servers import RangeHTTPServer

    server = RangeHTTPServer(path.parent).start()
    try:
        with _open(path) as local, _open(f"{server.url}/{path.name}") as remote:
            assert remote.scenes == local.scenes
            for s in range(len(local.scenes)):
                n = local.file.n_levels(s)
                assert remote.file.n_levels(s) == n
                assert remote.file.channel_names(s) == local.file.channel_names(s)
                level = n - 1
                np.testing.assert_array_equal(remote.file.read(s, level), local.file.read(s, level))
    finally:
        server.stop()


def test_no_handle_left_after_close(case: Any) -> None:
    _, path = case
    here = psutil.Process()
    root = os.path.realpath(path if path.is_dir() else path.parent)
    before = {f.path for f in here.open_files()}
    img = _open(path)
    for s, level in _levels(img.file):
        img.file.read(s, level)
    img.close()
    left = {f.path for f in here.open_files()} - before
    assert not [p for p in left if os.path.realpath(p).startswith(root)]


def test_regions_equal_whole_slices(case: Any) -> None:
    _, path = case
    rng = random.Random(7)
    with _open(path) as img:
        file = img.file
        for s, level in _levels(file):
            src = file.source(s, level)
            if np.prod(src.shape) * src.dtype.itemsize > 64 << 20:
                continue  # the suite stays fast; big levels are covered by their coarser ones
            whole = file.read(s, level)
            lazy = file.lazy_dataarray(s, level)
            dask = file.dataarray(s, level)
            for key in _windows(src.shape, src.dims, rng):
                want = whole[key]
                np.testing.assert_array_equal(src[key], want)
                np.testing.assert_array_equal(np.asarray(dask.data[key].compute()), want)
                np.testing.assert_array_equal(lazy[key].values, want)


def test_levels_cover_the_same_extent(case: Any) -> None:
    _, path = case
    with _open(path) as img:
        file = img.file
        for s in range(file.n_scenes):
            full = file.dataarray(s, 0)
            for level in range(1, file.n_levels(s)):
                arr = file.dataarray(s, level)
                for d in "YX":
                    if d not in full.coords or full.sizes[d] < 2 or arr.sizes[d] < 2:
                        continue
                    step0 = float(full[d][1] - full[d][0])
                    step = float(arr[d][1] - arr[d][0])
                    extent0 = float(full[d][0]) - step0 / 2, float(full[d][-1]) + step0 / 2
                    extent = float(arr[d][0]) - step / 2, float(arr[d][-1]) + step / 2
                    assert extent[0] == pytest.approx(extent0[0], abs=step)
                    assert extent[1] == pytest.approx(extent0[1], abs=step)


def test_scenes_are_independent(case: Any) -> None:
    """Scene ``k`` reads the same whichever scene is current (the old scale-bar bug)."""
    _, path = case
    with _open(path) as img, _open(path) as fresh:
        n = len(img.scenes)
        for k in range(n):
            img.set_scene((k + 1) % n)  # another scene is current
            fresh.set_scene(k)
            assert img.get_xarray_dask_data(k).attrs == fresh.xarray_dask_data.attrs
            for d in img.get_xarray_dask_data(k).coords:
                np.testing.assert_array_equal(
                    img.get_xarray_dask_data(k)[d].values, fresh.xarray_dask_data[d].values
                )
            geometry = TileSource(img.file, k).geometry
            assert (geometry.mpp_x, geometry.mpp_y) == (
                fresh.physical_pixel_sizes.X,
                fresh.physical_pixel_sizes.Y,
            )
            assert TileSource(img, k).geometry.channel_names == fresh.channel_names
            corner = tuple(slice(0, min(n, 8)) for n in fresh.shape)
            np.testing.assert_array_equal(
                np.asarray(img.get_xarray_dask_data(k).data[corner]),
                np.asarray(fresh.dask_data[corner]),
            )


def test_tile_verbs_agree_with_regions(case: Any) -> None:
    _, path = case
    with _open(path) as img:
        for s in range(len(img.scenes)):
            ts = TileSource(img.file, s)
            geo = ts.geometry
            if geo.bands not in (1, 3, 4):
                continue
            z = geo.levels - 1  # full resolution
            tile = np.asarray(ts.get_tile(0, 0, z, format="numpy"))
            w, h = min(geo.tile_width, geo.width), min(geo.tile_height, geo.height)
            region = np.asarray(ts.get_region(left=0, top=0, width=w, height=h, format="numpy"))
            np.testing.assert_array_equal(tile, region)
            sel = {d: 0 for d in geo.frame_dims}
            whole = img.file.source(s, 0)
            order = img.file.presented(s, 0)[0]
            key = tuple(
                slice(0, h) if d == "Y" else slice(0, w) if d == "X" else
                slice(None) if d == "S" else slice(sel[d], sel[d] + 1)
                for d in order
            )  # fmt: skip
            plain = whole[
                tuple(
                    slice(k.start or 0, k.stop or n) for k, n in zip(key, whole.shape, strict=True)
                )
            ]
            np.testing.assert_array_equal(region.reshape(plain.squeeze().shape), plain.squeeze())
            thumb = np.asarray(ts.thumbnail(64, 64, format="numpy"))
            assert 0 < max(thumb.shape[:2]) <= 64


def test_mutants_give_imgio_errors(case: Any, tmp_path: Path) -> None:
    """A short structure-aware mutation run: every outcome is a read or an imgio error."""
    from fuzzing.families import FAMILIES

    spec, path = case
    family = FAMILIES[spec.family]
    for seed in range(6):
        work = tmp_path / f"m{seed}"
        work.mkdir()
        copy = _copy_sample(path, work)
        family.mutate(_mutable(copy), random.Random(seed))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _exercise(copy)
        except imgio.ImgioError:
            pass


def _copy_sample(path: Path, work: Path) -> Path:
    """The sample (with its sibling files for multi-file sets) copied into ``work``."""
    if path.is_dir():
        target = work / path.name
        shutil.copytree(path, target)
        return target
    if path.parent.name in ("data",):
        shutil.copy2(path, work / path.name)
        return work / path.name
    target = work / path.parent.name
    shutil.copytree(path.parent, target)
    return target / path.name


def _mutable(copy: Path) -> Path:
    """What the family's mutator edits: the file itself, or the set's folder."""
    return copy if copy.is_file() and copy.suffix not in (".xlef",) else copy.parent


def _exercise(path: Path) -> None:
    with imgio.Image(path) as img:
        file = img.file
        for s in range(min(file.n_scenes, 3)):
            _ = file.channel_names(s), file.physical_pixel_sizes(s), file.info(s)
            level = file.n_levels(s) - 1
            src = file.source(s, level)
            corner = tuple(slice(0, min(n, 32)) for n in src.shape)
            src[corner]
        _ = img.metadata
        _ = img.ome_metadata


def test_references_read_equal_or_refuse(case: Any) -> None:
    """``imgio.references``: plain zarr over the byte ranges reads what imgio reads, every
    level; a reader (or file) whose chunks are no byte ranges says so with
    ``NotByteRangesError``."""
    import fsspec
    import zarr
    from imagecodecs.numcodecs import register_codecs

    register_codecs(verbose=False)
    _, path = case
    with _open(path) as img:
        for s in range(img.file.n_scenes):
            try:
                refs = imgio.references(img, scene=s)
            except imgio.NotByteRangesError:
                continue
            fs = fsspec.filesystem("reference", fo=refs, asynchronous=True)
            group = zarr.open_group(zarr.storage.FsspecStore(fs, read_only=True), mode="r")
            for level in range(img.file.n_levels(s)):
                src = img.reader.source(s, level)
                whole = tuple(slice(0, n) for n in src.shape)
                np.testing.assert_array_equal(group[str(level)][...], src[whole])
