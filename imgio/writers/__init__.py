"""Writers: ``write`` (OME-TIFF, OME-Zarr or zipped OME-Zarr by suffix; a DICOM WSI series
with ``format="dicom"``), ``create`` (a sink).

Targets are local paths or fsspec URLs (``s3://bucket/key.ome.zarr``) with
``storage_options``; see :mod:`imgio.writers._remote` for how remote writes stay safe.

>>> imgio.write(array, "out.ome.tif", dims="CYX", channel_names=["DAPI", "GFP"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ImgioError
from ._input import Scene, SizesArg, as_scenes, image_file_of
from ._target import atomic_target, partial_name, remove
from ._zip import OZX_SUFFIX, ZIP_SUFFIXES, pack_folder, sharded_v3
from .sink import ZarrSink, create

__all__ = ["create", "format_of", "write", "ZarrSink"]  # write_plate: imgio.writers.plate

FORMATS = ("ome-tiff", "ome-zarr", "ome-zarr-zip", "dicom", "imaris")
TIFF_SUFFIXES = (".ome.tif", ".ome.tiff", ".tif", ".tiff", ".ome.btf", ".btf")
ZARR_SUFFIXES = (".ome.zarr", ".zarr")
IMS_SUFFIXES = (".ims",)


def format_of(path: str | os.PathLike[str]) -> str:
    """``"ome-tiff"``, ``"ome-zarr"``, ``"ome-zarr-zip"`` or ``"imaris"`` from the path's suffix."""
    name = Path(path).name.lower()
    if name.endswith(IMS_SUFFIXES):
        return "imaris"
    if name.endswith(ZIP_SUFFIXES):
        return "ome-zarr-zip"
    if name.endswith(TIFF_SUFFIXES):
        return "ome-tiff"
    if name.endswith(ZARR_SUFFIXES):
        return "ome-zarr"
    raise ImgioError(
        f"cannot tell the format of {str(path)!r}: "
        f"expected a suffix among {TIFF_SUFFIXES + ZARR_SUFFIXES + ZIP_SUFFIXES + IMS_SUFFIXES}"
    )


def _file_target(path: str | os.PathLike[str], remote: Any, overwrite: bool, tmpdir: Any) -> Any:
    """Where a one-file writer writes: a local partial beside the target, renamed on
    success, or a local temporary file uploaded to the remote target on success."""
    if remote is None:
        return atomic_target(path, overwrite=overwrite)
    from ._remote import remote_file_target

    return remote_file_target(remote, overwrite=overwrite, tmpdir=tmpdir)


def _streamed(
    data: Any, fmt: str, scenes: Sequence[int | str] | None, overrides: tuple[Any, ...]
) -> list[Scene] | None:
    """An opened file's scenes as dask-free writer scenes, when the output is an OME-TIFF
    or a DICOM series and nothing is overridden (None: take the DataArray path)."""
    file = image_file_of(data)
    if file is None or fmt not in ("ome-tiff", "dicom") or any(v is not None for v in overrides):
        return None
    from ._convert_stream import image_scenes

    return image_scenes(file, scenes)


