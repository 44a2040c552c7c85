"""The documentation site builds with warnings as errors, and the example notebooks run
(issue 20). Both skip when their tools (the ``docs`` extra) are not installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "docs" / "examples").glob("*.ipynb"))


def test_docs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "api" / "image" / "index.html").read_text(encoding="utf-8")
    assert "physical_pixel_sizes" in page  # the API reference is rendered from docstrings
    assert (tmp_path / "cli" / "index.html").is_file()


def test_there_are_notebooks() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"read.ipynb", "write.ipynb", "slide.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if path.name == "read.ipynb":  # the repr shows its thumbnail
        html = [o["data"].get("text/html", "") for o in outputs if "data" in o]
        assert any("data:image/png;base64" in h for h in html)
    if path.name in ("read.ipynb", "slide.ipynb"):  # plots and images show inline
        pngs = [o for o in outputs if "image/png" in o.get("data", {})]
        assert len(pngs) >= (1 if path.name == "read.ipynb" else 4)
