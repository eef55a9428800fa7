"""Nothing lost, nothing cryptic: interrupts, resume, NaN, bad configs, bad data, folder safety, secrets.

The end-to-end tests train the tiny model in a subprocess (real signals, real exit codes); the bad-input table
runs through the CLI in one subprocess that also proves nothing heavy (torch, transformers, trl, ...) was imported
before the error.
"""

import csv
import json
import os
import shlex
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
from trlrecipes.run.execute import RunFlags, redact_args, resolve, resume_command
from trlrecipes.run.recipes import builtin_dir, resolve_recipe
from trlrecipes.run.record import RunRecord
from trlrecipes.run.resolve import is_secret, to_dict

CLI = [sys.executable, "-m", "trlrecipes.cli"]
HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "bitsandbytes")
SECRET, ENV_SECRET = "abc123", "hf_env_secret_xyz"


# --- helpers ----------------------------------------------------------------------------------------------------
def snapshot(folder: Path):
    """Every path under `folder` with its size and mtime (None when the folder does not exist)."""
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def train_steps(folder: Path) -> list[int]:
    steps = []
    for line in (folder / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "loss" in record:
            steps.append(record["step"])
    return steps


def subprocess_env() -> dict:
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_TOKEN": ENV_SECRET,
    }


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
        proc = subprocess.Popen(command, stdout=so, stderr=se, env=subprocess_env())
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


# --- interrupts and resume (real training in a subprocess) ------------------------------------------------------
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
        [*CLI, *command[1:], f"max_steps={final}"], capture_output=True, text=True, env=subprocess_env(), timeout=240
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
        env=subprocess_env(),
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
        env=subprocess_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    out = tmp_path / "resumed"
    command = [*CLI, "run", "hh-dpo", *tiny_overrides(tiny_model, *hh_files, out), *settings]
    rc, _, stderr = start_and_signal(command, out, tmp_path, signal.SIGINT, 3)
    assert rc == 130, stderr[-3000:]
    stopped = train_steps(out)[-1]
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected, got = losses(straight), losses(out)
    assert stopped < 16 and sorted(got) == sorted(expected) == list(range(1, 17))
    for step in range(1, 17):
        assert got[step] == pytest.approx(expected[step], rel=1e-4, abs=1e-6), f"step {step} (stopped at {stopped})"


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


# --- bad configs, bad data, folder safety: one line, exit 2, nothing heavy, nothing written --------------------
DRIVER = r"""
import json, sys
from pathlib import Path

from typer.testing import CliRunner
from trlrecipes.cli import app

HEAVY = %r

def snapshot(folder):
    folder = Path(folder)
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): [p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(folder.rglob("*"))}

cases, watch = json.loads(Path(sys.argv[1]).read_text())
results = {}
for case in cases:
    for name in case["block"]:
        sys.modules[name] = None  # `import name` now fails, as when the package is not installed
    before = {path: snapshot(path) for path in watch}
    result = CliRunner().invoke(app, case["args"])
    for name in case["block"]:
        del sys.modules[name]
    results[case["id"]] = {
        "exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr,
        "heavy": sorted(name for name in HEAVY if sys.modules.get(name) is not None),
        "changed": [path for path in watch if snapshot(path) != before[path]],
    }
Path(sys.argv[2]).write_text(json.dumps(results))
""" % (HEAVY,)  # noqa: UP031  (the script holds braces of its own)

