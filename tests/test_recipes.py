"""Every built-in program, and every preset that changes what trains, is executed for a few steps on the tiny model
(this keeps recipes from rotting); a preset that only names other data trains what a trained recipe does once the
tiny data replaces its own, which its --dry-run shows. Every preset resolves to the settings the recipe of the same
name had before the redesign."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.run.recipes import builtin_names, resolve_recipe
from trlrecipes.testing import tiny_overrides

RECIPES = builtin_names()
# Programs that sample their own replies (a `reward` judge, prompts as data) are trained by their own test files
# (tests/test_iterative_dpo.py, tests/test_grpo.py): their runs keep metrics per round or per generation.
PAIR_RECIPES = [n for n in RECIPES if "reward" not in resolve_recipe(n).module.Config.__dataclass_fields__]
# Settings that say where the data comes from and nothing else once the tiny settings name local files for dataset
# and eval_dataset: `subset` is read for Hub datasets only, `eval_share` only without an eval_dataset, and
# `max_train_rows` caps rows (the tiny file's 24 are below any preset's cap: checked below).
DATA_SOURCE = ("subset", "eval_share", "max_train_rows")
TINY_TRAIN_ROWS = 24
# The rm program is trained with room for all 8 held-out pairs, so that tests/test_programs.py's judge test reads the
# same run (TRL's RewardTrainer drops pairs longer than max_length).
EXTRA = {"rm": ("max_length=256",)}


def tiny_settings(name: str, *extra: str) -> dict:
    """`run NAME --dry-run` with the tiny settings (then `extra`), as the printed YAML."""
    result = CliRunner().invoke(
        app, ["run", name, *tiny_overrides("tiny", "train.jsonl", "test.jsonl", "out"), *extra, "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.output)


def what_trains(name: str) -> tuple:
    """The program and every resolved setting but those naming the data source: two recipes with the same train the
    same thing on the tiny data."""
    from trlrecipes.api import config
    from trlrecipes.run.resolve import to_dict

    settings = to_dict(config(name, *tiny_overrides("tiny", "train.jsonl", "test.jsonl", "out")))
    kept = {key: value for key, value in settings.items() if key not in DATA_SOURCE}
    return resolve_recipe(name).program_path.name, yaml.safe_dump(kept, sort_keys=True)


def trained_recipes() -> dict[str, list[str]]:
    """One recipe per distinct training (the program itself where it is one of them) -> the recipes it stands for."""
    groups: dict[tuple, list[str]] = {}
    for name in PAIR_RECIPES:
        groups.setdefault(what_trains(name), []).append(name)
    chosen = {}
    for names in groups.values():
        program = resolve_recipe(names[0]).program_path.stem
        chosen[program if program in names else names[0]] = names
    return chosen


TRAINED = trained_recipes()
STANDS_IN = {name: trained for trained, names in TRAINED.items() for name in names if name != trained}
# LoRA preference training is stable roughly between 1e-7 and 1e-4; outside that a default is a bug.
LR_BAND = (1e-7, 1e-4)
DRY_RUNS = Path(__file__).parent / "fixtures" / "dry_run"  # `run NAME [--demo] --dry-run` of the old recipes
DEMO_DATA = Path(__file__).resolve().parents[1] / "trlrecipes" / "demo"


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_defaults_are_safe(name):
    from trlrecipes.api import config

    cfg = config(name)
    assert cfg.lora_r > 0 and cfg.lora_alpha > 0, "every built-in recipe trains LoRA adapters"
    assert LR_BAND[0] <= cfg.learning_rate <= LR_BAND[1]
    assert cfg.trust_remote_code is False
    assert cfg.report_to == "none"
    assert cfg.precision == "auto"


@pytest.mark.parametrize("old", sorted(DRY_RUNS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_old_name_resolves_as_before(old):
    """`run NAME --dry-run` and `--demo --dry-run` print the values the pre-redesign recipe printed, key for key.
    New keys may appear. One intended difference: under --demo the data is the embedded hh-rlhf demo set, so the
    preset's own converter options (e.g. shp's min_score_ratio), which the old recipes carried as inert fields,
    are not shown (they belong to a format the demo does not read). The DPO program's loss_type is now a list
    (mixtures such as sigmoid,sft): the old `loss_type: ipo` is compared as `[ipo]`, a one-item list being the same
    setting (TRL's DPOConfig turns a name into that list itself). And a program's own DEMO dict refines the demo
    budget of its presets: the DPO program's (10 steps at 3e-4 instead of 30 at 1e-4, measured to reach the same
    held-out accuracy in a third of the time: benchmarks/RESULTS.md) is applied to the old values here."""
    name, mode = old.stem.split(".")
    args = ["run", name, "--dry-run"] + (["--demo"] if mode == "demo" else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    new = yaml.safe_load(result.output.replace(f"{DEMO_DATA}/", "<demo>/"))
    before = yaml.safe_load(old.read_text())
    if isinstance(before.get("loss_type"), str):
        before["loss_type"] = [before["loss_type"]]
    if mode == "demo":
        from trlrecipes.data import format_options, get_format

        recipe = resolve_recipe(name)
        preset_format = recipe.preset.get("data_format", "hh-rlhf")
        for option in format_options(get_format(preset_format)):
            before.pop(option, None)
        before.update(getattr(recipe.module, "DEMO", {}))
    assert {key: new.get(key, "<missing>") for key in before} == before


def test_each_distinct_training_is_trained_once():
    """9 trainings stand for the 20 pair recipes: each program, and each DPO preset that changes the loss or beta."""
    assert sorted(TRAINED) == sorted(
        ["dpo", "hh-ipo", "hh-rpo", "ultrafeedback-dpo", "kto", "orpo", "rm", "sft", "simpo"]
    ), TRAINED
    assert set(PAIR_RECIPES) == set(TRAINED) | set(STANDS_IN)


@pytest.mark.parametrize("name", sorted(STANDS_IN))
def test_a_preset_not_trained_here_trains_what_its_stand_in_does(name):
    """Its --dry-run with the tiny settings equals the trained recipe's but for where the data comes from, and
    those keys cannot change the training: local files, an eval file given, a row cap above the tiny file's rows."""
    extra = EXTRA.get(STANDS_IN[name], ())
    mine, theirs = tiny_settings(name, *extra), tiny_settings(STANDS_IN[name], *extra)
    assert resolve_recipe(name).program_path == resolve_recipe(STANDS_IN[name]).program_path
    differ = {key for key in set(mine) | set(theirs) if mine.get(key, "<missing>") != theirs.get(key, "<missing>")}
    assert differ <= set(DATA_SOURCE), differ
    assert mine["dataset"] == "train.jsonl" and mine["eval_dataset"] == "test.jsonl"
    assert mine.get("max_train_rows", 0) in (0,) or mine["max_train_rows"] >= TINY_TRAIN_ROWS


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRAINED))
def test_recipe_trains_on_tiny_model(name, tiny_run, tiny_model):
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    out, _ = tiny_run(name, *EXTRA.get(name, ()))
    for name_ in (
        "adapter_model.safetensors",
        "adapter_config.json",
        "config.yaml",
        "program.py",
        "run.json",
        "metrics.jsonl",
        "metrics.png",
        "summary.json",
        "verdicts.json",
        "data_summary.json",
        "tokenizer.json",
    ):
        assert (out / name_).is_file(), name_
    recipe = resolve_recipe(name)
    assert (out / "program.py").read_text() == recipe.program_path.read_text()
    if recipe.preset_path:
        assert (out / "preset.yaml").read_text() == recipe.preset_path.read_text()
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "completed" and info["recipe"] == name
    assert info["method"] == {"hh-ipo": "IPO", "hh-rpo": "RPO"}.get(name, recipe.module.METHOD)
    # LoRA initialises B to zero: any non-zero B means the adapter learned something.
    weights = load_file(out / "adapter_model.safetensors")
    lora_b = [tensor for key, tensor in weights.items() if "lora_B" in key]
    assert lora_b and any(tensor.abs().sum() > 0 for tensor in lora_b)
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_logs = [log for log in logs if "loss" in log]
    assert [log["step"] for log in train_logs] == [1, 2, 3]
    # each method's own progress keys: preference rewards, SFT's token accuracy, the reward model's accuracy
    own = {"SFT": ("mean_token_accuracy",), "RM": ("accuracy",)}.get(info["method"], ("rewards/", "log_odds"))
    assert any(key.startswith(own) for key in train_logs[-1])
    if info["method"] == "RM":  # a sequence-classification adapter with its score head
        from transformers import AutoModelForSequenceClassification

        PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1), out)
    else:
        PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out)
    (out / "metrics.png").unlink()
    replot = CliRunner().invoke(app, ["plot", str(out)])
    assert replot.exit_code == 0 and (out / "metrics.png").stat().st_size > 0


