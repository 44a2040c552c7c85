"""Safe writes to fsspec URLs (``s3://``, ``gs://``, ...), where there is no rename.

OME-Zarr: *root metadata last*. Chunks and array metadata go straight to their final
keys, written in parallel by dask; the root documents (``zarr.json``, or ``.zattrs``
and ``.zgroup``) are held in memory by :class:`HeldRootStore` and uploaded only after
everything else has succeeded. Without them the prefix is not a zarr group, so a
reader never takes a half-written store for an image, and a failed write deletes the
objects it made. This was chosen over "write to a partial prefix, then copy" because
an object store's copy is one request per object and, between buckets or providers,
a full download and upload: for a large image that doubles the cost of the write.
Replacing an existing store (``overwrite=True``) is the one case that writes to a
hidden partial prefix beside the target (``.name.host-pid-start-uuid.partial``; a later
write removes those of dead writers, see :mod:`._remote_partials`), so the old image
stays intact until the new one is complete; it is then published by deleting the old
root documents (the old image stops being valid), deleting the old objects, copying
the partial objects to the target (server side on S3/GCS) and writing the new root
documents last. There is a short window with no valid image, never a mixed one.

OME-TIFF: the file is written to a local temporary folder (``tmpdir`` or the system
default) and uploaded once complete. On object stores (S3, GCS, Azure) an upload is
atomic: a reader sees the old object or the whole new one, never a part (a multipart
upload appears only when it is completed), so the file is put straight to its key.
Other filesystems get a partial name beside the target and a move.

Two writers racing for the same new remote target are not detected beyond the
existence check before writing.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from zarr.abc.store import ByteRequest, Store
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, WrapperStore

from .._location import Location, as_location
from ..errors import ImgioError, TargetExistsError
from ._remote_partials import partial_url, remove_stale_partials

__all__ = [
    "ATOMIC_PUT",
    "HeldRootStore",
    "RemoteZarrTarget",
    "check_remote_target",
    "remote_file_target",
    "remote_location",
]

#: root metadata documents, in the order they are published (``.zgroup`` makes a v2 group)
ROOT_DOCS = (".zattrs", ".zmetadata", ".zgroup", "zarr.json")
#: protocols whose single-object upload is atomic (all-or-nothing visible)
ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "memory"})
#: protocols where the first path component is a bucket/container that must exist
BUCKETS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "oss"})


def remote_location(path: str | Any, storage_options: Mapping[str, Any] | None) -> Location | None:
    """The :class:`Location` of a URL target, or ``None`` for a local path.

    Resolving the filesystem here turns a missing fsspec package into a
    :class:`~imgio.errors.MissingDependencyError` with the pip line before any work.
    """
    loc = as_location(path, storage_options)
    if loc.is_local:
        return None
    loc.fs  # noqa: B018 - raises MissingDependencyError early
    return loc


def _protocol(loc: Location) -> str:
    return loc.url.split("://", 1)[0].lower()


def _root_doc_exists(loc: Location) -> bool:
    return any(loc.fs.exists(posixpath.join(loc.fs_path, doc)) for doc in ROOT_DOCS)


def check_remote_target(loc: Location, *, overwrite: bool, store: bool = False) -> bool:
    """Whether something is at ``loc``; :class:`TargetExistsError` if so and not ``overwrite``.

    Also checks that the bucket exists (object stores), so a typo fails before the work.
    """
    fs, path = loc.fs, loc.fs_path
    if _protocol(loc) in BUCKETS:
        bucket = path.split("/", 1)[0]
        try:
            found = bool(fs.exists(bucket))
        except (OSError, ValueError):
            found = False
        if not found:
            raise ImgioError(
                f"cannot write {loc.url!r}: expected an existing, accessible bucket {bucket!r}"
            )
    try:
        fs.invalidate_cache(path)
    except (AttributeError, NotImplementedError):
        pass
    exists = bool(fs.exists(path))
    if exists and not overwrite:
        hint = ""
        if store and not _root_doc_exists(loc):
            hint = " (objects without zarr root metadata: the leftovers of an interrupted write?)"
        raise TargetExistsError(
            f"{loc.url!r} exists{hint}; expected a new location: pass overwrite=True to replace it"
        )
    return exists


def _partial_url(loc: Location) -> str:
    """A hidden partial beside ``loc`` (named by host, process and start time)."""
    return partial_url(loc)


def _remove(fs: Any, path: str) -> None:
    """Delete every object under ``path`` (and ``path`` itself); a missing path is fine."""
    with suppress(FileNotFoundError):
        fs.rm(path, recursive=True)
    with suppress(AttributeError, NotImplementedError):
        fs.invalidate_cache(path)


class HeldRootStore(WrapperStore[Store]):
    """A zarr store that keeps the root metadata documents in memory until :meth:`commit`.

    Everything else goes to the wrapped store at once. Pickles with the held documents
    (a few kB), so arrays opened on it write from dask workers too.
    """

    def __init__(self, store: Store, held: Mapping[str, bytes] | None = None) -> None:
        super().__init__(store)
        self._held: dict[str, bytes] = dict(held or {})

    def _with_store(self, store: Store) -> HeldRootStore:
        return type(self)(store, self._held)

    @property
    def held(self) -> dict[str, bytes]:
        """The root documents not yet written (key -> bytes)."""
        return dict(self._held)

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        if key not in ROOT_DOCS:
            return await self._store.get(key, prototype, byte_range)
        data = self._held.get(key)
        if data is None:
            return None
        if byte_range is not None:
            raise ImgioError(f"range read of the held root document {key!r}; expected whole reads")
        return prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        ranges = list(key_ranges)
        if any(k in ROOT_DOCS for k, _ in ranges):
            return [await self.get(k, prototype, r) for k, r in ranges]
        return await self._store.get_partial_values(prototype, ranges)

    async def exists(self, key: str) -> bool:
        if key in ROOT_DOCS:
            return key in self._held
        return await self._store.exists(key)

    async def set(self, key: str, value: Buffer) -> None:
        if key in ROOT_DOCS:
            self._held[key] = value.to_bytes()
        else:
            await self._store.set(key, value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        if key in ROOT_DOCS:
            self._held.setdefault(key, value.to_bytes())
        else:
            await self._store.set_if_not_exists(key, value)

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        for key, value in values:
            await self.set(key, value)

    async def delete(self, key: str) -> None:
        if key in ROOT_DOCS:
            self._held.pop(key, None)
        else:
            await self._store.delete(key)

    async def _list_held(self, inner: AsyncIterator[str], prefix: str) -> AsyncIterator[str]:
        seen = set()
        async for key in inner:
            seen.add(key)
            yield key
        if prefix == "":
            for key in self._held:
                if key not in seen:
                    yield key

    def list(self) -> AsyncIterator[str]:
        return self._list_held(self._store.list(), "")

    def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        return self._list_held(self._store.list_prefix(prefix), prefix)

    def list_dir(self, prefix: str) -> AsyncIterator[str]:
        return self._list_held(self._store.list_dir(prefix), prefix.strip("/"))

    def commit(self, store: Store | None = None) -> None:
        """Write the held documents (to ``store``, default the wrapped one), ``.zgroup`` last."""
        dest = self._store if store is None else store
        proto = default_buffer_prototype()
        for key in ROOT_DOCS:
            if key in self._held:
                sync(dest.set(key, proto.buffer.from_bytes(self._held[key])))


def fsspec_store(url: str, storage_options: Mapping[str, Any] | None) -> FsspecStore:
    """A writable zarr store at an fsspec URL."""
    return FsspecStore.from_url(url, storage_options=dict(storage_options or {}) or None)


class RemoteZarrTarget:
    """Where a remote OME-Zarr is written and how it is published; pickles to plain data."""

    def __init__(self, target: Location, *, overwrite: bool) -> None:
        self.target = target
        self.replacing = check_remote_target(target, overwrite=overwrite, store=True)
        self.overwrite = overwrite
        remove_stale_partials(target)  # abandoned partials of earlier writes (dead writers)
        self.write_url = _partial_url(target) if self.replacing else target.url.rstrip("/")

    @property
    def storage_options(self) -> dict[str, Any]:
        return self.target.storage_options

    def store(self, sub: str = "") -> FsspecStore:
        """The plain store at the write prefix (or a sub-path of it)."""
        url = self.write_url if not sub else f"{self.write_url}/{sub}"
        return fsspec_store(url, self.storage_options)

    def root_store(self) -> HeldRootStore:
        """A store to build the hierarchy in: the root documents are held back."""
        return HeldRootStore(self.store())

    def publish(self, root: HeldRootStore) -> None:
        """Make the written store the target: root documents written last."""
        fs = self.target.fs
        if not root.held:
            raise ImgioError(
                f"the writer produced no root metadata for {self.target.url!r}; expected a group"
            )
        if self.replacing:
            src = as_location(self.write_url, self.storage_options).fs_path
            dst = self.target.fs_path.rstrip("/")
            for doc in ROOT_DOCS:  # the old image stops being valid first
                with suppress(FileNotFoundError):
                    fs.rm_file(posixpath.join(dst, doc))
            _remove(fs, dst)
            keys = [k for k in fs.find(src) if posixpath.relpath(k, src) not in ROOT_DOCS]
            if keys:
                fs.copy(keys, [posixpath.join(dst, posixpath.relpath(k, src)) for k in keys])
            root.commit(fsspec_store(self.target.url.rstrip("/"), self.storage_options))
            _remove(fs, src)
        else:
            root.commit()

    def abort(self) -> None:
        """Delete every object the write made (never the old target of a replacement)."""
        _remove(self.target.fs, as_location(self.write_url, self.storage_options).fs_path)


@contextmanager
def remote_zarr_target(loc: Location, *, overwrite: bool) -> Iterator[HeldRootStore]:
    """Yield a store to write an OME-Zarr into; publish it on success, delete it on failure."""
    target = RemoteZarrTarget(loc, overwrite=overwrite)
    root = target.root_store()
    try:
        yield root
        target.publish(root)
    except BaseException:
        target.abort()
        raise


@contextmanager
def remote_file_target(
    loc: Location, *, overwrite: bool, tmpdir: str | os.PathLike[str] | None = None
) -> Iterator[Path]:
    """Yield a local temporary path to write; upload it to ``loc`` on success.

    The temporary folder (in ``tmpdir`` or the system default) is always removed.
    """
    check_remote_target(loc, overwrite=overwrite)
    remove_stale_partials(loc)
    fs, path = loc.fs, loc.fs_path
    with tempfile.TemporaryDirectory(dir=tmpdir, prefix="imgio-upload-") as folder:
        local = Path(folder) / loc.name
        yield local
        if not local.is_file():
            raise ImgioError(f"the writer produced nothing at {str(local)!r}; expected a file")
        check_remote_target(loc, overwrite=overwrite)  # someone may have written it meanwhile
        if _protocol(loc) in ATOMIC_PUT:
            fs.put_file(str(local), path)
        else:
            partial = as_location(_partial_url(loc), loc.storage_options).fs_path
            try:
                fs.put_file(str(local), partial)
                fs.mv(partial, path)
            except BaseException:
                _remove(fs, partial)
                raise
    with suppress(AttributeError, NotImplementedError):
        fs.invalidate_cache(path)
