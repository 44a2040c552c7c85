"""Olympus FluoView OIF and OIB files: oiffile parses the settings, imgio reads the planes.

An OIF is a settings file (``NAME.oif``, a UTF-16 INI) beside a folder
``NAME.oif.files/`` holding one TIFF per plane, named by their 1-based indices
(``s_C001Z002T003.tif``). An OIB holds the same files as streams of one OLE2 compound
file. Dims are T, C, Z (from the plane names), Y, X; channel names are the dyes
(``[Channel i Parameters] DyeName``); pixel sizes come from the axis sections
(``[Axis i Parameters Common]``: ``AxisCode``, ``MaxSize``, ``StartPosition``,
``EndPosition``, ``PixUnit``). Planes are decoded lazily, one TIFF per plane: an OIB
stream is read as the byte ranges of its sectors, so OIB and OIF read locally or
remotely and the source pickles without a handle.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._location import Location
from ..dims import PhysicalPixelSizes
from ..errors import (
    CorruptFileError,
    ImgioError,
    MissingFileError,
    UnsupportedFormatError,
    require,
)
from ._frames import FrameFile, FramePlaneSource, StreamRanges
from ._rawplanes import PARSE_ERRORS
from .base import ArraySource, Reader, SceneInfo

__all__ = ["OifReader"]

# oiffile raises NotImplementedError for a compound-file header it cannot parse
_OPEN_ERRORS: tuple[type[BaseException], ...] = (*PARSE_ERRORS, NotImplementedError)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: a plane file: ``s_`` + letter/index pairs
PLANE_NAME = re.compile(r"^s_((?:[A-Z]\d+)+)\.tif$", re.IGNORECASE)
#: lengths in µm per unit
UM = {"um": 1.0, "µm": 1.0, "nm": 1e-3, "mm": 1e3, "m": 1e6}
#: times in s per unit
SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0}
#: largest settings file read (bytes)
MAX_SETTINGS = 16 << 20
#: most planes one file may declare
MAX_PLANES = 1 << 20


def _settings(data: bytes, name: str) -> dict[str, Any]:
    import oiffile

    return dict(oiffile.SettingsFile(io.BytesIO(data), name=name))


class OifReader(Reader):
    """Olympus FluoView OIF (settings file + folder of TIFFs) and OIB (one compound file)."""

    name = "oif"
    suffixes = (".oif", ".oib")
    extra = "oif"

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        if not head.startswith(b"\xff\xfe[\x00"):
            return False
        text = head[: len(head) // 2 * 2].decode("utf-16", errors="ignore")
        return "[ProfileSaveInfo]" in text or "[Axis Parameter Common]" in text

    @classmethod
    def sniff_location(cls, location: Location) -> bool:
        # an OIB is an OLE2 compound file, a container other formats share: its suffix is
        # what names it, and a damaged ``.oib`` is then reported as this reader's
        # CorruptFileError rather than as a format no reader supports
        return location.url.lower().endswith(".oib")

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        require("oiffile", extra="oif")
        self._token = location.token()
        self._source: ArraySource | None = None
        head = location.head(8)
        try:
            if head.startswith(OLE_MAGIC):
                self.main, files = _oib(location)
            elif location.suffixes.endswith(".oif") or self.sniff(location.head()):
                self.main, files = _oif(location)
            elif location.url.lower().endswith(".oib"):
                raise CorruptFileError(
                    f"{location.url}: an OIB is an OLE2 compound file starting with "
                    f"{OLE_MAGIC.hex(' ')}; this file starts with {head.hex(' ') or 'nothing'}"
                )
            else:
                raise UnsupportedFormatError(location.url, {"oif": "no OIF settings or OIB header"})
            self._info, self._files = _describe(location.url, self.main, files)
        except ImgioError:
            raise
        except _OPEN_ERRORS as exc:
            raise CorruptFileError(f"{location.url}: corrupted Olympus file: {exc}") from exc

    def scenes(self) -> Sequence[SceneInfo]:
        return [self._info]

    @property
    def metadata(self) -> Any:
        """The main settings file as ``{section: {key: value}}``."""
        return self.main

    def source(self, scene: int, level: int = 0) -> ArraySource:
        self.check_scene_level(scene, level)
        if self._source is None:
            info = self._info
            plane_bytes = info.shape[-1] * info.shape[-2] * info.dtype.itemsize
            self._source = FramePlaneSource(
                dims=info.dims,
                shape=info.shape,
                dtype=info.dtype,
                spans=[(i * plane_bytes, plane_bytes, f) for i, f in enumerate(self._files)],
                token=f"{self._token}|oif",
                where=self.location.url,
            )
        return self._source


# ------------------------------------------------------------------------ containers
def _oif(location: Location) -> tuple[dict[str, Any], dict[str, FrameFile]]:
    """Settings and plane files of an OIF (``NAME.oif`` + ``NAME.oif.files/``)."""
    size = location.size
    if size > MAX_SETTINGS:
        raise CorruptFileError(f"{location.url}: {size} bytes is too large for a settings file")
    main = _settings(location.read_range(0, size), location.name)
    folder = location.sibling(location.name + ".files")
    if not folder.isdir():
        raise MissingFileError(
            f"{location.url}: its plane folder {location.name}.files is missing ({folder.url})"
        )
    if folder.is_local:
        import os

        names = [n for n in os.listdir(folder.url) if PLANE_NAME.match(n)]
        # a plain join: the folder's path is already absolute (pathlib per file cost more
        # than the rest of the open)
        return main, {n: Location(os.path.join(folder.url, n)) for n in names}
    names = [
        str(p).rstrip("/").rsplit("/", 1)[-1] for p in folder.fs.ls(folder.fs_path, detail=False)
    ]
    return main, {n: folder.child(n) for n in names if PLANE_NAME.match(n)}


def _oib(location: Location) -> tuple[dict[str, Any], dict[str, FrameFile]]:
    """Settings and plane streams of an OIB compound file."""
    import oiffile

    fh = location.open()
    try:
        com: Any = oiffile.CompoundFile.__new__(oiffile.CompoundFile)  # on our handle
        com.filename, com._fh = location.url, fh
        try:
            com._fromfile()
        except _OPEN_ERRORS as exc:
            raise CorruptFileError(
                f"{location.url}: corrupted Olympus file: the OLE2 compound-file header, "
                f"allocation table or directory of this {location.size}-byte OIB is "
                f"truncated or damaged ({exc})"
            ) from exc
        streams = {path.rsplit("/", 1)[-1]: (path, com.direntry(path)) for path in com.files()}

        def stream(key: str, name: str = "") -> StreamRanges:
            path, entry = streams[key]
            return _stream_ranges(location, com, path, entry, name or path)

        info = _settings(stream("OibInfo.txt").read_all(), "OibInfo.txt")["OibSaveInfo"]
        main_key = str(info["MainFileName"])
        main = _settings(stream(main_key).read_all(), str(info[main_key]))
        files: dict[str, FrameFile] = {}
        for key, value in info.items():
            name = str(value).rsplit("/", 1)[-1]
            if key.startswith("Stream") and PLANE_NAME.match(name) and key in streams:
                files[name] = stream(key, str(value))  # named as the TIFF it holds
        return main, files
    except KeyError as exc:
        raise CorruptFileError(f"{location.url}: OIB stream {exc} is missing") from exc
    finally:
        fh.close()


def _stream_ranges(location: Location, com: Any, path: str, entry: Any, name: str) -> StreamRanges:
    """Where a compound-file stream's bytes are: its sector chain as byte ranges."""
    size = int(entry.stream_size)
    if size < com.mini_stream_cutoff_size:  # small: kept in the mini stream, read now
        return StreamRanges(location, name, (), size, inline=com._read_stream(entry))
    fat, sec = com._fat, com.sec_size
    ranges: list[list[int]] = []
    secid, steps = entry.sector_start, 0
    while secid != com.ENDOFCHAIN and steps * sec < size:
        if secid >= len(fat) or steps > len(fat):
            raise CorruptFileError(f"{location.url}: stream {path!r}: broken sector chain")
        offset = (secid + 1) * sec
        if ranges and ranges[-1][0] + ranges[-1][1] == offset:
            ranges[-1][1] += sec
        else:
            ranges.append([offset, sec])
        secid, steps = fat[secid], steps + 1
    if steps * sec < size:
        raise CorruptFileError(f"{location.url}: stream {path!r} ends after {steps * sec} bytes")
    return StreamRanges(location, name, tuple((a, b) for a, b in ranges), size)


