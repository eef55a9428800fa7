"""Every built-in recipe is executed for a few steps on the tiny model: this keeps recipes from rotting."""

import json

import pytest
from typer.testing import CliRunner

from conftest import tiny_overrides
from trlrecipes.cli import app
from trlrecipes.run.programs import builtin_dir, builtin_names, load_recipe

RECIPES = builtin_names()
# LoRA preference training is stable roughly between 1e-7 and 1e-4; outside that a default is a bug.
LR_BAND = (1e-7, 1e-4)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_defaults_are_safe(name):
    cfg = load_recipe(builtin_dir() / f"{name}.py").Config()
    assert cfg.lora_r > 0 and cfg.lora_alpha > 0, "every built-in recipe trains LoRA adapters"
    assert LR_BAND[0] <= cfg.learning_rate <= LR_BAND[1]
    assert cfg.trust_remote_code is False
    assert cfg.report_to == "none"
    assert cfg.precision == "auto"


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_recipe_trains_on_tiny_model(name, tiny_model, hh_files, tmp_path):
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", name, *tiny_overrides(tiny_model, *hh_files, out)])
    assert result.exit_code == 0, result.output
    for name_ in ("adapter_model.safetensors", "adapter_config.json", "config.yaml", "recipe.py", "run.json",
                  "metrics.jsonl", "metrics.png", "summary.json", "verdicts.json", "data_summary.json",
                  "tokenizer.json"):
        assert (out / name_).is_file(), name_
    assert (out / "recipe.py").read_text() == (builtin_dir() / f"{name}.py").read_text()
    # LoRA initialises B to zero: any non-zero B means the adapter learned something.
    weights = load_file(out / "adapter_model.safetensors")
    lora_b = [tensor for key, tensor in weights.items() if "lora_B" in key]
    assert lora_b and any(tensor.abs().sum() > 0 for tensor in lora_b)
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_logs = [log for log in logs if "loss" in log]
    assert [log["step"] for log in train_logs] == [1, 2, 3]
    assert any(key.startswith(("rewards/", "log_odds")) for key in train_logs[-1])
    assert json.loads((out / "run.json").read_text())["status"] == "completed"
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out)
    (out / "metrics.png").unlink()
    replot = CliRunner().invoke(app, ["plot", str(out)])
    assert replot.exit_code == 0 and (out / "metrics.png").stat().st_size > 0


def test_eval_steps_zero_means_no_evaluation_during_training(tmp_path):
    from trlrecipes.hardware import pick_precision
    from trlrecipes.run.session import Run

    run = Run(dir=tmp_path / "run", recipe_path=builtin_dir() / "hh-dpo.py", resume_command="")
    common = dict(logging_steps=1, save_steps=2, has_eval=True)
    off = run.trl_settings(pick_precision("auto"), eval_steps=0, **common)
    on = run.trl_settings(pick_precision("auto"), eval_steps=5, **common)
    assert (off["eval_strategy"], off["eval_steps"]) == ("no", None)
    assert (on["eval_strategy"], on["eval_steps"]) == ("steps", 5)
