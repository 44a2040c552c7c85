"""Nikon ND2 reader: the ``nd2`` library parses the file, frames are read by index.

Positions (``P``) are scenes, as in AICSImageIO/bioio-nd2: each has its own stage
position and name, and users select a field of view the way they select a CZI scene.
The other loops (``T``, ``Z``, ...) are plane dims of every scene; channels and RGB
samples live inside an ND2 frame (``Y X C [S]``). Uncompressed frames of a modern
file are read as byte ranges (only the rows a region covers; local, remote and
picklable, see :class:`~imgio.readers._rawplanes.RawPlaneSource`); compressed or legacy
(JPEG 2000) files go through ``nd2``'s own frame reader, reopened in each process.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import threading
import warnings
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._limits import BoundedFile, check_geometry
from .._location import Location
from .._threads import map_threaded
from ..dims import PhysicalPixelSizes
from ..errors import (
    CorruptFileError,
    ImgioError,
    NotByteRangesError,
    SelectionError,
    UnsupportedFormatError,
    require,
)
from ._clxlite import decode as decode_clx_lite
from ._rawplanes import PARSE_ERRORS, RawPlaneSource, band_rows
from .base import STATS, ArraySource, ChunkRefs, Reader, SceneInfo, SourceBase

__all__ = ["Nd2Reader"]

MAGIC = (b"\xda\xce\xbe\x0a", b"\x00\x00\x00\x0cjP  ")
_MIN_FRAME_BYTES = 64  # smallest file footprint of one frame (its chunk header alone)
_PARSE_ERRORS: tuple[type[BaseException], ...] = (
    *PARSE_ERRORS,
    zlib.error,  # compressed metadata (nd2's CLX-lite variants) with a broken stream
    OverflowError,  # a CLX-lite length beyond any index
    NameError,  # nd2's metadata parser on some damaged channel records (UnboundLocalError)
)


class Nd2Reader(Reader):
    """Nikon NIS-Elements ND2 files (modern and legacy), lazily, frame by frame."""

    name = "nd2"
    suffixes = (".nd2",)
    extra = "nd2"

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        # legacy ND2 files are JPEG 2000 containers: those are known by suffix only,
        # so that plain .jp2 images stay with the readers for common images
        return head[:4] == MAGIC[0]

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        nd2: Any = require("nd2", extra="nd2")
        head = location.head(16)
        if head[:4] != MAGIC[0] and head[:12] != MAGIC[1]:
            raise UnsupportedFormatError(location.url, {"nd2": f"no ND2 signature ({head[:4]!r})"})
        fh = _bounded(location)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = nd2.ND2File(fh)
                try:
                    _prime(f)
                    self._parse(f)
                finally:
                    f.close()
        except ImgioError:
            raise
        except _PARSE_ERRORS as exc:
            raise CorruptFileError(f"{location.url}: corrupted ND2 structure: {exc}") from exc
        finally:
            fh.close()
        self._token = location.token()
        self._sources: dict[int, ArraySource] = {}

    # ------------------------------------------------------------------ parsing
    def _parse(self, f: Any) -> None:
        sizes = {k: int(v) for k, v in f.sizes.items()}
        loops = [d for d in sizes if d not in "CYXS"]
        self._loop_dims = "".join(d for d in loops if d != "P")
        self._n_pos = sizes.get("P", 1)
        self._frame_dims = "YX" + ("C" if "C" in sizes else "") + ("S" if "S" in sizes else "")
        self._frame_shape = tuple(sizes[d] for d in self._frame_dims)
        self._dtype = np.dtype(f.dtype)
        # seq index of every (P, loops...) combination; the loop sizes come from the
        # experiment, so a damaged one must not make us allocate for frames never stored
        stored = int(f.attributes.sequenceCount or 0)
        # every stored frame takes at least a chunk header in the file: a count beyond
        # what the file's bytes can hold is a damaged header, not frames to index
        if stored > max(1, self.location.size // _MIN_FRAME_BYTES):
            raise CorruptFileError(
                f"{self.location.url}: the header declares {stored} frames, more than "
                f"{self.location.size} bytes can hold"
            )
        if math.prod(sizes[d] for d in loops) > 16 * stored + 1024:
            raise CorruptFileError(
                f"{self.location.url}: the experiment loops {[(d, sizes[d]) for d in loops]} "
                f"describe far more frames than the {stored} stored"
            )
        seq = np.full([sizes[d] for d in loops] or [1], -1, dtype=np.int64)
        for i, coords in enumerate(f.loop_indices):
            index = tuple(int(coords.get(d, 0)) for d in loops)
            if all(0 <= v < sizes[d] for v, d in zip(index, loops, strict=True)):
                seq[index or (0,)] = i
        if "P" in loops:
            seq = np.moveaxis(seq, loops.index("P"), 0)
        else:
            seq = seq[np.newaxis] if loops else seq.reshape(1)
        self._seq = seq.reshape((self._n_pos, *[sizes[d] for d in self._loop_dims]))
        frame_bytes = math.prod(self._frame_shape) * self._dtype.itemsize
        shape = (*self._seq.shape, *self._frame_shape)
        chunks = (1,) * self._seq.ndim + self._frame_shape
        check_geometry(self.location.url, shape, chunks, self._dtype.itemsize)
        compression = f.attributes.compressionType
        if not compression and frame_bytes > self.location.size:
            raise CorruptFileError(
                f"{self.location.url}: one uncompressed frame {self._frame_shape} of "
                f"{self._dtype} needs {frame_bytes} bytes, the file has {self.location.size}"
            )
        if compression == "lossless" and frame_bytes > _ZLIB_RATIO * self.location.size:
            raise CorruptFileError(
                f"{self.location.url}: one zlib-compressed frame {self._frame_shape} of "
                f"{self._dtype} ({frame_bytes} bytes) needs at least "
                f"{-(-frame_bytes // _ZLIB_RATIO)} bytes (deflate packs at most "
                f"{_ZLIB_RATIO}:1), the file has {self.location.size}"
            )
        self._raw = _raw_layout(f, self._frame_shape, self._dtype, self.location.size)
        names = [m.channel.name for m in f.metadata.channels] if f.metadata.channels else []
        colors = [_rgba(m.channel.color) for m in f.metadata.channels or []]
        n_c = sizes.get("C", 1)
        self._channel_names = tuple(names) if len(names) == n_c else None
        self._channel_colors = tuple(colors) if len(colors) == n_c else None
        vox = f.voxel_size()
        z = float(vox.z) if "Z" in sizes and vox.z else None
        self._sizes = PhysicalPixelSizes(z, float(vox.y) or None, float(vox.x) or None)
        self._interval = _time_interval(f, sizes)
        self._times = _frame_times(f) if "T" in self._loop_dims else None
        self._pos_names = _position_names(f, self._n_pos)
        self._is_legacy = bool(f.is_legacy)

    # ------------------------------------------------------------------ contract
    def scenes(self) -> Sequence[SceneInfo]:
        shape = tuple(self._seq.shape[1:]) + self._frame_shape
        return [
            SceneInfo(
                name=name,
                dims=self._loop_dims + self._frame_dims,
                shapes=(shape,),
                dtype=self._dtype,
                channel_names=self._channel_names,
                channel_colors=self._channel_colors,
                pixel_sizes=self._sizes,
                time_interval=self._interval,
                time_stamps=self._time_stamps(p),
            )
            for p, name in enumerate(self._pos_names)
        ]

    def _time_stamps(self, position: int) -> tuple[float, ...] | None:
        """Seconds from the position's first time point to each one (its first frame)."""
        if self._times is None:
            return None
        seq = self._seq[position]
        t = self._loop_dims.index("T")
        first = seq[tuple(slice(None) if i == t else 0 for i in range(seq.ndim))]
        if first.min() < 0 or first.max() >= len(self._times):
            return None
        ms = self._times[first]
        if not np.all(np.isfinite(ms)):
            return None
        return tuple(float(v) for v in (ms - ms[0]) / 1000.0)

    @property
    def metadata(self) -> Any:
        """``nd2``'s text info of the file (a dict of description strings), read on access."""
        import nd2

        fh = _bounded(self.location)
        try:
            with nd2.ND2File(fh) as f:
                return dict(f.text_info)
        except ImgioError:
            raise
        except _PARSE_ERRORS as exc:
            raise CorruptFileError(f"{self.location.url}: unreadable ND2 text info: {exc}") from exc
        finally:
            fh.close()

    def source(self, scene: int, level: int = 0) -> ArraySource:
        if not 0 <= scene < self._n_pos:
            raise SelectionError(f"scene {scene} out of range (0..{self._n_pos - 1})")
        if level != 0:
            raise SelectionError(f"ND2 scenes have one resolution level; got level {level}")
        found = self._sources.get(scene)
        if found is None:
            found = self._sources[scene] = self._new_source(scene)
        return found

    def chunk_refs(self, scene: int, level: int = 0) -> ChunkRefs:
        """Uncompressed frames as byte ranges; compressed or legacy frames are refused."""
        src = self.source(scene, level)
        if not isinstance(src, RawPlaneSource):
            raise NotByteRangesError(
                f"{self.location.url}: the frames are compressed (zlib or JPEG 2000) or in the "
                "legacy layout, with headers around the pixels: not byte ranges zarr can "
                "decode alone"
            )
        return src.chunk_refs()

    def _new_source(self, scene: int) -> ArraySource:
        seq = self._seq[scene]
        dims = self._loop_dims + self._frame_dims
        shape = tuple(seq.shape) + self._frame_shape
        token = f"{self._token}|nd2|{scene}"
        where = f"{self.location.url}: position {scene}"
        labels = [f"frame {int(i)}" for i in seq.reshape(-1)]
        if self._raw is not None:
            offsets_by_seq, row_stride = self._raw
            offsets = np.array([offsets_by_seq.get(int(i), -1) for i in seq.reshape(-1)])
            return RawPlaneSource(
                location=self.location,
                dims=dims,
                shape=shape,
                dtype=self._dtype,
                n_plane_dims=len(self._loop_dims),
                offsets=offsets,
                row_stride=row_stride,
                token=token,
                where=where,
                labels=labels,
            )
        return Nd2FrameSource(self.location, dims, shape, self._dtype, seq, token, where)


