"""File sequences: many files (one plane, stack or pyramid each) as one image.

Three ways to name them, all through :class:`~imgio.Image`:

- a **pattern** whose ``{D}`` fields map parts of the file names to dims:
  ``Image("data/t{T}_c{C}_z{Z}.tif")``. A field matches the shortest run of characters
  that lets the whole name match (digits sort as numbers, other values as text, and
  text values of ``C`` become the channel names);
- a **list** of paths or URLs stacked on ``dims`` (``Image(paths, dims="T")``; with
  ``dims="TZ"``, a list of lists);
- a **glob** (``*``, ``?``, ``[...]``) whose names a ``pattern`` maps to dims, as
  AICSImageIO's ``TiffGlobReader`` does: a regular expression with named groups of one
  letter (``pattern=r"_t(?P<T>\\d+)_z(?P<Z>\\d+)"``) or a ``{D}`` pattern of the file
  name. Without one, a letter followed by digits (``S0_T1_C2_Z3.tif``) gives the dims
  ``S``, ``T``, ``C``, ``Z`` or ``P``.

``S`` and ``P`` (positions) make scenes; every other field is a dim in front of the
files' own dims. Each file is opened by whatever reader accepts it (the first file's
reader is tried first), lazily: opening reads the first file's structure only, and a
selection reads only the files (and their chunks) it covers. Levels are the first
file's pyramid levels. Files stay inside the folder of the pattern (or of the first
path) unless ``allow_external_files=True``.
"""

from __future__ import annotations

import fnmatch
import glob as _glob
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .._confine import referenced
from .._limits import MAX_GRID
from .._location import Location, as_location
from ..errors import CorruptFileError, ImgioWarning, MissingFileError, SelectionError
from ._filegrid import FileGridSource, grid_token, open_file
from .base import Reader, SceneInfo

__all__ = ["SequenceReader", "is_sequence", "open_sequence"]

FIELD = re.compile(r"\{([A-Za-z])\}")
SCENE_DIMS = "SP"
_MAGIC = re.compile(r"[*?\[]")
_DEFAULT_INDEXER = re.compile(r"(?<![A-Za-z])([STCZPstczp])(\d+)")

Entry = tuple[Location, dict[str, str]]


def is_sequence(path: Any) -> bool:
    """Whether ``path`` names a file sequence: a list of paths, or a string with ``{D}``
    fields or (not an existing file, not an HTTP URL) glob characters."""
    if isinstance(path, (list, tuple)):
        return bool(path) and all(
            isinstance(p, (str, os.PathLike, Location)) or isinstance(p, (list, tuple))
            for p in path
        )
    if isinstance(path, Location) or not isinstance(path, (str, os.PathLike)):
        return False
    text = os.fspath(path)
    if "://" not in text and os.path.exists(text):  # a file named with braces or [ ]
        return False
    if FIELD.search(text):
        return True
    return text.split("://", 1)[0].lower() not in ("http", "https") and bool(_MAGIC.search(text))


def open_sequence(
    path: Any,
    *,
    dims: str | None = None,
    pattern: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    allow_external_files: bool = False,
    reader: str | None = None,
) -> SequenceReader:
    """A :class:`SequenceReader` for a pattern, a list of paths or a glob (see the module)."""
    if isinstance(path, (list, tuple)):
        return SequenceReader(
            _from_list(path, dims, storage_options, allow_external_files), reader=reader
        )
    text = os.fspath(path)
    if dims is not None:
        raise SelectionError("dims= names the axes of a list of paths; a pattern names its own")
    if pattern is None and FIELD.search(text):
        entries = _from_pattern(text, storage_options, allow_external_files)
    else:
        entries = _from_glob(text, pattern, storage_options, allow_external_files)
    return SequenceReader(entries, reader=reader, where=text)


# ------------------------------------------------------------------ naming the files
def _listing(
    glob_text: str, storage_options: Mapping[str, Any] | None
) -> list[tuple[Location, bool | None]]:
    """The files a glob names, locally or through fsspec (HTTP cannot list), each with
    whether it is a symbolic link (None: not known)."""
    loc = as_location(glob_text, storage_options)
    if loc.is_local:
        return [(Location(p), link) for p, link in _local_listing(loc.url)]
    if loc.is_http:
        raise SelectionError(
            f"{glob_text}: HTTP cannot list files; give the sequence as a list of URLs"
        )
    protocol = loc.url.split("://", 1)[0]
    found = sorted(loc.fs.glob(loc.fs_path))
    return [(Location(f"{protocol}://{p}", storage_options), None) for p in found]


