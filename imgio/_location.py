"""Where a file lives: a local path or an fsspec URL with its options.

A :class:`Location` pickles to ``(url, storage_options)`` and reopens its handle
lazily in each process, so array sources that hold one run on any dask worker.
Local reads use ``os.pread`` on one descriptor (thread safe, no seek lock);
remote reads ask fsspec for exactly the byte ranges needed.
"""

from __future__ import annotations

import os
import posixpath
import stat
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import CorruptFileError, MissingDependencyError, MissingFileError

__all__ = ["Location", "as_location"]

# Remote header parses (tifffile walking IFDs through a file object) fetch this much
# past each read: one request per IFD, little over-fetch. Tile and chunk reads never go
# through this cache; they ask for their exact byte ranges.
HEADER_BLOCK = 1 << 14
HEAD_BYTES = 4096
# HTTP cannot list folders: a directory store there is known by its metadata documents
_HTTP_DIR_MARKERS = ("zarr.json", ".zgroup", ".zattrs", ".zarray")


def _pip_line(scheme: str) -> str:
    """The install line for a protocol's fsspec package (``imgio[remote]`` for s3/http)."""
    if scheme.lower() in ("s3", "s3a", "http", "https"):
        return 'pip install "imgio[remote]"'
    from fsspec.registry import known_implementations

    cls = str(known_implementations.get(scheme.lower(), {}).get("class", ""))
    package = cls.split(".", 1)[0]
    if package and package != "fsspec":
        return f"pip install {package.replace('_', '-')}"
    return 'pip install "imgio[remote]" brings s3:// and http(s)://'


def _is_url(text: str) -> bool:
    head, sep, _ = text.partition("://")
    return bool(sep) and head.isidentifier() and len(head) > 1


