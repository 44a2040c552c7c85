"""Per-tool adapters for the read benchmarks: each returns a ready-to-time reader.

A ``region_<tool>(path, level, size)`` opens the file (untimed setup) and returns
``read(y0, x0) -> ndarray`` of the ``size`` × ``size`` region at ``level`` whose
top-left corner is ``(y0, x0)`` in that level's pixels. ``floor_*`` are the
no-framework floors: exactly the needed bytes with ``os.pread``, decoded with
imagecodecs on a two-thread pool.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

Read = Callable[[int, int], np.ndarray]
FLOOR_THREADS = 2


# ------------------------------------------------------------------ floors
class TileFloor:
    """Covering JPEG tiles of one pyramid level: pread, jpeg_decode(tables), crop into place."""

    def __init__(self, path: str, level: int) -> None:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.series[0].levels[level].keyframe
            self.offsets = [int(v) for v in page.dataoffsets]
            self.counts = [int(v) for v in page.databytecounts]
            self.tables = page.jpegtables
            self.tile = (int(page.tilelength), int(page.tilewidth))
            self.shape = (int(page.imagelength), int(page.imagewidth), int(page.samplesperpixel))
        self.grid_x = -(-self.shape[1] // self.tile[1])
        self.fd = os.open(path, os.O_RDONLY)
        self.pool = ThreadPoolExecutor(FLOOR_THREADS)

    def covering(self, y0: int, x0: int, h: int, w: int) -> list[tuple[int, int]]:
        th, tw = self.tile
        return [
            (ty, tx)
            for ty in range(y0 // th, (y0 + h - 1) // th + 1)
            for tx in range(x0 // tw, (x0 + w - 1) // tw + 1)
        ]

    def read(self, y0: int, x0: int, h: int, w: int) -> np.ndarray:
        from imagecodecs import jpeg_decode

        out = np.empty((h, w, self.shape[2]), np.uint8)
        th, tw = self.tile

        def one(t: tuple[int, int]) -> None:
            ty, tx = t
            i = ty * self.grid_x + tx
            tile = jpeg_decode(
                os.pread(self.fd, self.counts[i], self.offsets[i]), tables=self.tables
            )
            ys, xs = max(y0, ty * th), max(x0, tx * tw)
            ye, xe = min(y0 + h, ty * th + th), min(x0 + w, tx * tw + tw)
            out[ys - y0 : ye - y0, xs - x0 : xe - x0] = tile[
                ys - ty * th : ye - ty * th, xs - tx * tw : xe - tx * tw
            ]

        for _ in self.pool.map(one, self.covering(y0, x0, h, w)):
            pass
        return out


class StripFloor:
    """Uncompressed planes: read every strip straight into its place in the output
    (``os.preadv``: for raw samples the read is the decode), on two threads."""

    def __init__(self, path: str) -> None:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            self.shape = tuple(int(v) for v in series.shape)
            self.dtype = series.dtype
            self.strips = [
                ([int(v) for v in p.dataoffsets], [int(v) for v in p.databytecounts])
                for p in series.pages
            ]
        self.fd = os.open(path, os.O_RDONLY)
        self.pool = ThreadPoolExecutor(FLOOR_THREADS)
        self.plane_bytes = int(np.prod(self.shape[-2:])) * self.dtype.itemsize

    def _fill(self, flat: np.ndarray, row: int, plane: int) -> None:
        pos = 0
        view = memoryview(flat[row])
        for offset, count in zip(*self.strips[plane], strict=True):
            done = 0
            while done < count:
                done += os.preadv(self.fd, [view[pos + done : pos + count]], offset + done)
            pos += count

    def plane(self, index: int) -> np.ndarray:
        out = np.empty(self.shape[-2:], self.dtype)
        self._fill(out.reshape(1, -1).view(np.uint8), 0, index)
        return out

    def whole(self) -> np.ndarray:
        out = np.empty(self.shape, self.dtype)
        flat = out.reshape(len(self.strips), -1).view(np.uint8)
        for _ in self.pool.map(lambda i: self._fill(flat, i, i), range(len(self.strips))):
            pass
        return out


# ----------------------------------------------------------- region readers
def region_floor(path: str, level: int, size: int) -> Read:
    floor = TileFloor(path, level)
    return lambda y, x: floor.read(y, x, size, size)


def region_imgio(path: str, level: int, size: int) -> Read:
    import imgio

    xa = imgio.Image(path).get_xarray_dask_data(level=level)
    return lambda y, x: xa.isel(Y=slice(y, y + size), X=slice(x, x + size)).values


def _engine_array(path: str, level: int) -> Any:
    """``xr.open_dataarray(engine="imgio")``: lazily indexed by xarray, no dask, no cache."""
    import xarray as xr

    return xr.open_dataarray(path, engine="imgio", level=level, cache=False)


def region_imgio_engine(path: str, level: int, size: int) -> Read:
    xa = _engine_array(path, level)
    return lambda y, x: xa.isel(Y=slice(y, y + size), X=slice(x, x + size)).values


def region_tifffile_zarr(path: str, level: int, size: int) -> Read:
    import tifffile
    import zarr

    tif = tifffile.TiffFile(path)
    z = zarr.open(tif.series[0].aszarr(level=level), mode="r")
    return lambda y, x: z[y : y + size, x : x + size]


def region_tiffslide(path: str, level: int, size: int) -> Read:
    import tiffslide

    slide = tiffslide.TiffSlide(path)
    ds = 2**level
    return lambda y, x: slide.read_region((x * ds, y * ds), level, (size, size), as_array=True)


def region_openslide(path: str, level: int, size: int) -> Read:
    import openslide

    slide = openslide.OpenSlide(path)
    slide.set_cache(openslide.OpenSlideCache(0))  # no tile cache: each read decodes
    ds = 2**level
    return lambda y, x: np.asarray(slide.read_region((x * ds, y * ds), level, (size, size)))


def region_pyvips(path: str, level: int, size: int) -> Read:
    import pyvips

    pyvips.cache_set_max(0)  # no operation cache: each read decodes
    image = pyvips.Image.new_from_file(path, page=level, access="random")
    return lambda y, x: image.crop(x, y, size, size).numpy()


def region_large_image(path: str, level: int, size: int) -> Read:
    import large_image
    import large_image_source_tiff

    source = large_image_source_tiff.open(path)
    ds = 2**level
    fmt = large_image.constants.TILE_FORMAT_NUMPY
    scale = {"output": {"maxWidth": size, "maxHeight": size}} if level else {}

    def read(y: int, x: int) -> np.ndarray:
        region = {
            "left": x * ds,
            "top": y * ds,
            "width": size * ds,
            "height": size * ds,
            "units": "base_pixels",
        }
        return np.asarray(source.getRegion(region=region, format=fmt, **scale)[0])

    return read


def region_bioio(path: str, level: int, size: int) -> Read:
    from bioio import BioImage

    image = BioImage(path)
    image.set_resolution_level(level)
    data = image.get_image_dask_data("YXS")
    return lambda y, x: data[y : y + size, x : x + size].compute()


REGION = {
    "floor": region_floor,
    "imgio": region_imgio,
    "imgio (xarray engine, no dask)": region_imgio_engine,
    "tifffile+zarr": region_tifffile_zarr,
    "tiffslide": region_tiffslide,
    "openslide": region_openslide,
    "pyvips": region_pyvips,
    "large_image": region_large_image,
    "bioio": region_bioio,
}


# -------------------------------------------------------------------- opens
def open_tifffile(path: str) -> None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        [level.shape for level in series.levels]


def open_imgio(path: str) -> None:
    import imgio

    with imgio.Image(path) as img:
        img.dims  # noqa: B018 - touching is the point
        img.resolution_levels  # noqa: B018


def open_imgio_graph(path: str) -> None:
    import imgio

    with imgio.Image(path) as img:
        img.get_xarray_dask_data()


def open_bioio(path: str) -> None:
    from bioio import BioImage

    image = BioImage(path)
    image.dims  # noqa: B018
    image.close() if hasattr(image, "close") else None


OPEN = {
    "tifffile": open_tifffile,
    "imgio": open_imgio,
    "imgio + DataArray": open_imgio_graph,
    "bioio": open_bioio,
}


# ------------------------------------------------------- one plane / whole
def plane_readers(path: str) -> dict[str, Callable[[], Callable[[], Any]]]:
    """Each value sets up (untimed) and returns the timed read of plane T=0, C=0, Z=0."""

    def floor() -> Callable[[], Any]:
        f = StripFloor(path)
        return lambda: f.plane(0)

    def imgio_xarray() -> Callable[[], Any]:
        import imgio

        xa = imgio.Image(path).get_xarray_dask_data()
        return lambda: xa.isel(T=0, C=0, Z=0).values

    def imgio_get() -> Callable[[], Any]:
        import imgio

        img = imgio.Image(path)
        return lambda: img.get_image_data("YX", T=0, C=0, Z=0)

    def imgio_engine() -> Callable[[], Any]:
        xa = _engine_array(path, 0)
        return lambda: xa.isel(T=0, C=0, Z=0).values

    def tiff_imread() -> Callable[[], Any]:
        import tifffile

        return lambda: tifffile.imread(path, key=0)

    def tiff_zarr() -> Callable[[], Any]:
        import tifffile
        import zarr

        z = zarr.open(tifffile.TiffFile(path).series[0].aszarr(), mode="r")
        return lambda: z[0, 0, 0]

    def bioio() -> Callable[[], Any]:
        from bioio import BioImage

        image = BioImage(path)
        return lambda: image.get_image_dask_data("YX", T=0, C=0, Z=0).compute()

    return {
        "floor": floor,
        "imgio (xarray isel)": imgio_xarray,
        "imgio (get_image_data)": imgio_get,
        "imgio (xarray engine, no dask)": imgio_engine,
        "tifffile+zarr": tiff_zarr,
        "tifffile.imread(key=0)": tiff_imread,
        "bioio": bioio,
    }


def whole_readers(path: str) -> dict[str, Callable[[], Callable[[], Any]]]:
    """Each value sets up (untimed, fresh per repeat: no tool may serve a cached array)."""

    def floor() -> Callable[[], Any]:
        return StripFloor(path).whole

    def imgio_xarray() -> Callable[[], Any]:
        import imgio

        xa = imgio.Image(path).get_xarray_dask_data()
        return lambda: xa.values

    def imgio_data() -> Callable[[], Any]:
        import imgio

        img = imgio.Image(path)
        return lambda: img.data

    def imgio_engine() -> Callable[[], Any]:
        xa = _engine_array(path, 0)
        return lambda: xa.values

    def tiff_imread() -> Callable[[], Any]:
        import tifffile

        return lambda: tifffile.imread(path)

    def bioio() -> Callable[[], Any]:
        from bioio import BioImage

        image = BioImage(path)
        return lambda: image.get_image_data("TCZYX")

    return {
        "floor": floor,
        "imgio (xarray .values)": imgio_xarray,
        "imgio (Image.data)": imgio_data,
        "imgio (xarray engine, no dask)": imgio_engine,
        "tifffile.imread": tiff_imread,
        "bioio": bioio,
    }