# ------------------------------------------------------------------------ metadata
def _describe(
    url: str, main: dict[str, Any], files: dict[str, FrameFile]
) -> tuple[SceneInfo, list[FrameFile]]:
    """Scene info and the plane files in C order of the plane dims."""
    indexed: dict[tuple[tuple[str, int], ...], FrameFile] = {}
    for name, f in files.items():
        match = PLANE_NAME.match(name)
        assert match is not None
        pairs = re.findall(r"([A-Z])(\d+)", match.group(1).upper())
        indexed[tuple(sorted((a, int(i) - 1) for a, i in pairs))] = f
    if not indexed:
        raise CorruptFileError(f"{url}: no plane files (s_C001....tif) found")
    letters = {a for key in indexed for a, _ in key}
    order = [a for a in "TCZ" if a in letters] + sorted(letters - set("TCZ"))
    if set(order) & set("YXS") or any(len(key) != len(order) for key in indexed):
        raise CorruptFileError(f"{url}: plane files name inconsistent axes {sorted(letters)}")
    top = dict.fromkeys(order, 0)
    for key in indexed:
        for a, i in key:
            top[a] = max(top[a], i)
    sizes = [top[a] + 1 for a in order]
    if np.prod(sizes, dtype=float) > MAX_PLANES:
        raise CorruptFileError(f"{url}: plane names declare {sizes} planes")
    planes = []
    for index in np.ndindex(*sizes):
        key = tuple(sorted(zip(order, index, strict=True)))
        if key not in indexed:
            raise CorruptFileError(
                f"{url}: plane {dict(zip(order, index, strict=True))} has no file"
            )
        planes.append(indexed[key])
    y, x = _axis_size(main, "Y"), _axis_size(main, "X")
    if not y or not x:
        raise CorruptFileError(f"{url}: the settings give no X/Y size")
    bits = int(main.get("Reference Image Parameter", {}).get("ValidBitCounts", 16) or 16)
    dims = "".join(order) + "YX"
    shape = (*sizes, y, x)
    n_c = sizes[order.index("C")] if "C" in order else 1
    info = SceneInfo(
        name=str(main.get("File Info", {}).get("DataName", "") or "Image:0"),
        dims=dims,
        shapes=(shape,),
        dtype=np.dtype("<u2" if bits > 8 else "u1"),
        channel_names=_dyes(main, n_c),
        pixel_sizes=PhysicalPixelSizes(
            _step(main, "Z", UM, 1), _step(main, "Y", UM, 0), _step(main, "X", UM, 0)
        ),
        time_interval=_step(main, "T", SECONDS, 1),
    )
    return info, planes