#: deflate's largest compression ratio (a stream of one repeated byte)
_ZLIB_RATIO = 1032

#: levels of the picture metadata imgio never reads: the per-channel device settings
#: (camera, optics, stage matrices), 90 % of the chunk's bytes and of the time nd2 spends
#: decoding it
_SKIPPED_LEVELS = frozenset({"sSampleSetting"})


def _prime(f: Any) -> None:
    """Decode a modern file's picture metadata ourselves, leaving out what imgio never reads.

    ``nd2`` derives sizes, channels, attributes and voxel sizes from the
    ``ImageMetadataSeqLV|0!`` chunk, which it decodes whole, per-channel device settings
    included (1.5-7 ms on the samples, most of the open). Handing its reader the same
    dict without those levels (:mod:`._clxlite`) keeps every value imgio takes from
    ``nd2`` (its own code derives them) at a tenth of the cost. The text info, which
    ``nd2`` decodes only to guess an objective magnification imgio does not use, is
    left empty. Legacy, pre-3.0 and XML-metadata files keep ``nd2``'s own path.
    """
    rdr: Any = getattr(f, "_rdr", None)
    if (
        getattr(rdr, "_raw_image_metadata", 0) is not None
        or getattr(rdr, "_text_info", 0) is not None
        or tuple(f.version) < (3, 0)
    ):
        return
    data = _chunk(f, b"ImageMetadataSeqLV|0!")
    if data is None or data.startswith(b"<"):
        return
    meta = decode_clx_lite(data, _SKIPPED_LEVELS)
    rdr._raw_image_metadata = meta.get("SLxPictureMetadata", meta)
    rdr._text_info = {}


