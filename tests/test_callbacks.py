"""Health verdicts on synthetic TRL log traces (DPO, its mixtures, SimPO, SFT, KTO, ORPO), the callback's files, and
the metrics plot."""

import io
import json
import math
from types import SimpleNamespace

import pytest

from trlrecipes.errors import UserError
from trlrecipes.monitor.health import LN2, HealthMonitor, TrainingHealthCallback, live_line
from trlrecipes.monitor.plot import plot_metrics, read_metrics

MAX_STEPS = 200


def lerp(a, b, t):
    return a + (b - a) * t


def train_log(t, *, acc, margin, chosen, loss=None, logps=-120.0, wobble=0.0):
    """One DPO train log at progress t in [0, 1]; `wobble` adds deterministic noise."""
    noise = wobble * math.sin(37 * t)
    margin += noise
    return {
        "loss": loss if loss is not None else -math.log(1 / (1 + math.exp(-margin))),
        "grad_norm": 1.2,
        "learning_rate": 5e-6,
        "rewards/chosen": chosen,
        "rewards/rejected": chosen - margin,
        "rewards/margins": margin,
        "rewards/accuracies": acc + noise / 4,
        "logps/chosen": logps,
        "logps/rejected": logps - 10 * margin,
        "logits/chosen": -1.0,
        "logits/rejected": -1.1,
        "epoch": t,
    }


def eval_log(acc, margin, chosen=0.0, loss=None):
    return {
        "eval_loss": loss if loss is not None else -math.log(1 / (1 + math.exp(-margin))),
        "eval_rewards/chosen": chosen,
        "eval_rewards/rejected": chosen - margin,
        "eval_rewards/margins": margin,
        "eval_rewards/accuracies": acc,
        "eval_logps/chosen": -120.0,
        "eval_runtime": 1.0,
    }


def trace(train_fn, eval_fn=None, *, n=40, eval_every=8):
    """(step, logs) events: a train log every 5 steps, an eval log every `eval_every` train logs."""
    events = []
    for i in range(1, n + 1):
        step, t = i * MAX_STEPS // n, i / n
        events.append((step, train_fn(t)))
        if eval_fn and i % eval_every == 0:
            events.append((step, eval_fn(t)))
    return events


def healthy_train(t):
    if t <= 0.05:  # first logs: LoRA policy == reference, rewards exactly 0, accuracy 0 (ties)
        return train_log(t, acc=0.0, margin=0.0, chosen=0.0, loss=LN2)
    return train_log(
        t,
        acc=lerp(0.5, 0.75, t),
        margin=lerp(0.02, 0.6, t),
        chosen=lerp(0, 0.1, t),
        logps=lerp(-120, -126, t),
        wobble=0.03,
    )


def healthy_eval(t):
    return eval_log(lerp(0.5, 0.73, t), lerp(0.02, 0.5, t))


def run(events, **monitor_kwargs):
    monitor = HealthMonitor(max_steps=MAX_STEPS, **monitor_kwargs)
    return [v.code for step, logs in events for v in monitor.observe(step, logs)]


# -- verdicts ------------------------------------------------------------------------------------------------
def test_healthy_trace_raises_nothing():
    assert run(trace(healthy_train, healthy_eval)) == []


def test_step0_ties_are_not_failures():
    ties = [(s, train_log(0, acc=0.0, margin=0.0, chosen=0.0, loss=LN2)) for s in range(1, 5)]
    ties.append((5, eval_log(0.0, 0.0, loss=LN2)))
    assert run(ties) == []


def test_no_learning():
    stuck = trace(lambda t: train_log(t, acc=0.5, margin=0.01, chosen=0.0, wobble=0.01))
    codes = run(stuck)
    assert codes == ["no_learning"]


def test_no_learning_needs_warmup():
    stuck = trace(lambda t: train_log(t, acc=0.5, margin=0.01, chosen=0.0), n=40)[:6]  # 15% of max_steps
    assert run(stuck) == []


def test_eval_plateau():
    accs = iter([0.56, 0.58, 0.57, 0.58, 0.575])
    events = trace(healthy_train, lambda t: eval_log(next(accs), 0.1))
    assert "eval_plateau" in run(events)