def _local_listing(glob_path: str) -> list[tuple[str, bool]]:
    """``(path, is a link)`` of the regular files (or links to them) a local glob names,
    sorted. A glob of file names in one folder is one ``scandir`` pass, whose entries
    already say file or link (``glob`` plus a ``stat`` and an ``lstat`` per file cost
    three times as much); wildcards in the folder go through :func:`glob.glob`."""
    folder, name = os.path.split(glob_path)
    if _MAGIC.search(folder) or not name:
        return [(p, os.path.islink(p)) for p in sorted(_glob.glob(glob_path)) if os.path.isfile(p)]
    regex = re.compile(fnmatch.translate(name), 0 if os.path.normcase("A") == "A" else re.I)
    hidden = name.startswith(".")  # as glob: hidden files only for a pattern naming them
    found: list[tuple[str, bool]] = []
    try:
        with os.scandir(folder or os.curdir) as entries:
            for entry in entries:
                if (hidden or not entry.name.startswith(".")) and regex.match(entry.name):
                    if entry.is_file():
                        found.append((os.path.join(folder, entry.name), entry.is_symlink()))
    except OSError:  # no such folder, or no permission: nothing matches, as with glob
        return []
    found.sort()
    return found


def _confined(
    base: Location,
    found: Location,
    allow: bool,
    where: str,
    links: dict[str, bool] | None = None,
    is_link: bool | None = None,
) -> Location:
    """``found`` (a listed file) when it stays in ``base``'s folder, else ExternalFileError.

    A plain file listed in the folder itself is inside it (one ``lstat``, none when the
    listing says ``is_link``); links and
    anything else are resolved by :func:`~imgio._confine.referenced`."""
    if allow:
        return found
    folder = os.path.dirname(found.url)
    if links is None:
        links = {}
    if folder not in links:  # one lstat per folder of a listing
        links[folder] = os.path.islink(folder)
    if (
        base.is_local
        and found.is_local
        and folder == os.path.dirname(base.url)
        and not (os.path.islink(found.url) if is_link is None else is_link)
        and not links[folder]
    ):
        return found
    return referenced(base, found.name, allow_external=False, where=where)


def _field_regex(name_pattern: str) -> re.Pattern[str]:
    """``t{T}_c{C}.tif`` -> a regex with a lazy named group per field."""
    out, pos, seen = [], 0, set()
    for m in FIELD.finditer(name_pattern):
        out.append(re.escape(name_pattern[pos : m.start()]))
        letter = m.group(1).upper()
        if letter in seen:
            out.append(f"(?P={letter})")
        else:
            out.append(f"(?P<{letter}>[^/]+?)")
            seen.add(letter)
        pos = m.end()
    out.append(re.escape(name_pattern[pos:]))
    return re.compile("".join(out) + r"\Z")


def _from_pattern(text: str, storage_options: Mapping[str, Any] | None, allow: bool) -> list[Entry]:
    folder, _, name_pattern = text.replace("\\", "/").rpartition("/")
    if FIELD.search(folder):
        raise SelectionError(f"{text}: {{D}} fields may only be in the file name, not the folder")
    regex = _field_regex(name_pattern)
    glob_text = (folder + "/" if folder else "") + FIELD.sub("*", _glob.escape(name_pattern))
    glob_text = glob_text.replace("[*]", "*")

    def index(name: str) -> dict[str, str] | None:
        m = regex.match(name)
        return None if m is None else {k: v for k, v in m.groupdict().items() if v}

    return _matching(text, glob_text, storage_options, allow, index)


def _from_glob(
    text: str, pattern: str | None, storage_options: Mapping[str, Any] | None, allow: bool
) -> list[Entry]:
    if pattern is None:

        def index(name: str) -> dict[str, str] | None:
            pairs = _DEFAULT_INDEXER.findall(os.path.splitext(name)[0])
            return {k.upper(): v for k, v in pairs} or None

        return _matching(text, text, storage_options, allow, index)
    regex = _field_regex(pattern) if FIELD.search(pattern) else re.compile(pattern)
    bad = [g for g in regex.groupindex if not (len(g) == 1 and g.isalpha())]
    if bad:
        raise SelectionError(f"pattern {pattern!r}: groups must be one dim letter, found {bad}")

    def search(name: str) -> dict[str, str] | None:
        m = regex.match(name) if FIELD.search(pattern) else regex.search(name)
        return None if m is None else {k.upper(): v for k, v in m.groupdict().items() if v}

    return _matching(text, text, storage_options, allow, search)