# (id, extra arguments, which output_dir, expected fragment of the error line). Unless a case says otherwise it
# targets an existing run with --overwrite: the most destructive flag must not touch the old run on a bad input.
BAD_INPUTS = [
    ("unknown-key", ["learning_rat=1e-5"], "existing", "did you mean 'learning_rate'"),
    ("wrong-type", ["beta=high"], "existing", "'beta': 'high' is not a number"),
    ("wrong-bool", ["activation_checkpointing=maybe"], "existing", "not a boolean"),
    ("negative-learning-rate", ["learning_rate=-1e-5"], "existing", "learning_rate=-1e-05 is impossible"),
    ("zero-beta", ["beta=0"], "existing", "beta=0.0 is impossible"),
    ("zero-batch-size", ["per_device_train_batch_size=0"], "existing", "per_device_train_batch_size=0"),
    ("max-length-too-small", ["max_length=8"], "existing", "max_length=8 is too small"),
    ("save-not-multiple-of-logging", ["logging_steps=2", "save_steps=3"], "existing", "multiple of logging_steps"),
    ("negative-eval-steps", ["eval_steps=-1"], "existing", "eval_steps=-1 is impossible"),
    ("lora-dropout", ["lora_dropout=1.5"], "existing", "lora_dropout=1.5"),
    ("unknown-precision", ["precision=fp8"], "existing", "precision='fp8'"),
    ("override-without-value", ["beta"], "existing", "use key=value"),
    ("config-file-missing", ["--config", "{tmp}/missing.yaml"], "existing", "config file not found"),
    ("model-folder-missing", ["model={tmp}/no-such-model"], "existing", "folder not found"),
    ("model-folder-not-a-model", ["model={tmp}/not-a-model"], "existing", "no config.json"),
    (
        "model-not-cached-offline",
        ["model=nobody-xyz/no-such-model"],
        "existing",
        "not in the local Hugging Face cache",
    ),
    ("4bit-without-bitsandbytes", ["load_in_4bit=true"], "existing", "bitsandbytes"),
    ("data-missing", ["dataset={tmp}/data/missing.jsonl"], "existing", "file not found"),
    ("data-empty", ["dataset={tmp}/data/empty.jsonl"], "existing", "the file is empty"),
    ("data-not-json-lines", ["dataset={tmp}/data/not-json.jsonl"], "existing", "not valid JSON"),
    ("data-field-missing", ["dataset={tmp}/data/no-rejected.jsonl"], "existing", "missing field(s) 'rejected'"),
    ("data-no-usable-rows", ["dataset={tmp}/data/identical.jsonl"], "existing", "identical_replies"),
    ("eval-data-not-json-lines", ["eval_dataset={tmp}/data/not-json.jsonl"], "existing", "eval_dataset"),
    ("data-is-a-folder", ["dataset={tmp}/data"], "existing", "is a folder"),
    ("data-format-unknown", ["data_format=nope"], "existing", "unknown data format 'nope'"),
    ("fresh-folder-bad-value", ["beta=0"], "fresh", "beta=0.0 is impossible"),
    ("fresh-folder-no-usable-rows", ["dataset={tmp}/data/identical.jsonl"], "fresh", "identical_replies"),
    ("existing-run-without-flag", [], "existing-plain", "pass --resume to continue it or --overwrite to replace it"),
    ("resume-nothing", ["--resume"], "fresh-plain", "holds no run to continue"),
    ("resume-with-changed-beta", ["--resume", "beta=0.2"], "existing-plain", "beta: 0.1 -> 0.2"),
    ("resume-and-overwrite", ["--resume"], "existing", "contradict"),
    ("overwrite-a-folder-that-is-no-run", [], "not-a-run", "holds no trlrecipes run"),
]


def make_run_folder(folder: Path, overrides: list[str]) -> None:
    """A run folder as an interrupted run leaves it: config, run.json, metrics, a complete checkpoint."""
    cfg = resolve(resolve_recipe("hh-dpo"), RunFlags(overrides=overrides))
    cfg.output_dir = str(folder)
    folder.mkdir(parents=True)
    RunRecord(folder).write_config(to_dict(cfg))
    (folder / "run.json").write_text('{"status": "interrupted", "global_step": 2}\n')
    (folder / "metrics.jsonl").write_text('{"step": 1, "loss": 0.69}\n{"step": 2, "loss": 0.68}\n')
    make_checkpoint(folder, 2)


def make_checkpoint(
    folder: Path, step: int, *, complete: bool = True, state: str | None = None, weights: bytes = b"\1" * 16
) -> Path:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "trainer_state.json").write_text(state if state is not None else json.dumps({"global_step": step}))
    (path / "adapter_model.safetensors").write_bytes(weights)
    if complete:
        (path / run_folder.COMPLETE_MARKER).write_text("ok\n")
    return path


@pytest.fixture(scope="module")
def bad_input_results(tiny_model, hh_files, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad-inputs")
    data = tmp / "data"
    data.mkdir()
    (data / "empty.jsonl").write_text("")
    (data / "not-json.jsonl").write_text('{"chosen": "a", "rejected": "b"}\nthis is not JSON\n')
    write_jsonl(data / "no-rejected.jsonl", [{"chosen": row["chosen"]} for row in hh_rows(3)])
    write_jsonl(data / "identical.jsonl", [{"chosen": row["chosen"], "rejected": row["chosen"]} for row in hh_rows(3)])
    (tmp / "not-a-model").mkdir()
    (tmp / "not-a-model" / "weights.bin").write_bytes(b"\0")
    existing, fresh, not_a_run = tmp / "existing-run", tmp / "fresh", tmp / "not-a-run"
    base = tiny_overrides(tiny_model, *hh_files, existing)
    make_run_folder(existing, base)
    not_a_run.mkdir()
    (not_a_run / "notes.txt").write_text("my notes\n")
    targets = {
        "existing": (existing, ["--overwrite"]),
        "existing-plain": (existing, []),
        "fresh": (fresh, []),
        "fresh-plain": (fresh, []),
        "not-a-run": (not_a_run, ["--overwrite"]),
    }
    cases = []
    for case_id, extra, target, _ in BAD_INPUTS:
        folder, flags = targets[target]
        args = ["run", "hh-dpo", *base, f"output_dir={folder}", *flags, *[a.format(tmp=tmp) for a in extra]]
        block = ["bitsandbytes"] if case_id == "4bit-without-bitsandbytes" else []
        cases.append({"id": case_id, "args": args, "block": block})
    (tmp / "driver.py").write_text(DRIVER)
    (tmp / "cases.json").write_text(json.dumps([cases, [str(existing), str(fresh), str(not_a_run)]]))
    proc = subprocess.run(
        [sys.executable, str(tmp / "driver.py"), str(tmp / "cases.json"), str(tmp / "results.json")],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp / "results.json").read_text()), fresh