def test_both_rewards_falling():
    events = trace(lambda t: train_log(t, acc=lerp(0.5, 0.8, t), margin=lerp(0, 0.5, t), chosen=lerp(0, -3, t)))
    assert run(events) == ["both_rewards_falling"]


def test_overfitting():
    margins = iter([1.0, 1.02, 0.95, 0.9, 0.85])

    def train(t):
        return train_log(t, acc=1.0 if t > 0.2 else 0.8, margin=lerp(0.5, 12, t**2), chosen=lerp(0, 1, t))

    events = trace(train, lambda t: eval_log(0.7, next(margins)))
    assert run(events) == ["overfitting"]


def test_chosen_logps_collapse():
    events = trace(lambda t: train_log(t, acc=0.7, margin=0.4, chosen=0.05, logps=lerp(-100, -220, t)))
    assert run(events) == ["chosen_logps_collapse"]


def test_non_finite_loss_and_grad_norm():
    events = trace(healthy_train)[:10]
    events.append((55, dict(events[-1][1], loss=float("nan"))))
    assert run(events) == ["non_finite_loss"]
    # transformers' logging_nan_inf_filter can hide a NaN loss; grad_norm and TRL's metrics still show it
    events[-1] = (55, dict(events[-2][1], grad_norm=float("inf")))
    assert run(events) == ["non_finite_loss"]
    events[-1] = (55, dict(events[-2][1], **{"rewards/margins": float("nan")}))
    assert run(events) == ["non_finite_loss"]


def test_fp16_grad_overflow_needs_patience():
    events = trace(healthy_train)[:10]
    overflow = [(51 + i, dict(events[-1][1], grad_norm=float("inf"))) for i in range(3)]
    assert run(events + overflow[:2], grad_norm_patience=3) == []
    assert run(events + overflow, grad_norm_patience=3) == ["non_finite_loss"]


def test_each_verdict_once():
    stuck = trace(lambda t: train_log(t, acc=0.5, margin=0.0, chosen=0.0), n=80)
    assert run(stuck) == ["no_learning"]


def kto_train(t):
    chosen, rejected = lerp(0, 0.3, t), lerp(0, -0.4, t)
    return {
        "loss": lerp(0.5, 0.3, t),
        "grad_norm": 2.0,
        "learning_rate": 5e-6,
        "kl": lerp(0, 0.2, t),
        "rewards/chosen": chosen,
        "rewards/rejected": rejected,
        "rewards/margins": chosen - rejected,
        "logps/chosen": -80.0,
        "logps/rejected": -95.0,
        "logits/chosen": -1.0,
        "entropy": 1.5,
        "epoch": t,
    }


def kto_eval(t):
    return {"eval_loss": 0.4, "eval_kl": 0.1, "eval_rewards/chosen": 0.2, "eval_rewards/margins": 0.5}


def orpo_train(t):
    return {
        "loss": lerp(1.6, 1.1, t),
        "grad_norm": 3.0,
        "learning_rate": 8e-6,
        "rewards/chosen": -0.12,
        "rewards/rejected": lerp(-0.13, -0.2, t),
        "rewards/accuracies": lerp(0.5, 0.8, t),
        "rewards/margins": lerp(0.01, 0.08, t),
        "logps/chosen": -1.2,
        "logps/rejected": lerp(-1.3, -2.0, t),
        "nll_loss": lerp(1.2, 0.9, t),
        "log_odds_ratio": lerp(-0.7, -0.4, t),
        "log_odds_chosen": lerp(0.1, 0.9, t),
        "epoch": t,
    }


def test_kto_and_orpo_traces_and_sparse_logs_do_not_crash():
    assert run(trace(kto_train, kto_eval)) == []
    assert run(trace(orpo_train)) == []
    sparse = [
        (1, {}),
        (2, {"loss": 0.7}),
        (3, {"learning_rate": 1e-5}),
        (4, {"eval_loss": 0.7}),
        (5, {"train_runtime": 3.0, "train_loss": 0.6}),
        (6, {"loss": "n/a", "rewards/margins": None}),
    ]
    assert run(sparse * 5) == []