def _bounded(location: Location) -> BoundedFile:
    """The file for ``nd2``, its reads clamped to the bytes left: nd2 reads a chunk by the
    length its header declares, and a flipped length must not become a huge ``read``."""
    return BoundedFile(location.open(), location.size, location.url)


def _rgba(color: Any) -> int | None:
    try:
        return (int(color.r) << 24) | (int(color.g) << 16) | (int(color.b) << 8) | 0xFF
    except (AttributeError, TypeError, ValueError):
        return None


def _raw_layout(
    f: Any, frame_shape: tuple[int, ...], dtype: np.dtype[Any], size: int
) -> tuple[dict[int, int], int] | None:
    """Frame offsets and row stride when frames are plain bytes in a modern file, else None."""
    if f.is_legacy:
        return None
    attrs = f.attributes
    rdr = getattr(f, "_rdr", None)
    if attrs.compressionType is not None or rdr is None:
        return None
    try:
        offsets = {int(k): int(v) for k, v in rdr._frame_offsets.items()}
    except (AttributeError, TypeError, ValueError):
        return None
    # a frame said to start outside the file reads as "file ends" (named), never wraps
    offsets = {k: v if 0 <= v <= size else size for k, v in offsets.items()}
    row_bytes = math.prod(frame_shape[1:]) * dtype.itemsize
    row_stride = int(attrs.widthBytes or row_bytes)
    if row_stride < row_bytes:
        return None
    return offsets, row_stride


