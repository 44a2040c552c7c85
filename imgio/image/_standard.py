"""bioio's ``standard_metadata``: a few common acquisition values, where the file has them."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import ImgioWarning

if TYPE_CHECKING:
    from ome_types import OME

    from . import Image

__all__ = ["StandardMetadata", "standard_metadata"]


@dataclass
class StandardMetadata:
    """Common acquisition metadata (bioio's field names); ``None`` where the file is silent.

    Sizes are in µm, intervals are ``timedelta``.
    """

    binning: str | None = None
    column: str | None = None
    dimensions_present: Sequence[str] | None = None
    image_size_c: int | None = None
    image_size_t: int | None = None
    image_size_x: int | None = None
    image_size_y: int | None = None
    image_size_z: int | None = None
    imaged_by: str | None = None
    imaging_datetime: datetime | None = None
    objective: str | None = None
    pixel_size_x: float | None = None
    pixel_size_y: float | None = None
    pixel_size_z: float | None = None
    position_index: int | None = None
    row: str | None = None
    stage_position_x: float | None = None
    stage_position_y: float | None = None
    timelapse: bool | None = None
    timelapse_interval: timedelta | None = None
    total_time_duration: timedelta | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)


def standard_metadata(img: Image) -> StandardMetadata:
    """What :class:`StandardMetadata` can say about the current scene of ``img``."""
    dims = img.dims
    sizes = img.physical_pixel_sizes
    interval = img.time_interval
    n_t = dims.T
    out = StandardMetadata(
        dimensions_present=dims.order,
        image_size_c=dims.C,
        image_size_t=n_t,
        image_size_x=dims.X,
        image_size_y=dims.Y,
        image_size_z=dims.Z,
        pixel_size_x=sizes.X,
        pixel_size_y=sizes.Y,
        pixel_size_z=sizes.Z,
        position_index=img.current_scene_index,
        timelapse=n_t > 1,
        timelapse_interval=timedelta(seconds=interval) if interval and n_t > 1 else None,
        total_time_duration=(
            timedelta(seconds=interval * (n_t - 1)) if interval and n_t > 1 else None
        ),
    )
    if img.reader.ome_xml():
        try:
            _from_ome(out, img.ome_metadata, img.current_scene_index)
        except Exception as exc:  # noqa: BLE001 - odd OME never stops the pixels
            warnings.warn(
                f"OME metadata not read for standard_metadata ({type(exc).__name__}: {exc})",
                ImgioWarning,
                stacklevel=3,
            )
    return out


def _from_ome(out: StandardMetadata, ome: OME, scene: int) -> None:
    if scene >= len(ome.images):
        return
    image = ome.images[scene]
    out.imaging_datetime = image.acquisition_date
    for channel in image.pixels.channels:
        ds = channel.detector_settings
        if ds is not None and ds.binning is not None:
            out.binning = str(ds.binning.value)
            break
    users = {e.id: e for e in ome.experimenters}
    ref = image.experimenter_ref
    person = users.get(ref.id) if ref is not None else None
    if person is None and ome.experimenters:
        person = ome.experimenters[0]
    if person is not None:
        out.imaged_by = (
            person.user_name
            or " ".join(p for p in (person.first_name, person.last_name) if p)
            or None
        )
    out.objective = _objective(ome, image)
    planes = [p for p in image.pixels.planes if p.the_t == 0 and p.the_z == 0 and p.the_c == 0]
    if planes and planes[0].position_x is not None and planes[0].position_y is not None:
        from .._ome import to_micrometres

        unit_x = getattr(planes[0].position_x_unit, "value", "µm")
        unit_y = getattr(planes[0].position_y_unit, "value", "µm")
        out.stage_position_x = to_micrometres(planes[0].position_x, unit_x)
        out.stage_position_y = to_micrometres(planes[0].position_y, unit_y)


def _objective(ome: OME, image: Any) -> str | None:
    """``"40x/1.2Water"`` from the image's objective settings (else the instrument's first)."""
    instruments = {i.id: i for i in ome.instruments}
    ref = image.instrument_ref
    instrument = instruments.get(ref.id) if ref is not None else None
    if instrument is None and ome.instruments:
        instrument = ome.instruments[0]
    if instrument is None or not instrument.objectives:
        return None
    objectives = {o.id: o for o in instrument.objectives}
    settings = image.objective_settings
    obj = objectives.get(settings.id) if settings is not None else None
    obj = obj or instrument.objectives[0]
    parts = []
    if obj.nominal_magnification:  # 0 is what some converters write for "unknown"
        parts.append(f"{round(float(obj.nominal_magnification))}x")
    if obj.lens_na:
        parts.append(f"{obj.lens_na}")
    text = "/".join(parts)
    if text and obj.immersion is not None and obj.immersion.value != "Other":
        text += str(obj.immersion.value)
    return text or obj.model or None
