"""Notebooks run top to bottom on a fresh install (small budgets)."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXDSE_NOTEBOOK_BUDGET", "6")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    if path.name.startswith("01_"):
        assert "mapper vs default mapping" in outputs
        assert "final (" in outputs
        assert (tmp_path / "runs/notebook-resnet18/result.json").exists()
    elif path.name.startswith("02_"):
        assert "bottleneck:" in outputs and "what-if checked" in outputs
    elif path.name.startswith("03_"):
        assert "devices:" in outputs and "exact mappings/s" in outputs and "exact evaluations in one call" in outputs
        assert "compiled program reused" in outputs and "final (" in outputs
        report = (tmp_path / "runs/notebook-batched/report.html").read_text()
        assert report.count("data:image/png;base64,") == 4
    elif path.name.startswith("04_"):
        assert "MACs per compulsory byte" in outputs and outputs.count("final (") == 2
        assert "time to first token" in outputs and "time per output token" in outputs
        assert "on prefill design" in outputs
    else:
        pytest.fail(f"no output check written for {path.name}")


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"
    assert os.path.exists(NOTEBOOKS[0])
