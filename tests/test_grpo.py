"""GRPO and RLOO (recipes/grpo.py) on the tiny model: training with a callable reward written to a file, the run
folder it leaves, the batch-shape check before anything loads, the judge adapter (tools/eval/rewards.py), and a GRPO
run folder through `eval --generate`, `report` and `merge`."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file
from typer.testing import CliRunner

from trlrecipes import api
from trlrecipes.cli import app
from trlrecipes.errors import UserError

# Shorter replies (in characters) score higher, a reply cut at the token cap 1 lower. It records what it was given,
# so the tests can compare its `truncated` flags with TRL's own clipped share.
REWARD = """
import json, os

def short(prompt, response, topic=None, truncated=False):
    with open(os.environ["GRPO_TEST_LOG"], "a") as log:
        log.write(json.dumps({"prompt": prompt, "topic": topic, "truncated": truncated}) + "\\n")
    return -len(response) / 100 - float(truncated)

def cut(prompt, response, truncated=False):
    return float(truncated)
"""


@pytest.fixture
def task(tmp_path, monkeypatch):
    questions = ["How do I boil an egg?", "What is the capital of France?", "Any tips for sleeping better?"]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(json.dumps({"prompt": f"{questions[i % 3]} (case {i})", "topic": i % 3}) + "\n" for i in range(12))
    )
    (tmp_path / "rewards.py").write_text(REWARD)
    monkeypatch.setenv("GRPO_TEST_LOG", str(tmp_path / "calls.jsonl"))
    return prompts, f"{tmp_path / 'rewards.py'}:short", tmp_path / "calls.jsonl"


def settings(tiny_model, prompts, reward, out, *extra):
    return [
        f"model={tiny_model}",
        f"dataset={prompts}",
        f"eval_dataset={prompts}",
        f"reward={reward}",
        "eval_reward=",
        f"output_dir={out}",
        "num_generations=2",
        "per_device_train_batch_size=4",
        "gradient_accumulation_steps=1",
        "max_completion_length=12",
        "max_length=96",
        "max_steps=2",
        "logging_steps=1",
        "save_steps=2",
        "learning_rate=1e-3",
        "activation_checkpointing=false",
        *extra,
    ]


def lora_b(folder):
    return [t for k, t in load_file(folder / "adapter_model.safetensors").items() if "lora_B" in k]


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["grpo", "rloo"])
def test_grpo_and_rloo_train_with_a_callable_reward(tiny_model, task, tmp_path, trainer):
    prompts, reward, calls = task
    out = tmp_path / "run"
    run = api.run("grpo", *settings(tiny_model, prompts, reward, out, f"trainer={trainer}"))
    for name in ("adapter_model.safetensors", "config.yaml", "run.json", "trl_config.json", "README.md"):
        assert (run.dir / name).is_file(), name
    info = json.loads((run.dir / "run.json").read_text())
    assert info["status"] == "completed" and info["method"] == trainer.upper()
    trl_config = json.loads((run.dir / "trl_config.json").read_text())
    assert trl_config["num_generations"] == 2 and trl_config["beta"] == 0.0
    assert ("loss_type" in trl_config) == (trainer == "grpo")  # RLOOConfig has no loss_type
    assert any(float(t.abs().sum()) > 0 for t in lora_b(run.dir))  # LoRA's B starts at 0: the adapter learned
    logs = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    train = [log for log in logs if "loss" in log]
    assert [log["step"] for log in train] == [1, 2]
    assert all("reward" in log and "rewards/short/mean" in log for log in train)
    seen = [json.loads(line) for line in calls.read_text().splitlines()]
    assert len(seen) == 2 * 4 and {row["topic"] for row in seen} <= {0, 1, 2}  # the row's own field reached it
    # the judge's truncated flags are TRL's clipped share, step by step (4 completions a step)
    for step, log in enumerate(train):
        flags = [row["truncated"] for row in seen[4 * step : 4 * step + 4]]
        assert sum(flags) / 4 == pytest.approx(log["completions/clipped_ratio"])


@pytest.mark.slow
def test_a_run_whose_long_prompts_were_left_out_trains_on_the_rest(tiny_model, task, tmp_path, capsys):
    """Left-out prompts are counted once, by trlrecipes; the pair programs' "TRL dropped" check does not apply (it
    read GRPOConfig.max_length, which does not exist: exit 1 on any run with a prompt too long, e.g. hh-grpo)."""
    prompts, reward, _ = task
    mixed = tmp_path / "mixed.jsonl"
    long_one = json.dumps({"prompt": "Please summarise this. " + "word " * 200, "topic": 0}) + "\n"
    mixed.write_text(prompts.read_text() + long_one)
    run = api.run("grpo", *settings(tiny_model, prompts, reward, tmp_path / "run", f"dataset={mixed}"))
    assert json.loads((run.dir / "run.json").read_text())["status"] == "completed"
    said = capsys.readouterr().out
    assert "left out 1 of 13 prompts longer than" in said and "TRL dropped" not in said


@pytest.mark.slow
def test_a_grpo_run_folder_through_eval_generate_report_and_merge(tiny_model, task, tmp_path):
    """eval --generate judges the held-out prompts (their fields reach the judge) with the reference = the base model
    (the adapter off); report draws the online panels; merge folds the adapter in."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts, reward, calls = task
    run = api.run("grpo", *settings(tiny_model, prompts, reward, tmp_path / "run"))
    calls.unlink()
    result = CliRunner().invoke(
        app, ["eval", str(run.dir), "--generate", "--reward", reward, "--max-rows", "3", "--max-new-tokens", "6"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run.dir / "eval_generations.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all("trained_score" in row for row in rows)
    assert [json.loads(line)["topic"] for line in calls.read_text().splitlines()] == [0, 1, 2] * 2  # both sides
    tokenizer = AutoTokenizer.from_pretrained(run.dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": rows[0]["prompt"]}], add_generation_prompt=True, tokenize=False
    )
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        greedy = base.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert rows[0]["reference"] == tokenizer.decode(greedy[0, ids.shape[1] :], skip_special_tokens=True).strip()

    result = CliRunner().invoke(app, ["report", str(run.dir)])
    assert result.exit_code == 0, result.output
    page = (run.dir / "report.html").read_text()
    assert "GRPO" in page and "data:image/png;base64" in page

    merged = tmp_path / "merged"
    result = CliRunner().invoke(app, ["merge", str(run.dir), "--output", str(merged)])
    assert result.exit_code == 0, result.output
    assert "check: max |logit difference|" in result.output and (merged / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "extra, words",
    [
        # 3 replies per step cannot hold whole groups of 4: the nearest per-device sizes that can, or a group size
        (["num_generations=4", "per_device_train_batch_size=3"], "per_device_train_batch_size=4 or 8"),
        (["num_generations=4", "per_device_train_batch_size=3"], "or num_generations=3"),
        (["num_generations=1"], "num_generations=1"),
        (["trainer=ppo"], "trainer must be one of grpo, rloo"),
        (["trainer=rloo", "loss_type=grpo"], "RLOO has one loss"),
        (["normalize_advantages=true"], "add trainer=rloo"),
        (["loss_type=sigmoid"], "not one of GRPO's losses"),
        (["reward="], "no reward"),
        (["reward=[]"], "reward='[]': name a function as module:function"),
        (["reward_weights=1,2"], "2 value(s) for 1 reward(s)"),
        (["max_completion_length=96", "max_length=96"], "max_length=96 must leave room"),
        (["temperature=0"], "temperature=0.0"),
        (["trainer=rloo", "trl.entropy_coef=0.01"], "trl.entropy_coef is a GRPO setting"),
    ],
)
def test_settings_that_cannot_work_exit_2_before_anything_loads(tiny_model, task, tmp_path, monkeypatch, extra, words):
    from trlrecipes.run import splits

    def never(*args, **kwargs):
        raise AssertionError("data was loaded before the settings were checked")

    monkeypatch.setattr(splits.Splits, "load_prompts", never)
    prompts, reward, _ = task
    result = CliRunner().invoke(app, ["run", "grpo", *settings(tiny_model, prompts, reward, tmp_path / "r"), *extra])
    assert result.exit_code == 2 and words in result.output, result.output
    assert not (tmp_path / "r").exists()


def test_prompts_too_long_for_max_length_are_left_out_and_counted(tiny_model):
    from datasets import Dataset
    from transformers import AutoTokenizer

    from trlrecipes.run.recipes import resolve_recipe

    fit_prompts = resolve_recipe("grpo").module.fit_prompts
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rows = Dataset.from_list(
        [{"prompt": [{"role": "user", "content": text}], "n": i} for i, text in enumerate(["Hi", "Hi " * 40, "Ok"])]
    )
    said = []
    kept = fit_prompts(rows, tokenizer, 20, "train", said.append)
    assert list(kept["n"]) == [0, 2] and "left out 1 of 3 prompts longer than" in said[0]
    assert list(fit_prompts(rows.select([0, 2]), tokenizer, 20, "train", said.append)["n"]) == [0, 2]
    assert len(said) == 1  # nothing left out: nothing said
    with pytest.raises(UserError, match="every train prompt is longer"):
        fit_prompts(rows, tokenizer, 2, "train", said.append)


# -- the judge adapter: trlrecipes judges as TRL reward functions ---------------------------------------------------
def test_a_judge_as_a_trl_reward_function(tmp_path, monkeypatch):
    """TRL's conversational call: the prompt text and reply content reach fn(prompt, response, **fields); a null
    column is left out (the function's default applies), TRL's own keywords are not row fields, `truncated` follows
    the completion's last token, and the function's own name becomes TRL's metric name."""
    import pickle

    from trlrecipes.tasks.judges import CallableReward
    from trlrecipes.tools.eval.rewards import JudgeReward, _names

    seen = []

    def judge(prompt, response, topic="none", truncated=False, **rest):
        seen.append((prompt, response, topic, truncated, sorted(rest)))
        return len(response)

    reward = JudgeReward(CallableReward(judge), "judge", {7, 9})
    prompts = [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]] * 2
    completions = [[{"role": "assistant", "content": "Hello"}], [{"role": "assistant", "content": "Hey you"}]]
    scores = reward(
        prompts=prompts,
        completions=completions,
        completion_ids=[[3, 4, 9], [3, 5]],
        topic=["greeting", None],
        trainer_state=object(),
        log_metric=print,
    )
    assert scores == [5.0, 7.0]
    assert seen == [("Hi?", "Hello", "greeting", False, []), ("Hi?", "Hey you", "none", True, [])]
    assert reward.__name__ == "judge"
    assert _names(["a.py:score", "b.py:score", "m:verify"], True) == ["score_1", "score_2", "verify", "reward_model"]
    from trlrecipes.tasks import instructions

    shipped = JudgeReward(CallableReward(instructions.reward), "reward", {1})
    assert pickle.loads(pickle.dumps(shipped)).judge.fn is instructions.reward  # TRL may pickle reward functions

    def none(prompt, response):
        return None

    with pytest.raises(UserError, match="returned None"):
        JudgeReward(CallableReward(none), "none")(prompts=["Hi?"], completions=["x"])


def test_rewards_from_settings_specs_then_a_reward_model_run_folder(tiny_model, tmp_path):
    """build_rewards: every `reward` spec in order, then `reward_model` as the project's RewardModel (a LoRA
    reward-model run folder, which TRL cannot load from a string); the cut-completion ids are TRL's: the model's
    eos ids, the tokenizer's eos and pad."""
    from types import SimpleNamespace

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from trlrecipes.tools.eval.judges import RewardModel
    from trlrecipes.tools.eval.rewards import build_rewards, end_token_ids

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    base = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1)
    base.config.pad_token_id = tokenizer.pad_token_id
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="SEQ_CLS", init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(tmp_path / "rm")
    tokenizer.save_pretrained(tmp_path / "rm")
    (tmp_path / "mine.py").write_text("def words(prompt, response):\n    return len(response.split())\n")
    cfg = SimpleNamespace(
        reward=[f"{tmp_path / 'mine.py'}:words", "trlrecipes.tasks.gsm8k:verify"],
        reward_model=str(tmp_path / "rm"),
        trust_remote_code=False,
    )
    rewards = build_rewards(cfg, str(tiny_model), tokenizer)
    assert [r.__name__ for r in rewards] == ["words", "verify", "reward_model"]
    assert end_token_ids(str(tiny_model), tokenizer) == {tokenizer.eos_token_id, tokenizer.pad_token_id}
    assert rewards[0].end_ids() == {tokenizer.eos_token_id, tokenizer.pad_token_id}
    prompts, replies = ["How do I boil an egg?"] * 2, ["Nine minutes.", "I do not care at all."]
    assert rewards[0](prompts=prompts, completions=replies) == [2.0, 6.0]
    assert rewards[1](prompts=prompts, completions=["It is 9", "9.0"], answer=["9", "8"]) == [1.0, 0.0]
    scored = rewards[2](prompts=prompts, completions=replies)
    from trlrecipes.tasks.judges import Prompt

    with torch.no_grad():
        direct = RewardModel(str(tmp_path / "rm"))(
            [Prompt([{"role": "user", "content": p}], p) for p in prompts], replies
        )
    assert scored == pytest.approx(direct, abs=1e-5) and scored[0] != scored[1]
    cfg.reward, cfg.reward_model = [], ""
    with pytest.raises(UserError, match="no reward"):
        build_rewards(cfg, str(tiny_model), tokenizer)


