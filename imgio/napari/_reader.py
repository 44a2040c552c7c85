"""The npe2 reader: one scene at a time (a scene picker for the others), plates as one grid.

A file opens as its first scene: one layer per channel (or an RGB layer) with every pyramid
level as lazy dask arrays, and its OME-Zarr label images as Labels layers. A file with
more scenes also gets imgio's dock widget (:mod:`._widget`) in the current viewer, which
swaps the layers when another scene is picked (napari-aicsimageio's behaviour). An HCS
plate opens as one grid of its wells' first fields (napari-ome-zarr's behaviour); a
whole slide's label, macro and thumbnail images are not drawn over the slide.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ._layers import LayerData, is_label, scene_layers

if TYPE_CHECKING:
    from ..arrays import ImageFile

__all__ = ["get_reader", "read", "scene_group", "shown_scenes"]

PathOrPaths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
_ZARR_MARKERS = (".zgroup", ".zarray", ".zattrs", "zarr.json")


def get_reader(path: PathOrPaths) -> Callable[[PathOrPaths], list[LayerData]] | None:
    """npe2 ``get_reader``: :func:`read` when imgio has a reader for every path, else ``None``."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths or not all(_readable(os.fspath(p)) for p in paths):
        return None
    return read


def _readable(path: str) -> bool:
    from .._location import as_location
    from ..readers._registry import available_readers, reader_class

    name = path.rstrip("/\\").lower()
    local_dir = "://" not in path and os.path.isdir(path)
    if local_dir and any(os.path.exists(os.path.join(path, m)) for m in _ZARR_MARKERS):
        return True
    for reader in available_readers():
        try:
            cls = reader_class(reader)
        except (ImportError, AttributeError, TypeError):
            continue
        if any(name.endswith(s.lower()) for s in cls.suffixes):
            return True
        if local_dir and cls.sniff_location(as_location(path)):
            return True
    return False


def read(path: PathOrPaths) -> list[LayerData]:
    """The first scene of every path as napari layer data (lazy, multiscale).

    A path with more scenes is also listed in imgio's scene picker of the current viewer
    (when there is one); a plate is one grid.
    """
    from ..arrays import ImageFile

    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    out: list[LayerData] = []
    for p in paths:
        file = ImageFile(os.fspath(p))
        primary = primary_scenes(file)
        if any(file.infos()[s].well is not None for s in primary):
            from ._plate import plate_layers

            out.extend(plate_layers(file, primary))
            continue
        out.extend(scene_group(file, primary[0]))
        if len(primary) > 1:
            _offer_picker(file)
    return out


def shown_scenes(file: ImageFile) -> list[int]:
    """Scenes that can become layers: a whole slide's label/macro/thumbnail are left out.

    Associated images have their own sizes and (no) calibration: drawn in the slide's
    world they would cover it at a wrong scale. They stay reachable through
    ``imgio.Image(path).set_scene("label")``.
    """
    infos = file.infos()
    shown = [i for i, info in enumerate(infos) if info.associated is None]
    return shown or list(range(len(infos)))


def primary_scenes(file: ImageFile) -> list[int]:
    """The scenes a picker lists: shown scenes that are not label images of another."""
    shown = shown_scenes(file)
    names = file.scene_names
    return [s for s in shown if not is_label(names[s])] or shown


def labels_of(file: ImageFile, scene: int) -> list[int]:
    """The label images drawn with ``scene``: ``<scene>/labels/*`` (``labels/*`` for the
    file's first image)."""
    names = file.scene_names
    own = names[scene]
    first = primary_scenes(file)[0] == scene
    out = []
    for s in shown_scenes(file):
        parent, sep, _ = names[s].rpartition("/labels/")
        if (sep and parent == own) or (names[s].startswith("labels/") and first):
            out.append(s)
    return out


def scene_group(file: ImageFile, scene: int) -> list[LayerData]:
    """``scene``'s layers and its label images' Labels layers."""
    suffix = f" [{file.scene_names[scene]}]" if len(primary_scenes(file)) > 1 else ""
    group = [scene_layers(file, scene, suffix=suffix)]
    group += [scene_layers(file, s, suffix=suffix) for s in labels_of(file, scene)]
    return group


def _offer_picker(file: ImageFile) -> None:
    """List ``file`` in the scene picker of the current viewer (none in a script without Qt)."""
    try:
        import napari
    except ImportError:  # layer data asked for without napari
        return
    viewer = napari.current_viewer()
    if viewer is None:
        return
    from ._widget import picker

    picker(viewer).add_file(file, scene=primary_scenes(file)[0])


def describe(file: ImageFile, scene: int) -> list[tuple[str, str]]:
    """The info panel's rows for ``scene``: reader, dims, dtype, levels, µm sizes, channels."""
    info = file.infos()[scene]
    order = file.presented(scene)[0]
    levels = [
        " x ".join(f"{d}{n}" for d, n in zip(order, file.presented(scene, lvl)[1], strict=True))
        for lvl in range(info.n_levels)
    ]
    sizes = file.physical_pixel_sizes(scene)
    um = ", ".join(f"{d} {v:.4g}" for d, v in zip("ZYX", sizes, strict=True) if v) or "unknown"
    rows = [
        ("file", os.path.basename(file.path.rstrip("/\\"))),
        ("reader", file.reader.name),
        ("scene", f"{scene}: {info.name}"),
        ("dtype", str(info.dtype)),
        ("µm / pixel", um),
        ("channels", ", ".join(file.channel_names(scene))),
    ]
    if info.time_interval:
        rows.append(("time step", f"{info.time_interval:.4g} s"))
    rows += [(f"level {i}", text) for i, text in enumerate(levels)]
    return rows
