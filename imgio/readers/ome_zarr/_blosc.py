"""Blosc chunks checked before numcodecs decodes them.

numcodecs' Blosc decoder trusts the compressed size a frame's header declares and reads
past the end of a truncated chunk (numcodecs issue #228, open since 2020): a cut chunk
file of a store crashed the process with SIGSEGV now and then, depending on what lay
after the buffer. :func:`install` makes zarr decode Blosc through checked subclasses (Zarr
v2: numcodecs' ``"blosc"`` codec id; Zarr v3: zarr's ``codecs.blosc`` implementation);
encoding and every well-formed chunk are unchanged. Imported only by the OME-Zarr reader
(zarr and numcodecs are imported with it).
"""

from __future__ import annotations

from typing import Any

import numcodecs
import zarr
import zarr.registry
from numcodecs.blosc import Blosc
from numcodecs.compat import ensure_contiguous_ndarray
from zarr.codecs import BloscCodec

__all__ = ["CheckedBlosc", "CheckedBloscCodec", "check_frame", "install"]

_HEADER = 16  # version, versionlz, flags, typesize, nbytes, blocksize, cbytes


def check_frame(buf: Any) -> None:
    """Raise ``RuntimeError`` (numcodecs' kind for a frame it cannot decode) unless
    ``buf`` holds the whole Blosc frame its header declares."""
    view = memoryview(ensure_contiguous_ndarray(buf)).cast("B")
    if view.nbytes < _HEADER:
        raise RuntimeError(
            f"error during blosc decompression: a frame of {view.nbytes} bytes is shorter "
            "than its header"
        )
    cbytes = int.from_bytes(view[12:16], "little")
    if cbytes > view.nbytes:
        raise RuntimeError(
            f"error during blosc decompression: the frame declares {cbytes} compressed "
            f"bytes; the chunk holds {view.nbytes}"
        )


class CheckedBlosc(Blosc):  # type: ignore[misc]
    """numcodecs' Blosc whose ``decode`` first checks the frame (Zarr v2 compressors)."""

    codec_id = "blosc"

    def decode(self, buf: Any, out: Any = None) -> Any:
        check_frame(buf)
        return super().decode(buf, out)


class CheckedBloscCodec(BloscCodec):
    """zarr's Blosc codec whose decode first checks the frame (Zarr v3 arrays)."""

    def _decode_sync(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        check_frame(chunk_bytes.as_numpy_array())
        return super()._decode_sync(chunk_bytes, chunk_spec)


_INSTALLED: list[bool] = []


def install() -> None:
    """Make zarr decode Blosc through the checked codecs (once per process)."""
    if _INSTALLED:
        return
    numcodecs.register_codec(CheckedBlosc)
    zarr.registry.register_codec("blosc", CheckedBloscCodec)
    name = f"{CheckedBloscCodec.__module__}.{CheckedBloscCodec.__qualname__}"
    zarr.config.set({"codecs.blosc": name})
    _INSTALLED.append(True)
