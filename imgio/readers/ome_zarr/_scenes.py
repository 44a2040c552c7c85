"""Finding the scenes of a zarr store: NGFF images, labels, HCS plates, bioformats2raw, plain zarr.

Scenes, in the order found:

- an image group (``multiscales``): one scene per multiscale, named by its ``name``
  (``"Image:0"`` when it has none), then ``labels/<name>`` for each label image;
- an HCS plate (``plate``): one scene per well field, named ``<row>/<column>/<field>``
  (the well path and the field's image path, e.g. ``A/1/0``); a lone well group too;
- a bioformats2raw layout: one scene per series (``OME/.zattrs`` ``series`` or groups
  ``0``, ``1``, ...), named by the OME-XML ``Image`` names, else by the series path;
  their labels as ``<series name>/labels/<name>``;
- a plain zarr array (one scene ``Image:0``) or group (one scene per array, named by
  its path; 1-D coordinate arrays of xarray stores are skipped). Dims come from
  ``dimension_names`` (v3) or ``_ARRAY_DIMENSIONS`` (xarray), else are guessed:
  ``YX`` last, then ``Z``, ``C``, ``T`` going left, then extra letters.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..._location import Location
from ...dims import PhysicalPixelSizes
from ...errors import CorruptFileError, ImgioWarning
from ..base import SceneInfo
from ._guard import check_array, check_path
from ._ngff import (
    Levels,
    guess_dims,
    names_to_dims,
    parse_axes,
    parse_image_label,
    parse_levels,
    parse_omero,
)
from ._ngff06 import dataset_paths, is_v06, parse_v06
from ._source import read_member

__all__ = ["Layout", "node_attrs"]


def node_attrs(node: Any) -> dict[str, Any]:
    """A node's attributes with the 0.5 ``ome`` namespace lifted to the top."""
    attrs = dict(node.attrs)
    ome = attrs.get("ome")
    if isinstance(ome, Mapping):
        attrs = {**attrs, **ome}
    return attrs


def _well_position(plate: Mapping[str, Any], well: Mapping[str, Any], wpath: str) -> Any:
    """(row, column) index of a well: its ``rowIndex``/``columnIndex``, else its path's
    names looked up in the plate's ``rows``/``columns``; ``None`` when neither says."""
    row, col = well.get("rowIndex"), well.get("columnIndex")
    if isinstance(row, int) and isinstance(col, int) and row >= 0 and col >= 0:
        return (row, col)
    names = wpath.strip("/").split("/")
    axes = [
        [str(e.get("name")) for e in plate.get(key) or () if isinstance(e, Mapping)]
        for key in ("rows", "columns")
    ]
    if len(names) == 2 and names[0] in axes[0] and names[1] in axes[1]:
        return (axes[0].index(names[0]), axes[1].index(names[1]))
    return None


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def _dim_names(arr: Any) -> list[str] | None:
    """``dimension_names`` (v3) or ``_ARRAY_DIMENSIONS`` (xarray on v2), when all are strings."""
    names = getattr(arr.metadata, "dimension_names", None) or arr.attrs.get("_ARRAY_DIMENSIONS")
    if isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names):
        return [str(n) for n in names]
    return None


