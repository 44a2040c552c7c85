"""imgio's napari plugin (npe2 manifest ``imgio/napari.yaml``): reader, writers, widget, sample.

- :func:`get_reader` / :func:`read`: a file opens as its first scene (lazy multiscale
  layers in µm, channel names, colours, contrast limits); more scenes are listed in the
  dock widget (:class:`ImgioWidget`), which swaps the layers; plates open as one grid;
  OME-Zarr label images become Labels layers with their colours and properties.
- :func:`write_images` / :func:`write_labels`: *File > Save Layers* to ``.ome.tif``,
  ``.tif``, ``.ome.zarr`` and ``.zarr``; a Labels layer on its own too.
- :func:`set_default_reader`: make imgio napari's reader for every suffix it reads.

The widget needs Qt and is imported from :mod:`imgio.napari._widget` on use.
"""

from __future__ import annotations

from ._layers import LayerData, scene_layers
from ._prefs import default_reader_patterns, set_default_reader
from ._reader import get_reader, read
from ._sample import demo_sample
from ._writer import write_images, write_labels

__all__ = [
    "LayerData",
    "default_reader_patterns",
    "demo_sample",
    "get_reader",
    "read",
    "scene_layers",
    "set_default_reader",
    "write_images",
    "write_labels",
]