def _axis(main: dict[str, Any], code: str) -> dict[str, Any] | None:
    for i in range(16):
        section = main.get(f"Axis {i} Parameters Common")
        if isinstance(section, dict) and str(section.get("AxisCode", "")) == code:
            return section
    return None


def _axis_size(main: dict[str, Any], code: str) -> int:
    section = _axis(main, code)
    try:
        return int(section["MaxSize"]) if section else 0
    except (KeyError, TypeError, ValueError):
        return 0


def _step(main: dict[str, Any], code: str, units: dict[str, float], between: int) -> float | None:
    """Size of one step along an axis: its extent over ``MaxSize`` (X/Y: the field) or
    over ``MaxSize - 1`` (Z/T: first to last plane), in µm or s; None when unknown."""
    section = _axis(main, code)
    if section is None:
        return None
    try:
        n = int(section["MaxSize"]) - between
        extent = abs(float(section["EndPosition"]) - float(section["StartPosition"]))
        unit = units[str(section.get("PixUnit", "")).strip()]
    except (KeyError, TypeError, ValueError):
        return None
    return extent / n * unit if n > 0 and extent > 0 else None


def _dyes(main: dict[str, Any], n: int) -> tuple[str, ...] | None:
    names = []
    for i in range(1, n + 1):
        section = main.get(f"Channel {i} Parameters")
        dye = str(section.get("DyeName", "")).strip() if isinstance(section, dict) else ""
        names.append(dye or f"Channel:{i - 1}")
    return tuple(names) if n else None
