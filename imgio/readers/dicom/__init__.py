"""DICOM whole-slide images (VL Whole Slide Microscopy): files, folders, DICOMDIR, DICOMweb.

A slide is a series of instances. ``Image(folder)`` opens every series in a folder
(one scene each); ``Image(instance.dcm)`` opens the series the file belongs to (its
siblings in the folder, by SeriesInstanceUID); a DICOMDIR is followed where present;
``Image("https://host/dicom-web/studies/<uid>/series/<uid>")`` reads a series from a
DICOMweb server. VOLUME instances are the levels, ordered by size; THUMBNAIL, LABEL
and OVERVIEW instances are the associated images ``thumbnail``, ``label``, ``macro``.
Opening reads headers only; a region decodes only the frames that cover it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..._location import Location
from ...errors import MissingDependencyError, UnsupportedFormatError
from ..base import ArraySource, ChunkRefs, Reader, SceneInfo
from ._frames import FrameIndex
from ._header import Instance
from ._open import dicomdir_instances, folder_instances, is_dicom, read_instance, sibling_instances
from ._series import SceneLayout, build_scenes
from ._source import DicomSource, FrameStore

__all__ = ["DicomReader"]

#: a DICOMweb series address: .../studies/<uid>/series/<uid>
_WEB_SERIES = re.compile(
    r"^(?P<base>https?://.+?)/studies/(?P<study>[0-9.]+)/series/(?P<series>[0-9.]+)/?$"
)


def web_series(url: str) -> re.Match[str] | None:
    """The parts of a DICOMweb series URL, or None."""
    return _WEB_SERIES.match(url)


def _folder_has_dicom(path: str) -> bool:
    """A DICOMDIR, or a DICOM file among the first files (named .dcm or not: PACS exports
    often have no suffix); at most 8 files' first bytes are read."""
    looked = 0
    try:
        with os.scandir(path) as it:
            for i, entry in enumerate(it):
                if i >= 64 or looked >= 8:
                    break
                if entry.name == "DICOMDIR":
                    return True
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                looked += 1
                with open(entry.path, "rb") as fh:
                    if is_dicom(fh.read(132)):
                        return True
    except OSError:
        return False
    return False


@functools.lru_cache(maxsize=1)
def _pydicom_installed() -> bool:
    return importlib.util.find_spec("pydicom") is not None


def _check_pydicom() -> None:
    """pydicom must be installed (implicit VR, big endian and deflated headers, DICOMDIR and
    ``named_properties`` use it), but is not imported: explicit VR little endian headers are
    walked by imgio's own reader, and pydicom's import costs about a third of a second."""
    loaded = sys.modules.get("pydicom", False)
    if loaded is None or (loaded is False and not _pydicom_installed()):
        raise MissingDependencyError(
            "'pydicom' is needed for this (pydicom is not installed): pip install \"imgio[dicom]\""
        )


