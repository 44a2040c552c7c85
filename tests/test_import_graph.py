"""The shape of the house: wings import downwards only, and each owns its concern.

Every ``import`` statement counts (module level and inside functions; only ``if
TYPE_CHECKING:`` blocks are left out), since a function-level import still ties two
modules together. The package root holds the ground floor (errors, dims, location,
limits, confinement, threads, OME model, colours, display) and the public faces
(``xarray_backend``, ``sample``, ``dask_utils``); everything else lives in a wing:
``readers``, ``arrays``, ``image``, ``tiles``, ``writers``, ``slide``, ``serve``, ``cli``,
``napari`` (the napari plugin).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import imgio
from imgio.image import Image
from imgio.readers._registry import known_suffixes

ROOT = Path(imgio.__file__).parent
FACES = {
    "imgio",
    "imgio.xarray_backend",
    "imgio.sample",
    "imgio.dask_utils",
    "imgio.references",
}
# what each wing may import (besides the ground floor): the order of the house
ALLOWED = {
    "ground": set(),
    "readers": set(),
    "arrays": {"readers"},
    "image": {"readers", "arrays", "tiles", "writers"},  # Image.tiles, Image.save
    "tiles": {"readers", "arrays"},
    "writers": {"readers", "arrays"},
    "slide": {"readers", "arrays", "image", "tiles"},
    "serve": {"readers", "arrays", "image", "tiles", "slide"},
    "cli": {"readers", "arrays", "image", "tiles", "writers", "slide", "serve", "face"},
    "face": {"readers", "arrays", "image", "tiles", "writers", "slide", "serve", "cli"},
    "napari": {"readers", "arrays", "tiles", "writers", "face"},  # the napari plugin
}


def _module_names() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" for a in node.names]
            if node.module:
                targets.append(base)
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def wing(module: str) -> str:
    """The wing of a module: its first package below ``imgio``, ``ground`` or ``face``."""
    if module in FACES:
        return "face"
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (ROOT / parts[1]).is_dir() else "ground"


def _graph() -> dict[str, set[str]]:
    known = _module_names()
    return {name: _imports(name, path, known) for name, path in known.items()}


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), list(graph.get(start, ()))
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


def test_wings_import_downwards_only() -> None:
    arrows_up = sorted(
        f"{a} -> {b}"
        for a, targets in _graph().items()
        for b in targets
        if wing(a) != wing(b)
        and wing(b) not in ALLOWED[wing(a)]
        and not (wing(b) == "ground" and wing(a) != "ground")
    )
    assert arrows_up == []


def test_no_circle_between_wings() -> None:
    between: dict[str, set[str]] = defaultdict(set)
    for a, targets in _graph().items():
        for b in targets:
            if wing(a) != wing(b) and b != "imgio":
                between[wing(a)].add(wing(b))
    assert [w for w in list(between) if _reaches(between, w, w)] == []


def test_the_root_holds_at_most_15_modules() -> None:
    root = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(root) <= 15, root


def test_no_private_image_method_outside_its_package() -> None:
    """Layers use ``Image.file`` (an :class:`imgio.ImageFile`), never Image's internals."""
    private = {n for n in dir(Image) if n.startswith("_") and not n.startswith("__")}
    found = []
    for name, path in _module_names().items():
        if name.startswith("imgio.image"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in private
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                found.append(f"{name}:{node.lineno} .{node.attr}")
    assert found == []


def test_no_reader_suffix_outside_readers() -> None:
    """Format knowledge lives in ``readers/``: no other module spells a suffix they claim.

    (The writers' own output suffixes are theirs.)
    """
    from imgio.tiles._encode import SUFFIX_FORMATS
    from imgio.writers import IMS_SUFFIXES, TIFF_SUFFIXES, ZARR_SUFFIXES
    from imgio.writers._zip import ZIP_SUFFIXES
    from imgio.writers.dicom import SUFFIX as DICOM_SUFFIX

    outputs = set(TIFF_SUFFIXES + ZARR_SUFFIXES + ZIP_SUFFIXES + IMS_SUFFIXES)
    outputs |= set(SUFFIX_FORMATS)
    outputs.add(DICOM_SUFFIX)
    theirs = set(known_suffixes()) - outputs
    found = []
    for name, path in _module_names().items():
        if name.startswith("imgio.readers"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value.lower() in theirs:
                    found.append(f"{name}:{node.lineno} {node.value!r}")
    assert found == []


def test_guarded_layers_have_no_module_circle() -> None:
    graph = _graph()
    guarded = [m for m in graph if m.startswith(("imgio.image", "imgio.writers", "imgio.arrays"))]
    assert [m for m in guarded if _reaches(graph, m, m)] == []