def test_kto_no_learning_uses_margin():
    flat = trace(lambda t: dict(kto_train(t), **{"rewards/margins": 0.01}))
    assert run(flat) == ["no_learning"]


# -- the callback ----------------------------------------------------------------------------------------------
@pytest.fixture
def trainer_objects(tmp_path):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[])
    return args, TrainerState(max_steps=MAX_STEPS), TrainerControl()


def drive(callback, objects, events, *, end=True):
    args, state, control = objects
    for step, logs in events:
        state.global_step, state.epoch = step, step / MAX_STEPS
        callback.on_log(args, state, control, logs=dict(logs, epoch=state.epoch))
        if control.should_training_stop:
            break
    if end:
        callback.on_train_end(args, state, control)


def test_callback_writes_run_files(tmp_path, trainer_objects):
    out = io.StringIO()
    callback = TrainingHealthCallback(tmp_path, stream=out)
    events = trace(healthy_train, healthy_eval) + [(MAX_STEPS, {"train_runtime": 9.0, "train_loss": 0.6})]
    drive(callback, trainer_objects, events)

    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == len(events) == len(callback.history)
    assert all("step" in r and "epoch" in r for r in records)
    assert records[0]["step"] == 5 and records[0]["rewards/accuracies"] == 0.0
    assert callback.last_logs["train_runtime"] == 9.0
    assert json.loads((tmp_path / "verdicts.json").read_text()) == []

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["train"]["accuracy"]["start"] == 0.0 and summary["train"]["accuracy"]["end"] > 0.7
    assert summary["eval"]["margin"]["end"] > summary["eval"]["margin"]["start"]
    assert summary["verdicts"] == [] and summary["steps"] == MAX_STEPS
    assert (tmp_path / "metrics.png").stat().st_size > 10_000

    lines = out.getvalue().splitlines()
    assert all(len(line) <= 100 for line in lines[: len(events)])
    assert lines[0].startswith("[") and "5/200" in lines[0] and "margin" in lines[0]
    assert any(" eval " in line and "acc" in line for line in lines)
    assert "training summary" in out.getvalue() and "verdicts: none" in out.getvalue()


def test_callback_records_and_prints_verdicts(tmp_path, trainer_objects):
    out = io.StringIO()
    callback = TrainingHealthCallback(tmp_path, stream=out, live=False)
    drive(callback, trainer_objects, trace(lambda t: train_log(t, acc=0.5, margin=0.0, chosen=0.0)))
    saved = json.loads((tmp_path / "verdicts.json").read_text())
    assert [v["code"] for v in saved] == ["no_learning"]
    assert set(saved[0]) == {"code", "step", "message", "cause", "fix"}
    text = out.getvalue()
    assert text.count("no_learning") == 2 and "cause:" in text and "fix:" in text  # verdict + summary
    assert json.loads((tmp_path / "summary.json").read_text())["verdicts"] == ["no_learning"]


def test_nan_loss_stops_training_and_names_last_good_checkpoint(tmp_path, trainer_objects):
    """The last good checkpoint is the newest *complete* one at or before the last finite step (one answer,
    run.folder.newest_valid_checkpoint): 30 was cut short by a crash, 60 comes after the NaN."""
    for step in (20, 30, 40, 60):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        (folder / "adapter_model.safetensors").write_bytes(b"\1" * 16)
        if step != 30:
            (folder / ".complete").write_text("ok\n")
    out = io.StringIO()
    callback = TrainingHealthCallback(tmp_path, stream=out)
    events = trace(healthy_train)[:10] + [(55, dict(healthy_train(0.3), loss=float("nan")))]
    events += [(60, healthy_train(0.3))]  # never reached
    drive(callback, trainer_objects, events)

    _, _, control = trainer_objects
    assert control.should_training_stop and not control.should_save
    assert callback.stopped_on_non_finite
    assert callback.last_good_checkpoint == tmp_path / "checkpoint-40"  # 60 would be after the NaN
    assert "training stopped" in out.getvalue() and "checkpoint-40" in out.getvalue()
    assert [v["code"] for v in json.loads((tmp_path / "verdicts.json").read_text())] == ["non_finite_loss"]
    last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 55 and last["loss"] is None  # strict JSON: NaN written as null
    assert json.loads((tmp_path / "summary.json").read_text())["stopped_on_non_finite"] is True