class Location:
    """A local path or fsspec URL plus ``storage_options``; cheap to pickle."""

    def __init__(
        self, path: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
    ) -> None:
        text = os.fspath(path)
        if text.startswith("file://"):
            text = text[len("file://") :]
        self.is_local = not _is_url(text)
        if not self.is_local:
            self.url = text
        elif os.sep == "/" and text.startswith("/") and posixpath.normpath(text) == text:
            self.url = text  # already what Path(...).expanduser().absolute() gives
        else:
            self.url = str(Path(text).expanduser().absolute())
        self.storage_options: dict[str, Any] = dict(storage_options or {})
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._fs: Any = None
        self._fs_path: str | None = None
        self._local = threading.local()
        self._size: int | None = None
        self._info: dict[str, Any] | None = None
        self._info_done = False
        self._head: bytes | None = None
        # an open session (see :meth:`session`): one descriptor, one stat, one head read
        self._held_fd: int | None = None
        self._held_depth = 0  # sessions open in all threads (the descriptor's users)
        self._in = threading.local()  # this thread's session depth
        self._held_stat: os.stat_result | None = None
        self._held_missing = False

    # pickling: only the address travels; handles reopen lazily
    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "is_local": self.is_local, "storage_options": self.storage_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url = state["url"]
        self.is_local = state["is_local"]
        self.storage_options = state["storage_options"]
        self._reset()

    def __repr__(self) -> str:
        return f"Location({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Location)
            and self.url == other.url
            and self.storage_options == other.storage_options
        )

    def __hash__(self) -> int:
        return hash(self.url)

    # naming
    @property
    def name(self) -> str:
        if self.is_local:  # url is absolute and normalised: basename is Path(url).name
            return os.path.basename(self.url)
        return posixpath.basename(self.url.rstrip("/"))

    @property
    def suffixes(self) -> str:
        """All suffixes, lower case (``".ome.tif"``)."""
        name = self.name.lower()
        dot = name.find(".", 1)
        return name[dot:] if dot > 0 else ""

    def sibling(self, name: str) -> Location:
        """A file in the same folder (multi-file sets, companions)."""
        if self.is_local:
            return Location(Path(self.url).parent / name)
        base = self.url.rstrip("/").rsplit("/", 1)[0]
        return Location(f"{base}/{name}", self.storage_options)

    def child(self, name: str) -> Location:
        """A file inside this location (a directory store)."""
        if self.is_local:
            return Location(Path(self.url) / name)
        return Location(f"{self.url.rstrip('/')}/{name}", self.storage_options)

    # filesystem
    @property
    def fs(self) -> Any:
        """The fsspec filesystem (remote locations; local uses the OS directly)."""
        if self._fs is None:
            import fsspec.core

            try:
                fs, path = fsspec.core.url_to_fs(self.url, **self.storage_options)
            except ImportError as exc:  # fsspec names the package its protocol needs
                scheme = self.url.split("://", 1)[0]
                raise MissingDependencyError(
                    f"{scheme}:// URLs need an fsspec filesystem that is not installed ({exc}); "
                    f"{_pip_line(scheme)}"
                ) from exc
            self._fs, self._fs_path = fs, path
        return self._fs

    @property
    def fs_path(self) -> str:
        self.fs  # noqa: B018 - resolves _fs_path
        assert self._fs_path is not None
        return self._fs_path

    @property
    def is_http(self) -> bool:
        return not self.is_local and self.url.split("://", 1)[0].lower() in ("http", "https")

    def _remote_info(self) -> dict[str, Any] | None:
        """fsspec ``info`` of the object (one HEAD request, remembered); ``None`` if absent."""
        if not self._info_done:
            try:
                self._info = dict(self.fs.info(self.fs_path))
            except (OSError, ValueError):
                self._info = None
            self._info_done = True
        return self._info

    def _http_store(self) -> bool:
        """An HTTP URL with directory-store metadata below it (HTTP has no listing)."""
        if self.name in _HTTP_DIR_MARKERS:
            return False
        return any(self.child(m)._remote_info() is not None for m in _HTTP_DIR_MARKERS)

    @contextmanager
    def session(self) -> Iterator[Location]:
        """Within the block, local reads share one descriptor and one ``stat``.

        Opening a file asks for its existence, kind, size, head bytes and several
        small ranges; outside a session each is its own ``open``/``stat``/``close``.
        The descriptor is closed and the cached facts dropped when the outermost
        block ends, so no handle outlives the open (as without a session).
        Sessions nest and may overlap across threads (the descriptor is shared; ``pread``
        needs no seek lock). Remote locations are unaffected.
        """
        if not self.is_local:
            yield self
            return
        with self._lock:
            self._held_depth += 1
        self._in.depth = getattr(self._in, "depth", 0) + 1
        try:
            yield self
        finally:
            self._in.depth -= 1
            fd = None
            with self._lock:
                self._held_depth -= 1
                if self._held_depth == 0:
                    fd, self._held_fd = self._held_fd, None
                    self._held_stat, self._held_missing = None, False
                    self._head = None
            if fd is not None:
                os.close(fd)

    def _in_session(self) -> bool:
        """Whether this thread is inside a :meth:`session` (only those threads use its
        descriptor: a session ending elsewhere never closes it under them)."""
        return getattr(self._in, "depth", 0) > 0

    def _stat(self) -> os.stat_result | None:
        """``os.stat`` of a local path (remembered within a session); None if absent."""
        session = self._in_session()
        if session and (self._held_stat is not None or self._held_missing):
            return self._held_stat
        try:
            st = os.stat(self.url)
        except (OSError, ValueError):
            st = None
        if session:
            self._held_stat, self._held_missing = st, st is None
        return st

    def exists(self) -> bool:
        if self.is_local:
            return self._stat() is not None
        if self.is_http:
            # fsspec's HTTP exists() GETs the whole body; info() is a HEAD request
            return self._remote_info() is not None or self._http_store()
        try:
            return bool(self.fs.exists(self.fs_path))
        except (OSError, ValueError):
            return False

    def isdir(self) -> bool:
        if self.is_local:
            st = self._stat()
            return st is not None and stat.S_ISDIR(st.st_mode)
        if self.is_http:
            # fsspec's HTTP isdir() downloads the body to look for links
            return self._remote_info() is None and self._http_store()
        try:
            return bool(self.fs.isdir(self.fs_path))
        except (OSError, ValueError):
            return False

    def check_exists(self) -> None:
        """Raise :class:`MissingFileError` when nothing is at this location."""
        if not self.exists():
            raise MissingFileError(f"no such file or directory: {self.url!r}")

    @property
    def size(self) -> int:
        if self._size is None:
            if self.is_local:
                st = self._stat()
                if st is None:
                    raise MissingFileError(f"no such file: {self.url!r}")
                self._size = st.st_size
            else:
                info = self._remote_info()
                if info is None or info.get("size") is None:
                    raise MissingFileError(f"no such file, or its size is unknown: {self.url!r}")
                self._size = int(info["size"])
        return self._size

    def token(self) -> str:
        """Identity for dask keys: address plus modification stamp."""
        if self.is_local:
            st = self._stat()
            return self.url if st is None else f"{self.url}:{st.st_mtime_ns}:{st.st_size}"
        info = self._remote_info()
        if info is None:
            return self.url
        stamp = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("size")
        return f"{self.url}:{stamp}"

    # reading
    @contextmanager
    def _descriptor(self) -> Iterator[int]:
        """A descriptor of the local file for one read call, closed after it.

        No descriptor outlives a call: an open :class:`~imgio.Image` holds no file
        handle between reads (as AICSImageIO users expect), and forked or pickled
        copies never share one. Opening costs a few microseconds per call; within a
        :meth:`session` the session's descriptor is used.
        """
        if self._in_session():
            with self._lock:
                if self._held_fd is None:
                    self._held_fd = self._open_fd()
                fd = self._held_fd
            yield fd
            return
        fd = self._open_fd()
        try:
            yield fd
        finally:
            os.close(fd)

    def _open_fd(self) -> int:
        try:
            return os.open(self.url, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError as exc:
            raise MissingFileError(f"no such file: {self.url!r}") from exc

    def open(self) -> IO[bytes]:
        """A new seekable binary file object (for parsers such as tifffile)."""
        if self.is_local:
            try:
                return open(self.url, "rb")  # noqa: SIM115 - caller closes
            except FileNotFoundError as exc:
                raise MissingFileError(f"no such file: {self.url!r}") from exc
        # a small read-ahead block: a header parse costs about one request per IFD and
        # never pulls pixel data; the size is passed so that no second HEAD is sent
        options: dict[str, Any] = {"block_size": HEADER_BLOCK, "cache_type": "readahead"}
        if self.is_http:
            options["size"] = self.size
        return self.fs.open(self.fs_path, "rb", **options)  # type: ignore[no-any-return]

    def head(self, nbytes: int = HEAD_BYTES) -> bytes:
        """The first ``nbytes`` of the file (fewer for short files); fetched once when remote."""
        if nbytes > HEAD_BYTES or (self.is_local and not self._in_session()):
            return self.read_range(0, nbytes, exact=False)
        if self._head is None:
            self._head = self.read_range(0, HEAD_BYTES, exact=False)
        return self._head[:nbytes]

    def read_range(self, offset: int, nbytes: int, *, exact: bool = True) -> bytes:
        """Bytes ``[offset, offset + nbytes)``; with ``exact`` a short read is an error."""
        if self.is_local:
            session = self._in_session()
            held = self._held_fd if session else None
            if held is not None:
                data = os.pread(held, nbytes, offset)
            elif session:
                with self._descriptor() as fd:
                    data = os.pread(fd, nbytes, offset)
            else:  # the common one-off read, without a context manager's cost
                fd = self._open_fd()
                try:
                    data = os.pread(fd, nbytes, offset)
                finally:
                    os.close(fd)
        else:
            data = bytes(self.fs.cat_file(self.fs_path, start=offset, end=offset + nbytes))
        if exact and len(data) != nbytes:
            raise CorruptFileError(
                f"{self.url}: expected {nbytes} bytes at offset {offset}, "
                f"file ends at {offset + len(data)}"
            )
        return data

    def read_into(self, offset: int, buffer: memoryview) -> None:
        """Fill ``buffer`` with the bytes at ``offset`` (zero copy for local files)."""
        if self.is_local:
            with self._descriptor() as fd:
                done = 0
                while done < len(buffer):
                    n = os.preadv(fd, [buffer[done:]], offset + done)
                    if n <= 0:
                        raise CorruptFileError(
                            f"{self.url}: expected {len(buffer)} bytes at offset {offset}, "
                            f"file ends at {offset + done}"
                        )
                    done += n
            return
        buffer[:] = self.read_range(offset, len(buffer))

    def read_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Bytes of many ``(offset, nbytes)`` ranges; remote ranges go out concurrently."""
        if not ranges:
            return []
        if self.is_local:
            with self._descriptor() as fd:
                out = [os.pread(fd, n, o) if n > 0 else b"" for o, n in ranges]
        else:
            wanted = [(o, n) for o, n in ranges if n > 0]
            got = self.fs.cat_ranges(
                [self.fs_path] * len(wanted),
                [o for o, _ in wanted],
                [o + n for o, n in wanted],
            )
            it = iter(got)
            out = []
            for o, n in ranges:
                if n <= 0:
                    out.append(b"")
                    continue
                item = next(it)
                if isinstance(item, Exception):
                    raise CorruptFileError(f"{self.url}: reading {n} bytes at {o} failed: {item}")
                out.append(bytes(item))
        for (o, n), data in zip(ranges, out, strict=True):
            if len(data) != n:
                raise CorruptFileError(
                    f"{self.url}: expected {n} bytes at offset {o}, file ends at {o + len(data)}"
                )
        return out

    def close(self) -> None:
        """Nothing to release: local reads open and close their descriptor per call."""


def as_location(
    path: str | os.PathLike[str] | Location, storage_options: Mapping[str, Any] | None = None
) -> Location:
    """Turn a path, URL or :class:`Location` into a :class:`Location`."""
    if isinstance(path, Location):
        if storage_options:
            return Location(path.url, {**path.storage_options, **storage_options})
        return path
    return Location(path, storage_options)
