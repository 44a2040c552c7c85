"""imgio's dock widget: a scene picker for the files imgio opened, and a level/info panel.

Picking a scene replaces the file's layers in the viewer by that scene's (its channels and
label images), as napari-aicsimageio's scene widget does. Files whose layers imgio read
are listed as they are added (a single-scene file for its info). The panel shows the file's
reader, the scene's dims, dtype, µm sizes, channels and every pyramid level's shape, and
which level napari draws for the selected layer.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QVBoxLayout,
    QWidget,
)

from ._layers import kept_dims
from ._reader import describe, primary_scenes, scene_group

if TYPE_CHECKING:
    from ..arrays import ImageFile

__all__ = ["ImgioWidget", "picker"]

WIDGET_NAME = "Scenes and levels"
_FALLBACK: weakref.WeakKeyDictionary[Any, ImgioWidget] = weakref.WeakKeyDictionary()


def picker(viewer: Any) -> ImgioWidget:
    """The viewer's imgio widget, docked on first use."""
    try:
        _, widget = viewer.window.add_plugin_dock_widget("imgio", WIDGET_NAME)
    except (KeyError, ValueError, LookupError):  # the plugin is not registered with npe2
        widget = _FALLBACK.get(viewer)
        if widget is None:
            widget = _FALLBACK[viewer] = ImgioWidget(viewer)
            viewer.window.add_dock_widget(widget, name=f"{WIDGET_NAME} (imgio)", area="right")
    if not isinstance(widget, ImgioWidget):
        raise TypeError(f"imgio's dock widget is a {type(widget).__name__}")
    return widget


class ImgioWidget(QWidget):
    """Files imgio opened, their scenes (pick one to show it) and the selected scene's facts.

    Parameters
    ----------
    napari_viewer
        The viewer whose layers the widget swaps.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.files: dict[str, ImageFile] = {}
        self.file_box = QComboBox()
        self.scene_list = QListWidget()
        self.info = QFormLayout()
        self.level = QLabel("")
        self.facts: dict[str, str] = {}  # the info panel's rows
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("File"))
        layout.addWidget(self.file_box)
        layout.addWidget(QLabel("Scenes (pick one to show it)"))
        layout.addWidget(self.scene_list)
        layout.addLayout(self.info)
        layout.addWidget(self.level)
        layout.addStretch(1)
        self.file_box.currentIndexChanged.connect(self._file_changed)
        self.scene_list.currentRowChanged.connect(self._scene_picked)
        napari_viewer.layers.selection.events.active.connect(self._update_level)
        napari_viewer.layers.events.inserted.connect(self._layer_added)
        scene = getattr(napari_viewer, "scene", None)  # napari >= 0.9; before: viewer.camera
        camera = getattr(scene, "camera", None) or napari_viewer.camera
        camera.events.zoom.connect(self._update_level)
        self._quiet = False
        for layer in list(napari_viewer.layers):  # files opened before the widget was docked
            self._layer_added(layer)

    # ------------------------------------------------------------------ API
    @property
    def file(self) -> ImageFile | None:
        """The file the picker lists."""
        return self.files.get(self.file_box.currentData())

    def add_file(self, file: ImageFile, scene: int = 0) -> None:
        """List ``file`` (shown at ``scene``, whose layers the reader already gave)."""
        self.files[file.path] = file
        self._quiet = True
        try:
            at = self.file_box.findData(file.path)
            if at < 0:
                self.file_box.addItem(_short(file.path), file.path)
                at = self.file_box.count() - 1
            self.file_box.setCurrentIndex(at)
            self._fill_scenes(file, scene)
        finally:
            self._quiet = False

    def show_scene(self, scene: int) -> list[Any]:
        """Replace the current file's layers by ``scene``'s; the new layers."""
        file = self.file
        if file is None:
            return []
        for layer in [la for la in self.viewer.layers if _path(la) == file.path]:
            self.viewer.layers.remove(layer)
        added: list[Any] = []
        for data, kwargs, kind in scene_group(file, scene):
            add = self.viewer.add_labels if kind == "labels" else self.viewer.add_image
            got = add(data, **kwargs)
            added.extend(got if isinstance(got, list) else [got])
        self._show_info(file, scene)
        return added

    def pick(self, scene: int) -> None:
        """Select ``scene`` in the list, as a click does (shows it)."""
        file = self.file
        if file is None:
            raise ValueError("no file listed")
        self.scene_list.setCurrentRow(primary_scenes(file).index(scene))

    # ------------------------------------------------------------ internals
    def _fill_scenes(self, file: ImageFile, scene: int) -> None:
        self.scene_list.clear()
        scenes = primary_scenes(file)
        for s in scenes:
            sizes = file.sizes(s)
            shape = " ".join(f"{d}{sizes[d]}" for d in kept_dims(file, s)[1])
            self.scene_list.addItem(f"{s}: {file.scene_names[s]}  ({shape})")
        self.scene_list.setCurrentRow(scenes.index(scene) if scene in scenes else 0)
        self._show_info(file, scene)

    def _layer_added(self, event: Any) -> None:
        """List the file of a layer imgio read (a single-scene file too: its info)."""
        layer = getattr(event, "value", event)
        path = _path(layer)
        if path is None or path in self.files or layer.metadata.get("reader") is None:
            return
        from ..arrays import ImageFile
        from ..errors import ImgioError

        try:
            file = ImageFile(path)
        except (ImgioError, OSError):  # moved, or a URL that needs its storage options
            return
        self.add_file(file, scene=_scene(layer))

    def _file_changed(self, _index: int) -> None:
        file = self.file
        if file is not None and not self._quiet:
            shown = [_scene(la) for la in self.viewer.layers if _path(la) == file.path]
            self._quiet = True
            try:
                self._fill_scenes(file, shown[0] if shown else primary_scenes(file)[0])
            finally:
                self._quiet = False

    def _scene_picked(self, row: int) -> None:
        file = self.file
        if self._quiet or file is None or row < 0:
            return
        self.show_scene(primary_scenes(file)[row])

    def _show_info(self, file: ImageFile, scene: int) -> None:
        while self.info.rowCount():
            self.info.removeRow(0)
        self.facts = dict(describe(file, scene))
        for key, value in self.facts.items():
            label = QLabel(value)
            label.setWordWrap(True)
            self.info.addRow(key, label)
        self._update_level()

    def _update_level(self, _event: Any = None) -> None:
        layer = self.viewer.layers.selection.active
        if layer is None or not getattr(layer, "multiscale", False):
            self.level.setText("")
            return
        k = int(layer.data_level)
        shape = " x ".join(str(n) for n in layer.data[k].shape)
        self.level.setText(f"drawn: level {k} of {len(layer.data)} ({shape}) of {layer.name}")


def _path(layer: Any) -> str | None:
    meta = getattr(layer, "metadata", None) or {}
    return meta.get("path") if isinstance(meta, dict) else None


def _scene(layer: Any) -> int:
    return int(layer.metadata.get("scene_index", 0))


def _short(path: str) -> str:
    return path.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