def test_nan_stops_even_without_verdicts(tmp_path, trainer_objects):
    callback = TrainingHealthCallback(tmp_path, verdicts=False, live=False, stream=io.StringIO())
    drive(callback, trainer_objects, [(1, dict(healthy_train(0.5), loss=float("inf")))], end=False)
    assert trainer_objects[2].should_training_stop and callback.stopped_on_non_finite
    assert not (tmp_path / "verdicts.json").exists()


def test_non_main_process_writes_nothing(tmp_path, trainer_objects):
    out_dir = tmp_path / "run"
    trainer_objects[1].is_world_process_zero = False
    out = io.StringIO()
    callback = TrainingHealthCallback(out_dir, stream=out)
    drive(callback, trainer_objects, trace(healthy_train, healthy_eval)[:12])
    assert not out_dir.exists() and out.getvalue() == "" and callback.history == []


def test_resumed_run_continues_the_same_file(tmp_path, trainer_objects):
    events = trace(healthy_train, healthy_eval)
    first = TrainingHealthCallback(tmp_path, live=False, stream=io.StringIO())
    drive(first, trainer_objects, events[:14], end=False)  # crashed after step 60
    second = TrainingHealthCallback(tmp_path, live=False, stream=io.StringIO())
    drive(second, trainer_objects, [e for e in events if e[0] >= 50])  # resumed from checkpoint-45
    steps = [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl", dedupe=False)]
    assert steps == [e[0] for e in events]  # nothing lost, the redone steps 50-60 not duplicated
    assert second.history[0]["step"] == 5
    assert json.loads((tmp_path / "summary.json").read_text())["train"]["accuracy"]["start"] == 0.0


def test_live_line_fits_one_line():
    record = {"step": 12345, "epoch": 1.0, **train_log(0.5, acc=0.666, margin=-12.3456, chosen=-123.456)}
    line = live_line(record, 99999)
    assert len(line) <= 100 and "12345/99999" in line
    assert "eval" in live_line({"step": 3, **eval_log(0.6, 0.2)}, 10)
    assert live_line({"step": 3, "learning_rate": 1e-5}, 0) == "step 3"


# -- the plot --------------------------------------------------------------------------------------------------
def test_plot_empty_or_missing_file_raises(tmp_path):
    empty = tmp_path / "metrics.jsonl"
    empty.write_text("")
    with pytest.raises(UserError, match="no loss or reward metrics"):
        plot_metrics(empty, tmp_path / "m.png")
    with pytest.raises(UserError, match="no metrics file"):
        plot_metrics(tmp_path / "absent.jsonl", tmp_path / "m.png")


def test_plot_kto_metrics_without_accuracy(tmp_path):
    path = tmp_path / "metrics.jsonl"
    events = trace(kto_train, kto_eval, n=10, eval_every=5)
    path.write_text("".join(json.dumps({"step": s, **logs}) + "\n" for s, logs in events) + '{"step": 3, "lo')
    assert plot_metrics(path, tmp_path / "sub" / "m.png").stat().st_size > 10_000


# -- each method's verdicts --------------------------------------------------------------------------------------
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


def test_health_callback_reads_the_zero_margin_loss_from_the_trainer_args():
    from types import SimpleNamespace

    from trlrecipes.monitor.health import LN2, zero_margin_loss_of

    assert zero_margin_loss_of(SimpleNamespace(loss_type=["sigmoid"], beta=0.1)) == LN2
    assert zero_margin_loss_of(SimpleNamespace(loss_type=["ipo"], beta=0.1)) == pytest.approx(25.0)
    assert zero_margin_loss_of(SimpleNamespace(loss_type=["sigmoid", "sft"], beta=0.1)) is None
    assert zero_margin_loss_of(SimpleNamespace(beta=0.1)) == LN2  # ORPO: no loss_type
