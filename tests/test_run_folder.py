"""The run folder as a place: one process at a time (a lock that names its holder and dies with it), which folders a
run may use with and without --resume / --overwrite, and a run that fails to start or finds its data unusable leaves
the old run untouched and no folder of its own behind."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.errors import UserError
from trlrecipes.run import folder as run_folder
from trlrecipes.testing import (
    fake_checkpoint,
    fake_preset_run,
    hh_rows,
    snapshot,
    subprocess_env,
    tiny_overrides,
    train_steps,
)

CLI = [sys.executable, "-m", "trlrecipes.cli"]


def info(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


def interrupted_run(folder: Path, overrides: list[str]) -> Path:
    """An hh-dpo run with these settings as an interrupted run leaves it: config, run.json, metrics and a complete
    checkpoint at step 2 (written, not trained)."""
    return fake_preset_run(
        folder,
        "hh-dpo",
        overrides,
        info={"status": "interrupted", "global_step": 2},
        metrics=[{"step": 1, "loss": 0.69}, {"step": 2, "loss": 0.68}],
        checkpoints=[2],
    )


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
    overrides = tiny_overrides(tiny_model, *hh_files, out) + ["max_steps=100000", "save_steps=2", "eval_steps=0"]
    log = open(tmp_path / "first.txt", "w")
    first = subprocess.Popen(
        [*CLI, "run", "hh-dpo", *overrides], stdout=log, stderr=subprocess.STDOUT, env=subprocess_env()
    )
    try:
        deadline = time.monotonic() + 180
        # any complete checkpoint: at ~0.04 s a step, checkpoint-2 can be rotated out between two looks
        while run_folder.newest_valid_checkpoint(out) is None:
            assert first.poll() is None, (tmp_path / "first.txt").read_text()[-3000:]
            assert time.monotonic() < deadline, "no complete checkpoint within 180 s"
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


# --- which folders a run may use ------------------------------------------------------------------------------
def test_folder_rules(tmp_path):
    run_path, other = tmp_path / "run", tmp_path / "other"
    fake_checkpoint(run_path, 2)
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="pass --resume to continue it or --overwrite"):
        run_folder.check_target(run_path, overwrite=False, resume=False)
    run_folder.check_target(run_path, overwrite=False, resume=True)
    run_folder.check_target(run_path, overwrite=True, resume=False)
    with pytest.raises(UserError, match="holds no trlrecipes run"):
        run_folder.check_target(other, overwrite=True, resume=False)
    with pytest.raises(UserError, match="holds no run to continue"):
        run_folder.check_target(tmp_path / "missing", overwrite=False, resume=True)
    run_folder.check_target(tmp_path / "missing", overwrite=False, resume=False)
    assert not (tmp_path / "missing").exists()


FAILING_START = '''"""A recipe interrupted while it loads, after the Trainer's constructor made the output folder."""
from dataclasses import dataclass


@dataclass
class Config:
    output_dir: str = ""


def main(cfg, run):
    run.dir.mkdir(parents=True, exist_ok=True)
    raise KeyboardInterrupt
'''


def test_a_start_that_fails_removes_only_the_folder_it_created(tmp_path):
    recipe = tmp_path / "failing.py"
    recipe.write_text(FAILING_START)
    new = tmp_path / "new"
    result = CliRunner().invoke(app, ["run", str(recipe), f"output_dir={new}"])
    assert result.exit_code == 130 and not new.exists()
    made_by_user = tmp_path / "empty-but-mine"
    made_by_user.mkdir()
    result = CliRunner().invoke(app, ["run", str(recipe), f"output_dir={made_by_user}"])
    assert result.exit_code == 130 and made_by_user.is_dir()


def test_data_error_found_while_loading_leaves_the_old_run_untouched(tiny_model, hh_files, tmp_path):
    """CSV is only checked when the recipe loads it (after the run folder was resolved): still exit 2, one line,
    an existing run (even with --overwrite) unchanged, and no folder left behind for a new run."""
    bad = tmp_path / "identical.csv"
    with open(bad, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["chosen", "rejected"])
        writer.writerows([row["chosen"], row["chosen"]] for row in hh_rows(3))
    existing, fresh = tmp_path / "existing", tmp_path / "fresh"
    interrupted_run(existing, tiny_overrides(tiny_model, *hh_files, existing))
    before = snapshot(existing)
    for folder, flags in ((existing, ["--overwrite"]), (fresh, [])):
        args = ["run", "hh-dpo", *tiny_overrides(tiny_model, *hh_files, folder), f"dataset={bad}", *flags]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(error_lines) == 1 and "no usable rows" in error_lines[0], result.stderr
    assert snapshot(existing) == before
    assert not fresh.exists()