def _matching(
    text: str, glob_text: str, storage_options: Mapping[str, Any] | None, allow: bool, index: Any
) -> list[Entry]:
    base = as_location(glob_text, storage_options)
    entries: list[Entry] = []
    links: dict[str, bool] = {}
    for loc, is_link in _listing(glob_text, storage_options):
        fields = index(loc.name)
        if fields is None:
            continue
        where = f"sequence {text!r}"
        entries.append((_confined(base, loc, allow, where, links, is_link), fields))
    if not entries:
        raise MissingFileError(f"no file matches the sequence {text!r}")
    return entries


def _from_list(
    paths: Sequence[Any], dims: str | None, storage_options: Mapping[str, Any] | None, allow: bool
) -> list[Entry]:
    dims = (dims or "T").upper()
    if not dims.isalpha() or len(set(dims)) != len(dims):
        raise SelectionError(f"dims={dims!r}: expected distinct dim letters, one per list level")
    entries: list[Entry] = []
    base: Location | None = None

    def walk(items: Any, depth: int, index: dict[str, str]) -> None:
        nonlocal base
        if depth == len(dims):
            if isinstance(items, (list, tuple)):
                raise SelectionError(f"a list nested deeper than dims={dims!r}")
            loc = as_location(items, storage_options)
            if base is None:
                base = loc
            elif not allow:
                loc = referenced(base, _relative(base, loc), allow_external=False, where="sequence")
            entries.append((loc, index))
            return
        if not isinstance(items, (list, tuple)) or not items:
            raise SelectionError(f"dims={dims!r} expects a non-empty list at depth {depth}")
        for i, item in enumerate(items):
            walk(item, depth + 1, {**index, dims[depth]: str(i)})

    walk(paths, 0, {})
    return entries


def _relative(base: Location, loc: Location) -> str:
    """``loc`` named relative to ``base``'s folder (checked for confinement)."""
    if base.is_local and loc.is_local:
        return os.path.relpath(loc.url, os.path.dirname(base.url))
    if not base.is_local and not loc.is_local:
        folder = base.url.rsplit("/", 1)[0] + "/"
        return loc.url[len(folder) :] if loc.url.startswith(folder) else loc.url
    return loc.url


# ------------------------------------------------------------------ the grid
def _sorted_values(values: set[str]) -> list[str]:
    if all(v.isdigit() for v in values):
        return sorted(values, key=lambda v: (int(v), v))
    return sorted(values)