class DicomReader(Reader):
    """DICOM WSI series (files, folders, DICOMDIR, DICOMweb), lazily, frame by frame."""

    name = "dicom"
    suffixes = (".dcm", ".dicom")
    extra = "dicom"
    by_address = True

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return is_dicom(head)

    @classmethod
    def sniff_location(cls, location: Location) -> bool:
        if not location.is_local:
            return web_series(location.url) is not None
        return os.path.isdir(location.url) and _folder_has_dicom(location.url)

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        _check_pydicom()
        self._sources: dict[tuple[int, int], ArraySource] = {}
        self._instances: list[Instance]
        self._ome_text: str | None = None
        web = None if location.is_local else web_series(location.url)
        if web is not None:
            from ._web import open_series

            self._instances, stores = open_series(location, web)
            self._token = f"{location.url}|{'|'.join(sorted(i.sop_uid for i in self._instances))}"
        else:
            self._instances = self._file_instances(location)
            stores = [
                FrameIndex(Location(i.where, location.storage_options), i) for i in self._instances
            ]
            self._token = f"{location.token()}|{len(self._instances)}"
        self._stores: list[FrameStore] = list(stores)
        self._scenes: list[SceneLayout] = build_scenes(self._instances, location.url)

    @staticmethod
    def _file_instances(location: Location) -> list[Instance]:
        if location.isdir():
            found = folder_instances(location)
            if not found:
                raise UnsupportedFormatError(
                    location.url, {"dicom": "the folder holds no whole-slide DICOM instance"}
                )
            return found
        if location.name.upper() == "DICOMDIR":
            listed = dicomdir_instances(location)
            if listed:
                return listed
        first = read_instance(location)
        return sibling_instances(location, first)

    # ------------------------------------------------------------------ contract
    def scenes(self) -> Sequence[SceneInfo]:
        return [s.info for s in self._scenes]

    def source(self, scene: int, level: int = 0) -> ArraySource:
        self.check_scene_level(scene, level)
        found = self._sources.get((scene, level))
        if found is None:
            lay = self._scenes[scene]
            found = DicomSource(
                lay,
                level,
                self._stores,
                token=f"{self._token}|dicom|{scene}|{level}",
                where=f"{self.location.url}: scene {lay.info.name!r} level {level}",
            )
            self._sources[(scene, level)] = found
        return found

    def chunk_refs(self, scene: int, level: int = 0) -> ChunkRefs:
        """Each frame of the level as a byte range (native, or one fragment and its codec)."""
        from ._refs import level_refs

        self.check_scene_level(scene, level)
        lay = self._scenes[scene]
        where = f"{self.location.url}: scene {lay.info.name!r} level {level}"
        return level_refs(lay, level, self._stores, where)

    @property
    def metadata(self) -> dict[str, Any]:
        """Device, specimen, acquisition and optics of the first slide (plain values).

        ``objective_power`` (the objective lens power) and ``icc_profile`` (bytes)
        are present when the file has them; ``optical_paths`` lists every channel.
        """
        lay = self._scenes[0]
        first = self._instances[lay.levels[0].instances[0]]
        out: dict[str, Any] = dict(first.summary)
        out["optical_paths"] = [
            {
                "identifier": p.identifier,
                "description": p.description,
                "illumination_wavelength_nm": p.wavelength,
                "objective_lens_power": p.objective_power,
            }
            for p in first.optical_paths
        ]
        out["transfer_syntax"] = first.transfer_syntax
        out["photometric_interpretation"] = first.photometric
        return out

    def ome_xml(self) -> str | None:
        """OME-XML assembled from the scenes, with the objective and acquisition date
        (built on first call: ``standard_metadata`` and ``ome_metadata`` read it)."""
        if self._ome_text is None:
            from ._ome import slide_ome_xml

            self._ome_text = slide_ome_xml(self.scenes(), self.metadata)
        return self._ome_text

    # ------------------------------------------------ what a slide user asks
    def icc_profile(self, scene: int) -> bytes | None:
        """The ICC profile of the scene's optical path (brightfield slides carry one)."""
        inst = self.instance(scene)
        return next((p.icc_profile for p in inst.optical_paths if p.icc_profile), None)

    def stored_tile(self, scene: int, level: int = 0) -> tuple[int, int] | None:
        self.check_scene_level(scene, level)
        return self._scenes[scene].levels[level].tile

    def objective_power(self, scene: int) -> float | None:
        power = self.instance(scene).summary.get("objective_power")
        return float(power) if power else None

    def named_properties(self, scene: int) -> Mapping[str, str]:
        """OpenSlide's ``dicom.*`` properties: every element of the scene's level-0 instance
        (file meta information and dataset, read again here), and ``openslide.quickhash-1``."""
        from ._props import quickhash1

        inst = self.instance(scene)
        store = self._stores[self._scenes[scene].levels[0].instances[0]]
        if isinstance(store, FrameIndex):
            from ._open import header_properties

            out = header_properties(store.location)
        else:  # DICOMweb: the instance's metadata (no file meta information)
            out = store.properties()  # type: ignore[attr-defined]
        if inst.series_uid:
            out["openslide.quickhash-1"] = quickhash1(inst.series_uid)
        return out

    def instance(self, scene: int, level: int = 0) -> Instance:
        """The first instance of a level (its parsed header)."""
        self.check_scene_level(scene, level)
        return self._instances[self._scenes[scene].levels[level].instances[0]]
