"""MetaMorph multi-dimensional acquisitions: a ``.nd`` text file and its image files.

The ``.nd`` file (``"Key", value`` lines) names the wavelengths (``WaveName1``...),
stage positions (``Stage1``...), the number of time points and Z steps. MetaMorph
writes one file per wavelength, position and time point, named
``<nd stem>[_w<i><WaveName>][_s<i>][_t<i>]`` with ``.stk`` (a Z stack) when the
wavelength does Z and ``.tif`` otherwise. Wavelengths are ``C`` (their names the
channel names), positions are scenes (named by ``Stage<i>``), time points ``T``; the
Z stack comes from the files. A wavelength without Z in a Z acquisition fills Z index 0
(other planes read as 0); files that are missing (a wavelength not taken at every time
point) read as 0, with a warning. ``ZStepSize`` gives the Z pixel size in µm (a decimal
comma is read too); X/Y sizes come from the files' own calibration.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

from .._confine import referenced
from .._limits import MAX_GRID
from .._location import Location
from ..dims import PhysicalPixelSizes
from ..errors import CorruptFileError, ImgioWarning, UnsupportedFormatError
from .base import SceneInfo
from .sequence import Entry, SequenceReader

__all__ = ["MetaMorphReader", "parse_nd"]

MAX_ND_BYTES = 1 << 20
_LINE = re.compile(r'^\s*"([^"]*)"\s*(?:,\s*(.*?))?\s*$')


def parse_nd(text: str, where: str) -> dict[str, Any]:
    """The ``"Key", value`` pairs of an ``.nd`` file: strings unquoted, ``TRUE``/``FALSE``
    as bools, numbers as int or float (a decimal comma allowed)."""
    lines = text.splitlines()
    if not lines or not lines[0].strip().startswith('"NDInfoFile"'):
        raise UnsupportedFormatError(where, {"metamorph": 'no "NDInfoFile" first line'})
    out: dict[str, Any] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            raise CorruptFileError(
                f"{where} line {number}: expected '\"Key\", value', found {line[:80]!r}"
            )
        key, raw = m.group(1), (m.group(2) or "").strip()
        out[key] = _value(raw)
    return out


def _value(raw: str) -> Any:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    if raw.upper() in ("TRUE", "FALSE"):
        return raw.upper() == "TRUE"
    for cast in (int, float):
        try:
            return cast(raw.replace(",", ".") if cast is float else raw)
        except ValueError:
            continue
    return raw


def _count(info: dict[str, Any], key: str, where: str) -> int:
    value = info.get(key, 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_GRID:
        raise CorruptFileError(f"{where}: {key} is {value!r}; expected a count 1..{MAX_GRID}")
    return value


@dataclasses.dataclass(frozen=True)
class _Plan:
    waves: list[tuple[str, bool]]  # (name, does Z); one ("", z) when DoWave is off
    stages: list[str]  # position names; one "" when DoStage is off
    n_t: int
    stem: str
    wave_in_name: bool
    timelapse: bool
    z_step: float | None


def _plan(info: dict[str, Any], stem: str, where: str) -> _Plan:
    do_z = bool(info.get("DoZSeries", False))
    waves: list[tuple[str, bool]] = [("", do_z)]
    if info.get("DoWave"):
        n = _count(info, "NWavelengths", where)
        waves = [
            (str(info.get(f"WaveName{i}", f"w{i}")), do_z and bool(info.get(f"WaveDoZ{i}", True)))
            for i in range(1, n + 1)
        ]
    stages = [""]
    if info.get("DoStage"):
        n = _count(info, "NStagePositions", where)
        stages = [str(info.get(f"Stage{i}", f"Position {i}")) for i in range(1, n + 1)]
    n_t = _count(info, "NTimePoints", where) if info.get("DoTimelapse") else 1
    if len(waves) * len(stages) * n_t > MAX_GRID:
        raise CorruptFileError(f"{where}: {len(waves)} x {len(stages)} x {n_t} files is too many")
    step = info.get("ZStepSize")
    z_step = float(step) if isinstance(step, (int, float)) and not isinstance(step, bool) else None
    return _Plan(
        waves,
        stages,
        n_t,
        stem,
        bool(info.get("WaveInFileName", True)),
        bool(info.get("DoTimelapse")),
        z_step if do_z and z_step and z_step > 0 else None,
    )


def _does_z(info: dict[str, Any]) -> bool:
    return bool(info.get("DoZSeries", False))


class MetaMorphReader(SequenceReader):
    """A MetaMorph ``.nd`` acquisition: positions as scenes, wavelengths on C, T, Z."""

    name = "metamorph"
    suffixes: ClassVar[tuple[str, ...]] = (".nd",)
    options = ("allow_external_files",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b'"NDInfoFile"')

    def __init__(self, location: Location, allow_external_files: bool = False) -> None:
        size = location.size
        if size > MAX_ND_BYTES:
            raise CorruptFileError(f"{location.name}: {size} bytes; an .nd file is under 1 MiB")
        text = location.read_range(0, size).decode("latin-1")
        info = parse_nd(text, location.url)
        stem = location.name.rsplit(".", 1)[0]
        plan = _plan(info, stem, location.name)
        entries, reference, missing = self._entries(location, plan, allow_external_files)
        if not entries:
            raise CorruptFileError(f"{location.name}: none of the files it names exists")
        if missing:
            warnings.warn(
                f"{location.name}: {missing} of the files it names are missing; they read as 0",
                ImgioWarning,
                stacklevel=3,
            )
        super().__init__(
            entries,
            where=location.name,
            channel_names=[w for w, _ in plan.waves] if info.get("DoWave") else None,
            reference=reference,
            # MetaMorph's stacks are Z (tifffile calls an STK's planes I, T or Q)
            rename={d: "Z" for d in "QIT"} if _does_z(info) else None,
            warn_missing=False,
        )
        self.location = location
        self._nd, self._plan = info, plan

    @staticmethod
    def _entries(
        location: Location, plan: _Plan, allow: bool
    ) -> tuple[list[Entry], list[Location], int]:
        listing = _listing(location)
        entries: list[Entry] = []
        reference: list[Location] = []
        missing = 0
        for c, (wave, has_z) in enumerate(plan.waves):
            w = f"_w{c + 1}{wave}" if wave and plan.wave_in_name else ""
            for s, _ in enumerate(plan.stages):
                p = f"_s{s + 1}" if len(plan.stages) > 1 or plan.stages[0] else ""
                for t in range(plan.n_t):
                    tt = f"_t{t + 1}" if plan.timelapse else ""
                    base = f"{plan.stem}{w}{p}{tt}"
                    if "/" in base or "\\" in base:  # a wave name with a path: check it first
                        referenced(location, base, allow_external=allow, where=location.name)
                    name = _existing(None if "/" in base else listing, base, has_z)
                    if name is None:
                        missing += 1
                        continue
                    loc = referenced(location, name, allow_external=allow, where=location.name)
                    entries.append((loc, {"P": str(s), "T": str(t), "C": str(c)}))
                    if has_z:
                        reference.append(loc)
        return entries, reference, missing

    def scenes(self) -> Sequence[SceneInfo]:
        if self._infos is None:
            infos = []
            for info, name in zip(super().scenes(), self._scene_names(), strict=True):
                sizes = info.pixel_sizes
                if self._plan.z_step is not None:
                    sizes = PhysicalPixelSizes(self._plan.z_step, sizes.Y, sizes.X)
                infos.append(dataclasses.replace(info, name=name, pixel_sizes=sizes))
            self._infos = infos
        return self._infos

    def _scene_names(self) -> list[str]:
        kept = [int(n[1:]) if n.startswith("P") else 0 for n in self._names]
        names = [self._plan.stages[k] or f"Image:{i}" for i, k in enumerate(kept)]
        seen: set[str] = set()
        out = []
        for i, n in enumerate(names):
            out.append(n if n not in seen else f"{n} ({i})")
            seen.add(n)
        return out

    @property
    def metadata(self) -> Any:
        """The ``.nd`` file's keys and values."""
        return dict(self._nd)


def _listing(location: Location) -> dict[str, str] | None:
    """Lower-case name -> name of the files beside a local ``.nd`` (None when remote)."""
    if not location.is_local:
        return None
    try:
        names = os.listdir(os.path.dirname(location.url))
    except OSError:
        return None
    return {n.lower(): n for n in names}


def _existing(listing: dict[str, str] | None, base: str, has_z: bool) -> str | None:
    """The file MetaMorph wrote for ``base``: ``.stk`` for a Z stack, else ``.tif``
    (either case; the other suffix when only it exists). Remote: the expected name."""
    order = (".stk", ".tif", ".tiff") if has_z else (".tif", ".tiff", ".stk")
    if listing is None:
        return base + order[0]
    for suffix in order:
        found = listing.get((base + suffix).lower())
        if found is not None:
            return found
    return None