def test_online_runs_get_the_online_panels_and_preference_runs_keep_theirs(tmp_path):
    from trlrecipes.monitor.plot import PANELS, panels_for, plot_metrics

    online = [
        {
            "step": s,
            "loss": 0.0,
            "reward": 0.1 * s,
            "reward_std": 0.2,
            "frac_reward_zero_std": 0.5,
            "completions/mean_length": 40.0 + s,
            "completions/clipped_ratio": 0.25,
            "entropy": 1.5,
            "rewards/reward/mean": 0.1 * s,
            "rewards/format/mean": 0.5,
        }
        for s in (1, 2, 3)
    ]
    panels = panels_for(online)
    assert [title for title, _ in panels][:2] == ["reward", "completion length (tokens)"]
    assert {key for key, *_ in panels[0][1]} >= {"reward", "rewards/reward/mean", "rewards/format/mean"}
    assert panels_for([{"step": 1, "loss": 0.6, "rewards/margins": 0.1}]) is PANELS
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps(record) + "\n" for record in online))
    assert plot_metrics(metrics, tmp_path / "m.png").stat().st_size > 0


def test_ls_lists_grpo_and_its_presets_and_the_demo_resolves():
    listed = CliRunner().invoke(app, ["ls"])
    assert listed.exit_code == 0
    rows = {line.split()[0]: line.split()[2] for line in listed.output.splitlines()[1:] if line.strip()}
    assert {name: rows.get(name) for name in ("grpo", "ifeval-grpo", "gsm8k-grpo", "hh-grpo")} == dict.fromkeys(
        ("grpo", "ifeval-grpo", "gsm8k-grpo", "hh-grpo"), "GRPO"
    )
    assert api.config("grpo", "trainer=rloo").trainer == "rloo"
    cfg = api.config("ifeval-grpo", demo=True)
    assert cfg.model == "smollm2-135m-offline" and cfg.eval_reward.endswith("instructions:verify")
    assert cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps % cfg.num_generations == 0
    gsm8k = api.config("gsm8k-grpo")
    assert (gsm8k.data_format, gsm8k.subset, gsm8k.reward) == ("gsm8k", "main", ["trlrecipes.tasks.gsm8k:verify"])
    hh = api.config("hh-grpo")
    assert hh.reward == [] and hh.reward_model == "runs/hh-rm" and hh.data_format == "hh-rlhf"
