"""Imaris ``.ims`` files (HDF5, Imaris 5.5 layout), read lazily with h5py.

``DataSet/ResolutionLevel r/TimePoint t/Channel c/Data`` holds one Z x Y x X volume per
level, time point and channel: every resolution level is a level, time points and
channels are T and C. A data set may be larger than the image (its chunk padding):
the image size is the channel group's ``ImageSizeX/Y/Z`` (level 0: ``DataSetInfo/Image``
``X/Y/Z``), and the padding is cropped. µm sizes are the extents
(``ExtMax`` - ``ExtMin``, in ``Unit``) divided by the image size; channel names,
colours and display ranges come from ``DataSetInfo/Channel c``, time stamps from
``DataSetInfo/TimeInfo``. The RGBA ``Thumbnail`` is an associated image (scene
"thumbnail"). Opening reads only attributes and data set headers.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._limits import check_geometry
from ..._location import Location
from ...dims import PhysicalPixelSizes
from ...errors import CorruptFileError, ImgioWarning, UnsupportedFormatError
from ..base import ArraySource, ChunkRefs, Reader, SceneInfo
from ._meta import (
    UM,
    attr_float,
    attr_int,
    attrs_text,
    color,
    display_range,
    read_attrs,
    time_stamps,
)
from ._source import H5_ERRORS, LevelSource, ThumbnailSource, open_h5

__all__ = ["ImarisReader"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: most resolution levels, time points or channels counted
MAX_GROUPS = 1 << 16


class ImarisReader(Reader):
    """Imaris 5.5 ``.ims`` files: levels, T and C groups, padding cropped."""

    name = "imaris"
    suffixes = (".ims",)
    extra = "ims"

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(HDF5_MAGIC) and b"ImarisDataSet" in head

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        if not location.head(8).startswith(HDF5_MAGIC):
            raise UnsupportedFormatError(location.url, {"imaris": "no HDF5 signature"})
        self._token = location.token()
        f = open_h5(location)
        try:
            self._describe(f.id)
        except (CorruptFileError, UnsupportedFormatError):
            raise
        except H5_ERRORS as exc:
            raise CorruptFileError(f"{location.url}: damaged Imaris structure: {exc}") from exc
        finally:
            f.close()
        self._sources: dict[int, ArraySource] = {}

    # ------------------------------------------------------------------ structure
    def _describe(self, fid: Any) -> None:
        """Layout and scene of the file ``fid`` (an h5py low-level file id: h5py's
        high-level objects cost 3-6 times as much per group, data set and attribute)."""
        url = self.location.url
        dataset = _group(fid, "DataSet")
        if dataset is None:
            raise UnsupportedFormatError(url, {"imaris": "an HDF5 file without a DataSet group"})
        n_levels = _count(dataset, "ResolutionLevel")
        if n_levels == 0:
            raise CorruptFileError(f"{url}: DataSet holds no 'ResolutionLevel 0' group")
        first = _group(dataset, "ResolutionLevel 0")
        n_t = _count(first, "TimePoint")
        n_c = _count(_group(first, "TimePoint 0"), "Channel") if n_t else 0
        if n_t == 0 or n_c == 0:
            raise CorruptFileError(
                f"{url}: ResolutionLevel 0 holds {n_t} time points and {n_c} channels "
                "('TimePoint 0/Channel 0' expected)"
            )
        self._info_text = _needed_info(_group(fid, "DataSetInfo"), n_c, n_t)
        self._all_info: dict[str, dict[str, str]] | None = None
        image = self._info_text.get("Image", {})
        levels: list[tuple[int, ...]] = []
        chunks: list[tuple[int, int, int]] = []
        dtype = None
        for r in range(n_levels):
            shape, chunk, level_dtype = self._level(dataset, r, image)
            if dtype is None:
                dtype = level_dtype
            elif level_dtype != dtype:
                warnings.warn(
                    f"{url}: ResolutionLevel {r} is {level_dtype}, level 0 {dtype}; "
                    f"levels {r}.. are left out",
                    ImgioWarning,
                    stacklevel=3,
                )
                break
            check_geometry(
                f"{url}: ResolutionLevel {r}",
                (n_t, n_c, *shape),
                (1, 1, *chunk),
                dtype.itemsize,
                "TCZYX",
            )
            levels.append((n_t, n_c, *shape))
            chunks.append(chunk)
        assert dtype is not None
        self._chunks = chunks
        self._scenes = [self._scene(levels, dtype, image)]
        thumb = _data_set(fid, "Thumbnail/Data")
        if thumb is not None and thumb.rank == 2 and thumb.dtype == np.uint8:
            h, w4 = thumb.shape
            if h and w4 and w4 % 4 == 0 and h * w4 <= 1 << 26:
                self._thumb: tuple[int, int, int] | None = (int(h), int(w4 // 4), 4)
                self._scenes.append(
                    SceneInfo(
                        name="thumbnail",
                        dims="YXS",
                        shapes=(self._thumb,),
                        dtype=np.dtype("u1"),
                        associated="thumbnail",
                    )
                )
                return
        self._thumb = None

    def _level(
        self, dataset: Any, r: int, image: dict[str, str]
    ) -> tuple[tuple[int, int, int], tuple[int, int, int], np.dtype[Any]]:
        """(image Z, Y, X), HDF5 chunk edges (Z, Y, X) and dtype of level ``r``."""
        url = self.location.url
        where = f"ResolutionLevel {r}/TimePoint 0/Channel 0"
        group = _group(dataset, where)
        data = _data_set(group, "Data") if group is not None else None
        if data is None or data.rank != 3:
            raise CorruptFileError(f"{url}: {where}/Data is missing or not a 3-d data set")
        dtype = np.dtype(data.dtype)
        if dtype.kind not in "uif" or dtype.itemsize > 8:
            raise CorruptFileError(
                f"{url}: {where}/Data holds {dtype}; expected integers or floats"
            )
        stored = tuple(int(n) for n in data.shape)
        assert group is not None
        found = read_attrs(group, [f"ImageSize{d}" for d in "ZYX"])
        sizes = [attr_int(found, f"ImageSize{d}") for d in "ZYX"]
        if r == 0:  # DataSetInfo/Image X, Y, Z where the channel group says nothing
            sizes = [
                s if s is not None else _int(image.get(d))
                for s, d in zip(sizes, "ZYX", strict=True)
            ]
        shape = tuple(n if s is None else s for s, n in zip(sizes, stored, strict=True))
        if any(s > n for s, n in zip(shape, stored, strict=True)):
            warnings.warn(
                f"{url}: {where} declares an image of {shape} (Z, Y, X) in a data set of "
                f"{stored}; read as {tuple(min(s, n) for s, n in zip(shape, stored, strict=True))}",
                ImgioWarning,
                stacklevel=4,
            )
            shape = tuple(min(s, n) for s, n in zip(shape, stored, strict=True))
        chunk = _chunks(data) or (1, *stored[1:])
        chunk = tuple(max(1, min(c, max(1, s))) for c, s in zip(chunk, shape, strict=True))
        return shape, chunk, dtype  # type: ignore[return-value]

    def _scene(
        self, levels: list[tuple[int, ...]], dtype: np.dtype[Any], image: dict[str, str]
    ) -> SceneInfo:
        url = self.location.url
        n_t, n_c, *zyx = levels[0]
        unit = UM.get(image.get("Unit", "um").strip().lower())
        sizes: dict[str, float | None] = {}
        origin: dict[str, float] = {}
        for axis, d, n in zip("210", "ZYX", zyx, strict=True):
            lo, hi = attr_float(image, f"ExtMin{axis}"), attr_float(image, f"ExtMax{axis}")
            size = None
            if unit is not None and lo is not None and hi is not None and n > 0 and hi > lo:
                size = (hi - lo) * unit / n
                origin[d] = lo * unit
            sizes[d] = size
        channels = [self._info_text.get(f"Channel {c}", {}) for c in range(n_c)]
        names = [ch.get("Name", "") for ch in channels]
        names = [
            n if n and n != "(name not specified)" else f"Channel:{i}" for i, n in enumerate(names)
        ]
        if len(set(names)) != len(names):
            names = [f"{n}:{i}" for i, n in enumerate(names)]
        stamps = time_stamps(self._info_text.get("TimeInfo", {}), n_t, url)
        interval = None if stamps is None else stamps[-1] / (len(stamps) - 1)
        return SceneInfo(
            name=image.get("Name") or "Image:0",
            dims="TCZYX",
            shapes=tuple(levels),
            dtype=dtype,
            channel_names=tuple(names),
            channel_colors=tuple(color(ch) for ch in channels),
            pixel_sizes=PhysicalPixelSizes(sizes["Z"], sizes["Y"], sizes["X"]),
            time_interval=interval,
            time_stamps=stamps,
            origin=origin,
        )

    # ------------------------------------------------------------------ contract
    def scenes(self) -> Sequence[SceneInfo]:
        return self._scenes

    @property
    def metadata(self) -> dict[str, Any]:
        """``DataSetInfo``'s groups as text attributes, plus each channel's display range."""
        if self._all_info is None:  # every attribute: read on first access, not at open
            f = open_h5(self.location)
            try:
                info = f.get("DataSetInfo")
                self._all_info = {
                    str(k): attrs_text(g.attrs)
                    for k, g in (info.items() if hasattr(info, "items") else [])
                    if hasattr(g, "attrs")
                }
            except H5_ERRORS as exc:
                raise CorruptFileError(f"{self.location.url}: damaged DataSetInfo: {exc}") from exc
            finally:
                f.close()
        n_c = self._scenes[0].shape[1]
        ranges = [display_range(self._all_info.get(f"Channel {c}", {})) for c in range(n_c)]
        return {"DataSetInfo": self._all_info, "display_ranges": ranges}

    def source(self, scene: int, level: int = 0) -> ArraySource:
        self.check_scene_level(scene, level)
        key = scene * 1000 + level
        cached = self._sources.get(key)
        if cached is not None:
            return cached
        info = self._scenes[scene]
        token = f"{self._token}|imaris|{scene}|{level}"
        if info.associated:
            assert self._thumb is not None
            found: ArraySource = ThumbnailSource(self.location, self._thumb, token)
        else:
            found = LevelSource(
                self.location, level, info.shapes[level], info.dtype, self._chunks[level], token
            )
        self._sources[key] = found
        return found

    def chunk_refs(self, scene: int, level: int = 0) -> ChunkRefs:
        """Each (t, c) data set's HDF5 chunks as byte ranges (deflate or LZF)."""
        from ...errors import NotByteRangesError
        from ._refs import level_refs

        self.check_scene_level(scene, level)
        src = self.source(scene, level)
        if not isinstance(src, LevelSource):
            raise NotByteRangesError(
                f"{self.location.url}: the thumbnail is RGBA packed in a Y x 4X data set"
            )
        return level_refs(src)


