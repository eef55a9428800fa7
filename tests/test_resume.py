"""--resume: it continues from the newest complete checkpoint and never overruns a finished run, refuses data or
settings that changed since, and trims what a stopped run logged past its checkpoint. (Resuming after a real Ctrl-C
or SIGTERM: tests/test_interrupts.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.errors import UserError
from trlrecipes.run import folder as run_folder
from trlrecipes.run.execute import RunFlags, resume_command
from trlrecipes.run.record import RunRecord
from trlrecipes.testing import fake_checkpoint, hh_rows, snapshot, tiny_overrides, train_steps, write_jsonl


def info(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


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


def test_newest_valid_checkpoint_skips_incomplete_and_damaged_ones(tmp_path):
    good = fake_checkpoint(tmp_path, 2)
    fake_checkpoint(tmp_path, 4, state='{"global_step": ')  # truncated trainer_state.json
    fake_checkpoint(tmp_path, 6, complete=False)  # being written when the process died
    fake_checkpoint(tmp_path, 8, state=json.dumps({"global_step": 7}))  # state of another step
    fake_checkpoint(tmp_path, 10, weights=b"")  # empty weights
    (tmp_path / "checkpoint-12").write_text("a file, not a folder")
    assert run_folder.newest_valid_checkpoint(tmp_path) == good
    assert [run_folder.is_valid_checkpoint(tmp_path / f"checkpoint-{n}") for n in (2, 4, 6, 8, 10)] == [True] + [
        False
    ] * 4
    removed = run_folder.remove_checkpoints_after(tmp_path, 2)
    assert sorted(p.name for p in removed) == ["checkpoint-10", "checkpoint-4", "checkpoint-6", "checkpoint-8"]
    assert [step for step, _ in run_folder.checkpoints(tmp_path)] == [2]


def test_resume_config_check(tmp_path):
    old = {
        "model": "m",
        "beta": 0.1,
        "max_steps": 10,
        "hub_token": "<redacted>",
        "trl": {"hub_token": "<redacted>", "weight_decay": 0.0},
    }
    RunRecord(tmp_path).write_config(old)
    run_folder.check_resume_config(
        tmp_path, {**old, "max_steps": 50, "output_dir": "elsewhere", "hub_token": "", "trl": {"weight_decay": 0.0}}
    )
    with pytest.raises(UserError, match=r"beta: 0.1 -> 0.2"):
        run_folder.check_resume_config(tmp_path, {**old, "beta": 0.2})
    with pytest.raises(UserError, match=r"trl.weight_decay: 0.0 -> 0.1"):
        run_folder.check_resume_config(tmp_path, {**old, "trl": {"weight_decay": 0.1}})
    # Saved redacted but not a credential: dropping it on resume is a change.
    RunRecord(tmp_path).write_config({**old, "trl": {"pad_token": "<redacted>"}})
    with pytest.raises(UserError, match=r"trl.pad_token"):
        run_folder.check_resume_config(tmp_path, {**old, "trl": {}})


def test_trim_metrics_drops_redone_steps_and_cut_lines(tmp_path):
    lines = [json.dumps({"step": s, "loss": 0.5}) for s in (1, 2, 3, 4)] + ['{"step": 5, "lo']
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    assert run_folder.trim_metrics(tmp_path, 2) == 3
    assert train_steps(tmp_path) == [1, 2]


def test_resume_command_holds_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = resume_command("trlrecipes run hh-dpo", RunFlags(config_file="settings.yaml"), Path("runs/x"))
    assert f"output_dir={tmp_path / 'runs' / 'x'}" in command
    assert f"--config {tmp_path / 'settings.yaml'}" in command
