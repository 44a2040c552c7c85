"""OME-Zarr images: NGFF 0.4 (Zarr v2) and 0.5 (Zarr v3, optional sharding).

One scene is written at the root. Several scenes use the bioformats2raw layout: the
root says ``"bioformats2raw.layout": 3``, scene ``i`` is the image group ``"i"``, and the
``OME`` group lists the series and holds ``METADATA.ome.xml``. RGB samples become
channels (NGFF has no samples axis). Chunks of one plane each are written in one pass,
every level made tile by tile as the source chunks arrive (:mod:`._zarr_stream`: flat
memory). Otherwise (chunks spanning planes, shards, odd chunk edges, or a
``dask.distributed`` client, whose workers write the chunks) level 0 is stored by dask
tasks straight into the store, then each level is read back lazily and halved, so no
level recomputes the source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ImgioError
from ._extra import extra_dims, extra_dims_error
from ._input import Scene
from ._ngff_attrs import bioformats2raw, ome_group, write_image_attrs
from ._pyramid import check_method, level_count, level_shapes
from ._zarr_levels import (
    ZARR_COMPRESSIONS,
    ChunksArg,
    _like,
    _store,
    build_levels,
    chunk_shape,
    create_level,
    grow_chunks,
    open_root,
)
from ._zarr_stream import chunk_count, streamable, write_levels

if TYPE_CHECKING:
    import dask.array as da
    import zarr
    from zarr.abc.store import Store

__all__ = [
    "ZARR_COMPRESSIONS",
    "build_levels",
    "create_level",
    "open_root",
    "write_image_attrs",
    "write_ome_zarr",
]


def _fold_samples(scene: Scene) -> tuple[da.Array, list[str], list[int | None] | None]:
    arr, names, colors = scene.array, list(scene.channel_names), scene.channel_colors
    if arr.ndim == 6:
        t, c, z, y, x, s = arr.shape
        arr = arr.transpose(0, 1, 5, 2, 3, 4).reshape(t, c * s, z, y, x)  # type: ignore[no-untyped-call]
        rgb = ("red", "green", "blue", "alpha")
        names = [
            n if c == 1 and s == 1 else (rgb[k] if c == 1 else f"{n}:{rgb[k]}")
            for n in names
            for k in range(s)
        ]
        colors = [int(v, 16) << 8 | 0xFF for v in ("FF0000", "00FF00", "0000FF", "FFFFFF")[:s]] * c
    return arr, names, colors


def write_ome_zarr(
    scenes: Sequence[Scene],
    path: Path | Store,
    *,
    ngff_version: str = "0.4",
    chunks: ChunksArg = None,
    shards: ChunksArg = None,
    compression: str | None = "zstd",
    quality: int | None = None,
    pyramid_levels: int | str | None = "auto",
    downsample: str = "mean",
    progress: Callable[[int, int], None] | None = None,
    labels: Mapping[str, Any] | None = None,
) -> None:
    """Write ``scenes`` as an OME-Zarr at a local ``path`` or into a zarr store.

    ``labels`` (name -> integer array, or a mapping with ``data``, ``colors``,
    ``properties``) are written as NGFF ``labels/<name>`` beside a single image.

    No temp-name handling here: the caller passes a partial path, or a store that holds
    the root metadata back (:class:`~imgio.writers._remote.HeldRootStore`).
    """
    check_method(downsample)
    if labels and len(scenes) != 1:
        raise ImgioError(
            f"labels= go beside one image; found {len(scenes)} scenes (pick one with scenes=[i])"
        )
    root = open_root(path, ngff_version)
    write_image_groups(
        lambda i: root if len(scenes) == 1 else root.create_group(str(i)),
        scenes,
        ngff_version=ngff_version,
        chunks=chunks,
        shards=shards,
        compression=compression,
        quality=quality,
        pyramid_levels=pyramid_levels,
        downsample=downsample,
        progress=progress,
        labels=labels,
    )
    if len(scenes) > 1:
        bioformats2raw(root, scenes, ngff_version)
    elif scenes and scenes[0].ome_source is not None:
        ome_group(root, scenes, ngff_version)  # the source's OME metadata, beside the image


def _units(
    shape: tuple[int, ...], ck: tuple[int, ...], n: int, shards: ChunksArg
) -> tuple[tuple[int, ...] | None, bool, int]:
    """Shards, whether the levels stream, and the progress units (chunks, or else levels)."""
    sh = None if shards is None else chunk_shape(shards, "TCZYX", shape, max(ck) * 4)
    stream = streamable(ck, sh)
    return sh, stream, chunk_count(level_shapes(shape, 3, 4, n), ck) if stream else n


def _levels(
    group: zarr.Group,
    first: zarr.Array[Any],
    source: da.Array,
    folded: da.Array,
    n: int,
    stream: bool,
    method: str,
    step: Callable[..., None],
) -> list[tuple[int, ...]]:
    """Fill level 0 and make levels 1..n-1; their shapes."""
    if not stream:  # dask stores level 0, then each level is halved from the one above
        _store(folded, first, step)
        return build_levels(group, "TCZYX", n, method, step)
    shapes = level_shapes(folded.shape, 3, 4, n)  # one pass, tile by tile, in flat memory
    version = "0.4" if group.metadata.zarr_format == 2 else "0.5"
    targets = [first] + [
        _like(group, first, str(k), shapes[k], "TCZYX", version) for k in range(1, n)
    ]
    write_levels(source, targets, method, step)
    return shapes


def write_image_groups(
    group_of: Callable[[int], zarr.Group],
    scenes: Sequence[Scene],
    *,
    ngff_version: str,
    chunks: ChunksArg,
    shards: ChunksArg,
    compression: str | None,
    quality: int | None,
    pyramid_levels: int | str | None,
    downsample: str,
    progress: Callable[[int, int], None] | None,
    labels: Mapping[str, Any] | None = None,
) -> None:
    """Write each scene as an NGFF image into the group ``group_of(i)`` (made when called)."""
    plans = [_plan(scene, chunks, pyramid_levels) for scene in scenes]
    units = [_units(arr.shape, ck, n, shards) for (arr, _, _), ck, n in plans]
    total, done = sum(u for *_, u in units), [0]

    def step(k: int = 1) -> None:
        done[0] += k
        if progress is not None:
            progress(done[0], total)

    for i, (scene, ((arr, names, colors), ck, n), (sh, stream, _)) in enumerate(
        zip(scenes, plans, units, strict=True)
    ):
        group = group_of(i)
        first = create_level(
            group,
            "0",
            arr.shape,
            arr.dtype,
            "TCZYX",
            ck,
            version=ngff_version,
            shards=sh,
            compression=compression,
            quality=quality,
        )
        shapes = _levels(group, first, scene.array, arr, n, stream, downsample, step)
        write_image_attrs(
            group,
            version=ngff_version,
            dims="TCZYX",
            shapes=shapes,
            name=scene.name,
            channel_names=names,
            pixel_sizes=tuple(scene.pixel_sizes),
            origin=scene.origin,
            channel_colors=colors,
            method=downsample,
            time_interval=scene.time_interval,
        )
        if labels:
            from ._labels import write_labels

            write_labels(
                group,
                labels,
                scene,
                version=ngff_version,
                chunks=ck,
                n_levels=n,
                compression=compression,
                quality=quality,
            )


def _plan(
    scene: Scene, chunks: ChunksArg, pyramid_levels: int | str | None
) -> tuple[tuple[da.Array, list[str], list[int | None] | None], tuple[int, ...], int]:
    """A scene's ``TCZYX`` pixels (samples folded into C), chunk shape and level count."""
    if extra_dims(scene):
        raise extra_dims_error(
            scene,
            "OME-Zarr",
            "cannot hold them (NGFF 0.4 and 0.5 images have at most t, c or one custom "
            "axis, z, y, x)",
        )
    folded = _fold_samples(scene)
    ck = chunk_shape(chunks, "TCZYX", folded[0].shape)
    if chunks is None:  # the default: never tiny chunks (thin images)
        ck = grow_chunks(ck, folded[0].shape, "TCZYX", folded[0].dtype.itemsize)
    return folded, ck, level_count(pyramid_levels, folded[0].shape[3:5], max(ck[3], ck[4]))
