"""Online-RL (GRPO/RLOO) verdicts, live line and start note on constructed TRL 1.16 metric streams.

The streams use the keys GRPOTrainer/RLOOTrainer log (seen in a tiny-model run of each, TRL 1.16): reward,
reward_std, frac_reward_zero_std, completions/{mean_length,clipped_ratio,...}, rewards/<fn>/{mean,std}, entropy,
clip_ratio/*, and kl only when beta != 0. Each verdict fires on its pattern and stays quiet on a healthy stream;
preference streams (DPO, KTO, ORPO, SFT, RM) raise none of them.
"""

import io
import json
import math

import pytest
from trl import GRPOConfig

from trlrecipes.monitor import online
from trlrecipes.monitor.health import HealthMonitor, TrainingHealthCallback, live_line

MAX_STEPS = 200
ONLINE_CODES = {
    "no_reward_signal",
    "completions_clipped",
    "reward_flat",
    "length_blowup",
    "entropy_collapse",
    "kl_runaway",
}


def lerp(a, b, t):
    return a + (b - a) * t


def grpo_log(t, *, reward, std=0.4, zero_std=0.25, length=80.0, clipped=0.05, entropy=1.8, kl=None, wobble=0.02):
    """One GRPO train log at progress t in [0, 1] (keys and their order as TRL 1.16 logs them)."""
    noise = wobble * math.sin(37 * t)
    logs = {
        "loss": 0.001 * math.sin(11 * t),  # ~0: beta=0, one iteration per batch
        "grad_norm": 0.3,
        "learning_rate": 1e-5,
        "num_tokens": 1000.0 * t,
        "completions/mean_length": length,
        "completions/min_length": length / 2,
        "completions/max_length": length * 1.5,
        "completions/clipped_ratio": clipped,
        "completions/mean_terminated_length": length,
        "completions/min_terminated_length": length / 2,
        "completions/max_terminated_length": length * 1.5,
        "rewards/verify/mean": reward + noise,
        "rewards/verify/std": std,
        "reward": reward + noise,
        "reward_std": std,
        "frac_reward_zero_std": zero_std,
        "entropy": entropy,
        "clip_ratio/low_mean": 0.0,
        "clip_ratio/high_mean": 0.0,
        "clip_ratio/region_mean": 0.0,
        "step_time": 10.0,
        "epoch": t,
    }
    if kl is not None:
        logs["kl"] = kl
    return logs


