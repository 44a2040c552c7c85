"""The images a server may show: found under the paths it was given, and nothing else.

An image is named by its path relative to the root it was found under (prefixed by
the root's name when several roots are served). A name from a request is resolved
back to a path and accepted only when it is one the catalog listed: no ``..``, no
absolute paths, no symlink that leads out of a root.

A root may also be a URL (``s3://bucket/slide.ome.zarr``, ``https://...``): it is one
image, named by its last path component, opened with the catalog's
``storage_options``; nothing else at that location is reachable.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..readers._registry import known_suffixes

if TYPE_CHECKING:
    from ..arrays import ImageFile

__all__ = ["Catalog", "Entry", "NotServed"]

_ZARR_MARKERS = (".zattrs", ".zgroup", "zarr.json")


class NotServed(LookupError):
    """A requested name that is not an image of the catalog (answered with 404)."""


@dataclass(frozen=True)
class Entry:
    """One servable image: its public name and its resolved path or URL."""

    name: str
    path: Path | str


def _is_zarr_dir(p: Path) -> bool:
    return p.is_dir() and any((p / m).exists() for m in _ZARR_MARKERS)


def _walk(root: Path) -> Iterator[Path]:
    """Image files and Zarr stores under ``root`` (not descending into stores)."""
    if root.is_file() or _is_zarr_dir(root):
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            if _is_zarr_dir(here / d):
                yield here / d
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            if not f.startswith(".") and _readable_name(f):
                yield here / f


def _readable_name(name: str) -> bool:
    """A file name with a suffix some imgio reader claims (the registry's list)."""
    return name.lower().endswith(known_suffixes())


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve(strict=True).relative_to(root)
    except (ValueError, OSError):
        return False
    return True


_ABSOLUTE = re.compile(r"(^|[\s'\"(=])(/[^\s'\":,()]+)")


class Catalog:
    """Images under ``roots``, opened on demand and kept in a small LRU of open images."""

    def __init__(
        self,
        roots: Sequence[str | os.PathLike[str]],
        *,
        max_open: int = 32,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not roots:
            raise ValueError("serve needs at least one file or folder")
        self._roots: list[tuple[str, Path]] = []
        self._urls: dict[str, str] = {}
        self.storage_options = dict(storage_options or {})
        for r in roots:
            if isinstance(r, str) and "://" in r and not r.startswith("file://"):
                name = r.rstrip("/").rsplit("/", 1)[-1]
                if not name or name in self._urls:
                    raise ValueError(f"{r!r}: remote roots need distinct last path components")
                self._urls[name] = r
                continue
            p = Path(r.removeprefix("file://") if isinstance(r, str) else r).expanduser()
            if not p.exists():
                raise FileNotFoundError(f"{p} does not exist")
            self._roots.append((p.name, p.resolve()))
        self._multi = len(self._roots) > 1 or (bool(self._roots) and bool(self._urls))
        self._open: OrderedDict[str, ImageFile] = OrderedDict()
        self._max_open = max_open
        self._lock = threading.Lock()

    def redact(self, text: str) -> str:
        """``text`` (an error message) without the server's absolute paths: a path under
        a served root becomes the name it is served as, any other absolute path its last
        component."""
        for prefix, base, _ in self._bases():
            text = text.replace(f"{base}{os.sep}", prefix)
        return _ABSOLUTE.sub(lambda m: m[1] + m[2].rsplit("/", 1)[-1], text)

    def _bases(self) -> Iterator[tuple[str, Path, Path]]:
        """(name prefix, base folder names are relative to, confining path) per root."""
        for label, root in self._roots:
            prefix = f"{label}/" if self._multi else ""
            if root.is_dir() and not _is_zarr_dir(root):
                yield prefix, root, root
            else:  # a single file or store: named by itself, confined to itself
                yield prefix, root.parent, root

    def entries(self) -> list[Entry]:
        """Every servable image, in a stable order (rescanned on each call)."""
        out: list[Entry] = [Entry(name, url) for name, url in self._urls.items()]
        for prefix, base, confine in self._bases():
            for p in _walk(confine):
                if _inside(p, confine):  # else a symlink leading out of the root
                    out.append(Entry(prefix + p.relative_to(base).as_posix(), p))
        return out

    def resolve(self, name: str) -> Entry:
        """The entry called ``name``; anything else raises :class:`NotServed`."""
        refused = NotServed(f"no image named {name!r}")
        if name in self._urls:
            return Entry(name, self._urls[name])
        if not name or "\x00" in name or name.startswith("/") or "\\" in name:
            raise refused
        parts = name.split("/")
        if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
            raise refused
        for prefix, base, confine in self._bases():
            if prefix and not name.startswith(prefix):
                continue
            rel = Path(*name[len(prefix) :].split("/"))
            candidate = base / rel
            if not _inside(candidate, confine):
                continue
            if candidate != confine and not candidate.is_relative_to(confine):
                continue
            inner = [candidate.parents[i] for i in range(len(rel.parts) - 1)]
            if any(_is_zarr_dir(d) for d in inner):
                continue  # a group inside a store is not an image of its own
            if _is_zarr_dir(candidate) or (candidate.is_file() and _readable_name(candidate.name)):
                return Entry(name, candidate)
        raise refused

    def size_of(self, name: str, *, max_files: int = 2000) -> int | None:
        """Bytes on disk of ``name`` (a store's files summed; None for a URL or a store
        of more than ``max_files`` files, not walked to the end)."""
        path = self.resolve(name).path
        if isinstance(path, str):
            return None
        if path.is_file():
            return path.stat().st_size
        total, count = 0, 0
        for dirpath, _, filenames in os.walk(path):
            count += len(filenames)
            if count > max_files:
                return None
            total += sum((Path(dirpath) / f).stat().st_size for f in filenames)
        return total

    def file(self, name: str) -> ImageFile:
        """The open :class:`~imgio.ImageFile` of ``name`` (opened once, shared by requests)."""
        from ..arrays import ImageFile

        with self._lock:
            img = self._open.get(name)
            if img is not None:
                self._open.move_to_end(name)
                return img
        entry = self.resolve(name)
        img = ImageFile(entry.path, storage_options=self.storage_options or None)
        with self._lock:
            self._open[name] = img
            while len(self._open) > self._max_open:
                _, old = self._open.popitem(last=False)
                old.close()
        return img

    def close(self) -> None:
        with self._lock:
            for img in self._open.values():
                img.close()
            self._open.clear()


def names(entries: Iterable[Entry]) -> list[str]:
    return [e.name for e in entries]
