"""TIFF family reader on tifffile: each tifffile series is a scene, its levels the pyramid.

OME-TIFF (multi-scene, multi-file, SubIFD pyramids), ImageJ hyperstacks, generic
single/multi-page TIFF, whole-slide variants (SVS, NDPI, SCN, BIF, Philips, generic
pyramids), LSM, STK and every other series kind tifffile recognises.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from ..._location import Location
from ..._ome import OmeImage, parse_light
from ...dims import PhysicalPixelSizes
from ...errors import (
    CorruptFileError,
    ImgioError,
    ImgioWarning,
    NotByteRangesError,
    UnsupportedFormatError,
)
from .._empty import EmptySource, empty_dims
from ..base import ChunkRefs, Reader, SceneInfo
from ._errors import check_compression, tiff_errors
from ._ifds import IfdChainError, cut_chain, guard_pages
from ._ome_files import FLAVOURS, check_ome_files
from ._ome_repair import repair_ome_sizes
from ._props import WholeSlideFacts
from ._scene import (
    imagej_labels,
    mark_associated,
    native_metadata,
    ome_metadata,
    quiet_tifffile,
)
from .meta import imagej_sizes, tiff_objective_power, tiff_vendor, vendor_sizes
from .series import LevelShape, build_source
from .source import TiffSource

__all__ = ["TiffReader", "TiffSource"]

SIGNATURES = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+", b"EP*\0", b"IIRO")


class TiffReader(WholeSlideFacts, Reader):
    """Reads every TIFF flavour tifffile understands, lazily and tile by tile."""

    name = "tiff"
    suffixes = (
        ".tif",
        ".tiff",
        ".ome.tif",
        ".ome.tiff",
        ".ome.tf2",
        ".ome.tf8",
        ".ome.btf",
        ".btf",
        ".tf2",
        ".tf8",
        ".svs",
        ".ndpi",
        ".scn",
        ".bif",
        ".lsm",
        ".stk",
        ".qptiff",
        ".gel",
        ".vsi.tif",
        ".zif",
        ".ptif",
    )

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head[:4] in SIGNATURES

    options = ("allow_external_files",)

    def __init__(self, location: Location, allow_external_files: bool = False) -> None:
        super().__init__(location)
        self._lock = threading.RLock()
        self._sources: dict[tuple[int, int], TiffSource] = {}
        self._empty: dict[int, EmptySource] = {}
        head = location.head(8)
        if head[:4] not in SIGNATURES:
            raise UnsupportedFormatError(
                location.url, {"tiff": f"not a TIFF file (header {head[:4]!r})"}
            )
        self._fh: Any = None
        self._allow_external = allow_external_files
        with quiet_tifffile(), tiff_errors(location.url, "corrupted TIFF structure", self.close):
            self._tif = self._open_tif()
            self._series = self._read_series()
        if not self._series:
            self.close()
            raise CorruptFileError(f"{location.url}: the TIFF file holds no image series")
        self._token = location.token()
        self._users = 0
        self._release()

    def _release(self) -> None:
        """Close a local file between uses: an open reader holds no file handle."""
        if self.location.is_local and not self._tif.filehandle.closed:
            self._tif.filehandle.close()

    @contextlib.contextmanager
    def _file(self) -> Iterator[Any]:
        """The ``TiffFile`` with its file open for the block (reopened, then closed again)."""
        with self._lock:
            if self._tif.filehandle.closed:
                self._tif.filehandle.open()
            self._users += 1
            try:
                yield self._tif
            finally:
                self._users -= 1
                if self._users == 0:
                    self._release()

    def _open_tif(self, **flags: Any) -> Any:
        import tifffile

        location = self.location
        if location.is_local:
            tif = tifffile.TiffFile(location.url, **flags)
        else:
            if self._fh is None:
                self._fh = location.open()
            self._fh.seek(0)
            tif = tifffile.TiffFile(self._fh, name=location.name, **flags)
        guard_pages(tif, location.url)
        return tif

    def _read_series(self) -> list[Any]:
        """tifffile's series; when a flavour's metadata breaks them (an ImageJ
        ``channels=abc``, an OME ``SizeX=""``), warn and read the pages without it."""
        flags: dict[str, Any] = {}
        while True:
            try:
                if self._tif.is_ome:
                    check_ome_files(self.location, self._tif, self._allow_external)
                    if "omexml" not in flags and self._repair_ome(flags):
                        continue
                return list(self._tif.series)
            except IfdChainError as exc:
                if "chain" in flags:
                    raise
                flags["chain"] = True
                cut_chain(self._tif, exc, self.location.url)
                continue
            except (MemoryError, RecursionError, ImgioError):
                raise
            except Exception as exc:  # noqa: BLE001 - tifffile's series parsers raise anything
                kind = next((k for k in FLAVOURS if getattr(self._tif, f"is_{k}", False)), None)
                if kind is None or len(flags) >= 4:
                    raise
                warnings.warn(
                    f"{self.location.name}: its {kind} metadata is unusable "
                    f"({type(exc).__name__}: {exc}); read as plain TIFF pages without it",
                    ImgioWarning,
                    stacklevel=5,
                )
                flags[f"is_{kind}"] = False
                flags.pop("omexml", None)
                self._tif.close()
                self._tif = self._open_tif(**{k: v for k, v in flags.items() if k != "chain"})

    def _repair_ome(self, flags: dict[str, Any]) -> bool:
        """Replace OME sizes that are not sizes by the pages' (warns); True when reopened."""
        xml = self._tif.pages.first.description or ""
        fixed, fixes = repair_ome_sizes(xml, self._tif)
        flags["omexml"] = fixed
        if not fixes:
            return False
        warnings.warn(
            f"{self.location.name}: unusable OME-XML values {', '.join(fixes)} dropped; "
            "the sizes are taken from the pixels",
            ImgioWarning,
            stacklevel=6,
        )
        self._tif.close()
        self._tif = self._open_tif(**{k: v for k, v in flags.items() if k != "chain"})
        return True

    # ---------------------------------------------------------------- metadata
    def ome_xml(self) -> str | None:
        with self._file() as tif:
            if tif.is_ome:  # the file's XML, or its repaired copy (``_repair_ome``)
                return tif.ome_metadata or None
        return None

    @property
    def metadata(self) -> Any:
        """Native metadata: OME-XML text, ImageJ dict, or the first page's description/tags."""
        with self._file() as tif:
            return native_metadata(tif, self.ome_xml)

    def vendor(self) -> str:
        return tiff_vendor(self.location.suffixes, self.metadata)

    def objective_power(self, scene: int) -> float | None:
        return tiff_objective_power(self.metadata) or super().objective_power(scene)

    @cached_property
    def _ome_images(self) -> list[OmeImage]:
        xml = self.ome_xml()
        if xml and "BinaryOnly" in xml:
            found = re.search(r"MetadataFile\s*=\s*(\"[^\"]*\"|'[^']*')", xml)
            companion = found.group(1)[1:-1] if found else "its companion file"
            warnings.warn(
                f"{self.location.name} holds only pixels of an OME companion set; open "
                f"{companion!r} for the whole image and its "
                "metadata (this file is read as a plain TIFF)",
                ImgioWarning,
                stacklevel=4,
            )
        return parse_light(xml) if xml else []

    def _ome_for(self, index: int) -> OmeImage | None:
        images = self._ome_images
        if not images:
            return None
        series = self._series[index]
        if getattr(series, "kind", "ome") != "ome":
            # tifffile could not lay the pages out as the OME-XML says and fell back
            warnings.warn(
                f"{self.location.name}: the OME-XML does not match the pages of series {index} "
                f"(read as a {series.kind} TIFF series); its OME metadata is ignored",
                ImgioWarning,
                stacklevel=3,
            )
            return None
        if len(images) == len(self._series):
            return images[index]
        named = [im for im in images if im.name == series.name]
        if len(named) == 1:
            return named[0]
        warnings.warn(
            f"{self.location.name}: cannot match OME Image of series {index} ({series.name!r}); "
            "its OME metadata is ignored",
            ImgioWarning,
            stacklevel=3,
        )
        return None

    @cached_property
    def _scenes(self) -> list[SceneInfo]:
        """One scene per readable series; a broken series is skipped with a warning naming
        it (the file is refused only when no series is readable)."""
        names: list[str] = []
        out, kept, broken = [], [], []
        for i, series in enumerate(self._series):
            try:
                with quiet_tifffile():
                    out.append(self._scene_info(i, series, names))
                kept.append(i)
            except (MemoryError, RecursionError):
                raise
            except (CorruptFileError, UnsupportedFormatError) as exc:
                broken.append((i, exc))
            except ImgioError:
                raise
            except Exception as exc:  # noqa: BLE001 - tifffile raises many kinds on bad files
                error = CorruptFileError(f"{self.location.url}: series {i}: {exc}")
                error.__cause__ = exc
                broken.append((i, error))
        if broken and not out:
            raise broken[0][1]
        if broken:
            which = ", ".join(str(i) for i, _ in broken)
            warnings.warn(
                f"{self.location.name}: series {which} of {len(self._series)} unreadable and "
                f"skipped ({broken[0][1]}); the other series open as scenes",
                ImgioWarning,
                stacklevel=4,
            )
            # scene k is series kept[k] from here on
            self._series = [self._series[i] for i in kept]
            maps: dict[int, list[int]] = getattr(self, "_level_maps", {})
            self._level_maps = {k: maps[i] for k, i in enumerate(kept)}
            self._empty = {k: self._empty[i] for k, i in enumerate(kept) if i in self._empty}
        return mark_associated(self._tif, self._series, out)

    def scenes(self) -> Sequence[SceneInfo]:
        if "_scenes" not in self.__dict__:  # first call parses: needs the file
            with self._file():
                return self._scenes
        return self._scenes

    def _scene_info(self, index: int, series: Any, names: list[str]) -> SceneInfo:
        if any(int(n) < 0 for n in series.shape):  # a signed ImageWidth type (SBYTE -69)
            raise CorruptFileError(
                f"{self.location.url}: series {index} has a negative size: shape "
                f"{tuple(int(n) for n in series.shape)} ({series.axes})"
            )
        if 0 in series.shape:  # ImageLength 0, SizeZ 0: opens with its shape, reads empty
            shape = tuple(int(n) for n in series.shape)
            dims = empty_dims(str(series.axes), len(shape))
            self._empty[index] = EmptySource(dims, shape, series.dtype, f"{self._token}|{index}")
            self._level_maps = getattr(self, "_level_maps", {})
            self._level_maps[index] = [0]
            names.append(series.name or f"Image:{index}")
            return SceneInfo(names[-1], dims, (shape,), np.dtype(series.dtype))
        levels = [LevelShape(level) for level in series.levels]
        base = levels[0]
        if base.dtype is None:
            raise CorruptFileError(
                f"{self.location.url}: series {index} has an unsupported sample format "
                f"({base.keyframe.sampleformat}, {base.keyframe.bitspersample} bits)"
            )
        check_compression(base.keyframe, self.location.url, index)
        # levels must share dims; drop the ones that do not (warn)
        kept = [lv for lv in levels if lv.dims == base.dims]
        if len(kept) != len(levels):
            warnings.warn(
                f"{self.location.name}: series {index} has levels with other dims; ignored",
                ImgioWarning,
                stacklevel=4,
            )
        self._level_maps = getattr(self, "_level_maps", {})
        self._level_maps[index] = [i for i, lv in enumerate(levels) if lv.dims == base.dims]
        ome = self._ome_for(index)
        pages = series.levels[0].pages
        missing = sum(page is None for page in pages)
        if missing:
            warnings.warn(
                f"{self.location.name}: series {index} lacks {missing} of {len(pages)} planes "
                "its metadata declares; they read as 0",
                ImgioWarning,
                stacklevel=4,
            )
        name = (ome.name if ome and ome.name else None) or series.name or f"Image:{index}"
        if name in names:
            name = f"{name} ({index})"
        names.append(name)
        n_channels = dict(zip(base.dims, base.shape, strict=True)).get("C", 1)
        if ome is not None:
            channel_names, channel_colors, sizes, extra_coords = ome_metadata(
                ome, base.dims, n_channels, index, name, self.location.name
            )
        else:
            channel_names, channel_colors, extra_coords = None, None, {}
            if self._tif.is_imagej:
                sizes = self._lenient_sizes(imagej_sizes, self._tif)
                channel_names = imagej_labels(self._tif, base.dims, n_channels)
            else:
                sizes = self._lenient_sizes(vendor_sizes, self._tif, series)
        return SceneInfo(
            name=name,
            dims=base.dims,
            shapes=tuple(lv.shape for lv in kept),
            dtype=np.dtype(base.dtype),
            channel_names=channel_names,
            channel_colors=channel_colors,
            pixel_sizes=PhysicalPixelSizes(sizes.get("Z"), sizes.get("Y"), sizes.get("X")),
            time_interval=sizes.get("T"),
            extra_coords=extra_coords or None,
        )

    def _lenient_sizes(
        self, parse: Callable[..., dict[str, float]], *args: Any
    ) -> dict[str, float]:
        """Pixel sizes from vendor metadata; unparsable values are dropped with a warning."""
        try:
            return parse(*args)
        except Exception as exc:  # noqa: BLE001 - any malformed value (``MPP = 0.25e``)
            warnings.warn(
                f"{self.location.name}: unreadable pixel size metadata "
                f"({type(exc).__name__}: {exc}); pixel sizes unknown",
                ImgioWarning,
                stacklevel=5,
            )
            return {}

    # ------------------------------------------------------------------ pixels
    def source(self, scene: int, level: int = 0) -> TiffSource:
        self.check_scene_level(scene, level)
        infos = self.scenes()
        if scene in self._empty:
            return self._empty[scene]  # type: ignore[return-value]
        key = (scene, level)
        with self._lock:
            src = self._sources.get(key)
            if src is None:
                series = self._series[scene]
                native_level = self._level_maps[scene][level]
                try:
                    with quiet_tifffile(), self._file():
                        src = build_source(
                            self.location,
                            self._tif,
                            series,
                            native_level,
                            infos[scene].name,
                            self._token,
                        )
                except CorruptFileError:
                    raise
                except Exception as exc:  # noqa: BLE001 - tifffile raises many kinds on bad files
                    raise CorruptFileError(
                        f"{self.location.url}: scene {infos[scene].name!r} level {level}: {exc}"
                    ) from exc
                self._sources[key] = src
        return src

    def chunk_refs(self, scene: int, level: int = 0) -> ChunkRefs:
        """The segments of ``(scene, level)`` as byte ranges with their numcodecs codec."""
        src = self.source(scene, level)
        if not isinstance(src, TiffSource):
            raise NotByteRangesError(
                f"{self.location.url}: scene {scene} has no pixel data stored in the file"
            )
        return src.chunk_refs()

    def close(self) -> None:
        tif = getattr(self, "_tif", None)
        if tif is not None:
            tif.close()
        if getattr(self, "_fh", None) is not None:
            self._fh.close()
        super().close()