def test_trl_settings_pass_through_by_name(tmp_path):
    """Config fields named like TRL fields reach the TRL config without a field-by-field copy; the run maps the
    rest (max_steps 0 -> -1, warmup -> warmup_steps, report_to none -> [], its own folder)."""
    from trl import DPOConfig

    from trlrecipes.api import config
    from trlrecipes.run.lifecycle import Run

    cfg = config(
        "hh-ipo", "beta=0.25", "max_length=333", "learning_rate=3e-6", "trl.weight_decay=0.01", "precision=fp32"
    )
    args = Run(dir=tmp_path / "run").trl_args(DPOConfig, cfg, has_eval=False)
    assert (args.beta, args.max_length, args.learning_rate, args.weight_decay) == (0.25, 333, 3e-6, 0.01)
    assert args.loss_type == ["ipo"] and args.max_steps == -1 and args.warmup_steps == 0.1
    assert args.output_dir == str(tmp_path / "run") and args.report_to == [] and args.eval_strategy == "no"


def test_eval_steps_zero_means_no_evaluation_during_training(tmp_path):
    from trlrecipes.hardware import pick_precision
    from trlrecipes.run.trl_args import run_settings

    common = dict(folder=tmp_path / "run", train_rows=10, logging_steps=1, save_steps=2, has_eval=True)
    off = run_settings(pick_precision("auto"), eval_steps=0, **common)
    on = run_settings(pick_precision("auto"), eval_steps=5, **common)
    assert (off["eval_strategy"], off["eval_steps"]) == ("no", None)
    assert (on["eval_strategy"], on["eval_steps"]) == ("steps", 5)


@pytest.mark.slow
def test_copied_preset_trains_outside_the_checkout(tiny_model, hh_files, tmp_path):
    """`cp hh-ipo` gives files the user owns: run from another folder, with an edit to the copied program that
    must show in the run (its program.py copy and the resolved config)."""
    import os
    import subprocess
    import sys

    folder = tmp_path / "mine"
    assert CliRunner().invoke(app, ["cp", "hh-ipo", str(folder)]).exit_code == 0
    program = folder / "dpo.py"
    program.write_text(program.read_text() + "\n# my edit\n")
    preset = folder / "hh-ipo.yaml"
    preset.write_text(preset.read_text().replace("beta: 0.1", "beta: 0.3"))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "trlrecipes.cli", "run", str(preset), *tiny_overrides(tiny_model, *hh_files, out)],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "program.py").read_text().endswith("# my edit\n")
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["beta"] == 0.3 and saved["loss_type"] in ("ipo", ["ipo"])
    assert json.loads((out / "run.json").read_text())["method"] == "IPO"