def write(
    data: Any,
    path: str | os.PathLike[str],
    *,
    dims: str | Sequence[str] | None = None,
    channel_names: Sequence[str] | None = None,
    physical_pixel_sizes: SizesArg = None,
    scenes: Sequence[int | str] | None = None,
    tile: int | Sequence[int] | None = None,
    chunks: int | Sequence[int] | dict[str, int] | None = None,
    shards: int | Sequence[int] | dict[str, int] | None = None,
    compression: str | None = "auto",
    quality: int | None = None,
    pyramid_levels: int | str | None = "auto",
    downsample: str = "mean",
    ngff_version: str | None = None,
    bigtiff: bool | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    tmpdir: str | os.PathLike[str] | None = None,
    labels: Mapping[str, Any] | None = None,
    format: str | None = None,
) -> Path | str:
    """Write numpy, dask, xarray or an ``imgio.Image`` to OME-TIFF or OME-Zarr.

    Parameters
    ----------
    data
        An array, a DataArray (dims, C labels, Z/Y/X coordinates and ``attrs["pixel_sizes"]``
        are used) or an ``Image`` (every scene, or those in ``scenes``).
    path
        ``.ome.tif``/``.ome.tiff`` for OME-TIFF, ``.ome.zarr``/``.zarr`` for OME-Zarr,
        ``.ome.zarr.zip`` or ``.ozx`` (RFC-9: NGFF 0.5, sharded) for a zipped OME-Zarr,
        ``.ims`` for Imaris (one scene; needs ``imgio[ims]``): a local path or an fsspec URL
        (``s3://bucket/key.ome.zarr``). With ``format="dicom"``, a new local folder.
    dims, channel_names, physical_pixel_sizes
        Override or supply dims letters, channel names and µm sizes ``(Z, Y, X)``.
    tile
        OME-TIFF and DICOM tile edge (default 512, multiples of 16; DICOM from a source with
        JPEG tiles: the source's tile, so that level 0 is copied without re-encoding).
    chunks, shards
        OME-Zarr chunk shape (int: Y/X edge, default 1024) and, with NGFF 0.5, shard shape.
    compression, quality
        ``none``, ``zlib``, ``zstd``, ``lzw``, ``jpeg``, ``jpeg2000``, ``jpegxl`` (OME-TIFF);
        ``none``, ``zstd``, ``lz4``, ``zlib`` (OME-Zarr); ``jpeg``, ``jpeg2000``,
        ``jpeg2000-lossless``, ``jpegls-lossless``, ``none`` (DICOM). ``"auto"`` (default) is
        ``zstd`` for OME, and for DICOM ``jpeg`` for 8-bit RGB, else ``jpeg2000-lossless``.
        ``quality`` is the codec level.
    pyramid_levels
        Levels in total, full resolution included, or ``"auto"`` (down to about one tile).
    downsample
        ``"mean"`` for intensities, ``"nearest"`` for labels.
    ngff_version
        ``"0.4"`` (Zarr v2, default) or ``"0.5"`` (Zarr v3).
    overwrite
        Replace an existing target; otherwise it is an error.
    progress
        Called as ``progress(done, total)`` while writing.
    storage_options
        fsspec options for a URL ``path`` (credentials, ``endpoint_url``, ...).
    tmpdir
        Folder for the local temporary file of a remote OME-TIFF (default: system temp).
    labels
        OME-Zarr only: ``{"cells": mask}`` writes NGFF ``labels/cells`` (nearest-neighbour
        pyramid, ``image-label`` colours and properties) beside the image; a value may be a
        mapping ``{"data": mask, "colors": {1: (r, g, b, a)}, "properties": {1: {...}}}``.
    format
        ``"ome-tiff"``, ``"ome-zarr"``, ``"ome-zarr-zip"`` or ``"dicom"`` (a DICOM WSI series:
        one VOLUME instance per level, LABEL/OVERVIEW/THUMBNAIL for an ``Image``'s label,
        macro and thumbnail);
        default: from the suffix.

    Returns
    -------
    Path or str
        The written file or folder; the URL for a remote target.

    Raises
    ------
    TargetExistsError
        The target exists and ``overwrite`` is false.
    ImgioError
        Unknown suffix, option or codec, or data the format cannot hold.
    MissingDependencyError
        A URL whose fsspec filesystem package is not installed.
    """
    fmt = format_of(path) if format is None else format.lower()
    if fmt not in FORMATS:
        raise ImgioError(f"format={format!r}: expected one of {FORMATS}")
    if fmt == "dicom":
        return _write_dicom(
            data,
            path,
            dims=dims,
            channel_names=channel_names,
            physical_pixel_sizes=physical_pixel_sizes,
            scenes=scenes,
            tile=tile,
            compression=compression,
            quality=quality,
            pyramid_levels=pyramid_levels,
            downsample=downsample,
            overwrite=overwrite,
            progress=progress,
            refused={
                "chunks": chunks,
                "shards": shards,
                "ngff_version": ngff_version,
                "bigtiff": bigtiff,
                "storage_options": storage_options,
                "tmpdir": tmpdir,
                "labels": labels,
            },
        )
    if compression == "auto":
        compression = "zstd"
    remote = None
    if storage_options is not None or "://" in os.fspath(path):
        from ._remote import remote_location

        remote = remote_location(path, storage_options)
    items = _streamed(data, fmt, scenes, (dims, channel_names, physical_pixel_sizes))
    if items is None:
        items = as_scenes(
            data,
            dims=dims,
            channel_names=channel_names,
            physical_pixel_sizes=physical_pixel_sizes,
            scenes=scenes,
        )
    if fmt == "imaris":
        refused: dict[str, Any] = {"tile": tile, "shards": shards, "labels": labels}
        refused.update(ngff_version=ngff_version, bigtiff=bigtiff)
        _write_imaris(
            items,
            path,
            remote,
            refused,
            chunks=chunks,
            compression=compression,
            quality=quality,
            pyramid_levels=pyramid_levels,
            downsample=downsample,
            progress=progress,
            overwrite=overwrite,
            tmpdir=tmpdir,
        )
    elif fmt == "ome-tiff":
        if labels:
            raise ImgioError(
                "labels= are written as NGFF labels/<name> in an OME-Zarr; "
                f"{str(path)!r} is an OME-TIFF (write .ome.zarr, or the mask as its own image)"
            )
        for name, value in (("chunks", chunks), ("shards", shards), ("ngff_version", ngff_version)):
            if value is not None:
                raise ImgioError(
                    f"{name}= is an OME-Zarr option; for OME-TIFF use tile= "
                    f"(found {name}={value!r})"
                )
        from .ome_tiff import write_ome_tiff

        with _file_target(path, remote, overwrite, tmpdir) as partial:
            write_ome_tiff(
                items,
                partial,
                tile=512 if tile is None else tile,
                compression=compression,
                quality=quality,
                pyramid_levels=pyramid_levels,
                downsample=downsample,
                bigtiff=bigtiff,
                progress=progress,
            )
    else:
        for name, value in (("tile", tile), ("bigtiff", bigtiff)):
            if value is not None:
                raise ImgioError(
                    f"{name}= is an OME-TIFF option; for OME-Zarr use chunks= "
                    f"(found {name}={value!r})"
                )
        from .ome_zarr import write_ome_zarr

        zipped = fmt == "ome-zarr-zip"
        ozx = zipped and str(path).lower().endswith(OZX_SUFFIX)
        if ozx:  # RFC-9: Zarr v3, sharded unless the caller says otherwise
            if ngff_version not in (None, "0.5"):
                raise ImgioError(
                    f"an .ozx file is Zarr v3 (RFC-9): expected ngff_version='0.5', "
                    f"found {ngff_version!r}; use .ome.zarr.zip for NGFF {ngff_version}"
                )
            ngff_version = "0.5"
            if shards is None and (chunks is None or isinstance(chunks, int)):
                shards = 4 * (chunks or 1024)
        target: Any
        if remote is not None and zipped:
            from ._remote import remote_file_target

            target = remote_file_target(remote, overwrite=overwrite, tmpdir=tmpdir)
        elif remote is not None:
            from ._remote import remote_zarr_target

            target = remote_zarr_target(remote, overwrite=overwrite)
        else:
            target = atomic_target(path, overwrite=overwrite)
        with target as partial:
            folder = partial_name(partial) if zipped else partial
            try:
                write_ome_zarr(
                    items,
                    folder,
                    ngff_version=ngff_version or "0.4",
                    chunks=chunks,
                    shards=shards,
                    compression=compression,
                    quality=quality,
                    pyramid_levels=pyramid_levels,
                    downsample=downsample,
                    progress=progress,
                    labels=labels,
                )
                if zipped:
                    recommended = ozx and sharded_v3(folder)
                    pack_folder(folder, partial, ome_version="0.5" if recommended else None)
            finally:
                if zipped:
                    remove(folder)
    if remote is not None:
        return remote.url
    return Path(path).expanduser().absolute()


