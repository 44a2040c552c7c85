"""The one place where tifffile's exceptions become imgio errors (TIFF and companion readers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ...errors import CorruptFileError, ImgioError

__all__ = ["tiff_errors"]


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