class Layout:
    """The scenes of a store: their infos, array paths and opened arrays (read at open)."""

    def __init__(self, location: Location, root: Any) -> None:
        import zarr

        self._zarr = zarr
        self.location = location
        self._root = root
        self._xml: str | None = None
        self._scenes: list[SceneInfo] = []
        self._paths: list[tuple[str, ...]] = []
        self._arrays: list[list[Any]] = []
        self._xml_images: dict[str, Any] = {}  # series path -> light-parsed OME Image
        self._discover()

    @property
    def scenes(self) -> list[SceneInfo]:
        return self._scenes

    @property
    def paths(self) -> list[tuple[str, ...]]:
        """Per scene, the store path of each level's array."""
        return self._paths

    @property
    def arrays(self) -> list[list[Any]]:
        """Per scene, each level's opened ``zarr.Array``."""
        return self._arrays

    @property
    def xml(self) -> str | None:
        """The bioformats2raw OME-XML text, when read."""
        return self._xml

    def _discover(self) -> None:
        root = self._root
        if isinstance(root, self._zarr.Array):
            self._add_plain(root, "", "Image:0")
            return
        attrs = node_attrs(root)
        if "plate" in attrs:
            if "bioformats2raw.layout" in attrs:
                self._read_ome(root)
            self._plate(root, attrs["plate"])
        elif "well" in attrs:
            self._well(root, "", attrs["well"], "")
        elif "bioformats2raw.layout" in attrs:
            self._bioformats2raw(root)
        elif "multiscales" in attrs:
            if self._child(root, "OME") is not None:  # OME-XML beside the image (imgio writes it)
                _, images = self._read_ome(root)
                if len(images) == 1:
                    self._xml_images[""] = images[0]
            self._image(root, "", None, "")
        else:
            self._plain_group(root, "", 0)

    def _child(self, group: Any, path: str) -> Any:
        check_path(path, self._where(str(group.path)))
        try:
            node = group[path]
        except (KeyError, FileNotFoundError):
            return None
        if isinstance(node, self._zarr.Array):  # before anything is sized by its shape
            check_array(node, self._where(_join(str(group.path), path)))
        return node

    def _where(self, path: str) -> str:
        return f"{self.location.url}{'/' + path if path else ''}"

    def _image(
        self, group: Any, path: str, name: str | None, label_prefix: str, *, labels: bool = True
    ) -> None:
        attrs = node_attrs(group)
        multiscales = attrs.get("multiscales")
        if not isinstance(multiscales, list) or not multiscales:
            raise CorruptFileError(
                f"{self._where(path)}: 'multiscales' must be a non-empty list, "
                f"found {multiscales!r}"
            )
        for k, ms in enumerate(multiscales):
            where = f"{self._where(path)}: multiscales[{k}]"
            if not isinstance(ms, Mapping):
                raise CorruptFileError(f"{where}: expected an object, found {ms!r}")
            own = (
                ms.get("name")
                if isinstance(ms.get("name"), str) and ms.get("name") not in ("", "/")
                else None
            )
            if name is not None:
                scene_name = name if k == 0 else f"{name}:{k}"
            else:
                scene_name = own or f"Image:{len(self._scenes)}"
            self._add_multiscale(group, path, ms, attrs.get("omero"), scene_name, where)
        if labels:
            self._labels(group, path, label_prefix)

    def _add_multiscale(
        self, group: Any, path: str, ms: Mapping[str, Any], omero: Any, name: str, where: str
    ) -> None:
        datasets = ms.get("datasets")
        if not isinstance(datasets, list) or not datasets:
            raise CorruptFileError(
                f"{where}.datasets: expected a non-empty list of datasets, found {datasets!r}"
            )
        first = datasets[0].get("path") if isinstance(datasets[0], Mapping) else None
        axes_meta = ms.get("axes")
        if is_v06(ms):  # RFC-5 coordinate systems
            paths = dataset_paths(ms, where)
            arr0 = self._child(group, paths[0])
            if not isinstance(arr0, self._zarr.Array):
                raise CorruptFileError(f"{where}.datasets[0].path: no zarr array at {paths[0]!r}")
            axes, levels = parse_v06(ms, paths, arr0.ndim, where)
        else:
            if isinstance(axes_meta, list):
                ndim = len(axes_meta)
            else:
                arr0 = self._child(group, str(first)) if isinstance(first, str) else None
                ndim = arr0.ndim if arr0 is not None else 5
            axes = parse_axes(axes_meta, ndim, where)
            levels = parse_levels(ms, axes, where)
        arrays = []
        for i, p in enumerate(levels.paths):
            arr = self._child(group, p)
            if not isinstance(arr, self._zarr.Array):
                raise CorruptFileError(
                    f"{where}.datasets[{i}].path: no zarr array at {_join(path, p)!r}"
                )
            if arr.ndim != len(axes):
                raise CorruptFileError(
                    f"{where}.datasets[{i}]: array {_join(path, p)!r} has {arr.ndim} dims, "
                    f"the axes {len(axes)}"
                )
            arrays.append(arr)
        dims = "".join(a.letter for a in axes)
        dtype = np.dtype(arrays[0].dtype)
        if any(np.dtype(a.dtype) != dtype for a in arrays[1:]):
            warnings.warn(
                f"{where}: levels differ in dtype; scene dtype is level 0's",
                ImgioWarning,
                stacklevel=4,
            )
        shape0 = tuple(int(s) for s in arrays[0].shape)
        n_channels = shape0[dims.index("C")] if "C" in dims else None
        channels = parse_omero(omero, n_channels, where)
        xml_image = self._xml_images.get(path)
        if (
            channels is None
            and xml_image is not None
            and len(xml_image.channel_names) == (n_channels or 1)
        ):
            if all(xml_image.channel_names):
                channels = (tuple(xml_image.channel_names), tuple(xml_image.channel_colors))
        if channels is None and n_channels is not None:
            channels = (
                tuple(f"Channel:{len(self._scenes)}:{c}" for c in range(n_channels)),
                (None,) * n_channels,
            )
        level_scales = _with_xml_sizes(levels, xml_image)
        s0 = level_scales[0]
        info = SceneInfo(
            name=name,
            dims=dims,
            shapes=tuple(tuple(int(s) for s in a.shape) for a in arrays),
            dtype=dtype,
            channel_names=channels[0] if channels else None,
            channel_colors=channels[1] if channels else None,
            pixel_sizes=PhysicalPixelSizes(s0.get("Z"), s0.get("Y"), s0.get("X")),
            time_interval=levels.time_interval if "T" in dims else None,
            origin=levels.origin,
            level_scales=level_scales,
            level_origins=levels.level_origins or None,
            label_table=parse_image_label(node_attrs(group).get("image-label")),
        )
        self._append(info, tuple(_join(path, p) for p in levels.paths), arrays)

    def _append(self, info: SceneInfo, paths: tuple[str, ...], arrays: list[Any]) -> None:
        for p, arr in zip(paths, arrays, strict=True):
            check_array(arr, self._where(p))
        if any(s.name == info.name for s in self._scenes):
            info = SceneInfo(**{**info.__dict__, "name": f"{info.name} ({paths[0]})"})
        self._scenes.append(info)
        self._paths.append(paths)
        self._arrays.append(arrays)

    def _labels(self, group: Any, path: str, prefix: str) -> None:
        labels_group = self._child(group, "labels")
        if labels_group is None or isinstance(labels_group, self._zarr.Array):
            return
        names = node_attrs(labels_group).get("labels")
        if not isinstance(names, list):
            warnings.warn(
                f"{self._where(_join(path, 'labels'))}: no 'labels' list; labels ignored",
                ImgioWarning,
                stacklevel=3,
            )
            return
        for label in names:
            node = self._child(labels_group, str(label))
            if node is None or "multiscales" not in node_attrs(node):
                warnings.warn(
                    f"{self._where(_join(path, 'labels', str(label)))}: listed label image is "
                    "missing "
                    "or has no multiscales; skipped",
                    ImgioWarning,
                    stacklevel=3,
                )
                continue
            self._image(
                node, _join(path, "labels", str(label)), f"{prefix}labels/{label}", "", labels=False
            )

    def _plate(self, root: Any, plate: Any) -> None:
        wells = plate.get("wells") if isinstance(plate, Mapping) else None
        if not isinstance(wells, list):
            raise CorruptFileError(
                f"{self._where('')}: plate.wells: expected a list of wells, found {wells!r}"
            )
        for i, well in enumerate(wells):
            wpath = well.get("path") if isinstance(well, Mapping) else None
            if not isinstance(wpath, str):
                raise CorruptFileError(
                    f"{self._where('')}: plate.wells[{i}]: expected a 'path', found {well!r}"
                )
            node = self._child(root, wpath)
            meta = node_attrs(node).get("well") if node is not None else None
            if meta is None:
                warnings.warn(
                    f"{self._where(wpath)}: plate well missing or without 'well' metadata; skipped",
                    ImgioWarning,
                    stacklevel=3,
                )
                continue
            first = len(self._scenes)
            self._well(node, wpath, meta, f"{wpath.strip('/')}/")
            at = _well_position(plate, well, wpath)
            for k in range(first, len(self._scenes)) if at is not None else ():
                self._scenes[k] = dataclasses.replace(self._scenes[k], well=at)

    def _well(self, node: Any, wpath: str, meta: Any, prefix: str) -> None:
        images = meta.get("images") if isinstance(meta, Mapping) else None
        if not isinstance(images, list):
            raise CorruptFileError(
                f"{self._where(wpath)}: well.images: expected a list, found {images!r}"
            )
        for j, image in enumerate(images):
            ipath = image.get("path") if isinstance(image, Mapping) else None
            if not isinstance(ipath, str):
                raise CorruptFileError(
                    f"{self._where(wpath)}: well.images[{j}]: expected a 'path', found {image!r}"
                )
            field = self._child(node, ipath)
            if field is None:
                warnings.warn(
                    f"{self._where(_join(wpath, ipath))}: well field missing; skipped",
                    ImgioWarning,
                    stacklevel=3,
                )
                continue
            self._image(field, _join(wpath, ipath), f"{prefix}{ipath.strip('/')}", "", labels=False)

    def _read_ome(self, root: Any) -> tuple[list[str] | None, list[Any]]:
        """The bioformats2raw ``OME`` group: series paths (when listed) and light-parsed images."""
        from ..._ome import parse_light

        ome_group = self._child(root, "OME")
        series = node_attrs(ome_group).get("series") if ome_group is not None else None
        raw = read_member(self.location, "OME/METADATA.ome.xml")
        self._xml = None if raw is None else raw.decode("utf-8", errors="replace")
        images = parse_light(self._xml) if self._xml else []
        paths = [str(s).strip("/") for s in series] if isinstance(series, list) else None
        for i, path in enumerate(paths or []):
            if i < len(images):
                self._xml_images[path] = images[i]
        return paths, images

    def _bioformats2raw(self, root: Any) -> None:
        paths, images = self._read_ome(root)
        i = 0
        while paths is None or i < len(paths):
            path = paths[i] if paths is not None else str(i)
            node = self._child(root, path)
            if node is None:
                if paths is None:
                    break
                warnings.warn(
                    f"{self._where(path)}: listed series missing; skipped",
                    ImgioWarning,
                    stacklevel=3,
                )
            elif "multiscales" in node_attrs(node):
                if i < len(images):
                    self._xml_images[path] = images[i]
                name = images[i].name if i < len(images) and images[i].name else path
                self._image(node, path, name, f"{name}/")
            i += 1

    def _add_plain(self, arr: Any, path: str, name: str) -> None:
        check_array(arr, self._where(path))
        names = _dim_names(arr)
        dims = names_to_dims(names) if names is not None and len(names) == arr.ndim else ""
        if len(set(dims)) != arr.ndim:
            if dims:
                warnings.warn(
                    f"{self._where(path)}: dimension names {names} are not one distinct axis "
                    "each; ignored",
                    ImgioWarning,
                    stacklevel=4,
                )
            dims = guess_dims(arr.ndim)
        n_channels = arr.shape[dims.index("C")] if "C" in dims else 0
        info = SceneInfo(
            name=name,
            dims=dims,
            shapes=(tuple(int(s) for s in arr.shape),),
            dtype=np.dtype(arr.dtype),
            channel_names=tuple(f"Channel:{len(self._scenes)}:{c}" for c in range(n_channels))
            or None,
        )
        self._append(info, (path,), [arr])

    def _plain_group(self, group: Any, path: str, depth: int) -> None:
        members = sorted(group.members(), key=lambda m: m[0])
        coord_names = {
            n
            for _, m in members
            if isinstance(m, self._zarr.Array) and m.ndim > 1
            for n in _dim_names(m) or ()
        }
        for key, node in members:
            full = _join(path, key)
            if isinstance(node, self._zarr.Array):
                if node.ndim == 0 or (node.ndim == 1 and key in coord_names):
                    continue
                self._add_plain(node, full, full)
            elif "multiscales" in node_attrs(node):
                self._image(node, full, full, f"{full}/")
            elif depth < 3:
                self._plain_group(node, full, depth + 1)


def _with_xml_sizes(levels: Levels, xml_image: Any) -> tuple[dict[str, float], ...]:
    """Per-level µm sizes: NGFF's (with a unit), else the OME-XML's spread by relative scale.

    A space axis whose NGFF scale has no unit stays unknown unless the bioformats2raw
    OME-XML gives its physical size.
    """
    sizes = dict(zip("ZYX", xml_image.pixel_sizes, strict=True)) if xml_image else {}
    out = []
    for k, known in enumerate(levels.level_scales):
        scales = dict(known)
        rel = levels.unitless_scales[k] if k < len(levels.unitless_scales) else {}
        base = levels.unitless_scales[0] if levels.unitless_scales else {}
        for d, v in rel.items():
            if sizes.get(d) and base.get(d):
                scales[d] = float(sizes[d]) * (v / base[d])
        out.append(scales)
    return tuple(out)
