"""Planes read through Bio-Formats' Java API directly, in a child process (the reference).

The reference never goes through imgio (neither its reader nor its worker process) and
never starts Java in the test process: one ``python`` child starts JPype, reads every
asked ``(path, series, z, c, t)`` plane with a fresh ``ImageReader`` and ``openBytes``,
and hands the planes back in an ``.npz`` file. Batch the planes a module needs: each call
starts a JVM (seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from imgio.readers.bioformats import bioformats_jar

SCRIPT = r"""
import json, sys
import jpype
import numpy as np

jar, asked, out = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
jpype.startJVM("-Djava.awt.headless=true", classpath=[jar])
jpype.JClass("loci.common.DebugTools").setRootLevel("ERROR")
types = {0: "i1", 1: "u1", 2: "i2", 3: "u2", 4: "i4", 5: "u4", 6: "f4", 7: "f8"}
planes = {}
for i, (path, series, z, c, t) in enumerate(asked):
    reader = jpype.JClass("loci.formats.ImageReader")()
    reader.setFlattenedResolutions(False)  # series are series, level 0 their full size
    reader.setId(path)
    reader.setSeries(series)
    raw = bytes(reader.openBytes(reader.getIndex(z, c, t)))
    order = "<" if reader.isLittleEndian() else ">"
    data = np.frombuffer(raw, np.dtype(types[int(reader.getPixelType())]).newbyteorder(order))
    shape = [int(reader.getSizeY()), int(reader.getSizeX())]
    rgb = int(reader.getRGBChannelCount())
    if rgb > 1 and reader.isInterleaved():
        data = data.reshape(*shape, rgb)
    elif rgb > 1:
        data = data.reshape(rgb, *shape).transpose(1, 2, 0)
    else:
        data = data.reshape(shape)
    planes[f"p{i}"] = data.astype(data.dtype.newbyteorder("="))
    reader.close()
np.savez(out, **planes)
"""


def java_planes(
    asked: list[tuple[Path, int, int, int, int]], folder: Path
) -> list[np.ndarray[Any, Any]]:
    """Each ``(path, series, z, c, t)`` plane as Bio-Formats' ``openBytes`` gives it."""
    requests = folder / "bf-reference.json"
    requests.write_text(json.dumps([[str(p), s, z, c, t] for p, s, z, c, t in asked]))
    out = folder / "bf-reference.npz"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(bioformats_jar()), str(requests), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with np.load(out) as found:
        return [found[f"p{i}"] for i in range(len(asked))]
