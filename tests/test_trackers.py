"""report_to=tensorboard and report_to=trackio, offline: the curves and trlrecipes' own figures (verdicts during
training, held-out evaluation after it) reach the tracker's local store."""

import json
import os
import sqlite3
import subprocess
import sys
from types import SimpleNamespace

import pytest

from trlrecipes.testing import tiny_overrides


class Recorder:
    def __init__(self):
        self.logs = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.logs.append(logs)


def test_verdicts_go_to_the_trackers(tmp_path):
    from transformers import TrainerControl, TrainerState

    from trlrecipes.monitor.health import TrainingHealthCallback

    callback = TrainingHealthCallback(tmp_path, live=False, stream=open(os.devnull, "w"))
    recorder = Recorder()
    callback.trackers = [recorder]
    state = TrainerState(global_step=1, max_steps=10)
    args = SimpleNamespace(output_dir=str(tmp_path), fp16=False)
    callback.on_log(args, state, TrainerControl(), logs={"loss": float("nan"), "rewards/margins": float("nan")})
    assert recorder.logs == [{"verdicts/non_finite_loss": 1.0}]
    assert json.loads((tmp_path / "verdicts.json").read_text())[0]["code"] == "non_finite_loss"


@pytest.mark.slow
def test_tensorboard_event_files_hold_curves_verdicts_and_eval(finished_run):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for folder in {path.parent for path in (finished_run / "runs").glob("*/events.out.tfevents.*")}:
        events = EventAccumulator(str(folder))
        events.Reload()
        tags |= set(events.Tags()["scalars"])
    assert {
        "train/rewards/margins",
        "eval/rewards/margins",
        "train/verdicts/no_learning",
        "heldout/accuracy",
        "heldout/margin",
    } <= tags, sorted(tags)


@pytest.mark.slow
def test_trackio_local_store_holds_curves_verdicts_and_eval(tiny_model, hh_files, tmp_path):
    pytest.importorskip("trackio")
    train, test = hh_files
    out = tmp_path / "tracked"
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio"), "OMP_NUM_THREADS": "1"}
    run = [
        sys.executable,
        "-m",
        "trlrecipes.cli",
        "run",
        "hh-dpo",
        *tiny_overrides(tiny_model, train, test, out),
        "max_steps=6",
        "save_steps=6",
        "learning_rate=1e-30",
        "report_to=trackio",
    ]
    for command in (run, [sys.executable, "-m", "trlrecipes.cli", "eval", str(out)]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    with sqlite3.connect(tmp_path / "trackio" / "huggingface.db") as db:
        rows = db.execute("select run_name, metrics from metrics").fetchall()
    assert {name for name, _ in rows} == {out.name}  # the trackio run is named like the run folder
    keys = set().union(*(json.loads(metrics) for _, metrics in rows))
    assert {
        "train/rewards/margins",
        "eval/rewards/margins",
        "train/verdicts/no_learning",
        "heldout/accuracy",
        "heldout/margin",
    } <= keys, sorted(keys)
