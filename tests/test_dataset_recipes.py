"""The dataset recipes on their own formats: each trains 2 steps on the tiny model from its fixture through the CLI,
and data_summary.json records what was read, converted, skipped, held out and used."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app

FIXTURES = Path(__file__).parent / "fixtures"


def quick(model: Path, output_dir: Path) -> list[str]:
    """Two tiny steps; unlike trlrecipes.testing.tiny_overrides, the data settings are left to each test."""
    return [
        f"model={model}",
        f"output_dir={output_dir}",
        "max_steps=2",
        "logging_steps=1",
        "save_steps=2",
        "eval_steps=2",
        "per_device_train_batch_size=2",
        "gradient_accumulation_steps=1",
        "per_device_eval_batch_size=2",
        "max_length=256",
        "activation_checkpointing=false",
    ]


def run(recipe: str, *args: str):
    return CliRunner().invoke(app, ["run", recipe, *args])


def counts(entry: dict) -> dict:
    """The conversion counts of one data_summary.json entry (without source, subset, split and data hash)."""
    return {key: value for key, value in entry.items() if key not in ("source", "subset", "split", "sha256")}


def trained(out: Path, result) -> dict:
    """Check the run completed with a saved adapter and return its data_summary.json."""
    assert result.exit_code == 0, result.output
    assert json.loads((out / "run.json").read_text())["status"] == "completed"
    assert (out / "adapter_model.safetensors").is_file()
    steps = [
        json.loads(line)["step"]
        for line in (out / "metrics.jsonl").read_text().splitlines()
        if "loss" in json.loads(line)
    ]
    assert steps == [1, 2]
    return json.loads((out / "data_summary.json").read_text())


# Every case: recipe, extra settings, expected data_summary.json counts (train, eval or None).
UF_SKIPS = {"empty_reply": 1, "identical_replies": 1, "prompt_mismatch": 1}
CASES = {
    "ultrafeedback": (
        "ultrafeedback-dpo",
        [f"dataset={FIXTURES / 'ultrafeedback.jsonl'}"],
        {"read": 6, "converted": 2, "skipped": {**UF_SKIPS, "tied_scores": 1}, "used": 2},
        None,  # a local file without a "train" name has no default eval file
    ),
    "ultrafeedback-keep-ties": (
        "ultrafeedback-dpo",
        [
            f"dataset={FIXTURES / 'ultrafeedback.jsonl'}",
            "keep_ties=true",
            f"eval_dataset={FIXTURES / 'ultrafeedback.jsonl'}",
        ],
        {"read": 6, "converted": 3, "skipped": UF_SKIPS, "used": 3},
        {"read": 6, "converted": 3, "skipped": UF_SKIPS, "used": 3},
    ),
    "orca-held-out": (  # no eval split: ceil(4% of 2 pairs) = 1 pair held out with the seed
        "orca-dpo",
        [f"dataset={FIXTURES / 'orca_dpo.jsonl'}"],
        {
            "read": 5,
            "converted": 2,
            "skipped": {"empty_prompt": 1, "empty_reply": 1, "identical_replies": 1},
            "used": 1,
            "held_out_for_eval": 1,
        },
        {"eval_share": 0.04, "seed": 42, "held_out": 1, "used": 1},
    ),
    "shp": (
        "shp-dpo",
        [f"dataset={FIXTURES / 'shp.jsonl'}", f"eval_dataset={FIXTURES / 'shp.jsonl'}"],
        {"read": 4, "converted": 3, "skipped": {"low_score_ratio": 1}, "used": 3},
        {"read": 4, "converted": 3, "skipped": {"low_score_ratio": 1}, "used": 3},
    ),
    "shp-all-ratios-sampled": (  # max_train_rows takes a seeded sample (SHP is grouped by subreddit)
        "shp-dpo",
        [f"dataset={FIXTURES / 'shp.jsonl'}", "min_score_ratio=1.0", "max_train_rows=2"],
        {"read": 4, "converted": 4, "skipped": {}, "used": 2, "sampled_with_seed": 42},
        None,
    ),
    "pku-safe": (
        "pku-safe-dpo",
        [f"dataset={FIXTURES / 'pku_saferlhf.jsonl'}"],
        {
            "read": 5,
            "converted": 2,
            "skipped": {"both_unsafe": 2, "safer_id_contradicts_flags": 1},
            "notes": {"axes_disagree": 1},
            "used": 2,
        },
        None,
    ),
    "pku-helpful": (
        "pku-safe-dpo",
        [f"dataset={FIXTURES / 'pku_saferlhf.jsonl'}", "axis=helpful"],
        {"read": 5, "converted": 5, "skipped": {}, "notes": {"axes_disagree": 2}, "used": 5},
        None,
    ),
    "custom-csv-columns": (
        "custom-dpo",
        [
            f"dataset={FIXTURES / 'custom_columns.csv'}",
            f"eval_dataset={FIXTURES / 'custom_columns.csv'}",
            "prompt_column=question",
            "chosen_column=good",
            "rejected_column=bad",
            "system_column=sys",
        ],
        {"read": 4, "converted": 2, "skipped": {"empty_prompt": 1, "identical_replies": 1}, "used": 2},
        {"read": 4, "converted": 2, "skipped": {"empty_prompt": 1, "identical_replies": 1}, "used": 2},
    ),
    "custom-parquet-held-out": (  # no eval file: ceil(5% of 2 pairs) = 1 pair held out with the seed
        "custom-dpo",
        [f"dataset={FIXTURES / 'custom_messages.parquet'}"],
        {
            "read": 5,
            "converted": 2,
            "skipped": {"no_final_assistant_reply": 1, "prompt_mismatch": 1, "unknown_role": 1},
            "used": 1,
            "held_out_for_eval": 1,
        },
        {"eval_share": 0.05, "seed": 42, "held_out": 1, "used": 1},
    ),
}


# What a run of the case must print: PKU-SafeRLHF's licence notice, every time the data loads.
PRINTS = {"pku-safe": ("CC BY-NC 4.0", "non-commercial"), "pku-helpful": ("CC BY-NC 4.0", "non-commercial")}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_dataset_recipe_trains_on_its_format(case, tiny_model, tmp_path):
    recipe, settings, train, evaluation = CASES[case]
    out = tmp_path / "run"
    result = run(recipe, *quick(tiny_model, out), *settings)
    summary = trained(out, result)
    for text in PRINTS.get(case, ()):
        assert text in result.output, text
    assert counts(summary["train"]) == train
    if evaluation is None:
        assert "eval" not in summary
    else:
        assert counts(summary["eval"]) == evaluation


@pytest.mark.slow
def test_hh_kto_prints_balance_and_weights(tiny_model, hh_files, tmp_path):
    train, test = hh_files
    out = tmp_path / "run"
    result = run(
        "hh-kto",
        *quick(tiny_model, out),
        f"dataset={train}",
        f"eval_dataset={test}",
        "max_train_rows=5",
        "max_eval_rows=4",
    )
    summary = trained(out, result)
    assert "train rows: 5 desirable, 5 undesirable -> desirable_weight=1.0, undesirable_weight=1.0" in result.output
    assert summary["train"]["used"] == 5 and summary["eval"]["used"] == 4  # pairs, before unpairing
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(key.startswith("rewards/") for log in logs if "loss" in log for key in log)
    assert not any("rewards/accuracies" in log for log in logs)  # KTO rows are not compared with each other
