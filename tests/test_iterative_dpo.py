"""Iterative (on-policy) DPO on the tiny model: rounds of sample -> judge -> pair -> train, each round a run of its own
in round-N/, round N starting from round N-1's adapter with the start model as the reference, and a stop inside a
round resumed without redoing the rounds before it."""

from __future__ import annotations

import json
import os
import signal

import pytest
from safetensors.torch import load_file

from trlrecipes import api
from trlrecipes.errors import RunStopped, UserError

REWARD = '''
def short(prompt, response, topic=None, truncated=False):
    """Fewer words score higher; a reply cut at the token cap scores lowest (it did not finish)."""
    return -1000.0 if truncated else -float(len(response.split()))
'''


@pytest.fixture
def task(tmp_path):
    questions = ["How do I boil an egg?", "What is the capital of France?", "Any tips for sleeping better?"]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(json.dumps({"prompt": f"{questions[i % 3]} (case {i})", "topic": i % 3}) + "\n" for i in range(12))
    )
    (tmp_path / "rewards.py").write_text(REWARD)
    return prompts, f"{tmp_path / 'rewards.py'}:short"


def settings(tiny_model, prompts, reward, out, *extra):
    return [
        f"model={tiny_model}",
        f"dataset={prompts}",
        f"eval_dataset={prompts}",
        f"reward={reward}",
        f"output_dir={out}",
        "rounds=2",
        "prompts_per_round=6",
        "num_samples=3",
        "max_new_tokens=12",
        "max_steps=2",
        "logging_steps=1",
        "save_steps=1",
        "per_device_train_batch_size=2",
        "gradient_accumulation_steps=1",
        "learning_rate=1e-3",
        "max_length=96",
        "activation_checkpointing=false",
        *extra,
    ]


def lora(path):
    return {key: tensor for key, tensor in load_file(path / "adapter_model.safetensors").items() if "lora_" in key}


@pytest.mark.slow
def test_two_rounds_each_a_run_round_two_from_round_one(tiny_model, task, tmp_path, monkeypatch):
    from trlrecipes.run import lifecycle

    prompts, reward = task
    out = tmp_path / "run"
    started_from = {}
    continue_adapter = lifecycle.Run.continue_adapter

    def spy(self, trainer, folder):  # what round 2's adapter holds before its first step
        continue_adapter(self, trainer, folder)
        started_from[self.dir.name] = {k: v.clone() for k, v in trainer.model.state_dict().items() if "lora_" in k}

    monkeypatch.setattr(lifecycle.Run, "continue_adapter", spy)
    run = api.run("ifeval-dpo", *settings(tiny_model, prompts, reward, out))
    for number in (1, 2):
        folder = run.dir / f"round-{number}"
        rows = [json.loads(line) for line in (folder / "pairs.jsonl").read_text().splitlines()]
        assert rows and all(row["score_chosen"] > row["score_rejected"] for row in rows)
        assert len((folder / "prompts.jsonl").read_text().splitlines()) == 6
        assert json.loads((folder / "run.json").read_text())["status"] == "completed"
        assert (folder / "metrics.jsonl").is_file() and (folder / "config.yaml").is_file()
    # the two rounds sampled different prompts (consecutive blocks of one seeded order)
    first, second = ((run.dir / f"round-{n}" / "prompts.jsonl").read_text().splitlines() for n in (1, 2))
    assert not set(first) & set(second)
    # round 2 started from round 1's saved adapter, and the run's adapter is the last round's
    round_one = lora(run.dir / "round-1")
    assert set(started_from) == {"round-2"}
    loaded = started_from["round-2"]
    assert len(loaded) == len(round_one)
    for key, tensor in round_one.items():
        match = [value for name, value in loaded.items() if name.replace(".default", "") == key]
        assert match and bool((match[0] == tensor).all()), key
    assert lora(run.dir).keys() == lora(run.dir / "round-2").keys()
    assert all(bool((lora(run.dir)[k] == v).all()) for k, v in lora(run.dir / "round-2").items())
    info = json.loads((run.dir / "run.json").read_text())
    assert info["status"] == "completed" and info["method"] == "iterative DPO"
    assert [r["round"] for r in info["rounds"]] == ["round-1", "round-2"]
    assert all(r["pairs"] > 0 and r["sampled_mean_score"] is not None for r in info["rounds"])
    # a run trained on prompts has no held-out pairs: `eval` says which evaluation to run instead
    with pytest.raises(UserError, match="--generate --reward"):
        api.evaluate(run.dir)
    # the run's own metrics are the rounds' one after another (report, compare and plot read them)
    combined = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert [(log["round"], log["step"]) for log in combined if "loss" in log] == [(1, 1), (1, 2), (2, 3), (2, 4)]
    assert (run.dir / "metrics.png").is_file() and info["global_step"] == 4
    # the reference is the start model: round 2's first step already has a margin (its adapter is round 1's)
    logs = [json.loads(line) for line in (run.dir / "round-2" / "metrics.jsonl").read_text().splitlines()]
    assert any(log.get("rewards/chosen", 0) != 0 for log in logs if log.get("step") == 1)


@pytest.mark.slow
def test_a_stop_inside_round_two_resumes_without_redoing_round_one(tiny_model, task, tmp_path, monkeypatch):
    from transformers import TrainerCallback

    from trlrecipes.run import lifecycle

    prompts, reward = task
    out = tmp_path / "run"
    callbacks = lifecycle.Run.callbacks

    class Interrupt(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 0:
                os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C in round 2's first step: finish it, checkpoint, stop

    def with_interrupt(self, cfg=None, **kwargs):
        found = callbacks(self, cfg, **kwargs)
        return found + [Interrupt()] if self.dir.name == "round-2" else found

    monkeypatch.setattr(lifecycle.Run, "callbacks", with_interrupt)
    with pytest.raises(RunStopped) as stopped:
        api.run("ifeval-dpo", *settings(tiny_model, prompts, reward, out, "max_steps=3"))
    assert stopped.value.exit_code == 130 and "--resume" in str(stopped.value)
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    round_one = out / "round-1"
    before = {path.name: path.stat().st_mtime_ns for path in round_one.rglob("*") if path.is_file()}
    pairs_two = (out / "round-2" / "pairs.jsonl").read_text()
    assert (out / "round-2" / "checkpoint-1").is_dir()

    monkeypatch.setattr(lifecycle.Run, "callbacks", callbacks)
    resumed = api.run("ifeval-dpo", *settings(tiny_model, prompts, reward, out, "max_steps=3"), resume=True)
    assert {path.name: path.stat().st_mtime_ns for path in round_one.rglob("*") if path.is_file()} == before
    assert (out / "round-2" / "pairs.jsonl").read_text() == pairs_two  # not sampled again
    logs = [json.loads(line) for line in (out / "round-2" / "metrics.jsonl").read_text().splitlines()]
    assert [log["step"] for log in logs if "loss" in log] == [1, 2, 3]  # step 1 once, then the resumed steps
    assert json.loads((resumed.dir / "run.json").read_text())["status"] == "completed"


def test_settings_that_cannot_work_are_refused_before_anything_loads(tiny_model, task, tmp_path):
    prompts, reward = task
    base = settings(tiny_model, prompts, reward, tmp_path / "run")
    for extra, words in (
        (["num_samples=1"], "num_samples=1"),
        (["rounds=0"], "rounds=0"),
        (["temperature=inf"], "temperature=inf"),
        ([f"reward_model={tiny_model}"], "one judge"),
    ):
        with pytest.raises(UserError, match=words):
            api.run("ifeval-dpo", *base, *extra)
        assert not (tmp_path / "run").exists()
