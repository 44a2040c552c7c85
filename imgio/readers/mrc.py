"""MRC (``.mrc``, ``.map``, ``.st``, ...) and DeltaVision (``.dv``, ``.r3d``) readers.

Both formats are a 1024-byte header, an extended header of ``next`` bytes and then
uncompressed sections (Y x X planes) back to back, so a region read is a set of byte
ranges (:class:`~imgio.readers._rawplanes.RawPlaneSource`): lazy, remote through fsspec,
picklable. One header parser (:mod:`._mrc_header`) serves both; DeltaVision files are
known by their ``0xC0A0`` id at byte 96 and differ in what the header means:

- DeltaVision: the sections are Z, T and wavelengths in one of three orders
  (``ImgSequence`` 0 = ZTW, 1 = WZT, 2 = ZWT, first letter fastest), mapped here to
  ``T C Z``; pixel sizes are in µm; channel names are the extended header's
  excitation/emission wavelengths (``"488/525"``, as bioio-dv names them) or the main
  header's emission wavelengths; time stamps come from the extended header.
- MRC2014: a volume (``Z``), a stack of images (``Z`` too, as mrcfile and napari show
  them) or a stack of volumes (space group 401-630: ``T`` volumes of ``mz`` sections);
  pixel sizes are the cell lengths (Å) over the sampling ``mx, my, mz``, else (Y, X) the
  FEI extended header's pixel size. FEI1/FEI2, SERI and AGAR extended headers are
  decoded per section into ``metadata["extended_header"]`` (:mod:`._mrc_ext`; read on
  first access of ``metadata``, not at open).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .._limits import check_geometry
from .._location import Location
from ..dims import PhysicalPixelSizes
from ..errors import SelectionError, UnsupportedFormatError
from ._mrc_ext import decode_extended, fei_pixel_size_um
from ._mrc_header import DV_ID, MrcHeader, parse_header
from ._rawplanes import RawPlaneSource
from .base import ArraySource, Reader, SceneInfo

__all__ = ["DeltaVisionReader", "MrcReader"]

#: DeltaVision ImgSequence -> the order of the section axes, slowest first (T C Z here)
DV_ORDERS = {0: "CTZ", 1: "TZC", 2: "TCZ"}
#: extended header floats of a DeltaVision section: time stamp, excitation, emission
DV_TIME, DV_EX, DV_EM = 1, 10, 11


class MrcReader(Reader):
    """MRC2014 files (and DeltaVision files, whose header says so), through byte ranges."""

    name = "mrc"
    suffixes: ClassVar[tuple[str, ...]] = (".mrc", ".mrcs", ".map", ".st", ".rec", ".ali", ".ccp4")
    extra = None  # numpy is enough

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return len(head) >= 212 and head[208:212] == b"MAP " and head[96:98] not in DV_ID

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        head = location.head(1024)
        self.header: MrcHeader = parse_header(head, location.url, location.size)
        self._token = location.token()
        self._ext = b""
        if self.header.next:
            ext_len = min(self.header.next, location.size - 1024)
            self._ext = location.read_range(1024, ext_len) if self.header.is_dv else b""
        self._ext_meta: dict[str, Any] | None = None
        self._info, self._offsets = self._describe()
        self._source: RawPlaneSource | None = None

    # ------------------------------------------------------------------ layout
    def _describe(self) -> tuple[SceneInfo, np.ndarray[Any, Any]]:
        h = self.header
        plane = h.ny * h.nx * h.dtype.itemsize
        first = 1024 + h.next
        sections = first + np.arange(h.nsec, dtype=np.int64) * plane
        if h.is_dv:
            order = DV_ORDERS.get(h.img_seq, "CTZ")
            sizes = {"T": h.nt, "C": h.nc, "Z": h.nsec // (h.nt * h.nc)}
            grid = sections.reshape(tuple(sizes[d] for d in order))
            offsets = grid.transpose([order.index(d) for d in "TCZ"])
            dims = "TCZYX"
            names = self._dv_channels(order, sizes)
            stamps = self._dv_times(order, sizes)
        else:
            names, stamps = None, None
            if h.volumes > 1:
                offsets, dims = sections.reshape(h.volumes, -1), "TZYX"
            elif h.nsec > 1:
                offsets, dims = sections, "ZYX"
            else:
                offsets, dims = sections.reshape(()), "YX"
        shape = (*offsets.shape, h.ny, h.nx)
        um = h.pixel_sizes
        if not h.is_dv and h.exttyp in ("FEI1", "FEI2") and um[1:] == (None, None):
            block = self.location.read_range(1024, min(h.next, 1024), exact=False)
            fei = fei_pixel_size_um(decode_extended(block, h.exttyp, h.byteorder, 1, 0, 0))
            um = (um[0], *fei) if fei else um
        check_geometry(self.location.url, shape, (1,) * len(offsets.shape) + (h.ny, h.nx), 1, dims)
        interval = None
        if stamps is not None and len(stamps) > 1:
            interval = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
        info = SceneInfo(
            name="Image:0",
            dims=dims,
            shapes=(shape,),
            dtype=h.dtype,
            channel_names=names,
            pixel_sizes=PhysicalPixelSizes(*um),
            time_interval=interval if interval and interval > 0 else None,
            time_stamps=stamps,
        )
        return info, np.ascontiguousarray(offsets)

    def _dv_floats(self, section: int) -> np.ndarray[Any, Any] | None:
        """The extended header floats of one section (file order), None when absent."""
        h = self.header
        size = 4 * (h.n_ints + h.n_floats)
        at = section * size + 4 * h.n_ints
        if size == 0 or at + 4 * h.n_floats > len(self._ext):
            return None
        return np.frombuffer(self._ext, h.byteorder + "f4", h.n_floats, at)

    def _section(self, order: str, sizes: dict[str, int], **index: int) -> int:
        flat = 0
        for d in order:
            flat = flat * sizes[d] + index.get(d, 0)
        return flat

    def _dv_channels(self, order: str, sizes: dict[str, int]) -> tuple[str, ...] | None:
        names = []
        for c in range(sizes["C"]):
            floats = self._dv_floats(self._section(order, sizes, C=c))
            ex, em = (
                (floats[DV_EX], floats[DV_EM])
                if floats is not None and len(floats) > DV_EM
                else (0.0, 0.0)
            )
            if np.isfinite(ex) and np.isfinite(em) and (ex > 0 or em > 0):
                names.append(f"{ex:.0f}/{em:.0f}")
            elif c < len(self.header.waves) and self.header.waves[c] > 0:
                names.append(str(self.header.waves[c]))
            else:
                names.append(f"Channel:{c}")
        return tuple(names) if len(set(names)) == len(names) else None

    def _dv_times(self, order: str, sizes: dict[str, int]) -> tuple[float, ...] | None:
        if sizes["T"] < 2:
            return None
        stamps = []
        for t in range(sizes["T"]):
            floats = self._dv_floats(self._section(order, sizes, T=t))
            if floats is None or len(floats) <= DV_TIME or not np.isfinite(floats[DV_TIME]):
                return None
            stamps.append(float(floats[DV_TIME]))
        rel = tuple(s - stamps[0] for s in stamps)
        # all zero, or going backwards: no usable clock
        return rel if all(b > a for a, b in zip(rel, rel[1:], strict=False)) else None

    # ------------------------------------------------------------------ contract
    def scenes(self) -> Sequence[SceneInfo]:
        return [self._info]

    @property
    def metadata(self) -> dict[str, Any]:
        """The header fields (and the DeltaVision extended header floats of each section)."""
        out: dict[str, Any] = {"header": self.header.fields()}
        if self.header.is_dv and self._ext:
            n = self.header.n_floats
            floats = [self._dv_floats(i) for i in range(self.header.nsec)]
            out["extended_header_floats"] = [f.tolist() for f in floats if f is not None and n]
        elif self.header.next and self._ext_meta is None:
            h = self.header
            ext = self.location.read_range(1024, min(h.next, self.location.size - 1024))
            self._ext_meta = decode_extended(
                ext, h.exttyp, h.byteorder, h.nsec, h.n_ints, h.n_floats
            )
        if self._ext_meta is not None:
            out["extended_header"] = self._ext_meta
        return out

    def source(self, scene: int, level: int = 0) -> ArraySource:
        if scene != 0 or level != 0:
            raise SelectionError(
                f"{self.name} files hold one scene with one level; got scene {scene}, level {level}"
            )
        if self._source is None:
            info = self._info
            self._source = RawPlaneSource(
                location=self.location,
                dims=info.dims,
                shape=info.shape,
                dtype=info.dtype,
                n_plane_dims=len(info.dims) - 2,
                offsets=self._plane_offsets(),
                row_stride=self.header.nx * self.header.dtype.itemsize,
                token=f"{self._token}|{self.name}",
                where=f"{self.location.url}: {self.name} data",
            )
        return self._source

    def _plane_offsets(self) -> np.ndarray[Any, Any] | tuple[int, int]:
        """``(first, step)`` when the planes are in file order (a graph carries two ints)."""
        flat = self._offsets.reshape(-1)
        if flat.size > 1:
            step = int(flat[1] - flat[0])
            if step > 0 and bool(np.all(np.diff(flat) == step)):
                return (int(flat[0]), step)
        if flat.size == 1:
            return (int(flat[0]), 0)
        return self._offsets


class DeltaVisionReader(MrcReader):
    """DeltaVision (Priism) ``.dv``/``.r3d`` files: sections on T, C and Z."""

    name = "deltavision"
    suffixes = (".dv", ".r3d", ".r3d_d3d")

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return len(head) >= 98 and head[96:98] in DV_ID

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        if not self.header.is_dv:
            raise UnsupportedFormatError(
                location.url, {"deltavision": "no DeltaVision id 0xC0A0 at byte 96"}
            )
