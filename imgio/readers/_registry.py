"""Pick a reader for a location: ``reader=`` name > sniffed bytes > suffix.

Readers come from :data:`imgio.readers.BUILTIN_READERS` and the entry-point group
``imgio.readers`` (other packages add formats there without touching imgio).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from .._location import Location
from ..errors import ImgioError, MissingDependencyError, UnsupportedFormatError
from . import BUILTIN_READERS
from .base import Reader

__all__ = [
    "available_readers",
    "known_suffixes",
    "open_reader",
    "reader_class",
    "recognised",
]

ENTRY_POINT_GROUP = "imgio.readers"


def entry_points(**kwargs: Any) -> Any:
    """``importlib.metadata.entry_points``, imported only when a scan is needed (it is slow)."""
    from importlib.metadata import entry_points as scan

    return scan(**kwargs)


@cache
def _specs() -> dict[str, str]:
    specs = dict(BUILTIN_READERS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        specs.setdefault(ep.name, ep.value)
    return specs


def available_readers() -> list[str]:
    """Names of every reader imgio knows (built in and from entry points)."""
    return list(_specs())


_CLASSES: dict[str, type[Reader]] = {}


def reader_class(name: str) -> type[Reader]:
    """The reader class registered under ``name`` (imported once, then remembered)."""
    cls = _CLASSES.get(name)
    if cls is not None:
        return cls
    spec = BUILTIN_READERS.get(name)  # built-ins need no entry-point scan
    if spec is None:
        specs = _specs()
        if name not in specs:
            raise UnsupportedFormatError(
                name, {name: f"no reader of that name; known: {sorted(specs)}"}
            )
        spec = specs[name]
    module, _, attr = spec.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Reader)):
        raise TypeError(f"{spec} is not an imgio Reader subclass")
    _CLASSES[name] = cls
    return cls


def _loadable() -> list[type[Reader]]:
    """Every reader class that imports (a reader whose module fails to load is skipped)."""
    out = []
    for name in _specs():
        try:
            out.append(reader_class(name))
        except (ImportError, AttributeError, TypeError, ImgioError):
            continue
    return out


@cache
def known_suffixes() -> tuple[str, ...]:
    """Every file suffix some reader claims (lower case, with the dot: ``".ome.tif"``).

    The one answer to "which files can imgio open?" for ``imgio serve``'s listing, the
    xarray backend, the napari manifest and the command line.
    """
    seen: dict[str, None] = {}
    for cls in _loadable():
        for suffix in cls.suffixes:
            seen.setdefault(suffix.lower(), None)
    return tuple(seen)


def recognised(location: Location) -> bool:
    """Whether some reader claims ``location`` by its suffix or (a local file) its first bytes.

    Cheap: nothing is opened beyond the first 4 KiB of a local file; ``True`` is a
    promise to try, not that the file is intact.
    """
    suffixes = location.suffixes.rstrip("/")
    if suffixes and suffixes.endswith(known_suffixes()):
        return True
    if not location.is_local:
        return False
    classes = _loadable()
    if location.isdir():
        return any(cls.sniff_location(location) for cls in classes)
    try:
        head = location.head(4096)
    except (OSError, ImgioError):
        return False
    finally:
        location.close()
    return any(cls.sniff(head) for cls in classes)


def _recognises(cls: type[Reader], location: Location, head: bytes) -> bool:
    return (bool(head) and cls.sniff(head)) or cls.sniff_location(location)


def _candidates(location: Location, head: bytes) -> tuple[list[str], dict[str, str]]:
    """Reader names in the order to try: sniffed, then by suffix."""
    sniffed, by_suffix, declined = [], [], {}
    suffixes = location.suffixes
    for name in _specs():
        try:
            cls = reader_class(name)
        except (ImportError, AttributeError, TypeError) as exc:
            declined[name] = f"could not be loaded ({exc})"
            continue
        if _recognises(cls, location, head):
            sniffed.append(name)
        elif any(suffixes.endswith(s) for s in cls.suffixes):
            by_suffix.append(name)
        else:
            declined[name] = (
                "neither its signature nor its suffixes "
                + (f"({', '.join(cls.suffixes)})" if cls.suffixes else "")
                + " match"
            )
    return sniffed + by_suffix, declined


def _order(location: Location, head: bytes, declined: dict[str, str]) -> Iterator[str]:
    """Built-in readers that recognise the file first; the entry-point scan only after them."""
    tried = []
    for name in BUILTIN_READERS:
        try:
            if _recognises(reader_class(name), location, head):
                tried.append(name)
                yield name
        except (ImportError, AttributeError, TypeError):
            continue
    names, reasons = _candidates(location, head)
    declined.update(reasons)
    yield from (n for n in names if n not in tried)


def _construct(cls: type[Reader], location: Location, options: Mapping[str, Any]) -> Reader:
    """``cls(location, **options)`` with only the options ``cls`` declares."""
    accepted = {k: v for k, v in options.items() if k in cls.options}
    return cls(location, **accepted)


def open_reader(
    location: Location,
    reader: str | type[Reader] | None = None,
    options: Mapping[str, Any] | None = None,
) -> Reader:
    """Open ``location`` with the forced ``reader`` or the first that accepts it.

    ``options`` are reader keyword options (``reconstruct_mosaic=...``); each reader
    receives those it declares in :attr:`Reader.options` and ignores the rest.

    Raises
    ------
    MissingFileError
        Nothing exists at the location.
    UnsupportedFormatError
        Every reader declined; the message gives each one's reason.
    """
    with location.session():  # one descriptor and one stat for the whole open
        return _open(location, reader, options)


def _by_address(location: Location, reader: str | type[Reader] | None) -> type[Reader] | None:
    """A reader that recognises a remote location by its address alone (a DICOMweb series:
    no object to HEAD, no head bytes to read); None for every other location."""
    if location.is_local:
        return None
    names = [reader] if reader is not None else list(BUILTIN_READERS)
    for name in names:
        try:
            cls = name if isinstance(name, type) else reader_class(name)
        except (ImportError, AttributeError, TypeError):
            continue
        if cls.by_address and cls.sniff_location(location):
            return cls
    return None


def _open(
    location: Location, reader: str | type[Reader] | None, options: Mapping[str, Any] | None
) -> Reader:
    addressed = _by_address(location, reader)
    if addressed is not None:
        return _construct(addressed, location, options or {})
    location.check_exists()
    if reader is not None:
        cls = reader if isinstance(reader, type) else reader_class(reader)
        return _construct(cls, location, options or {})
    head = b"" if location.isdir() else location.head(4096)
    declined: dict[str, str] = {}
    for name in _order(location, head, declined):
        cls = reader_class(name)
        try:
            return _construct(cls, location, options or {})
        except MissingDependencyError:
            raise
        except ImgioError as exc:
            # a reader that recognised the file but found it corrupt speaks for the file
            recognised = _recognises(cls, location, head)
            if recognised and not isinstance(exc, UnsupportedFormatError):
                raise
            if isinstance(exc, UnsupportedFormatError):
                declined.update(exc.declined)
            else:
                declined[name] = str(exc)
    fallback = _fallback(location, declined)
    if fallback is not None:
        return fallback
    raise UnsupportedFormatError(location.url, declined)


FALLBACK = "bioformats"


def _fallback(location: Location, declined: dict[str, str]) -> Reader | None:
    """Bio-Formats for a local file whose suffix no built-in reader claims and Bio-Formats
    lists, when its extra is installed (never otherwise: it is GPL and starts a JVM in a
    worker process); its refusal is a reason."""
    from .bioformats import available, lists_suffix

    suffixes = location.suffixes
    claimed = any(
        suffixes.endswith(s)
        for name in BUILTIN_READERS
        if name != FALLBACK
        for s in reader_class(name).suffixes
    )
    if claimed or not location.is_local or location.isdir() or not available():
        why = "a built-in reader's suffix" if claimed else "not installed (imgio[bioformats])"
        declined[FALLBACK] = f"not tried: {why}"
        return None
    try:
        if not lists_suffix(location):
            declined[FALLBACK] = "not tried: Bio-Formats lists no reader for this suffix"
            return None
        return reader_class(FALLBACK)(location)
    except ImgioError as exc:  # a guess, not a recognition: its refusal is a reason
        reasons = exc.declined if isinstance(exc, UnsupportedFormatError) else {}
        declined[FALLBACK] = reasons.get(FALLBACK, str(exc))
        return None
