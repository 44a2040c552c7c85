"""``imgio refs FILE -o refs.json``: kerchunk references of a file's chunks (see
:mod:`imgio.references`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._common import add_storage_option, storage_options

__all__ = ["add_refs_parser"]


def add_refs_parser(sub: Any) -> None:
    """Declare the ``refs`` subcommand."""
    refs = sub.add_parser(
        "refs", help="kerchunk reference JSON of a file's chunks, to read it with zarr + fsspec"
    )
    refs.add_argument("path")
    refs.add_argument("-o", "--output", help="write the JSON here (default: stdout)")
    refs.add_argument("--scene", default="0", help="scene index or name (default 0)")
    refs.add_argument("--level", type=int, help="one pyramid level (default: every level)")
    refs.add_argument(
        "--allow-external-files",
        action="store_true",
        help="allow chunks in files outside the folder of PATH",
    )
    add_storage_option(refs, "remote paths")
    refs.set_defaults(func=_cmd_refs)


def _cmd_refs(args: argparse.Namespace) -> int:
    from ..references import references

    scene: int | str = int(args.scene) if args.scene.isdigit() else args.scene
    refs = references(
        args.path,
        scene=scene,
        level=args.level,
        storage_options=storage_options(args.storage_option),
        allow_external_files=args.allow_external_files,
    )
    text = json.dumps(refs)
    if args.output:
        target = Path(args.output)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
    else:
        sys.stdout.write(text + "\n")
    return 0
