"""npe2 sample data: imgio's demo (a 3-channel pyramidal OME-TIFF, :mod:`imgio.sample`).

The file is written once per user into the system temp folder (under an atomic name, so
a killed write leaves no half file behind) and opened through the plugin's reader.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._layers import LayerData

__all__ = ["demo_path", "demo_sample"]


def demo_path() -> Path:
    """Where the demo sample lives, written on first use."""
    from ..sample import SIZE, make_sample

    folder = (
        Path(tempfile.gettempdir()) / f"imgio-napari-{os.getuid() if hasattr(os, 'getuid') else 0}"
    )
    path = folder / f"demo-{SIZE}.ome.tif"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".demo-{os.getpid()}.partial.ome.tif"
        try:
            make_sample(partial)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return path


def demo_sample() -> list[LayerData]:
    """npe2 ``sample_data``: the demo's layers (DAPI, GFP, mCherry; 0.325 µm; 3 levels)."""
    from ..arrays import ImageFile
    from ._layers import scene_layers

    return [scene_layers(ImageFile(demo_path()), 0)]