class SequenceReader(Reader):
    """Files named by a pattern, a list or a glob, as scenes of one grid each."""

    name = "sequence"
    suffixes: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        entries: Sequence[Entry],
        *,
        reader: str | None = None,
        where: str | None = None,
        channel_names: Sequence[str] | None = None,
        reference: Sequence[Location] = (),
        rename: Mapping[str, str] | None = None,
        warn_missing: bool = True,
    ) -> None:
        if not entries:
            raise MissingFileError(f"{where or 'sequence'}: no files")
        first = entries[0][0]
        super().__init__(first)
        self._where = where or f"sequence of {len(entries)} files from {first.name}"
        order: list[str] = []
        for _, fields in entries:
            order.extend(d for d in fields if d not in order)
        numeric = {d for d in order if all(f[d].isdigit() for _, f in entries if d in f)}
        entries = [
            (loc, {d: str(int(v)) if d in numeric else v for d, v in f.items()})
            for loc, f in entries
        ]
        scene_dims = "".join(d for d in order if d in SCENE_DIMS)
        outer = "".join(d for d in order if d not in SCENE_DIMS)
        values = {d: _sorted_values({f[d] for _, f in entries if d in f}) for d in order}
        lookup = {d: {v: i for i, v in enumerate(values[d])} for d in order}
        shape = tuple(len(values[d]) for d in outer)
        scene_keys = list(np.ndindex(*(len(values[d]) for d in scene_dims)))
        if len(scene_keys) * int(np.prod(shape)) > MAX_GRID:
            raise CorruptFileError(f"{self._where}: {shape} cells per scene is too many")
        grids: list[list[Location | None]] = [[None] * int(np.prod(shape)) for _ in scene_keys]
        scene_of = {k: i for i, k in enumerate(scene_keys)}
        strides = [int(np.prod(shape[i + 1 :])) for i in range(len(shape))]
        for loc, fields in entries:
            skey = tuple(lookup[d][fields[d]] if d in fields else 0 for d in scene_dims)
            okey = tuple(lookup[d][fields[d]] if d in fields else 0 for d in outer)
            cells = grids[scene_of[skey]]
            flat = sum(i * n for i, n in zip(okey, strides, strict=True))  # C order
            if cells[flat] is not None:
                raise CorruptFileError(
                    f"{self._where}: {cells[flat].name} and {loc.name} "  # type: ignore[union-attr]
                    f"both map to {dict(zip(outer, okey, strict=True))}"
                )
            cells[flat] = loc
        kept = [(k, g) for k, g in zip(scene_keys, grids, strict=True) if any(g)]
        self._names = [
            "/".join(f"{d}{values[d][i]}" for d, i in zip(scene_dims, k, strict=True)) or "Image:0"
            for k, _ in kept
        ]
        self._grids = [g for _, g in kept]
        self._outer, self._shape = outer, shape
        if channel_names is None and "C" in outer and not all(v.isdigit() for v in values["C"]):
            channel_names = values["C"]
        self._channel_names = tuple(channel_names) if channel_names else None
        self._reader_name = reader
        self._reference = {loc.url for loc in reference}
        self._rename = dict(rename or {})
        self._warn_missing = warn_missing
        self._infos: list[SceneInfo] | None = None
        self._first: list[Reader | None] = [None] * len(self._grids)

    # ---------------------------------------------------------------- layout
    def _first_reader(self, scene: int) -> Reader:
        found = self._first[scene]
        if found is None:
            present = [f for f in self._grids[scene] if f is not None]
            loc = next((f for f in present if f.url in self._reference), present[0])
            found = self._first[scene] = open_file(loc, self._reader_name, self._where)
            self._reader_name = self._reader_name or found.name
        return found

    def scenes(self) -> Sequence[SceneInfo]:
        if self._infos is None:
            self._infos = [self._scene_info(i) for i in range(len(self._grids))]
        return self._infos

    def _scene_info(self, scene: int) -> SceneInfo:
        first = self._first_reader(scene)
        inner = first.scenes()[0]
        dims, dropped = self._inner_dims(inner.dims, inner.shape)
        keep = [i for i in range(len(inner.dims)) if i not in dropped]
        missing = sum(f is None for f in self._grids[scene])
        if missing and self._warn_missing:
            warnings.warn(
                f"{self._where}: {missing} of {len(self._grids[scene])} cells of scene "
                f"{self._names[scene]!r} have no file; they read as 0",
                ImgioWarning,
                stacklevel=4,
            )
        names = self._channel_names if "C" in self._outer else inner.channel_names
        if (
            names is not None
            and "C" in self._outer
            and len(names) != self._shape[self._outer.index("C")]
        ):
            names = None
        return SceneInfo(
            name=self._names[scene],
            dims=self._outer + dims,
            shapes=tuple(self._shape + tuple(s[i] for i in keep) for s in inner.shapes),
            dtype=inner.dtype,
            channel_names=tuple(names) if names is not None else None,
            channel_colors=inner.channel_colors if "C" not in self._outer else None,
            pixel_sizes=inner.pixel_sizes,
            time_interval=inner.time_interval if "T" not in self._outer else None,
        )

    def _inner_dims(self, dims: str, shape: Sequence[int]) -> tuple[str, tuple[int, ...]]:
        """The files' dims (renamed as asked) less the singletons the sequence provides,
        and their positions."""
        if not set(self._rename.values()) & set(dims):
            dims = "".join(self._rename.get(d, d) for d in dims)
        dropped = tuple(i for i, d in enumerate(dims) if d in self._outer and shape[i] == 1)
        kept = "".join(d for i, d in enumerate(dims) if i not in dropped)
        clash = set(kept) & set(self._outer)
        if clash:
            raise CorruptFileError(
                f"{self._where}: the files' own dims {dims} {tuple(shape)} repeat the "
                f"sequence's {sorted(clash)}"
            )
        return kept, dropped

    def source(self, scene: int, level: int = 0) -> FileGridSource:
        self.check_scene_level(scene, level)
        first = self._first_reader(scene)
        src = first.source(0, level)
        dims, dropped = self._inner_dims(src.dims, src.shape)
        keep = [i for i in range(len(src.dims)) if i not in dropped]
        return FileGridSource(
            files=self._grids[scene],
            outer_dims=self._outer,
            outer_shape=self._shape,
            inner_dims=dims,
            inner_shape=tuple(int(src.shape[i]) for i in keep),
            inner_chunks=tuple(int(src.chunks[i]) for i in keep),
            dropped=dropped,
            dtype=src.dtype,
            reader=self._reader_name,
            level=level,
            token=grid_token(self._grids[scene], first, f"{scene}|{level}"),
            where=f"{self._where} scene {self._names[scene]!r} level {level}",
        )

    @property
    def metadata(self) -> Any:
        """The files of each scene, in C order of the sequence dims."""
        return {
            "dims": self._outer,
            "shape": self._shape,
            "files": {
                n: [f.url if f else None for f in g]
                for n, g in zip(self._names, self._grids, strict=True)
            },
        }

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("ome_metadata", None)
        state["_first"] = [None] * len(self._grids)
        return state