def _write_imaris(
    items: Any,
    path: str | os.PathLike[str],
    remote: Any,
    refused: Mapping[str, Any],
    *,
    chunks: int | Sequence[int] | dict[str, int] | None,
    compression: str | None,
    overwrite: bool,
    tmpdir: str | os.PathLike[str] | None,
    **options: Any,
) -> None:
    """``write`` to ``.ims``: refuse the other formats' options, then stream the pyramid.

    ``compression`` is gzip (the default ``"zstd"`` is read as gzip: Imaris has no zstd)
    or ``"none"``; ``chunks`` an int (Y/X edge), ``(Z, Y, X)`` or ``{"Z": .., ...}``.
    """
    for name, value in refused.items():
        if value:
            raise ImgioError(
                f"{name}= is not an Imaris option (Imaris takes chunks=, compression=, "
                f"quality=, pyramid_levels=, downsample=); found {name}={value!r}"
            )
    from .imaris import DEFAULT_CHUNKS, write_ims

    if isinstance(chunks, dict):
        chunks = [int(chunks.get(d, k)) for d, k in zip("ZYX", DEFAULT_CHUNKS, strict=True)]
    with _file_target(path, remote, overwrite, tmpdir) as partial:
        write_ims(
            items,
            partial,
            chunks=chunks,
            compression="gzip" if compression == "zstd" else compression,
            **options,
        )


def _write_dicom(
    data: Any,
    path: str | os.PathLike[str],
    *,
    dims: str | Sequence[str] | None,
    channel_names: Sequence[str] | None,
    physical_pixel_sizes: SizesArg,
    scenes: Sequence[int | str] | None,
    refused: Mapping[str, Any],
    overwrite: bool,
    **options: Any,
) -> Path:
    """``write(..., format="dicom")``: a DICOM WSI series in a new local folder."""
    for name, value in refused.items():
        if value:
            raise ImgioError(
                f"{name}= does not apply to a DICOM series (found {name}={value!r}); "
                "DICOM takes tile=, compression=, quality=, pyramid_levels=, downsample="
            )
    if "://" in os.fspath(path):
        raise ImgioError(f"DICOM series are written to local folders; found {os.fspath(path)!r}")
    from .dicom import parts_of, write_dicom

    file = image_file_of(data)
    items = _streamed(data, "dicom", scenes, (dims, channel_names, physical_pixel_sizes))
    if items is None:  # dask-free when it can, as for OME-TIFF
        items = as_scenes(
            data,
            dims=dims,
            channel_names=channel_names,
            physical_pixel_sizes=physical_pixel_sizes,
            scenes=scenes,
        )
    parts = parts_of(file, items, scenes)
    with atomic_target(path, overwrite=overwrite) as partial:
        write_dicom(parts, partial, **options)
    return Path(path).expanduser().absolute()
