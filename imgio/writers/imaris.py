"""Imaris 5.5 ``.ims`` files (HDF5, h5py): a resolution pyramid, histograms, a thumbnail.

One scene is one Imaris data set: ``DataSet/ResolutionLevel r/TimePoint t/Channel c/Data``
volumes (Z, Y, X), chunked and gzip-compressed, each padded to whole chunks as Imaris
writes them, with the image size in the channel group's ``ImageSizeX/Y/Z``. Each level
halves the dimensions ImarisWriter's rule picks (:mod:`._ims_pyramid`: Y and X, and Z
too once the planes are small next to the depth). ``DataSetInfo`` holds the
extents (origin + size x pixel size, µm), channel names, colours and display ranges,
and the time points (from the T coordinates in seconds); ``Thumbnail/Data`` is a
maximum projection of the smallest level in the channels' colours (RGBA, at most 256
pixels a side).

Streaming: for each time point and channel, Z slabs of one chunk depth (times the
pyramid's Z factor when levels halve Z) are read from the source one chunk row
(slab depth x chunk height x X) at a time. A level that halves Z gets chunks of
proportionally fewer planes, so each slab still writes whole chunks. Each level gathers
rows until it holds a whole chunk row, writes it (every chunk is compressed once) and
hands its half to the level below; the rows left at the end of a slab are flushed the
same way. Memory stays at about two chunk rows (slab depth x chunk height x X, over all
levels), whatever the size of the image or the number of time points, channels or levels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImgioError, require
from ._extra import extra_dims, extra_dims_error
from ._ims_pyramid import Halving, halve, ims_levels, slab_depth, z_factors
from ._input import Scene
from ._pyramid import check_method, level_count

__all__ = ["IMS_DTYPES", "write_ims"]

#: pixel types Imaris opens
IMS_DTYPES = ("uint8", "uint16", "uint32", "float32")
DEFAULT_CHUNKS = (16, 128, 128)
THUMBNAIL = 256
PIECE = 1 << 18  # values per histogram step
#: colours of channels that carry none (Imaris' defaults: red, green, blue, then grey)
PALETTE = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 1.0))
#: the first time point's clock, when the data say nothing of the acquisition date
EPOCH = datetime(2000, 1, 1)


def chars(text: str) -> np.ndarray[Any, Any]:
    """Text as Imaris stores attributes: an array of one-byte strings."""
    return np.frombuffer(text.encode("utf-8"), dtype="S1").copy()


def _plan(scene: Scene) -> tuple[Any, list[str], list[int | None] | None]:
    """The scene's ``T C Z Y X`` pixels (RGB samples as channels), names and colours."""
    if extra_dims(scene):
        raise extra_dims_error(scene, "Imaris", "holds only T, C, Z, Y and X")
    arr, names, colors = scene.array, list(scene.channel_names), scene.channel_colors
    if arr.ndim == 6:
        t, c, z, y, x, s = arr.shape
        arr = arr.transpose(0, 1, 5, 2, 3, 4).reshape(t, c * s, z, y, x)  # type: ignore[no-untyped-call]
        rgba = ("red", "green", "blue", "alpha")
        names = [rgba[k] if c == 1 else f"{n}:{rgba[k]}" for n in names for k in range(s)]
        colors = [(0xFF000000, 0x00FF0000, 0x0000FF00, 0xFFFFFF00)[k] | 0xFF for k in range(s)] * c
    if arr.dtype.name not in IMS_DTYPES:
        raise ImgioError(
            f"Imaris files hold {', '.join(IMS_DTYPES)} pixels; found {arr.dtype} "
            "(cast the data first, e.g. data.astype('float32'))"
        )
    return arr, names, colors


def _chunks(chunks: int | Sequence[int] | None, zyx: Sequence[int]) -> tuple[int, int, int]:
    if chunks is None:
        want: Sequence[int] = DEFAULT_CHUNKS
    elif isinstance(chunks, (int, np.integer)):
        want = (DEFAULT_CHUNKS[0], int(chunks), int(chunks))
    else:
        want = [int(c) for c in chunks]
        if len(want) != 3:
            raise ImgioError(f"chunks= for Imaris: an int (Y/X edge) or (Z, Y, X); found {chunks}")
    if any(c < 1 for c in want):
        raise ImgioError(f"chunks= must be positive; found {tuple(want)}")
    return tuple(max(1, min(c, n)) for c, n in zip(want, zyx, strict=True))  # type: ignore[return-value]


