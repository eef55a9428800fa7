"""Nothing lost, for real (issue 14): a resume cannot overrun a finished run, one process per run folder, a resume
refuses changed data, --overwrite keeps the old run when the new settings fail, no secret is echoed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import hh_rows, tiny_overrides, write_jsonl
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.errors import UserError
from trlrecipes.run import folder as run_folder
from trlrecipes.run.record import RunRecord

CLI = [sys.executable, "-m", "trlrecipes.cli"]


def train_steps(folder: Path) -> list[int]:
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [record["step"] for record in records if "loss" in record]


def subprocess_env() -> dict:
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def snapshot(folder: Path):
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def info(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


# --- --resume past the end ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_resume_of_a_finished_run_trains_nothing_and_restores_the_final_adapter(tiny_model, hh_files, tmp_path):
    out = tmp_path / "run"
    base = ["run", "hh-dpo", *tiny_overrides(tiny_model, *hh_files, out), "save_steps=1", "eval_steps=0"]
    done = CliRunner().invoke(app, base)
    assert done.exit_code == 0, done.output
    adapter, final = out / "adapter_model.safetensors", out / "checkpoint-3" / "adapter_model.safetensors"
    before = snapshot(out)

    # The same max_steps, or a smaller one: nothing trains, nothing of the finished run changes.
    for extra in ([], ["max_steps=2"]):
        again = CliRunner().invoke(app, [*base, *extra, "--resume"])
        assert again.exit_code == 0, again.output
        assert "is complete (checkpoint-3 is at or past max_steps=" in again.stdout
        assert "resuming from" not in again.stdout
        assert train_steps(out) == [1, 2, 3]
        assert {k: v for k, v in snapshot(out).items() if k not in ("run.json", run_folder.LOCK_FILE)} == {
            k: v for k, v in before.items() if k not in ("run.json", run_folder.LOCK_FILE)
        }

    # As kill -9 during the final save leaves it: no adapter at the top, status still "running".
    adapter.unlink()
    RunRecord(out).update_info(status="running")
    again = CliRunner().invoke(app, [*base, "--resume"])
    assert again.exit_code == 0, again.output
    assert f"saved it again from {out / 'checkpoint-3'}" in again.stdout
    assert adapter.read_bytes() == final.read_bytes()
    assert info(out)["status"] == "completed" and info(out)["global_step"] == 3
    assert train_steps(out) == [1, 2, 3]

    # Raising max_steps continues as before.
    more = CliRunner().invoke(app, [*base, "max_steps=5", "--resume"])
    assert more.exit_code == 0, more.output
    assert f"resuming from {out / 'checkpoint-3'}" in more.stdout
    assert train_steps(out) == [1, 2, 3, 4, 5]
    assert info(out)["status"] == "completed" and info(out)["global_step"] == 5


def test_reaches_end_reads_max_steps_or_the_epochs_of_the_checkpoint(tmp_path):
    class Cfg:
        max_steps, num_train_epochs = 4, 1.0

    checkpoint = tmp_path / "checkpoint-4"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 4, "epoch": 1.0}))
    assert run_folder.reaches_end(checkpoint, Cfg)
    Cfg.max_steps = 5
    assert not run_folder.reaches_end(checkpoint, Cfg)
    Cfg.max_steps = 0  # epochs decide
    assert run_folder.reaches_end(checkpoint, Cfg)
    Cfg.num_train_epochs = 2.0
    assert not run_folder.reaches_end(checkpoint, Cfg)


# --- one process per run folder -----------------------------------------------------------------------------------
def test_folder_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    folder = tmp_path / "new"
    first = run_folder.FolderLock(folder).acquire("trlrecipes run hh-dpo output_dir=new")
    assert run_folder.is_locked(folder)
    with pytest.raises(UserError, match=rf"in use by another run \(pid {os.getpid()}: trlrecipes run hh-dpo"):
        run_folder.FolderLock(folder).acquire("second")
    assert not run_folder.is_nonempty(folder)  # the lock file is no content: the folder is still free for a run
    first.release(undo=True)  # a start that failed: the folder it made is gone
    assert not folder.exists() and not run_folder.is_locked(folder)


@pytest.mark.slow
def test_a_second_run_into_a_held_folder_exits_2_at_once_and_kill_9_leaves_no_lock(tiny_model, hh_files, tmp_path):
    out = tmp_path / "run"
    overrides = tiny_overrides(tiny_model, *hh_files, out) + ["max_steps=1000", "save_steps=2", "eval_steps=0"]
    log = open(tmp_path / "first.txt", "w")
    first = subprocess.Popen(
        [*CLI, "run", "hh-dpo", *overrides], stdout=log, stderr=subprocess.STDOUT, env=subprocess_env()
    )
    try:
        deadline = time.monotonic() + 180
        while not (out / "checkpoint-2" / run_folder.COMPLETE_MARKER).is_file():
            assert first.poll() is None, (tmp_path / "first.txt").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint-2 within 180 s"
            time.sleep(0.2)
        for flags in (["--overwrite"], ["--resume"]):
            started = time.monotonic()
            second = subprocess.run(
                [*CLI, "run", "hh-dpo", *overrides, *flags],
                capture_output=True,
                text=True,
                env=subprocess_env(),
                timeout=120,
            )
            assert second.returncode == 2, second.stderr
            assert f"is in use by another run (pid {first.pid}: " in second.stderr
            assert "run hh-dpo" in second.stderr and second.stderr.count("\n") == 1
            assert time.monotonic() - started < 30  # refused before anything heavy loads
        assert first.poll() is None  # the first run was not disturbed
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
        log.close()
    assert not run_folder.is_locked(out)
    steps = train_steps(out)
    assert steps == list(range(1, steps[-1] + 1))  # one run's steps, each once
    # The folder is free again at once: a resume up to the newest checkpoint finishes the run without training.
    newest = run_folder.newest_valid_checkpoint(out)
    step = run_folder.checkpoint_step(newest)
    resumed = subprocess.run(
        [*CLI, "run", "hh-dpo", *overrides, f"max_steps={step}", "--resume"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"the run in {out} ended abruptly (its run.json still says running)" in resumed.stdout
    assert "is complete" in resumed.stdout
    assert (out / "adapter_model.safetensors").read_bytes() == (newest / "adapter_model.safetensors").read_bytes()
    assert info(out)["status"] == "completed"


# --- a resume refuses changed data ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_resume_refuses_data_that_changed_since_the_run(tiny_model, hh_files, tmp_path):
    train, test = tmp_path / "train.jsonl", hh_files[1]
    rows = hh_rows(24)
    write_jsonl(train, rows)
    out = tmp_path / "run"
    base = [
        "run",
        "hh-dpo",
        *tiny_overrides(tiny_model, train, test, out),
        "max_steps=2",
        "save_steps=1",
        "eval_steps=0",
    ]
    done = CliRunner().invoke(app, base)
    assert done.exit_code == 0, done.output
    recorded = info(out)["data_fingerprints"]
    assert recorded["train"]["rows"] == 24 and recorded["eval"]["rows"] == 8 and len(recorded["train"]["sha256"]) == 64
    before = snapshot(out)

    swapped = [{"chosen": row["rejected"], "rejected": row["chosen"]} for row in rows]
    for changed, counts in (
        (swapped[:10], "24 rows then, 10 rows now"),
        (swapped, "24 rows then, 24 rows now (same count, different content)"),
    ):
        write_jsonl(train, changed)  # rewritten in place between the run and the resume
        again = CliRunner().invoke(app, [*base, "max_steps=4", "--resume"])
        assert again.exit_code == 2, again.output
        assert f"--resume: the train data changed since {out} was trained ({counts})" in again.stderr
        assert [line for line in again.stderr.splitlines() if "error" in line] == [again.stderr.splitlines()[-1]]
        assert {k: v for k, v in snapshot(out).items() if k != run_folder.LOCK_FILE} == {
            k: v for k, v in before.items() if k != run_folder.LOCK_FILE
        }

    write_jsonl(train, rows)  # restored: the resume goes on
    again = CliRunner().invoke(app, [*base, "max_steps=4", "--resume"])
    assert again.exit_code == 0, again.output
    assert train_steps(out) == [1, 2, 3, 4]


# --- --overwrite keeps the old run when the new settings fail ------------------------------------------------------
def make_completed_run(folder: Path, overrides: list[str]) -> None:
    from trlrecipes.run.execute import RunFlags, resolve
    from trlrecipes.run.recipes import resolve_recipe
    from trlrecipes.run.resolve import to_dict

    cfg = resolve(resolve_recipe("hh-dpo"), RunFlags(overrides=overrides))
    cfg.output_dir = str(folder)
    folder.mkdir(parents=True)
    RunRecord(folder).write_config(to_dict(cfg))
    (folder / "run.json").write_text('{"status": "completed", "global_step": 3}\n')
    (folder / "metrics.jsonl").write_text('{"step": 3, "loss": 0.6}\n')
    (folder / "adapter_model.safetensors").write_bytes(b"\1" * 16)
    (folder / "eval.json").write_text("{}\n")
    checkpoint = folder / "checkpoint-3"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text('{"global_step": 3}')
    (checkpoint / "adapter_model.safetensors").write_bytes(b"\1" * 16)
    (checkpoint / run_folder.COMPLETE_MARKER).write_text("ok\n")


# Values TRL, transformers or torch reject only once training starts (an --overwrite had emptied the folder by then).
FAILING_VALUES = [
    ("hh-dpo", "learning_rate=nan", "learning_rate=nan is impossible: it must be a finite number"),
    ("hh-dpo", "learning_rate=inf", "learning_rate=inf is far too high"),  # already refused by config.py
    ("hh-dpo", "beta=nan", "beta=nan is impossible"),
    ("hh-dpo", "trl.weight_decay=nan", "trl.weight_decay=nan is impossible"),
    ("hh-dpo", "loss_type=bogus", "loss_type='bogus' is not one of the losses TRL's DPOConfig knows (sigmoid, hinge"),
    ("hh-dpo", "loss_type=ipoo", "did you mean 'ipo'?"),
    ("hh-kto", "trl.loss_type=sigmoid", "loss_type='sigmoid' is not one of the losses TRL's KTOConfig knows (kto, "),
    ("hh-dpo", "report_to=wandb", "report_to=wandb needs the wandb package, which is not installed"),
    ("hh-dpo", "report_to=nosuch", "report_to='nosuch' is not a tracker transformers knows"),
]


@pytest.mark.parametrize("recipe, value, fragment", FAILING_VALUES, ids=[case[1] for case in FAILING_VALUES])
def test_a_value_that_fails_leaves_the_completed_run_intact_and_dry_run_says_so(
    recipe, value, fragment, tiny_model, hh_files, tmp_path
):
    out = tmp_path / "done"
    base = ["run", recipe, *tiny_overrides(tiny_model, *hh_files, out)]
    make_completed_run(out, base[2:])
    before = snapshot(out)
    for flags in (["--overwrite"], ["--dry-run"]):
        result = CliRunner().invoke(app, [*base, value, *flags])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
        assert fragment in result.stderr
        assert result.stdout == ""
        assert snapshot(out) == before


def test_the_loss_and_tracker_names_are_trls():
    import dataclasses
    import inspect

    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK
    from trl import DPOTrainer, KTOConfig

    from trlrecipes.run.preflight import LOSS_TYPES, TRACKERS

    source = inspect.getsource(DPOTrainer)
    listed = source[source.index("Unknown loss type") :].split("[", 1)[1].split("]", 1)[0]
    assert tuple(name.strip(" '\"\n") for name in listed.replace('"', "").split(",")) == LOSS_TYPES["DPOConfig"]
    kto = {f.name: f for f in dataclasses.fields(KTOConfig)}["loss_type"]
    assert tuple(kto.metadata["choices"]) == LOSS_TYPES["KTOConfig"]
    assert set(TRACKERS) == set(INTEGRATION_TO_CALLBACK)


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
    make_completed_run(out, overrides)
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


# --- status: what eval / generate / merge are told about a run that did not complete -------------------------------
def test_tools_warn_about_a_run_that_did_not_complete(tmp_path, capsys):
    from trlrecipes.tools.loading import open_run as read

    def load_run_config(folder):  # the warning comes first; this stand-in folder has no real model to check after it
        with contextlib.suppress(UserError):
            read(folder)

    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("model: m\n")
    (out / "adapter_config.json").write_text("{}")
    checkpoint = out / "checkpoint-2"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text('{"global_step": 2}')
    (checkpoint / "adapter_model.safetensors").write_bytes(b"\1")
    (checkpoint / run_folder.COMPLETE_MARKER).write_text("ok\n")

    RunRecord(out).update_info(status="completed", global_step=2)
    load_run_config(out)  # what eval, generate and merge read first
    assert capsys.readouterr().err == ""

    RunRecord(out).update_info(status="running")  # as kill -9 leaves it: nobody holds the folder
    load_run_config(out)
    err = capsys.readouterr().err
    assert err.startswith(f"warning: {out}: the run ended abruptly") and err.count("\n") == 1
    assert "resume from checkpoint-2 with --resume" in err

    lock = run_folder.FolderLock(out).acquire("trlrecipes run hh-dpo")
    try:
        load_run_config(out)
        assert f"is still training (pid {os.getpid()}: trlrecipes run hh-dpo)" in capsys.readouterr().err
    finally:
        lock.release()

    RunRecord(out).update_info(status="failed", reason="OSError: [Errno 28] No space left on device")
    load_run_config(out)
    assert (
        "not a completed run (failed at step 2: OSError: [Errno 28] No space left on device)"
        in capsys.readouterr().err
    )
    RunRecord(out).update_info(status="interrupted", reason=None)
    load_run_config(out)
    assert (
        "(interrupted at step 2); using the adapter at the top of the folder (saved at step 2)"
        in capsys.readouterr().err
    )


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


# --- no secret value on stdout/stderr ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [["hub_token=hf_abc"], ["trl.hub_token=hf_abc"], ["trl.hub_token=hf_abc", "beta=x"]],
    ids=["not-mirrored", "trl-field", "other-error"],
)
def test_no_secret_in_any_output(args):
    result = CliRunner().invoke(app, ["run", "hh-dpo", *args, "--dry-run"])
    assert "hf_abc" not in result.stdout and "hf_abc" not in result.stderr
    if args == ["hub_token=hf_abc"]:
        assert result.exit_code == 2
        assert "use 'trl.hub_token=<redacted>'" in result.stderr


def test_coerce_never_repeats_a_secret_value():
    from trlrecipes.values import coerce

    for key in ("api_key", "trl.hub_token", "wandb_password"):
        with pytest.raises(UserError) as err:
            coerce("hf_abc", int, key)
        assert "hf_abc" not in str(err.value) and "<redacted>" in str(err.value)
    with pytest.raises(UserError, match="'lots' is not an integer"):
        coerce("lots", int, "max_steps")  # other values are still shown


def test_nan_advice_names_the_knob_for_the_cause():
    """After a non-finite loss: beta when it is far above DPO's usual range, else the learning rate (#14 item 7)."""
    from types import SimpleNamespace

    from trlrecipes.run.lifecycle import nan_advice

    dpo = dict(loss_type=["sigmoid"], precompute_ref_log_probs=False)
    assert "lower beta" in nan_advice(SimpleNamespace(beta=5.0, learning_rate=5e-6, **dpo))
    advice = nan_advice(SimpleNamespace(beta=0.1, learning_rate=1e-3, **dpo))
    assert "Lower learning_rate (e.g. learning_rate=1e-04)" in advice and "beta" not in advice
    assert "beta" not in nan_advice(SimpleNamespace(beta=2.5, learning_rate=1e-5, loss_type="simpo"))  # SimPO's beta