def trace(train_fn, *, n=40):
    return [(i * MAX_STEPS // n, train_fn(i / n)) for i in range(1, n + 1)]


def healthy(t):
    """Reward 0.2 -> 0.6, some groups all alike, short replies, entropy easing a little: a learning run."""
    return grpo_log(
        t, reward=lerp(0.2, 0.6, t), zero_std=lerp(0.4, 0.2, t), length=lerp(80, 95, t), entropy=lerp(1.8, 1.4, t)
    )


def run(events, **kwargs):
    monitor = HealthMonitor(**{"max_steps": MAX_STEPS, **kwargs})
    return [v.code for step, logs in events for v in monitor.observe(step, logs)]


# -- verdicts ------------------------------------------------------------------------------------------------
def test_healthy_online_stream_raises_nothing():
    assert run(trace(healthy)) == []
    assert run(trace(lambda t: dict(healthy(t), kl=lerp(0.0, 0.05, t)))) == []  # beta > 0, KL modest


def test_reward_flat():
    codes = run(trace(lambda t: grpo_log(t, reward=0.3, wobble=0.03)))
    assert codes == ["reward_flat"]


def test_reward_flat_waits_for_warmup_and_enough_logs():
    flat = trace(lambda t: grpo_log(t, reward=0.3))
    assert run(flat[:11], max_steps=0) == []  # 11 logs: too few to compare the start with a half of the run
    assert run(flat[:12], max_steps=0) == ["reward_flat"]
    assert run(flat[:12], max_steps=400) == []  # step 60 of 400: still in the first 20 % (warm-up)


def test_reward_flat_is_quiet_on_a_slow_steady_rise():
    assert run(trace(lambda t: grpo_log(t, reward=lerp(0.3, 0.45, t), wobble=0.01))) == []  # +0.15 over the run


def test_no_reward_signal():
    events = trace(lambda t: grpo_log(t, reward=0.0, std=0.0, zero_std=1.0, wobble=0.0))
    monitor = HealthMonitor(max_steps=MAX_STEPS)
    raised = [v for step, logs in events for v in monitor.observe(step, logs)]
    assert [v.code for v in raised] == ["no_reward_signal"]  # and not reward_flat: this one explains it
    assert raised[0].step == events[2][0]  # from the third log on: no warm-up needed
    assert "temperature" in raised[0].fix and "num_generations" in raised[0].fix
    configured = HealthMonitor(max_steps=MAX_STEPS)
    configured.online.configure(GRPOConfig(output_dir="/tmp/unused", use_cpu=True, num_generations=4))
    fix = [v for step, logs in events for v in configured.observe(step, logs)][0].fix
    assert "temperature (now 1, e.g. 1.2)" in fix and "num_generations (now 4, e.g. 8)" in fix
    one_good_batch = [events[0], (10, grpo_log(0.05, reward=0.2, zero_std=0.5)), events[2]]
    assert run(one_good_batch) == []


def test_completions_clipped_names_the_limit_from_the_args():
    events = trace(lambda t: healthy(t) | {"completions/clipped_ratio": 0.95, "completions/mean_length": 63.5})
    monitor = HealthMonitor(max_steps=MAX_STEPS)
    monitor.online.configure(GRPOConfig(output_dir="/tmp/unused", use_cpu=True, max_completion_length=64))
    raised = [v for step, logs in events for v in monitor.observe(step, logs)]
    assert [v.code for v in raised] == ["completions_clipped"]
    assert "max_completion_length=64" in raised[0].message and "max_completion_length=128" in raised[0].fix


def test_length_blowup():
    codes = run(trace(lambda t: healthy(t) | {"completions/mean_length": lerp(60, 300, t)}))
    assert codes == ["length_blowup"]
    assert run(trace(lambda t: healthy(t) | {"completions/mean_length": lerp(8, 30, t)})) == []  # < +32 tokens


def test_entropy_collapse():
    assert run(trace(lambda t: healthy(t) | {"entropy": lerp(1.8, 0.1, t)})) == ["entropy_collapse"]


def test_kl_runaway():
    events = trace(lambda t: healthy(t) | {"kl": lerp(0.0, 3.0, t)})
    assert run(events) == ["kl_runaway"]
    monitor = HealthMonitor(max_steps=MAX_STEPS)
    monitor.online.configure(GRPOConfig(output_dir="/tmp/unused", use_cpu=True, beta=0.04))
    fix = [v for step, logs in events for v in monitor.observe(step, logs)][0].fix
    assert "beta (now 0.04, e.g. 0.12)" in fix


def test_eval_logs_raise_no_online_verdict():
    stuck = {f"eval_{key}": value for key, value in grpo_log(0.5, reward=0.0, zero_std=1.0, clipped=1.0).items()}
    assert online.is_online(stuck)
    assert run([(step, stuck) for step in range(10, 200, 10)]) == []


# -- preference streams raise none of them ------------------------------------------------------------------------
def dpo(t):
    margin = lerp(0.0, 0.6, t)
    return {
        "loss": -math.log(1 / (1 + math.exp(-margin))),
        "grad_norm": 1.2,
        "rewards/chosen": lerp(0, 0.1, t),
        "rewards/rejected": lerp(0, 0.1, t) - margin,
        "rewards/margins": margin,
        "rewards/accuracies": lerp(0.5, 0.75, t),
        "logps/chosen": -120.0,
        "logps/rejected": -125.0,
        "entropy": 2.0,
        "mean_token_accuracy": 0.4,
        "epoch": t,
    }


def kto(t, *, kl=None, entropy=1.5):  # KTO logs kl (and TRL 1.16 also entropy): alone they do not mark an online run
    return {
        "loss": lerp(0.5, 0.3, t),
        "kl": lerp(0, 0.2, t) if kl is None else kl,
        "rewards/chosen": lerp(0, 0.3, t),
        "rewards/rejected": lerp(0, -0.4, t),
        "rewards/margins": lerp(0, 0.7, t),
        "logps/chosen": -80.0,
        "entropy": entropy,
        "epoch": t,
    }


PREFERENCE_STREAMS = {
    "dpo": dpo,
    "kto": kto,
    "kto_kl_high_entropy_low": lambda t: kto(t, kl=5.0, entropy=lerp(2.0, 0.01, t)),
    "orpo": lambda t: dpo(t) | {"nll_loss": 1.0, "log_odds_ratio": -0.6, "log_odds_chosen": 0.2},
    "sft": lambda t: {"loss": lerp(2.4, 1.6, t), "entropy": lerp(2.0, 0.2, t), "mean_token_accuracy": 0.5},
    "rm": lambda t: {"loss": 0.6, "accuracy": 0.7, "margin": 0.5, "mean_reward": 0.1, "min_reward": -3.0},
}


@pytest.mark.parametrize("name", sorted(PREFERENCE_STREAMS))
def test_preference_streams_raise_no_online_verdict(name):
    events = trace(PREFERENCE_STREAMS[name])
    assert not any(online.is_online(logs) for _, logs in events)
    assert not ONLINE_CODES & set(run(events))
    line = live_line({"step": 5, **events[0][1]}, MAX_STEPS)
    assert "reward " not in line and "len " not in line


# -- live line, note, summary ------------------------------------------------------------------------------------
def test_online_live_line_shows_reward_length_and_clipping():
    line = live_line({"step": 12, **grpo_log(0.5, reward=0.425, std=0.31, length=57.24, clipped=0.125, wobble=0)}, 200)
    assert "12/200" in line and "reward 0.425±0.310" in line and "len 57.2" in line and "clipped 0.12" in line
    assert "loss" not in line and "zero-std 0.25" in line
    with_kl = live_line({"step": 1, **grpo_log(0, reward=1.0, kl=0.0123, zero_std=0.0)}, 10)
    assert "kl 0.0123" in with_kl and "zero-std" not in with_kl
    evaluation = {
        "step": 3,
        "eval_loss": 0.0,
        "eval_reward": 0.5,
        "eval_reward_std": 0.1,
        "eval_completions/mean_length": 9,
    }
    assert "eval reward 0.500±0.100 len 9.0" in live_line(evaluation, 10)
    assert live_line({"step": 3, "reward": None, "loss": 0.0}, 10).endswith("reward nan")
    assert live_line({"step": 9, "train_loss": 0.001, "train_runtime": 5.0}, 10).endswith("done: train loss 0.0010")


def test_the_note_names_why_the_loss_is_near_zero():
    from trl import RLOOConfig

    grpo = online.online_note(GRPOConfig(output_dir="/tmp/unused", use_cpu=True, max_completion_length=64))
    assert "a loss near 0 is expected here (beta=0, one iteration per batch" in grpo and "watch the reward" in grpo
    assert "max_completion_length=64" in grpo
    kl = online.online_note(GRPOConfig(output_dir="/tmp/unused", use_cpu=True, beta=0.04))
    assert "beta=0.04 adds only beta x KL" in kl
    rloo = online.online_note(RLOOConfig(output_dir="/tmp/unused", use_cpu=True))
    assert "leave-one-out" in rloo and "beta=0.05 is a KL penalty inside the reward" in rloo
    rloo_without_kl = online.online_note(RLOOConfig(output_dir="/tmp/unused", use_cpu=True, beta=0.0))
    assert "sum to 0); watch the reward" in rloo_without_kl and "KL" not in rloo_without_kl
    from transformers import TrainingArguments

    assert online.online_note(TrainingArguments(output_dir="/tmp/unused", use_cpu=True)) is None


def test_callback_prints_the_note_once_and_summarises_the_reward(tmp_path):
    from transformers import TrainerControl, TrainerState

    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, report_to=[], max_completion_length=64)
    state, control = TrainerState(max_steps=MAX_STEPS), TrainerControl()
    out = io.StringIO()
    callback = TrainingHealthCallback(tmp_path, stream=out)
    callback.on_train_begin(args, state, control)
    for step, logs in trace(healthy):
        state.global_step, state.epoch = step, step / MAX_STEPS
        callback.on_log(args, state, control, logs=dict(logs))
    callback.on_train_end(args, state, control)
    text = out.getvalue()
    assert text.count("a loss near 0 is expected here") == 1 and text.index("loss near 0") < text.index("reward 0.")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["train"]["reward"]["start"] < 0.25 < 0.55 < summary["train"]["reward"]["end"]
    assert summary["train"]["completion_length"]["end"] == pytest.approx(95.0)
    assert summary["verdicts"] == [] and "reward 0.2" in text.split("training summary")[1]


def test_dpo_summary_keeps_its_rows_and_gets_no_note(tmp_path):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[])
    state, control = TrainerState(max_steps=MAX_STEPS), TrainerControl()
    out = io.StringIO()
    callback = TrainingHealthCallback(tmp_path, stream=out)
    callback.on_train_begin(args, state, control)
    for step, logs in trace(dpo):
        state.global_step = step
        callback.on_log(args, state, control, logs=dict(logs))
    callback.on_train_end(args, state, control)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["train"]) == {"loss", "margin", "accuracy", "token_accuracy"}
    assert summary["train"]["loss"]["start"] > 0.6 and "loss near 0" not in out.getvalue()
