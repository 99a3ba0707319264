"""The tutorial notebooks in notebooks/: each runs top to bottom in quick mode (the small files in
tests/data, a few epochs) and ends with a picture; the committed files carry no outputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = ["property_prediction", "virtual_screening", "gene_network", "sweep_mlflow",
             "sharing_without_weights"]
#: Optional packages a notebook needs beyond molgraph's own dependencies.
NEEDS = {"sweep_mlflow": ("mlflow", "optuna")}
RUNNER = ("nbformat", "nbclient", "ipykernel")


def _read(name: str):
    import nbformat

    return nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)


def _missing(modules) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_ends_with_a_picture(name, tmp_path, monkeypatch):
    missing = _missing((*RUNNER, *NEEDS.get(name, ())))
    if missing:
        pytest.skip(f"{name}.ipynb needs {', '.join(missing)} (pip install {' '.join(missing)})")
    from nbclient import NotebookClient

    monkeypatch.setenv("MOLGRAPH_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MOLGRAPH_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MOLGRAPH_CACHE", str(tmp_path / "cache"))
    nb = _read(name)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(code)
              for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert any("image/png" in o.get("data", {}) for o in code[-1].outputs), \
        f"the last code cell of {name}.ipynb shows no picture"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_clean_and_explained(name):
    if _missing(("nbformat",)):
        pytest.skip("needs nbformat")
    nb = _read(name)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code), \
        f"{name}.ipynb is committed with outputs: clear them before committing"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    kinds = [c.cell_type for c in nb.cells]
    adjacent = [i for i in range(1, len(kinds)) if kinds[i] == kinds[i - 1] == "code"]
    assert not adjacent, f"{name}.ipynb: code cells {adjacent} follow code without prose between"
    assert len(code) >= 3
