"""Build hook: vendor the viewer's OpenSeadragon before setuptools looks for package files.

Everything else is in pyproject.toml. See tools/vendor_viewer.py (a no-op when the
vendored files are present, as in an sdist). It runs when this file is read, before the
packages are discovered, so that every build (sdist, wheel, editable) sees the files.
Without npm a source build goes on without the viewer's script, with a warning (`imgio
serve` then says how to add it), unless IMGIO_REQUIRE_VIEWER=1 (release builds, CI) makes
that an error.
"""

import os
import subprocess
import sys
from pathlib import Path

from setuptools import setup


def vendor_viewer() -> None:
    script = Path(__file__).resolve().parent / "tools" / "vendor_viewer.py"
    if not script.is_file():  # absent only in a tree that was stripped of tools/
        return
    done = subprocess.run([sys.executable, str(script), "--if-missing"], check=False)
    required = os.environ.get("IMGIO_REQUIRE_VIEWER", "") not in ("", "0")
    if done.returncode == 3 and not required:  # no npm
        sys.stderr.write("warning: imgio is built without its viewer's OpenSeadragon\n")
    elif done.returncode:
        raise SystemExit(f"tools/vendor_viewer.py failed (exit {done.returncode})")


vendor_viewer()
setup()