#: the DataSetInfo attributes a scene needs (the rest is read for ``metadata`` only)
_IMAGE_KEYS = (
    "Name",
    "Unit",
    "X",
    "Y",
    "Z",
    *(f"Ext{m}{a}" for m in ("Min", "Max") for a in "012"),
)
_CHANNEL_KEYS = ("Name", "Color", "ColorMode")


def _needed_info(info: Any, n_c: int, n_t: int) -> dict[str, dict[str, str]]:
    """``Image``, ``Channel c`` and ``TimeInfo`` attributes that the scene reads, from the
    ``DataSetInfo`` group id ``info`` (the rest is read for ``metadata`` only)."""
    if info is None:
        return {}
    wanted = {"Image": _IMAGE_KEYS, "TimeInfo": tuple(f"TimePoint{t + 1}" for t in range(n_t))}
    wanted |= {f"Channel {c}": _CHANNEL_KEYS for c in range(n_c)}
    out: dict[str, dict[str, str]] = {}
    for name, keys in wanted.items():
        g = _group(info, name)
        if g is not None:
            out[name] = read_attrs(g, keys[:MAX_GROUPS])
    return out


def _object(parent: Any, path: str) -> Any:
    """The object at ``path`` under the h5py low-level id ``parent``, or None."""
    from h5py import h5o

    try:
        return h5o.open(parent, path.encode())
    except H5_ERRORS:
        return None


def _group(parent: Any, path: str) -> Any:
    """The group (low-level id) at ``path`` under ``parent``, or None (absent, or no group)."""
    from h5py import h5g

    found = _object(parent, path)
    return found if isinstance(found, h5g.GroupID) else None


def _data_set(parent: Any, path: str) -> Any:
    """The data set (low-level id) at ``path`` under ``parent``, or None."""
    from h5py import h5d

    found = _object(parent, path)
    return found if isinstance(found, h5d.DatasetID) else None


def _chunks(data: Any) -> tuple[int, ...] | None:
    """The HDF5 chunk shape of a data set id (None when not chunked)."""
    from h5py import h5d

    plist = data.get_create_plist()
    return tuple(int(c) for c in plist.get_chunk()) if plist.get_layout() == h5d.CHUNKED else None


def _count(group: Any, prefix: str) -> int:
    """How many of ``"<prefix> 0"``, ``"<prefix> 1"``, ... the group id holds in a row."""
    n = 0
    try:
        while group is not None and n < MAX_GROUPS and group.links.exists(f"{prefix} {n}".encode()):
            n += 1
    except H5_ERRORS:
        pass
    return n


def _int(text: str | None) -> int | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return int(value) if value is not None and value >= 0 and value == int(value) else None
