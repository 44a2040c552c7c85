"""The Bio-Formats worker process: one JVM (JPype), Bio-Formats readers, requests on a pipe.

Run by :mod:`imgio.readers._bfclient` as a script (``python -P _bfworker.py REQ ANS JAR
HEAP``), never imported by imgio: it needs the standard library and JPype only, so
starting it imports nothing of the user's process and no JVM ever runs there. ``REQ`` and
``ANS`` are the file descriptors of the two pipes (``multiprocessing.connection``
framing, pickled tuples). The worker answers ``("ready", versions)`` once Java runs,
then one answer per request: ``("ok", result)`` or ``("error", kind, message)`` with kind
``unsupported`` (Bio-Formats does not recognise the file), ``corrupt`` (a Java exception)
or ``missing`` (Java or JPype cannot start). After a Java ``OutOfMemoryError`` it answers
and exits, so the next request meets a fresh JVM. It exits when its parent dies.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

_READERS: dict[str, Any] = {}


def _start(jar: str, heap: str) -> Any:
    import jpype

    jpype.startJVM(f"-Xmx{heap}", "-Djava.awt.headless=true", classpath=[jar], convertStrings=False)
    jpype.JClass("loci.common.DebugTools").setRootLevel("ERROR")
    _warm_up(jpype)
    return jpype


def _warm_up(jpype: Any) -> None:
    """Open, describe and read a tiny fake image: the classes every file needs (all the
    readers, OME-XML) load now, so the start pays for them, not the first file's deadline."""
    with tempfile.TemporaryDirectory(prefix="imgio-bf-warm-") as folder:
        path = os.path.join(folder, "warm&sizeX=8&sizeY=8.fake")
        open(path, "wb").close()
        _open(jpype, path)
        _read(jpype, path, 0, 0, [(0, 0, 0)], (0, 0, 8, 8))
        _close(path)


def _tile(reader: Any, getter: str) -> int | None:
    """Bio-Formats' optimal tile edge: a hint, None when Bio-Formats cannot compute it
    (e.g. ``ArithmeticException: / by zero`` on a pyramid narrower than its scale)."""
    import jpype

    try:
        return int(getattr(reader, getter)())
    except jpype.JException:
        return None


def _describe(reader: Any) -> list[list[dict[str, Any]]]:
    """Every series and resolution as plain values (the client checks and shapes them)."""
    out = []
    for series in range(int(reader.getSeriesCount())):
        reader.setSeries(series)
        levels = []
        for level in range(int(reader.getResolutionCount())):
            reader.setResolution(level)
            levels.append(
                {
                    "T": int(reader.getSizeT()),
                    "C": int(reader.getEffectiveSizeC()),
                    "Z": int(reader.getSizeZ()),
                    "Y": int(reader.getSizeY()),
                    "X": int(reader.getSizeX()),
                    "pixel_type": int(reader.getPixelType()),
                    "rgb": int(reader.getRGBChannelCount()),
                    "interleaved": bool(reader.isInterleaved()),
                    "little": bool(reader.isLittleEndian()),
                    "tile_y": _tile(reader, "getOptimalTileHeight"),
                    "tile_x": _tile(reader, "getOptimalTileWidth"),
                }
            )
        out.append(levels)
    return out


def _open(jpype: Any, path: str) -> dict[str, Any]:
    reader = _READERS.get(path)
    if reader is None:
        reader = jpype.JClass("loci.formats.ImageReader")()
        store = jpype.JClass("loci.formats.MetadataTools").createOMEXMLMetadata()
        reader.setMetadataStore(store)
        reader.setFlattenedResolutions(False)
        reader.setId(path)
        _READERS[path] = reader
    return {"xml": str(reader.getMetadataStore().dumpXML()), "series": _describe(reader)}


def _read(
    jpype: Any, path: str, series: int, level: int, planes: list[tuple[int, int, int]],
    window: tuple[int, int, int, int],
) -> list[bytes]:  # fmt: skip
    reader = _READERS.get(path)
    if reader is None:
        _open(jpype, path)
        reader = _READERS[path]
    reader.setSeries(series)
    reader.setResolution(level)
    x, y, w, h = window
    return [bytes(reader.openBytes(reader.getIndex(z, c, t), x, y, w, h)) for z, c, t in planes]


def _close(path: str) -> None:
    reader = _READERS.pop(path, None)
    if reader is not None:
        reader.close()


def _suffixes(jpype: Any) -> list[str]:
    return sorted(
        {str(s).lower() for s in jpype.JClass("loci.formats.ImageReader")().getSuffixes()}
    )


def _handle(jpype: Any, op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """One request's answer; Java exceptions become ``("error", kind, message)``."""
    try:
        if op == "open":
            return ("ok", _open(jpype, *args))
        if op == "read":
            return ("ok", _read(jpype, *args))
        if op == "close":
            _close(*args)
            return ("ok", None)
        if op == "suffixes":
            return ("ok", _suffixes(jpype))
        return ("error", "corrupt", f"unknown request {op!r}")
    except jpype.JException as exc:
        name = str(exc.getClass().getSimpleName())
        kind = "unsupported" if name == "UnknownFormatException" else "corrupt"
        return ("error", kind, f"{name}: {str(exc)[:500]}")
    except Exception as exc:  # noqa: BLE001 - the worker answers every request
        return ("error", "corrupt", f"{type(exc).__name__}: {str(exc)[:500]}")


def _watch_parent(parent: int) -> None:
    """Exit when the parent process is gone (a hung Java call never reads EOF)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(3)


def main(argv: list[str]) -> int:
    requests = Connection(int(argv[1]), writable=False)
    answers = Connection(int(argv[2]), readable=False)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        jpype = _start(argv[3], argv[4])
        version = str(jpype.JClass("loci.formats.FormatTools").VERSION)
    except Exception as exc:  # noqa: BLE001 - no JPype, no Java, a bad jar: say so
        answers.send_bytes(pickle.dumps(("error", "missing", f"{type(exc).__name__}: {exc}")))
        return 1
    answers.send_bytes(pickle.dumps(("ready", {"bioformats": version})))
    while True:
        try:
            op, args = pickle.loads(requests.recv_bytes())
        except EOFError:
            return 0
        answer = _handle(jpype, op, args)
        answers.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        if answer[0] == "error" and "OutOfMemoryError" in answer[2]:
            return 2  # a JVM out of memory may be unsound: the next request starts afresh


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main(sys.argv))  # no JVM shutdown: nothing in it needs saving
