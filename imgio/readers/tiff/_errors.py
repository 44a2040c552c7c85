"""The one place where tifffile's exceptions become imgio errors (TIFF and companion readers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ...errors import CorruptFileError, ImgioError, UnsupportedFormatError

__all__ = ["check_compression", "tiff_errors"]


def check_compression(page: Any, where: str, series: int) -> None:
    """Raise :class:`UnsupportedFormatError` when no installed decoder reads ``page``'s
    compression (an unknown code, or a codec imagecodecs lacks), before any read."""
    import tifffile

    if page.compression not in tifffile.TIFF.DECOMPRESSORS:
        raise UnsupportedFormatError(
            where,
            {
                "tiff": f"series {series} is stored with compression "
                f"{int(page.compression)}, which no installed decoder reads"
            },
        )


@contextmanager
def tiff_errors(where: str, what: str, cleanup: Callable[[], None] | None = None) -> Iterator[None]:
    """The one place where tifffile's exceptions become :class:`CorruptFileError`.

    tifffile raises ``TiffFileError``, ``ValueError``, ``TypeError``, ``RuntimeError``
    ("incompatible keyframe"), ``ZeroDivisionError``, ``OverflowError``, ``struct.error``
    and more on broken files; imgio errors pass through unchanged.
    """
    try:
        yield
    except ImgioError:
        if cleanup is not None:
            cleanup()
        raise
    except MemoryError as exc:
        if cleanup is not None:
            cleanup()
        raise CorruptFileError(
            f"{where}: {what}: the TIFF structure claims impossible sizes"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - tifffile raises many kinds on bad files
        if cleanup is not None:
            cleanup()
        raise CorruptFileError(f"{where}: {what}: {type(exc).__name__}: {exc}") from exc