def _frame_times(f: Any) -> np.ndarray[Any, Any] | None:
    """Each frame's acquisition time (ms) from the file's times cache, when it has one."""
    try:
        data = _chunk(f, b"CustomData|AcqTimesCache!")
    except (AttributeError, OSError, ValueError):
        return None
    return None if data is None else np.frombuffer(data[: len(data) // 8 * 8], "<f8")


def _chunk(f: Any, key: bytes) -> bytes | None:
    """A modern file's chunk ``key``, read by ``nd2``'s reader (None: legacy, no such
    chunk, or an ``nd2`` without that reader)."""
    rdr: Any = getattr(f, "_rdr", None)
    if f.is_legacy or rdr is None or key not in getattr(rdr, "chunkmap", {}):
        return None
    return rdr._load_chunk(key)  # type: ignore[no-any-return]


def _time_interval(f: Any, sizes: dict[str, int]) -> float | None:
    """Seconds between time points: the measured average, else the set period."""
    for loop in f.experiment:
        if loop.type == "TimeLoop" and loop.count > 1:
            params = loop.parameters
            avg = getattr(getattr(params, "periodDiff", None), "avg", None)
            if avg:
                return float(avg) / 1000.0
            if params.periodMs:
                return float(params.periodMs) / 1000.0
    return None


def _position_names(f: Any, n: int) -> list[str]:
    names: list[str] = []
    for loop in f.experiment:
        if loop.type == "XYPosLoop":
            names = [str(getattr(p, "name", "") or "") for p in loop.parameters.points]
    if len(names) != n or len(set(names)) != n or not all(names):
        return [f"Image:{i}" for i in range(n)]
    return names


# ---------------------------------------------------------------- library frame reads
_OPEN: dict[tuple[str, int], Any] = {}
_OPEN_LOCK = threading.Lock()


@atexit.register
def _close_open_files() -> None:
    """Close the frame readers of this process before the interpreter tears down."""
    for f in list(_OPEN.values()):
        with contextlib.suppress(Exception):
            f.close()
    _OPEN.clear()


def _nd2_file(location: Location) -> Any:
    """One ``nd2.ND2File`` per file and process, opened on first use."""
    key = (location.url, os.getpid())
    found = _OPEN.get(key)
    if found is None:
        with _OPEN_LOCK:
            found = _OPEN.get(key)
            if found is None:
                import nd2

                found = nd2.ND2File(_bounded(location))
                with contextlib.suppress(*_PARSE_ERRORS):  # nd2's own path reports damage
                    _prime(found)
                _OPEN[key] = found
    return found


class Nd2FrameSource(SourceBase):
    """Frames of compressed/legacy ND2 files through ``nd2.ND2File.read_frame``."""

    def __init__(
        self,
        location: Location,
        dims: str,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        seq: np.ndarray[Any, Any],
        token: str,
        where: str,
    ) -> None:
        self.location = location
        self.dims = dims
        self.shape = shape
        self.dtype = dtype
        self.seq = seq
        self.token = token
        self.where = where
        n = seq.ndim
        row_bytes = math.prod(shape[n + 1 :]) * dtype.itemsize
        self.chunks = (1,) * n + (band_rows(shape[n], row_bytes),) + tuple(shape[n + 1 :])
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray[Any, Any]:
        n = self.seq.ndim
        ids = self.seq[tuple(key[:n])].reshape(-1)
        out = np.empty(tuple(k.stop - k.start for k in key), dtype=self.dtype)
        planes = out.reshape((len(ids), *out.shape[n:]))
        f = _nd2_file(self.location)

        def run(job: tuple[int, int]) -> None:
            j, i = job
            if i < 0:
                planes[j] = 0
                return
            try:
                with self._lock:
                    frame = np.asarray(f.read_frame(int(i)))
            except Exception as exc:  # noqa: BLE001 - nd2 raises many types on bad frames
                raise CorruptFileError(f"{self.where}, frame {i}: {exc}") from exc
            planes[j] = frame.reshape(self.shape[n:])[tuple(key[n:])]

        list(map_threaded(run, list(enumerate(ids.tolist()))))
        STATS.add(int((ids >= 0).sum()), out.nbytes)
        return out
