"""Open files in a real napari viewer on an Xvfb display and save what the canvas shows.

Run by ``tests/test_napari_view.py`` in its own process: the canvas needs Qt's xcb
platform (OpenGL through Mesa on Xvfb), while the rest of the suite runs Qt offscreen.

    python tests/napari_view.py OUT_DIR FILE...

Writes ``OUT_DIR/<i>.png`` (the canvas after opening FILE i through the imgio plugin)
and ``OUT_DIR/layers.json`` (per file: each layer's name, type, scale, colormap,
contrast limits and level shapes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _start_xvfb() -> subprocess.Popen[bytes]:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("no Xvfb (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        raise SystemExit("Xvfb did not report a display number")
    os.environ["DISPLAY"] = f":{number}"
    return proc


def _describe(layer: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": layer.name,
        "type": type(layer).__name__,
        "scale": [float(v) for v in layer.scale],
        "visible": bool(layer.visible),
        "levels": [list(a.shape) for a in (layer.data if layer.multiscale else [layer.data])],
    }
    if hasattr(layer, "contrast_limits"):
        out["contrast_limits"] = [float(v) for v in layer.contrast_limits]
    if hasattr(layer, "colormap") and not getattr(layer, "rgb", False):
        out["colormap"] = layer.colormap.name
        out["color"] = [float(v) for v in layer.colormap.colors[-1][:3]]
    return out


def main(out_dir: str, files: list[str]) -> None:
    xvfb = _start_xvfb()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    try:
        import napari
        import npe2
        from imageio import v3 as iio
        from qtpy.QtWidgets import QApplication

        pm = npe2.PluginManager.instance()
        pm.discover()
        pm.get_manifest("imgio")  # the installed package's napari.manifest entry point
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1000, 740)
        report = []
        for i, path in enumerate(files):
            viewer.layers.clear()
            layers = viewer.open(path, plugin="imgio")
            viewer.reset_view()
            for _ in range(10):  # let the canvas draw (and multiscale tiles load)
                QApplication.processEvents()
                time.sleep(0.1)
            shot = viewer.screenshot(canvas_only=True, flash=False)
            iio.imwrite(Path(out_dir) / f"{i}.png", shot)
            report.append({"file": path, "layers": [_describe(layer) for layer in layers]})
        (Path(out_dir) / "layers.json").write_text(json.dumps(report, indent=1))
        viewer.close()
    finally:
        xvfb.terminate()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
