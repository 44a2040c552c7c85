"""Build hook: vendor the viewer's OpenSeadragon before the package files are collected.

Everything else is in pyproject.toml. See tools/vendor_viewer.py (a no-op when the
vendored files are present, as in an sdist).
"""

import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithViewer(build_py):
    def run(self) -> None:
        script = Path(__file__).resolve().parent / "tools" / "vendor_viewer.py"
        if script.is_file():  # absent only in a tree that was stripped of tools/
            subprocess.run([sys.executable, str(script), "--if-missing"], check=True)
        super().run()


setup(cmdclass={"build_py": BuildPyWithViewer})
