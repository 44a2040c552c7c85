"""No import circle between ``Image``, the writers and the xarray backend.

Every ``import`` statement counts (module level and inside functions; only ``if
TYPE_CHECKING:`` blocks are left out), since a function-level import still ties two
modules together. Layers: ``_datatree`` <- ``image`` -> ``writers``; ``xarray_backend``
and ``_mosaic`` sit above ``image``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import imgio

ROOT = Path(imgio.__file__).parent
GUARDED = (
    "imgio.image",
    "imgio.writers",
    "imgio.xarray_backend",
    "imgio.arrays._datatree",
    "imgio.writers._mosaic",
)


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
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def test_no_import_circle_through_image_writers_or_backend() -> None:
    known = _module_names()
    graph = {name: _imports(name, path, known) for name, path in known.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
        return False

    guarded = [m for m in known if m.startswith(GUARDED)]
    circles = [m for m in guarded if reaches(m, m)]
    assert circles == []
    assert reaches("imgio.image", "imgio.writers") and reaches(
        "imgio.xarray_backend", "imgio.image"
    )
