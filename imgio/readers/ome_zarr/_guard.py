"""The one place where zarr's own exceptions become imgio errors, and the checks a store's
metadata must pass before imgio builds anything from it (paths, geometry)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..._limits import check_geometry
from ...errors import CorruptFileError, ImgioError

__all__ = ["check_array", "check_path", "metadata_errors"]


@contextmanager
def metadata_errors(where: str) -> Iterator[None]:
    """Turn anything zarr or json raise on broken metadata into :class:`CorruptFileError`.

    zarr raises ``ValueError``, ``TypeError``, ``KeyError``, ``AttributeError``,
    ``RecursionError`` (deeply nested JSON), ``OverflowError`` and its own
    ``MetadataValidationError``/``UnknownCodecError`` on malformed documents.
    """
    try:
        yield
    except ImgioError:
        raise
    except MemoryError as exc:
        raise CorruptFileError(f"{where}: zarr metadata declares impossible sizes") from exc
    except Exception as exc:  # noqa: BLE001 - every zarr/json error on bad metadata
        raise CorruptFileError(
            f"{where}: unreadable zarr metadata: {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc


def check_path(path: str, where: str) -> str:
    """A member path inside the store: relative, no ``..``, no backslash or empty parts."""
    parts = path.split("/")
    if (
        not isinstance(path, str)
        or not path
        or path.startswith("/")
        or "\\" in path
        or any(p in ("", ".", "..") for p in parts)
        or ":" in parts[0]
    ):
        raise CorruptFileError(
            f"{where}: path {path!r} leaves the store; expected a relative path of member "
            "names (no '..', no leading '/')"
        )
    return path


def check_array(arr: Any, where: str) -> None:
    """The array's shape, chunk (and shard) grid must be ones a real image can have."""
    shape = tuple(int(s) for s in arr.shape)
    dtype = arr.dtype
    itemsize = int(getattr(dtype, "itemsize", 0) or 8)
    if getattr(dtype, "kind", "O") not in "biufc":
        raise CorruptFileError(f"{where}: data type {dtype} is not a pixel type")
    check_geometry(where, shape, tuple(int(c) for c in arr.chunks), itemsize)
    shards = getattr(arr, "shards", None)
    if shards is not None:
        inner = tuple(int(s) // max(1, int(c)) for s, c in zip(shards, arr.chunks, strict=False))
        check_geometry(f"{where} (shard index)", inner, (1,) * len(inner), 16)
