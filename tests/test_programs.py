"""What each method program does beyond training a few steps (that is tests/test_recipes.py): the DPO program's loss
mixtures (RPO) and the method name it records, what `plan` estimates for each method, the SFT stage merged and
trained on with DPO, and the reward model's run used as a judge."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.testing import tiny_overrides


def test_loss_mixture_resolves_to_lists_and_reaches_dpoconfig_as_lists(tmp_path):
    from trl import DPOConfig

    from trlrecipes.api import config
    from trlrecipes.run.contract import method_name as method_of
    from trlrecipes.run.lifecycle import Run
    from trlrecipes.run.recipes import resolve_recipe

    overrides = ["loss_type=sigmoid,sft", "loss_weights=1,0.2"]
    printed = CliRunner().invoke(app, ["run", "hh-dpo", *overrides, "--dry-run"])
    assert printed.exit_code == 0, printed.output
    resolved = yaml.safe_load(printed.output)
    assert resolved["loss_type"] == ["sigmoid", "sft"] and resolved["loss_weights"] == [1.0, 0.2]
    cfg = config("hh-dpo", *overrides, "precision=fp32")
    args = Run(dir=tmp_path / "run").trl_args(DPOConfig, cfg, has_eval=False)
    assert args.loss_type == ["sigmoid", "sft"] and args.loss_weights == [1.0, 0.2]
    assert method_of(resolve_recipe("hh-dpo").module, cfg) == "RPO"
    assert config("hh-rpo").loss_type == ["sigmoid", "sft"] and config("hh-rpo").loss_weights == [1.0, 0.2]


@pytest.mark.parametrize(
    "loss_type, method",
    [
        ("ipo", "IPO"),
        ("sigmoid", "DPO"),
        ("sigmoid,sft", "RPO"),
        ("ipo,sft", "RPO"),
        ("sigmoid,bco_pair,sft", "RPO"),
        ("hinge", "DPO"),
    ],
)
def test_dpo_program_names_its_method(loss_type, method):
    from trlrecipes.api import config
    from trlrecipes.run.contract import method_name as method_of
    from trlrecipes.run.recipes import resolve_recipe

    assert method_of(resolve_recipe("dpo").module, config("dpo", f"loss_type={loss_type}")) == method


def test_plan_estimates_each_method(tiny_model):
    from trlrecipes.tools.plan import plan_recipe

    plans = {
        name: plan_recipe(name, model_config=str(tiny_model))
        for name in ("hh-dpo", "hh-rpo", "hh-simpo", "hh-sft", "hh-rm")
    }
    shapes = {
        name: (s.seqs_per_example, s.reference_pass, s.lm_head, s.full_logits)
        for name, s in ((name, p.settings) for name, p in plans.items())
    }
    assert shapes["hh-rpo"] == shapes["hh-dpo"] == (2, True, True, False)
    assert shapes["hh-simpo"] == (2, False, True, True)  # CPOTrainer builds the full logits
    assert shapes["hh-sft"] == (1, False, True, False) and shapes["hh-rm"] == (2, False, False, False)
    activations = {name: p.estimate.get("activations") for name, p in plans.items()}
    assert activations["hh-sft"] == pytest.approx(activations["hh-dpo"] / 2)  # one sequence per example, not two
    assert plans["hh-rm"].estimate.get("LM head") == 0
    assert "no reference pass" in plans["hh-simpo"].format() and "method: SFT" in plans["hh-sft"].format()


@pytest.mark.slow
def test_sft_then_merge_then_dpo_trains_against_the_sft_model(tiny_run, tiny_model, hh_files, tmp_path):
    """DPO on the merged SFT model: its reference (adapters off) is the SFT model, so the first step's rewards are
    exactly 0 against it, and the reference log-probs `trlrecipes eval` uses are the SFT run's own."""
    from trlrecipes.data import load_pairs
    from trlrecipes.tools.eval.pairs import score_pairs
    from trlrecipes.tools.loading import load_policy
    from trlrecipes.tools.loading import open_run as load_run_config

    sft, _ = tiny_run("sft")  # the SFT program's training in tests/test_recipes.py, shared
    merged, dpo = tmp_path / "sft-merged", tmp_path / "dpo"
    runner = CliRunner()
    assert runner.invoke(app, ["merge", str(sft), "--output", str(merged)]).exit_code == 0
    overrides = [item for item in tiny_overrides(tiny_model, *hh_files, dpo) if not item.startswith("model=")]
    result = runner.invoke(app, ["run", "hh-dpo", f"model={merged}", *overrides])
    assert result.exit_code == 0, result.output
    first = json.loads((dpo / "metrics.jsonl").read_text().splitlines()[0])
    assert first["step"] == 1 and first["rewards/chosen"] == 0.0 and first["rewards/rejected"] == 0.0
    rows = list(load_pairs("hh-rlhf", str(hh_files[1]))[0].select(range(4)))
    sft_scores = score_pairs(*load_policy(sft, load_run_config(sft)), rows, 96)
    dpo_scores = score_pairs(*load_policy(dpo, load_run_config(dpo)), rows, 96)
    assert [s.ref_chosen for s in dpo_scores] == pytest.approx([s.policy_chosen for s in sft_scores], abs=1e-3)
    assert any(abs(s.policy_chosen - s.ref_chosen) > 1e-2 for s in sft_scores), "SFT did not move the model"


@pytest.mark.slow
def test_reward_model_run_records_accuracy_and_loads_as_a_judge(tiny_run, tiny_model, tmp_path):
    """The rm program writes eval.json; `trlrecipes eval` and `synth --reward-model RUN_DIR` load the folder as a
    judge, and the judge's held-out accuracy is the one TRL measured in training (8 pairs, batches of 4). TRL's
    RewardTrainer drops pairs longer than max_length where the judge reads them whole: 256 tokens keep all 8."""
    out, _ = tiny_run("rm", "max_length=256")  # the rm program's training in tests/test_recipes.py, shared
    recorded = json.loads((out / "eval.json").read_text())
    assert recorded["method"] == "RM" and recorded["pairs"] == 8 and 0 <= recorded["accuracy"] <= 1
    judged = CliRunner().invoke(app, ["eval", str(out), "--json"])
    assert judged.exit_code == 0, judged.output
    measured = json.loads(judged.stdout)  # stderr carries the loading report of the base model
    assert measured["accuracy"] == pytest.approx(recorded["accuracy"])
    assert measured["margin"] == pytest.approx(recorded["margin"], abs=1e-4)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("How do I boil an egg?\nWhat is the capital of France?\n")
    synth = CliRunner().invoke(
        app,
        [
            "synth",
            str(prompts),
            "--output",
            str(tmp_path / "pairs.jsonl"),
            "--model",
            str(tiny_model),
            "--reward-model",
            str(out),
            "--num-samples",
            "2",
            "--max-new-tokens",
            "8",
        ],
    )
    assert synth.exit_code == 0, synth.output
    # it is a judge, not a policy: the commands that run a policy say so and name the way to use it
    for command in (
        ["generate", str(out), "--prompt", "Hi"],
        ["eval", str(out), "--generate", "--reward", "len"],
        ["merge", str(out), "--output", str(tmp_path / "merged")],
    ):
        refused = CliRunner().invoke(app, command)
        assert refused.exit_code == 2, (command, refused.output)
        assert "is a reward model's run" in refused.output and f"--reward-model {out}" in refused.output
    assert not (tmp_path / "merged").exists()