@pytest.mark.parametrize(
    "case_id, fragment", [(case[0], case[3]) for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_is_one_line_exit_2_before_anything_heavy(bad_input_results, case_id, fragment):
    results, fresh = bad_input_results
    result = results[case_id]
    assert result["exit_code"] == 2, result
    assert result["stderr"].startswith("error: ") and result["stderr"].count("\n") == 1, result["stderr"]
    assert fragment in result["stderr"]
    assert result["stdout"] == ""
    assert result["heavy"] == [], f"imported before the error: {result['heavy']}"
    assert result["changed"] == [], f"written: {result['changed']}"
    assert not fresh.exists()


# --- failures inside the recipe (after the checks): the run folder is untouched or not created -----------------
def test_data_error_found_while_loading_leaves_the_old_run_untouched(tiny_model, hh_files, tmp_path):
    """CSV is only checked when the recipe loads it (after the run folder was resolved): still exit 2, one line,
    an existing run (even with --overwrite) unchanged, and no folder left behind for a new run."""
    bad = tmp_path / "identical.csv"
    with open(bad, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["chosen", "rejected"])
        writer.writerows([row["chosen"], row["chosen"]] for row in hh_rows(3))
    existing, fresh = tmp_path / "existing", tmp_path / "fresh"
    make_run_folder(existing, tiny_overrides(tiny_model, *hh_files, existing))
    before = snapshot(existing)
    for folder, flags in ((existing, ["--overwrite"]), (fresh, [])):
        args = ["run", "hh-dpo", *tiny_overrides(tiny_model, *hh_files, folder), f"dataset={bad}", *flags]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(error_lines) == 1 and "no usable rows" in error_lines[0], result.stderr
    assert snapshot(existing) == before
    assert not fresh.exists()


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


# --- unit tests: checkpoints, folder rules, resume config, metrics, redaction, signals -------------------------
def test_newest_valid_checkpoint_skips_incomplete_and_damaged_ones(tmp_path):
    good = make_checkpoint(tmp_path, 2)
    make_checkpoint(tmp_path, 4, state='{"global_step": ')  # truncated trainer_state.json
    make_checkpoint(tmp_path, 6, complete=False)  # being written when the process died
    make_checkpoint(tmp_path, 8, state=json.dumps({"global_step": 7}))  # state of another step
    make_checkpoint(tmp_path, 10, weights=b"")  # empty weights
    (tmp_path / "checkpoint-12").write_text("a file, not a folder")
    assert run_folder.newest_valid_checkpoint(tmp_path) == good
    assert [run_folder.is_valid_checkpoint(tmp_path / f"checkpoint-{n}") for n in (2, 4, 6, 8, 10)] == [True] + [
        False
    ] * 4
    removed = run_folder.remove_checkpoints_after(tmp_path, 2)
    assert sorted(p.name for p in removed) == ["checkpoint-10", "checkpoint-4", "checkpoint-6", "checkpoint-8"]
    assert [step for step, _ in run_folder.checkpoints(tmp_path)] == [2]


def test_folder_rules(tmp_path):
    run_path, other = tmp_path / "run", tmp_path / "other"
    make_checkpoint(run_path, 2)
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


def test_secrets_are_redacted_from_saved_command_lines(tmp_path):
    args = ["run", "hh-dpo", "beta=0.2", f"trl.hub_token={SECRET}", f"--api_key={SECRET}", "max_steps=5"]
    assert redact_args(args) == [
        "run",
        "hh-dpo",
        "beta=0.2",
        "trl.hub_token=<redacted>",
        "--api_key=<redacted>",
        "max_steps=5",
    ]
    # Credentials are left out of the printed resume command; a tokenizer's pad_token is a setting and stays.
    options = RunFlags(overrides=["beta=0.2", f"trl.hub_token={SECRET}", "trl.pad_token=<pad>", "output_dir=x"])
    command = resume_command("trlrecipes run hh-dpo", options, tmp_path)
    assert SECRET not in command and command.endswith(f"beta=0.2 'trl.pad_token=<pad>' output_dir={tmp_path} --resume")
    assert [
        is_secret(k)
        for k in (
            "trl.hub_token",
            "HF_TOKEN",
            "wandb_api_key",
            "my_secret",
            "pad_token",
            "trl.eos_token",
            "max_new_tokens",
        )
    ] == [True] * 4 + [False] * 3


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
