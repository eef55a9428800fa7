"""The model card trlrecipes writes into every run folder (README.md) instead of TRL's template."""

import json

import pytest
import yaml

from trlrecipes.run.card import base_model_names, model_card
from trlrecipes.testing import fake_run_folder


def front_matter(text: str) -> dict:
    assert text.startswith("---\n"), text[:80]
    return yaml.safe_load(text.split("---\n", 2)[1])


@pytest.mark.slow
def test_run_folder_card_has_valid_metadata_and_the_runs_figures(finished_run, tiny_model, hh_files):
    card = (finished_run / "README.md").read_text()
    meta = front_matter(card)
    assert meta["base_model"] == str(tiny_model)
    assert meta["library_name"] == "peft"
    assert {"trlrecipes", "dpo", "lora"} <= set(meta["tags"])
    assert meta["datasets"] == [str(path) for path in hh_files]
    evaluated = json.loads((finished_run / "eval.json").read_text())
    metrics = {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert metrics["accuracy"] == round(evaluated["accuracy"], 4) and "margin" in metrics
    assert "None" not in card and "Model Card for" not in card and "huggingface.co/None" not in card
    summary = json.loads((finished_run / "data_summary.json").read_text())
    for text in (
        "# DPO LoRA adapter",
        "recipe: `hh-dpo`",
        summary["train"]["sha256"],
        "| learning_rate | 1e-30 |",
        "24 pairs used (24 rows read, 24 converted, 0 skipped)",
        "no_learning",
        "cause:",
        "fix:",
        "`trlrecipes eval` on 8 held-out pairs",
        "PeftModel.from_pretrained(base,",
        "## Licences",
    ):
        assert text in card, text


def test_alias_names_its_source_and_non_commercial_data_is_flagged(tmp_path):
    assert base_model_names("smollm2-135m-offline")[0] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    fake_run_folder(
        tmp_path,
        base_model="smollm2-135m-offline",
        config={"data_format": "pku-saferlhf", "dataset": "PKU-Alignment/PKU-SafeRLHF"},
        preset="pku-safe-dpo",
    )
    card = model_card(tmp_path)
    meta = front_matter(card)
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert meta["datasets"] == ["PKU-Alignment/PKU-SafeRLHF"]
    assert "license" not in meta  # SmolLM2 is Apache-2.0, but a model trained on CC BY-NC data is not simply that
    assert "CC BY-NC 4.0 (non-commercial use only" in card and "smollm2-135m-offline" in card
    assert "None" not in card
