"""Find and parse the instances of a slide: one file, its siblings, a folder, a DICOMDIR.

pydicom reads each instance's dataset up to the pixel data; its exceptions are
turned into imgio errors here, the one place the file reader calls it.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from ..._limits import BoundedFile
from ..._location import Location
from ...errors import CorruptFileError, ImgioError, ImgioWarning, UnsupportedFormatError, require
from ._codec import BIG, DEFLATED, IMPLICIT, TRANSFER_SYNTAXES
from ._fastds import DatasetError, Truncated, parse_dataset
from ._frames import inflate
from ._header import Instance, instance_from_dataset
from ._values import HeaderError

__all__ = [
    "deflated_body",
    "folder_instances",
    "header_properties",
    "is_dicom",
    "read_instance",
    "sibling_instances",
]

#: most instances one folder may hold before the open is refused (a header each is read)
MAX_INSTANCES = 4096
#: a deflated dataset may inflate to this many times its size (and at most 4 GiB)
_DEFLATE_RATIO = 1000
#: bytes read for a header at first (more, four times as many each time, when it is longer)
_FIRST_READ = 1 << 16


def is_dicom(head: bytes) -> bool:
    """A DICOM Part 10 file: 128-byte preamble, then ``DICM``."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def _meta(head: bytes, where: str) -> tuple[str, int]:
    """Transfer syntax and end offset of the file meta group (explicit VR little endian)."""
    pos, ts = 132, ""
    long_vrs = (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV")
    while pos + 8 <= len(head):
        group, elem = struct.unpack_from("<HH", head, pos)
        if group != 2:
            return ts, pos
        vr = head[pos + 4 : pos + 6]
        if vr in long_vrs:
            if pos + 12 > len(head):
                break
            (n,) = struct.unpack_from("<I", head, pos + 8)
            start = pos + 12
        else:
            (n,) = struct.unpack_from("<H", head, pos + 6)
            start = pos + 8
        if elem == 0x0010:
            ts = head[start : start + n].rstrip(b"\0 ").decode("ascii", "replace")
        pos = start + n
    raise CorruptFileError(f"{where}: the file meta information does not end in its first bytes")


def deflated_body(location: Location) -> bytes:
    """The inflated dataset of a Deflated Explicit VR Little Endian file."""
    size = location.size
    head = location.read_range(0, min(size, 1 << 16), exact=False)
    _, end = _meta(head, location.url)
    limit = min(4 << 30, _DEFLATE_RATIO * size + (1 << 20))
    return inflate(location.read_range(end, size - end), location.url, limit)


def _stop_at_pixels(tag: Any, vr: Any, length: int) -> bool:
    return int(tag) == 0x7FE00010


def _dataset(location: Location, ts: str) -> tuple[Any, int]:
    """pydicom's dataset up to the pixel data, and where the pixel data element starts."""
    pydicom: Any = require("pydicom", extra="dicom")
    if ts == DEFLATED:
        body = deflated_body(location)
        fp = io.BytesIO(body)
        ds = pydicom.filereader.read_dataset(fp, False, True, stop_when=_stop_at_pixels)
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ts
        return ds, fp.tell()
    size = location.size
    nbytes = min(size, _FIRST_READ)
    while True:  # the header in one read (a sparse level's per-frame groups may need more)
        data = location.read_range(0, nbytes, exact=False)
        fp = io.BytesIO(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom's own warnings on odd values
                ds = pydicom.dcmread(fp, stop_before_pixels=True)
            at = fp.tell()
            if at + 8 <= len(data) or len(data) >= size:
                return ds, at
        except Exception:  # noqa: BLE001 - a header cut by the buffer: read more
            if len(data) >= size:
                raise
        nbytes = min(size, nbytes * 4)


def _fast_dataset(location: Location, head: bytes, start: int) -> tuple[Any, int] | None:
    """The dataset through imgio's own explicit VR little endian walker (reading more
    while the header runs past the bytes read), or None to let pydicom judge the file."""
    size = location.size
    data = head
    while True:
        try:
            ds, at = parse_dataset(data, start)
        except Truncated:
            if len(data) >= size:
                return None
            data = location.read_range(0, min(size, len(data) * 4), exact=False)
            continue
        except DatasetError:
            return None
        if at + 8 <= len(data) or len(data) >= size:
            return ds, at
        data = location.read_range(0, min(size, len(data) * 4), exact=False)


@contextmanager
def _parse_errors(url: str) -> Iterator[None]:
    """The one place a header parse's errors become imgio errors: a SOP class that is no
    slide is unsupported, anything else pydicom or the walker raises is a corrupt file."""
    try:
        yield
    except HeaderError as exc:
        if "SOP class" in str(exc):
            raise UnsupportedFormatError(url, {"dicom": str(exc)}) from exc
        raise CorruptFileError(f"{url}: {exc}") from exc
    except ImgioError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises anything on a damaged dataset
        raise CorruptFileError(
            f"{url}: cannot parse the DICOM dataset: {type(exc).__name__}: {exc}"
        ) from exc


def read_instance(location: Location) -> Instance:
    """Parse one instance file's header (no pixel data is read).

    Raises
    ------
    UnsupportedFormatError
        Not DICOM, not a VL Whole Slide Microscopy instance, or a transfer syntax imgio lacks.
    CorruptFileError
        The dataset cannot be parsed, or lacks what a tiled instance needs.
    """
    head = location.read_range(0, _FIRST_READ, exact=False)
    if not is_dicom(head):
        raise UnsupportedFormatError(location.url, {"dicom": "no DICM signature at byte 128"})
    ts, meta_end = _meta(head, location.url)
    if ts not in TRANSFER_SYNTAXES:
        raise UnsupportedFormatError(
            location.url, {"dicom": f"transfer syntax {ts or 'missing'} is not supported"}
        )
    with _parse_errors(location.url):
        found = None if ts in (IMPLICIT, BIG, DEFLATED) else _fast_dataset(location, head, meta_end)
        if found is None:
            ds, offset = _dataset(location, ts)
        else:
            ds, offset = found
            ds.file_meta = SimpleNamespace()
        ds.file_meta.TransferSyntaxUID = ts
        max_frames = max(1, location.size // 8)
        return instance_from_dataset(ds, location.url, offset, max_frames)


def header_properties(location: Location) -> dict[str, str]:
    """OpenSlide's ``dicom.*`` properties of an instance file: its file meta information and
    dataset (to the pixel data), read again (``named_properties`` is asked for rarely).

    Raises
    ------
    CorruptFileError
        The header cannot be parsed.
    """
    from ._props import elements_of, flatten

    head = location.read_range(0, _FIRST_READ, exact=False)
    out: dict[str, str] = {}
    with _parse_errors(location.url):
        ts, meta_end = _meta(head, location.url)
        meta = parse_dataset(head[:meta_end], 132)[0]
        found = None if ts in (IMPLICIT, BIG, DEFLATED) else _fast_dataset(location, head, meta_end)
        ds = found[0] if found is not None else _dataset(location, ts)[0]
        flatten(elements_of(meta), "dicom", out)
        flatten(elements_of(ds), "dicom", out)  # pydicom converts values here: inside the guard
    return out


def _listing(folder: Location) -> list[Location]:
    """Files directly in a folder (local or a listable remote store), sorted by name."""
    if folder.is_local:
        with os.scandir(folder.url) as it:
            names = sorted(e.name for e in it if e.is_file() and not e.name.startswith("."))
        return [folder.child(n) for n in names]
    if folder.is_http:
        return []  # HTTP has no listing
    try:
        found = folder.fs.ls(folder.fs_path, detail=True)
    except (OSError, ValueError):
        return []
    scheme = folder.url.split("://", 1)[0]
    paths = sorted(str(f["name"]) for f in found if f.get("type") == "file")
    return [Location(f"{scheme}://{p}", folder.storage_options) for p in paths]


def _dicomdir_files(location: Location) -> list[Location] | None:
    """The image files a DICOMDIR names (relative to its folder), or None when it is not one."""
    pydicom: Any = require("pydicom", extra="dicom")
    try:
        fh = BoundedFile(location.open(), location.size, location.url)
        try:
            ds = pydicom.dcmread(fh)
        finally:
            fh.close()
        records = ds.get("DirectoryRecordSequence")
        if records is None:
            return None
        out = []
        for rec in records:
            ref = rec.get("ReferencedFileID")
            if ref is None or str(rec.get("DirectoryRecordType", "")).upper() != "IMAGE":
                continue
            parts = [
                str(p)
                for p in (
                    ref
                    if isinstance(ref, (list, tuple))
                    or hasattr(ref, "__iter__")
                    and not isinstance(ref, str)
                    else [ref]
                )
            ]
            if any(p in ("..", "") or "/" in p or "\\" in p for p in parts):
                raise CorruptFileError(
                    f"{location.url}: a record names {parts}, outside its folder"
                )
            target = location.sibling(parts[0])
            for p in parts[1:]:
                target = target.child(p)
            out.append(target)
        return out
    except ImgioError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises anything on a damaged dataset
        raise CorruptFileError(
            f"{location.url}: cannot parse the DICOMDIR: {type(exc).__name__}: {exc}"
        ) from exc


def _parse_all(candidates: list[Location], skip: str | None = None) -> Iterator[Instance]:
    """Parse each DICOM candidate; files that are not slide instances are passed over."""
    if len(candidates) > MAX_INSTANCES:
        raise CorruptFileError(
            f"{len(candidates)} files to read; at most {MAX_INSTANCES} instances are read per slide"
        )
    for loc in candidates:
        if loc.url == skip or loc.name.upper() == "DICOMDIR":
            continue
        try:
            yield read_instance(loc)
        except UnsupportedFormatError:
            continue
        except CorruptFileError as exc:
            warnings.warn(f"{loc.url} skipped: {exc}", ImgioWarning, stacklevel=4)


def folder_instances(folder: Location) -> list[Instance]:
    """Every slide instance in a folder (through its DICOMDIR when it has one)."""
    dicomdir = folder.child("DICOMDIR")
    files = _dicomdir_files(dicomdir) if dicomdir.exists() else None
    return list(_parse_all(files if files is not None else _listing(folder)))


def dicomdir_instances(location: Location) -> list[Instance] | None:
    """The instances a DICOMDIR file names, or None when ``location`` is no DICOMDIR."""
    files = _dicomdir_files(location)
    return None if files is None else list(_parse_all(files))


def sibling_instances(location: Location, first: Instance) -> list[Instance]:
    """``first`` and the instances of its series beside it in the same folder."""
    if location.is_local:
        folder = Location(os.path.dirname(location.url))
    else:
        folder = Location(location.url.rstrip("/").rsplit("/", 1)[0], location.storage_options)
    try:
        others = _listing(folder)
    except OSError:
        others = []
    if len(others) > MAX_INSTANCES:
        warnings.warn(
            f"{folder.url} holds {len(others)} files; only {location.name} is read "
            f"(siblings are looked for among at most {MAX_INSTANCES})",
            ImgioWarning,
            stacklevel=3,
        )
        others = []
    found = [first]
    for inst in _parse_all(others, skip=location.url):
        if inst.series_uid == first.series_uid and inst.sop_uid != first.sop_uid:
            found.append(inst)
    return found