def write_ims(
    scenes: Sequence[Scene],
    path: Path,
    *,
    chunks: int | Sequence[int] | None = None,
    compression: str | None = "gzip",
    quality: int | None = None,
    pyramid_levels: int | str | None = "auto",
    downsample: str = "mean",
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write one scene as an Imaris file at ``path`` (a partial name: see ``_target``)."""
    h5py: Any = require("h5py", extra="ims")
    check_method(downsample)
    if len(scenes) != 1:
        raise ImgioError(
            f"an Imaris file holds one image; found {len(scenes)} scenes (pick one with scenes=[i])"
        )
    gzip = _gzip_level(compression, quality)
    scene = scenes[0]
    arr, names, colors = _plan(scene)
    n_t, n_c, n_z, n_y, n_x = (int(n) for n in arr.shape)
    ck = _chunks(chunks, (n_z, n_y, n_x))
    n = level_count(pyramid_levels, (n_y, n_x), 2 * max(ck[1], ck[2]))
    if n > 1 and ck[1] % 2 and ck[1] < n_y:  # rows are halved a chunk row at a time
        ck = (ck[0], ck[1] + 1, ck[2])
    shapes, halvings = ims_levels((n_z, n_y, n_x), n)
    depth, zf = slab_depth(ck[0], halvings), z_factors(halvings)
    level_ck = [(math.gcd(ck[0], depth // f), ck[1], ck[2]) for f in zf]
    slabs = -(-n_z // depth) * -(-n_y // ck[1])
    total, done = n_t * n_c * slabs, 0
    with h5py.File(path, "w", libver="earliest") as f:
        _root_attrs(f)
        stats: dict[tuple[int, int], _Stats] = {}
        for t in range(n_t):
            for c in range(n_c):
                sets = [
                    _dataset(f, r, t, c, shape, level_ck[r], arr.dtype, gzip)
                    for r, shape in enumerate(shapes)
                ]
                level_stats = [_Stats(arr.dtype) for _ in shapes]
                for z0 in range(0, n_z, depth):
                    rows = _Rows(sets, level_stats, (z0, zf, halvings), ck[1], downsample)
                    for y0 in range(0, n_y, ck[1]):
                        rows.add(
                            0, np.asarray(arr[t, c, z0 : z0 + depth, y0 : y0 + ck[1]].compute())
                        )
                        done += 1
                        if progress is not None:
                            progress(done, total)
                    rows.flush()
                for r, (ds, st) in enumerate(zip(sets, level_stats, strict=True)):
                    st.store(ds.parent, shapes[r])
                    stats[r, c] = stats.get((r, c)) or st
        _info(f, scene, names, colors, (n_t, n_c, n_z, n_y, n_x), stats)
        _thumbnail(f, len(shapes) - 1, (n_c, *shapes[-1][1:]), colors, stats)


def _gzip_level(compression: str | None, quality: int | None) -> int | None:
    if compression in (None, "none"):
        return None
    if compression not in ("gzip", "zlib", "deflate"):
        raise ImgioError(f"compression={compression!r} for Imaris: expected 'gzip' or 'none'")
    level = 2 if quality is None else int(quality)
    if not 0 <= level <= 9:
        raise ImgioError(f"quality={quality} for gzip: expected 0..9")
    return level


def _root_attrs(f: Any) -> None:
    for key, value in (
        ("ImarisDataSet", "ImarisDataSet"),
        ("ImarisVersion", "5.5.0"),
        ("DataSetInfoDirectoryName", "DataSetInfo"),
        ("ThumbnailDirectoryName", "Thumbnail"),
        ("DataSetDirectoryName", "DataSet"),
    ):
        f.attrs[key] = chars(value)
    f.attrs["NumberOfDataSets"] = np.array([1], dtype=np.uint32)


def _dataset(
    f: Any,
    r: int,
    t: int,
    c: int,
    shape: tuple[int, ...],
    ck: tuple[int, int, int],
    dtype: np.dtype[Any],
    gzip: int | None,
) -> Any:
    group = f.require_group(f"DataSet/ResolutionLevel {r}/TimePoint {t}/Channel {c}")
    chunk = tuple(min(k, n) for k, n in zip(ck, shape, strict=True))
    padded = tuple(-(-n // k) * k for n, k in zip(shape, chunk, strict=True))
    for d, size in zip("XYZ", shape[::-1], strict=True):
        group.attrs[f"ImageSize{d}"] = chars(str(size))
    options: dict[str, Any] = (
        {} if gzip is None else {"compression": "gzip", "compression_opts": gzip}
    )
    return group.create_dataset("Data", shape=padded, dtype=dtype, chunks=chunk, **options)


class _Rows:
    """One Z slab of every level: rows gather until a whole chunk row, which is written
    once and whose half goes on to the next level."""

    def __init__(
        self,
        sets: list[Any],
        stats: list[_Stats],
        where: tuple[int, list[int], list[Halving]],
        height: int,
        method: str,
    ) -> None:
        self.sets, self.stats, self.height, self.method = sets, stats, height, method
        z0, factors, self.halvings = where
        self.z0 = [z0 // k for k in factors]  # the slab's first plane at each level
        self.pending: list[list[np.ndarray[Any, Any]]] = [[] for _ in sets]
        self.written = [0] * len(sets)  # rows of each level written so far

    def add(self, r: int, block: np.ndarray[Any, Any]) -> None:
        self.pending[r].append(block)
        if sum(b.shape[1] for b in self.pending[r]) >= self.height:
            self._write(r)

    def _write(self, r: int) -> None:
        if not self.pending[r]:
            return
        block = (
            np.concatenate(self.pending[r], axis=1)
            if len(self.pending[r]) > 1
            else self.pending[r][0]
        )
        self.pending[r] = []
        y0 = self.written[r]
        z0 = self.z0[r]
        self.sets[r][z0 : z0 + block.shape[0], y0 : y0 + block.shape[1], : block.shape[2]] = block
        self.written[r] += block.shape[1]
        self.stats[r].add(block)
        if r + 1 < len(self.sets):  # even heights until the image's last rows
            self.add(r + 1, halve(block, self.halvings[r], self.method))

    def flush(self) -> None:
        """The rows left at the end of the slab, level by level (each feeds the next)."""
        for r in range(len(self.sets)):
            self._write(r)


class _Stats:
    """Running min, max and a 256-bin histogram of one volume (integers: exact bins)."""

    def __init__(self, dtype: np.dtype[Any]) -> None:
        self.dtype = dtype
        self.lo, self.hi = math.inf, -math.inf
        self.counts = np.zeros(256, np.uint64)
        self.exact = dtype.kind == "u"
        self.shift = max(0, dtype.itemsize * 8 - 8)
        self.samples: list[np.ndarray[Any, Any]] = []

    def add(self, block: np.ndarray[Any, Any]) -> None:
        if not block.size:
            return
        self.lo = min(self.lo, float(block.min()))
        self.hi = max(self.hi, float(block.max()))
        if self.exact:  # in pieces: bincount's index copy is 8 bytes a value
            flat = block.reshape(-1)
            for i in range(0, flat.size, PIECE):
                bins = flat[i : i + PIECE] >> self.shift
                self.counts += np.bincount(bins, minlength=256).astype(np.uint64)
        elif sum(s.size for s in self.samples) < 1 << 20:
            self.samples.append(block.reshape(-1)[:: max(1, block.size >> 16)].copy())

    def range(self) -> tuple[float, float]:
        if self.exact:
            return 0.0, float(np.iinfo(self.dtype).max) + 1
        if not math.isfinite(self.lo):
            return 0.0, 1.0
        return self.lo, self.hi if self.hi > self.lo else self.lo + 1

    def store(self, group: Any, shape: tuple[int, ...]) -> None:
        lo, hi = self.range()
        if not self.exact and self.samples:
            values = np.concatenate(self.samples)
            values = values[np.isfinite(values)]
            self.counts = np.histogram(values, 256, (lo, hi))[0].astype(np.uint64)
        group.create_dataset("Histogram", data=self.counts)
        group.attrs["HistogramMin"] = chars(f"{lo:.3f}")
        group.attrs["HistogramMax"] = chars(f"{hi:.3f}")

    def window(self) -> tuple[float, float]:
        """The display range: the data's own min and max."""
        if not math.isfinite(self.lo):
            return 0.0, 1.0
        return self.lo, self.hi if self.hi > self.lo else self.lo + 1


def _rgb(packed: int | None, c: int) -> tuple[float, float, float]:
    if packed is None:
        return PALETTE[min(c, len(PALETTE) - 1)]
    return tuple(((packed >> s) & 0xFF) / 255 for s in (24, 16, 8))  # type: ignore[return-value]


def _info(
    f: Any,
    scene: Scene,
    names: list[str],
    colors: list[int | None] | None,
    shape: tuple[int, int, int, int, int],
    stats: dict[tuple[int, int], _Stats],
) -> None:
    n_t, n_c, n_z, n_y, n_x = shape
    sizes = dict(zip("ZYX", scene.pixel_sizes, strict=True))
    image = f.require_group("DataSetInfo/Image")
    values = {"X": str(n_x), "Y": str(n_y), "Z": str(n_z), "Unit": "um", "Name": scene.name}
    for axis, d, n in zip("012", "XYZ", (n_x, n_y, n_z), strict=True):
        lo = float(scene.origin.get(d, 0.0))
        size = sizes[d] or 1.0
        values[f"ExtMin{axis}"] = f"{lo:.9g}"
        values[f"ExtMax{axis}"] = f"{lo + size * n:.9g}"
    values.update(Description="written by imgio", ResampleDimensionX="true")
    values.update(ResampleDimensionY="true", ResampleDimensionZ="true")
    stamps = _stamps(scene, n_t)
    values["RecordingDate"] = _clock(stamps[0])
    for key, value in values.items():
        image.attrs[key] = chars(value)
    maker = f.require_group("DataSetInfo/ImarisDataSet")
    for key, value in (("Creator", "imgio"), ("NumberOfImages", "1"), ("Version", "5.5")):
        maker.attrs[key] = chars(value)
    time_info = f.require_group("DataSetInfo/TimeInfo")
    time_info.attrs["DatasetTimePoints"] = chars(str(n_t))
    time_info.attrs["FileTimePoints"] = chars(str(n_t))
    for t, moment in enumerate(stamps):
        time_info.attrs[f"TimePoint{t + 1}"] = chars(_clock(moment))
    for c in range(n_c):
        group = f.require_group(f"DataSetInfo/Channel {c}")
        r, g, b = _rgb(colors[c] if colors is not None and c < len(colors) else None, c)
        lo, hi = stats[0, c].window()
        for key, value in (
            ("Name", names[c]),
            ("Description", names[c]),
            ("ColorMode", "BaseColor"),
            ("Color", f"{r:.3f} {g:.3f} {b:.3f}"),
            ("ColorRange", f"{lo:.3f} {hi:.3f}"),
            ("ColorOpacity", "1.000"),
            ("GammaCorrection", "1.000"),
        ):
            group.attrs[key] = chars(value)


def _stamps(scene: Scene, n_t: int) -> list[datetime]:
    """The clock of each time point: the T coordinates in seconds, else the time step."""
    coords = scene.data.coords.get("T") if hasattr(scene.data, "coords") else None
    units = scene.data.attrs.get("units") if hasattr(scene.data, "attrs") else None
    seconds = None
    if coords is not None and isinstance(units, dict) and units.get("T") == "s":
        values = np.asarray(coords, dtype=float)
        if values.shape == (n_t,) and np.isfinite(values).all():
            seconds = values - values[0]
    if seconds is None:
        step = scene.time_interval or 0.0
        seconds = np.arange(n_t) * step
    return [EPOCH + timedelta(seconds=float(s)) for s in seconds]


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _thumbnail(
    f: Any,
    level: int,
    shape: tuple[int, ...],
    colors: list[int | None] | None,
    stats: dict[tuple[int, int], _Stats],
) -> None:
    """An RGBA maximum projection of time point 0 at the smallest level (<= 256 a side)."""
    n_c, n_y, n_x = shape
    step = max(1, -(-max(n_y, n_x) // THUMBNAIL))
    rgb = np.zeros((-(-n_y // step), -(-n_x // step), 3), np.float32)
    for c in range(n_c):
        ds = f[f"DataSet/ResolutionLevel {level}/TimePoint 0/Channel {c}/Data"]
        mip = np.asarray(ds[:, :n_y:step, :n_x:step]).max(axis=0).astype(np.float32)
        lo, hi = stats[level, c].window()
        scaled = np.clip((mip - lo) / (hi - lo), 0, 1)
        packed = colors[c] if colors is not None and c < len(colors) else None
        rgb += scaled[..., None] * np.asarray(_rgb(packed, c), np.float32)
    out = np.empty((*rgb.shape[:2], 4), np.uint8)
    out[..., :3] = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    out[..., 3] = 255
    f.create_dataset("Thumbnail/Data", data=out.reshape(out.shape[0], -1))
