"""A run stopped before its end, and what it leaves: Ctrl-C and SIGTERM (real signals to a training subprocess,
real exit codes), a second signal, a NaN loss, a failing step or a full disk, a bug in trlrecipes (exit 1), a program
that trains on its own. Each leaves a true status in run.json, a resumable checkpoint and the command that resumes it;
an --overwrite that fails before its first step puts the old run back.
"""

import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.run import folder as run_folder
from trlrecipes.run.recipes import builtin_dir
from trlrecipes.testing import fake_preset_run, snapshot, subprocess_env, tiny_overrides, train_steps

CLI = [sys.executable, "-m", "trlrecipes.cli"]
SECRET, ENV_SECRET = "abc123", "hf_env_secret_xyz"


# --- helpers ----------------------------------------------------------------------------------------------------
def env() -> dict:
    return subprocess_env(HF_TOKEN=ENV_SECRET)


def info(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


def completed_run(folder: Path, overrides: list[str]) -> Path:
    """A completed, evaluated hh-dpo run with these settings, as a run leaves it (written, not trained)."""
    return fake_preset_run(
        folder,
        "hh-dpo",
        overrides,
        info={"status": "completed", "global_step": 3},
        metrics=[{"step": 3, "loss": 0.6}],
        evaluation={"pairs": 8, "accuracy": 0.625, "margin": 0.3},
        adapter=True,
        checkpoints=[3],
    )


def long_run_overrides(tiny_model, hh_files, out: Path) -> list[str]:
    # max_steps far beyond what the test waits for: the run is always interrupted before it ends.
    return tiny_overrides(tiny_model, *hh_files, out) + [
        "max_steps=1000",
        "logging_steps=1",
        "save_steps=2",
        "eval_steps=1000",
    ]


def start_and_signal(command: list[str], out: Path, logs: Path, signum: int, min_steps: int) -> tuple[int, str, str]:
    """Start a training subprocess, wait until `min_steps` train logs are in metrics.jsonl, send `signum`."""
    stdout, stderr = logs / "stdout.txt", logs / "stderr.txt"
    with open(stdout, "w") as so, open(stderr, "w") as se:
        proc = subprocess.Popen(command, stdout=so, stderr=se, env=env())
        deadline = time.monotonic() + 180
        try:
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"run ended before the signal (rc {proc.returncode}):\n{stderr.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"no {min_steps} train logs within 180 s:\n{stderr.read_text()[-3000:]}")
                metrics = out / "metrics.jsonl"
                if metrics.is_file() and metrics.read_text().count('"loss"') >= min_steps:
                    break
                time.sleep(0.1)
            proc.send_signal(signum)
            rc = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    return rc, stdout.read_text(), stderr.read_text()


def printed_resume_command(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.startswith("resume with: ")]
    assert len(lines) == 1, stderr[-3000:]
    return shlex.split(lines[0].removeprefix("resume with: "))


def assert_no_secret(folder: Path, *texts: str) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and ENV_SECRET.encode() not in data, f"secret written to {path}"
    for text in texts:
        assert SECRET not in text and ENV_SECRET not in text


# --- Ctrl-C and SIGTERM (real training in a subprocess) -------------------------------------------------------
@pytest.mark.slow
def test_sigint_saves_everything_and_the_printed_command_resumes(tiny_model, hh_files, tmp_path):
    out = tmp_path / "run"
    overrides = long_run_overrides(tiny_model, hh_files, out) + [f"trl.hub_token={SECRET}"]
    rc, stdout, stderr = start_and_signal([*CLI, "run", "hh-dpo", *overrides], out, tmp_path, signal.SIGINT, 3)

    assert rc == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    stopped = train_steps(out)[-1]
    assert stopped >= 3
    checkpoint = out / f"checkpoint-{stopped}"  # the step the signal interrupted is checkpointed, whatever save_steps
    assert (checkpoint / run_folder.COMPLETE_MARKER).is_file() and run_folder.is_valid_checkpoint(checkpoint)
    assert run_folder.newest_valid_checkpoint(out) == checkpoint
    assert (out / "adapter_model.safetensors").is_file()
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "interrupted" and info["global_step"] == stopped
    assert "trl.hub_token=<redacted>" in info["command"] and "trl.hub_token=<redacted>" in info["overrides"]
    assert train_steps(out) == list(range(1, stopped + 1))

    command = printed_resume_command(stderr)
    assert command[:3] == ["trlrecipes", "run", "hh-dpo"] and command[-1] == "--resume"
    assert f"output_dir={out}" in command
    final = stopped + 3  # max_steps may change on resume
    resumed = subprocess.run(
        [*CLI, *command[1:], f"max_steps={final}"], capture_output=True, text=True, env=env(), timeout=240
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {checkpoint}" in resumed.stdout
    # The global step continues: every step logged exactly once, none missing.
    assert train_steps(out) == list(range(1, final + 1))
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "completed" and info["global_step"] == final
    assert run_folder.newest_valid_checkpoint(out) == out / f"checkpoint-{final}"

    # Secrets: neither the trl.hub_token value nor HF_TOKEN reach any file of the run folder or the printed logs.
    assert_no_secret(out, stdout, stderr, resumed.stdout, resumed.stderr)


@pytest.mark.slow
def test_sigterm_then_resume_skips_a_corrupt_newest_checkpoint(tiny_model, hh_files, tmp_path):
    """A recipe run as a script; SIGTERM exits 143. The newest checkpoint is then damaged and a half-written one
    is added: the resume starts from the newest *valid* checkpoint and metrics stay one run."""
    out = tmp_path / "run"
    script = [sys.executable, str(builtin_dir() / "dpo.py")]
    rc, _, stderr = start_and_signal(
        [*script, *long_run_overrides(tiny_model, hh_files, out)], out, tmp_path, signal.SIGTERM, 4
    )
    assert rc == 143, stderr[-3000:]
    assert "SIGTERM: stopped after step" in stderr
    stopped = train_steps(out)[-1]
    newest = out / f"checkpoint-{stopped}"
    (previous_step, previous), _ = run_folder.checkpoints(out)[-2:]  # save_total_limit=2 keeps two
    assert run_folder.is_valid_checkpoint(previous) and run_folder.is_valid_checkpoint(newest)

    (newest / "trainer_state.json").write_text('{"global_step": ')  # truncated by a crash
    half_written = out / f"checkpoint-{stopped + 1}"  # a save cut short: no .complete marker
    half_written.mkdir()
    (half_written / "adapter_model.safetensors").write_bytes(b"\0" * 8)
    assert run_folder.newest_valid_checkpoint(out) == previous

    command = printed_resume_command(stderr)
    assert command[:2] == ["python", str(builtin_dir() / "dpo.py")] and command[-1] == "--resume"
    final = stopped + 2
    command[-1] = "resume=true"  # the key=value spelling a script run also accepts
    resumed = subprocess.run(
        [sys.executable, *command[1:], f"max_steps={final}"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {previous}" in resumed.stdout
    assert f"removed {half_written}" in resumed.stdout
    assert train_steps(out) == list(range(1, final + 1))
    assert previous_step < stopped and json.loads((out / "run.json").read_text())["global_step"] == final
    assert all(run_folder.is_valid_checkpoint(path) for _, path in run_folder.checkpoints(out))


@pytest.mark.slow
def test_a_resumed_run_trains_exactly_as_an_uninterrupted_one(tiny_model, hh_files, tmp_path):
    """Same losses step by step: the resumed run replays the length-grouped batch order (seeded per epoch; 16 steps
    of 12 per epoch cross an epoch boundary), the optimizer, scheduler and RNG states."""

    def losses(folder: Path) -> dict[int, float]:
        records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        return {r["step"]: r["loss"] for r in records if "loss" in r}

    settings = ["max_steps=16", "logging_steps=1", "save_steps=1", "eval_steps=0", "group_by_length=true"]
    straight = tmp_path / "straight"
    done = subprocess.run(
        [*CLI, "run", "hh-dpo", *tiny_overrides(tiny_model, *hh_files, straight), *settings],
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    out = tmp_path / "resumed"
    command = [*CLI, "run", "hh-dpo", *tiny_overrides(tiny_model, *hh_files, out), *settings]
    rc, _, stderr = start_and_signal(command, out, tmp_path, signal.SIGINT, 3)
    assert rc == 130, stderr[-3000:]
    stopped = train_steps(out)[-1]
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected, got = losses(straight), losses(out)
    assert stopped < 16 and sorted(got) == sorted(expected) == list(range(1, 17))
    for step in range(1, 17):
        assert got[step] == pytest.approx(expected[step], rel=1e-4, abs=1e-6), f"step {step} (stopped at {stopped})"


def test_second_signal_exits_at_once(monkeypatch, capfd):
    from trlrecipes.run import control as run_control

    exits = []
    monkeypatch.setattr(run_control.os, "_exit", exits.append)
    control = run_control.run_control()
    control._handle(signal.SIGTERM, None)
    assert control.signum == signal.SIGTERM and exits == []
    control._handle(signal.SIGINT, None)
    assert exits == [130]
    assert "received again: exiting now" in capfd.readouterr().err


# --- NaN --------------------------------------------------------------------------------------------------------
NAN_RECIPE = '''"""hh-dpo whose LoRA weights turn NaN at the start of step NAN_STEP: a stand-in for a diverging run."""
from trlrecipes.run.recipes import builtin_dir, load_program, resolve_recipe

_base = load_program(builtin_dir() / "dpo.py")
Config = _base.Config
TRL_CONFIG = _base.TRL_CONFIG
NAN_STEP = 4


def main(cfg, run):
    from transformers import TrainerCallback

    class Poison(TrainerCallback):
        def on_step_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step + 1 == NAN_STEP:
                for param in model.parameters():
                    if param.requires_grad:
                        param.data.fill_(float("nan"))

    make = run.callbacks
    run.callbacks = lambda *args, **kwargs: make(*args, **kwargs) + [Poison()]
    _base.main(cfg, run)
'''


@pytest.mark.slow
def test_nan_stops_cleanly_and_keeps_the_last_good_checkpoint(tiny_model, hh_files, tmp_path):
    recipe = tmp_path / "nan_recipe.py"
    recipe.write_text(NAN_RECIPE)
    out = tmp_path / "run"
    # Step 4 is both the NaN step and a save step: the log comes before the save, so the save must be cancelled.
    overrides = tiny_overrides(tiny_model, *hh_files, out) + ["max_steps=10", "save_steps=2", "eval_steps=1000"]
    result = CliRunner().invoke(app, ["run", str(recipe), *overrides])

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    last_line = result.stderr.strip().splitlines()[-1]
    assert (
        "the loss became NaN/inf" in last_line and f"the last good checkpoint is {out / 'checkpoint-2'}" in last_line
    )
    assert [step for step, _ in run_folder.checkpoints(out)] == [2]
    assert run_folder.newest_valid_checkpoint(out) == out / "checkpoint-2"
    assert not (out / "adapter_model.safetensors").exists()  # no adapter with NaN weights
    assert json.loads((out / "run.json").read_text())["status"] == "diverged"


def test_nan_advice_names_the_knob_for_the_cause():
    """After a non-finite loss: beta when it is far above DPO's usual range, else the learning rate (#14 item 7)."""
    from types import SimpleNamespace

    from trlrecipes.run.lifecycle import nan_advice

    dpo = dict(loss_type=["sigmoid"], precompute_ref_log_probs=False)
    assert "lower beta" in nan_advice(SimpleNamespace(beta=5.0, learning_rate=5e-6, **dpo))
    advice = nan_advice(SimpleNamespace(beta=0.1, learning_rate=1e-3, **dpo))
    assert "Lower learning_rate (e.g. learning_rate=1e-04)" in advice and "beta" not in advice
    assert "beta" not in nan_advice(SimpleNamespace(beta=2.5, learning_rate=1e-5, loss_type="simpo"))  # SimPO's beta


# --- a step or the final save fails ------------------------------------------------------------------------------
FAULTY_PROGRAM = '''"""hh-dpo with a fault: FAULT=first-step (the first step fails, as an out-of-memory would),
FAULT=third-step, FAULT=save (disk full at the final save of the adapter)."""
import os

from trlrecipes.run.recipes import builtin_dir, load_program

_base = load_program(builtin_dir() / "dpo.py")
Config = _base.Config
TRL_CONFIG = _base.TRL_CONFIG


def main(cfg, run):
    from transformers import TrainerCallback

    fault = os.environ["FAULT"]

    class Fault(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if (fault, state.global_step) in (("first-step", 0), ("third-step", 2)):
                raise RuntimeError("out of memory (injected)")

    make, train = run.callbacks, run.train
    run.callbacks = lambda *args, **kwargs: make(*args, **kwargs) + [Fault()]

    def train_on_a_full_disk(trainer, **kwargs):
        save = trainer.save_model

        def save_model(output_dir=None, *args, **kw):
            if fault == "save" and output_dir == str(run.dir):
                raise OSError(28, "No space left on device")
            return save(output_dir, *args, **kw)

        trainer.save_model = save_model
        train(trainer, **kwargs)

    run.train = train_on_a_full_disk
    _base.main(cfg, run)
'''


@pytest.mark.slow
def test_overwrite_keeps_the_old_run_until_the_new_one_trained_a_step(tiny_model, hh_files, tmp_path, monkeypatch):
    program = tmp_path / "faulty.py"
    program.write_text(FAULTY_PROGRAM)
    out = tmp_path / "done"
    overrides = [*tiny_overrides(tiny_model, *hh_files, out), "save_steps=1", "eval_steps=0"]
    completed_run(out, overrides)
    before = snapshot(out)

    monkeypatch.setenv("FAULT", "first-step")
    result = CliRunner().invoke(app, ["run", str(program), *overrides, "--overwrite"])
    assert result.exit_code == 1, result.output + result.stderr
    assert f"the run this one was to replace is back in {out}, unchanged" in result.stdout
    assert snapshot(out) == before  # the same files, sizes and times: put back, not rewritten

    monkeypatch.setenv("FAULT", "third-step")
    result = CliRunner().invoke(app, ["run", str(program), *overrides, "--overwrite"])
    assert result.exit_code == 1, result.output
    assert not (out / "eval.json").exists() and not (out / run_folder.REPLACED).exists()  # replaced after step 1
    assert train_steps(out) == [1, 2]
    recorded = info(out)
    assert recorded["status"] == "failed" and recorded["global_step"] == 2
    assert recorded["reason"] == "RuntimeError: out of memory (injected)"


@pytest.mark.slow
def test_a_full_disk_at_the_final_save_is_recorded_as_failed(tiny_model, hh_files, tmp_path, monkeypatch):
    program = tmp_path / "faulty.py"
    program.write_text(FAULTY_PROGRAM)
    out = tmp_path / "run"
    monkeypatch.setenv("FAULT", "save")
    result = CliRunner().invoke(app, ["run", str(program), *tiny_overrides(tiny_model, *hh_files, out)])
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.stderr.strip().splitlines()[-1]
    recorded = info(out)
    assert recorded["status"] == "failed" and recorded["global_step"] == 3
    assert recorded["reason"] == "OSError: [Errno 28] No space left on device"
    # The checkpoint of the last step is complete: a resume finishes the run from it without training.
    monkeypatch.setenv("FAULT", "none")
    result = CliRunner().invoke(app, ["run", str(program), *tiny_overrides(tiny_model, *hh_files, out), "--resume"])
    assert result.exit_code == 0, result.output
    assert "saved it again from" in result.stdout and info(out)["status"] == "completed"
    assert (out / "adapter_model.safetensors").read_bytes() == (
        out / "checkpoint-3" / "adapter_model.safetensors"
    ).read_bytes()


# --- a bug, and programs that train on their own ---------------------------------------------------------------
def test_internal_error_is_exit_1_with_traceback_only_behind_debug(tiny_model, hh_files, tmp_path, monkeypatch):
    from trlrecipes.run import execute as launch

    def bug(cfg, *args, **kwargs):  # a bug in trlrecipes itself (a broken model folder is the user's: exit 2)
        raise RuntimeError("a bug")

    monkeypatch.setattr(launch, "start", bug)
    out = tmp_path / "run"
    args = ["run", "hh-dpo", *tiny_overrides(tiny_model, *hh_files, out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr and "rerun with --debug" in result.stderr.strip().splitlines()[-1]
    assert not out.exists()
    debug = CliRunner().invoke(app, [*args, "--debug"])
    assert debug.exit_code == 1 and "Traceback" in debug.stderr
    assert not out.exists()


SELF_TRAINING = '''"""A recipe that trains on its own (no run.train()): its folder is still recorded as a run."""
from dataclasses import dataclass


@dataclass
class Config:
    output_dir: str = ""


def main(cfg, run):
    run.dir.mkdir(parents=True, exist_ok=True)
    (run.dir / "weights.txt").write_text("trained")
'''


def test_a_recipe_without_run_train_is_still_recorded(tmp_path):
    recipe = tmp_path / "own.py"
    recipe.write_text(SELF_TRAINING)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(recipe), f"output_dir={out}"])
    assert result.exit_code == 0, result.output
    assert (out / "weights.txt").read_text() == "trained"
    assert (out / "config.yaml").is_file() and (out / "program.py").is_file()
    # --overwrite of that run: what the recipe writes is never emptied after the fact
    result = CliRunner().invoke(app, ["run", str(recipe), f"output_dir={out}", "--overwrite"])
    assert result.exit_code == 0 and (out / "weights.txt").is_file()


OWN_TRAINING = '''"""A program that trains on its own (no run.train()); FAIL=1: it fails after it started."""
import os
from dataclasses import dataclass


@dataclass
class Config:
    output_dir: str = ""


def main(cfg, run):
    run.begin(before_training=False)
    (run.dir / "weights.txt").write_text("trained")
    if os.environ.get("FAIL"):
        raise RuntimeError("the program's own loop broke")
'''


def test_a_program_without_run_train_ends_with_a_true_status(tmp_path, monkeypatch):
    program = tmp_path / "own.py"
    program.write_text(OWN_TRAINING)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(program), f"output_dir={out}"])
    assert result.exit_code == 0, result.output
    assert info(out)["status"] == "completed"
    monkeypatch.setenv("FAIL", "1")
    result = CliRunner().invoke(app, ["run", str(program), f"output_dir={out}", "--overwrite"])
    assert result.exit_code == 1, result.output
    assert info(out)["status"] == "failed" and info(out)["reason"] == "RuntimeError: the program's own loop broke"
