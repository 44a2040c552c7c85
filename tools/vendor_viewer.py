"""Vendor OpenSeadragon into ``imgio/serve/static/vendor/openseadragon/`` (a build step).

The viewer of ``imgio serve`` is built on OpenSeadragon (BSD-3-Clause, the npm package
``openseadragon``). Its distribution files are not kept in git: this script installs the
version pinned in ``tools/viewer/package-lock.json`` with ``npm ci`` (npm checks the
tarball against the lock file's sha512 integrity hash) and copies the minified script,
its button images and its LICENSE into the package, with a ``VERSION`` file naming the
pinned version and hash. ``setup.py`` runs it when a wheel or an editable install is
built without them; an sdist carries the vendored files, so a wheel built from it needs
neither npm nor a network. At run time nothing is fetched from anywhere.

Usage: ``python tools/vendor_viewer.py [--if-missing] [--check]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK_DIR = ROOT / "tools" / "viewer"
TARGET = ROOT / "imgio" / "serve" / "static" / "vendor" / "openseadragon"
FILES = ("openseadragon.min.js", "LICENSE.txt", "VERSION")
NO_NPM = 3  # the exit status when npm is not installed (setup.py may build on without)


def pinned() -> tuple[str, str]:
    """The (version, integrity) of openseadragon in the lock file."""
    lock = json.loads((LOCK_DIR / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/openseadragon"]
    return str(entry["version"]), str(entry["integrity"])


def stamp() -> str:
    version, integrity = pinned()
    return f"openseadragon {version} {integrity}\n"


def present() -> bool:
    """True when the vendored files are there and are those the lock file pins."""
    if not all((TARGET / f).is_file() for f in FILES) or not (TARGET / "images").is_dir():
        return False
    return (TARGET / "VERSION").read_text() == stamp()


def vendor() -> None:
    npm = shutil.which("npm")
    if npm is None:
        sys.stderr.write(
            "vendor_viewer: npm is needed to vendor OpenSeadragon into imgio/serve/static/"
            " (install Node.js, or build from an sdist, which carries the vendored files)\n"
        )
        sys.exit(NO_NPM)
    with tempfile.TemporaryDirectory(prefix="imgio-viewer-") as tmp:
        work = Path(tmp)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(LOCK_DIR / name, work / name)
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=work,
            check=True,
        )
        pkg = work / "node_modules" / "openseadragon"
        version = json.loads((pkg / "package.json").read_text())["version"]
        if version != pinned()[0]:
            sys.exit(f"vendor_viewer: npm installed openseadragon {version}, not {pinned()[0]}")
        build = pkg / "build" / "openseadragon"
        staging = TARGET.with_name(".openseadragon.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copy2(build / "openseadragon.min.js", staging / "openseadragon.min.js")
        shutil.copytree(build / "images", staging / "images")
        shutil.copy2(pkg / "LICENSE.txt", staging / "LICENSE.txt")
        (staging / "VERSION").write_text(stamp())
        shutil.rmtree(TARGET, ignore_errors=True)
        staging.rename(TARGET)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-missing", action="store_true", help="do nothing when present")
    parser.add_argument("--check", action="store_true", help="exit 1 unless present")
    args = parser.parse_args(argv)
    if args.check:
        return 0 if present() else 1
    if args.if_missing and present():
        return 0
    vendor()
    return 0


if __name__ == "__main__":
    sys.exit(main())
