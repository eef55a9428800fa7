"""A sweep folder belongs to one set of settings; reruns resume what was stopped or killed; Ctrl-C / SIGTERM stop the
whole sweep (trlrecipes.tools.sweep). Most tests replace the member's training with a fake that writes what a run
writes (run.json, config.yaml), so they take milliseconds; the last ones train the tiny model or send real signals."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.errors import RunStopped, UserError
from trlrecipes.run import folder as run_folder
from trlrecipes.run.record import RunRecord
from trlrecipes.testing import tiny_overrides
from trlrecipes.tools import sweep as sweep_module
from trlrecipes.tools.sweep import default_sweep_dir, sweep

FIXED = ["model=tiny", "dataset=train.jsonl", "data_format=hh-rlhf", "max_steps=4"]


class FakeMembers:
    """Stands in for `run_member`: records each call and writes the folder a finished run leaves (run.json,
    config.yaml as the run would resolve it); `stop` maps a member name to the exception its run raises."""

    def __init__(self, stop=None):
        self.calls = []
        self.stop = stop or {}

    def __call__(self, recipe, name, overrides, *, demo, resume, overwrite, config_file):
        out = Path(next(o for o in overrides if o.startswith("output_dir=")).partition("=")[2])
        self.calls.append({"name": out.name, "resume": resume, "overwrite": overwrite})
        cfg = sweep_module._member_config(
            recipe, [o for o in overrides if not o.startswith("output_dir=")], demo=demo, config_file=config_file
        )
        out.mkdir(parents=True, exist_ok=True)
        RunRecord(out).write_config({**cfg, "output_dir": str(out)})
        error = self.stop.get(out.name)
        status = "interrupted" if error is not None else "completed"
        (out / "run.json").write_text(json.dumps({"status": status, "method": "DPO"}))
        if error is not None:
            raise error
        return SimpleNamespace(dir=out)


@pytest.fixture
def fake(monkeypatch):
    members = FakeMembers()
    monkeypatch.setattr(sweep_module, "run_member", members)
    return members


def _record(folder):
    return json.loads((folder / "sweep.json").read_text())


def _sweep(folder, *items, **kwargs):
    return sweep("hh-dpo", [*FIXED, *items], out=folder, evaluate=False, **kwargs)


# --- one sweep folder, one set of settings ----------------------------------------------------------------------
def test_a_changed_fixed_value_into_the_same_out_is_refused_naming_it(tmp_path, fake, capsys):
    folder = tmp_path / "sweep"
    _sweep(folder, "beta=0.1,0.5", "learning_rate=1e-3")
    assert [c["name"] for c in fake.calls] == ["01-beta=0.1", "02-beta=0.5"]
    before = (folder / "sweep.json").read_text()
    with pytest.raises(UserError) as refused:
        _sweep(folder, "beta=0.1,0.5", "learning_rate=1e-5")
    message = str(refused.value)
    assert "learning_rate=1e-3 -> learning_rate=1e-5" in message and "--restart" in message
    assert (folder / "sweep.json").read_text() == before and len(fake.calls) == 2  # nothing ran, nothing rewritten
    # The same settings continue it: both members skipped.
    capsys.readouterr()
    _sweep(folder, "beta=0.1,0.5", "learning_rate=1e-3")
    assert capsys.readouterr().out.count("completed earlier, skipped") == 2 and len(fake.calls) == 2

    # restart: the earlier members are removed and trained anew with the new settings
    _sweep(folder, "beta=0.1,0.5", "learning_rate=1e-5", restart=True)
    assert [(c["name"], c["resume"], c["overwrite"]) for c in fake.calls[2:]] == [
        ("01-beta=0.1", False, False),
        ("02-beta=0.5", False, False),
    ]
    assert _record(folder)["settings"]["fixed"]["learning_rate"] == "1e-5"
    assert "learning_rate: 1.0e-05" in (folder / "01-beta=0.1" / "config.yaml").read_text()


@pytest.mark.parametrize(
    "changed, phrase",
    [
        (["beta=0.1,0.2"], "beta=0.1,0.5 -> beta=0.1,0.2"),
        (["beta=0.1,0.5", "lora_r=4"], "lora_r=(not set) -> lora_r=4"),
        (["beta=0.1,0.5", "max_steps=8"], "max_steps=4 -> max_steps=8"),
    ],
)
def test_other_grid_or_settings_are_refused(tmp_path, fake, changed, phrase):
    folder = tmp_path / "sweep"
    _sweep(folder, "beta=0.1,0.5")
    with pytest.raises(UserError, match="holds a sweep with other settings") as refused:
        sweep("hh-dpo", [*FIXED, *changed], out=folder, evaluate=False)
    assert phrase in str(refused.value)


def test_a_member_trained_with_other_settings_is_refused_even_without_sweep_json(tmp_path, fake):
    """A folder from before sweep.json recorded the settings (or without it): each member that would be reused is
    checked against its own config.yaml."""
    folder = tmp_path / "sweep"
    _sweep(folder, "beta=0.1,0.5", "learning_rate=1e-3")
    (folder / "sweep.json").unlink()
    with pytest.raises(UserError, match=r"01-beta=0.1: learning_rate 0.001 -> 1e-05"):
        _sweep(folder, "beta=0.1,0.5", "learning_rate=1e-5")


def test_config_file_contents_key_the_default_folder_and_are_checked(tmp_path, fake, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second, copy = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "copy.yaml"
    first.write_text("learning_rate: 1.0e-3\n")
    second.write_text("learning_rate: 1.0e-5\n")
    copy.write_text(first.read_text())
    grid = {"beta": ["0.1", "0.5"]}
    a = default_sweep_dir("hh-dpo", grid, FIXED, False, str(first))
    assert a != default_sweep_dir("hh-dpo", grid, FIXED, False, str(second))
    assert a == default_sweep_dir("hh-dpo", grid, FIXED, False, str(copy))  # the contents, not the path
    # Without --config the name is what it always was, so earlier default folders are still found.
    legacy = hashlib.sha256(json.dumps(["hh-dpo", grid, sorted(FIXED), False]).encode()).hexdigest()[:8]
    assert default_sweep_dir("hh-dpo", grid, FIXED, False) == Path("runs/sweeps") / f"hh-dpo-{legacy}"

    sweep("hh-dpo", [*FIXED, "beta=0.1,0.5"], evaluate=False, config_file=str(first))
    sweep("hh-dpo", [*FIXED, "beta=0.1,0.5"], evaluate=False, config_file=str(second))
    assert len(fake.calls) == 4  # two folders, nothing skipped
    assert sorted(p.name for p in (tmp_path / "runs" / "sweeps").iterdir()) == sorted(
        [a.name, default_sweep_dir("hh-dpo", grid, FIXED, False, str(second)).name]
    )
    # the same --config path with other contents, into the same --out: refused
    out = tmp_path / "out"
    sweep("hh-dpo", [*FIXED, "beta=0.1,0.5"], out=out, evaluate=False, config_file=str(first))
    first.write_text("learning_rate: 2.0e-3\n")
    with pytest.raises(UserError, match=r"--config .*a.yaml -> .*a.yaml \(other contents\)"):
        sweep("hh-dpo", [*FIXED, "beta=0.1,0.5"], out=out, evaluate=False, config_file=str(first))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_text("x"), "is a file, not a folder"),
        (lambda p: None, None),  # a new folder: fine
    ],
)
def test_out_must_be_a_folder(tmp_path, fake, make, message):
    out = tmp_path / "out"
    make(out)
    if message:
        with pytest.raises(UserError, match=message):
            _sweep(out, "beta=0.1,0.5")
        assert fake.calls == []
    else:
        _sweep(out, "beta=0.1,0.5")


def test_out_under_proc_and_a_foreign_folder_are_refused(tmp_path, fake):
    with pytest.raises(UserError, match="--out /proc/sweep: cannot write in /proc"):
        _sweep(Path("/proc/sweep"), "beta=0.1,0.5")
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="is not empty and holds no sweep.json"):
        _sweep(foreign, "beta=0.1,0.5")
    assert fake.calls == [] and sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_a_second_sweep_on_a_folder_in_use_is_refused(tmp_path, fake):
    folder = tmp_path / "sweep"
    lock = run_folder.FolderLock(folder).acquire("trlrecipes sweep (another)")
    try:
        with pytest.raises(UserError, match="in use by another sweep"):
            _sweep(folder, "beta=0.1,0.5")
    finally:
        lock.release()


# --- killed members resume ---------------------------------------------------------------------------------------
def _dead_member(folder: Path, cfg_overrides: list[str], *, step: int):
    """What kill -9 during training leaves: run.json still says running, a complete checkpoint, a lock file that no
    process holds, and a half-written newer checkpoint."""
    cfg = sweep_module._member_config(sweep_module._recipe("hh-dpo"), cfg_overrides, demo=False, config_file=None)
    folder.mkdir(parents=True)
    RunRecord(folder).write_config({**cfg, "output_dir": str(folder)})
    (folder / "run.json").write_text(json.dumps({"status": "running", "method": "DPO"}))
    (folder / run_folder.LOCK_FILE).write_text(json.dumps({"pid": 999999, "command": "killed"}))
    good = folder / f"checkpoint-{step}"
    good.mkdir()
    (good / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (good / "adapter_model.safetensors").write_bytes(b"weights")
    (good / run_folder.COMPLETE_MARKER).write_text("ok\n")
    (folder / f"checkpoint-{step + 1}").mkdir()  # cut short: no marker


def test_a_member_left_running_by_a_dead_process_resumes_from_its_checkpoint(tmp_path, fake, capsys):
    folder = tmp_path / "sweep"
    _dead_member(folder / "01-beta=0.1", [*FIXED, "beta=0.1"], step=2)
    _sweep(folder, "beta=0.1,0.5")
    assert [(c["name"], c["resume"], c["overwrite"]) for c in fake.calls] == [
        ("01-beta=0.1", True, False),  # before: overwrite=True, the checkpoint discarded and step 1 again
        ("02-beta=0.5", False, False),
    ]
    assert "ended abruptly (its process died); resuming from checkpoint-2" in capsys.readouterr().out


def test_a_member_running_in_another_live_process_is_not_touched(tmp_path, fake):
    folder = tmp_path / "sweep"
    member = folder / "01-beta=0.1"
    _dead_member(member, [*FIXED, "beta=0.1"], step=2)
    lock = run_folder.FolderLock(member).acquire("trlrecipes run (alive)")
    try:
        record = _sweep(folder, "beta=0.1,0.5")
    finally:
        lock.release()
    assert [c["name"] for c in fake.calls] == ["02-beta=0.5"]
    assert record["members"][0]["status"] == "failed" and "in use" in record["members"][0]["error"]
    assert (member / "checkpoint-2").is_dir()


# --- a stop stops the sweep --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error, code",
    [
        (RunStopped("SIGTERM: stopped after step 1; resume with: trlrecipes run ...", exit_code=143), 143),
        (RunStopped("SIGINT: stopped after step 1; resume with: trlrecipes run ...", exit_code=130), 130),
        (KeyboardInterrupt(), 130),  # Ctrl-C while the member loads (before its training handles signals)
        (sweep_module.SweepStop(signal.SIGTERM), 143),  # SIGTERM then: the sweep's own handler raised it
    ],
)
def test_a_stop_in_a_member_ends_the_sweep_with_its_code_and_the_resume_line(tmp_path, monkeypatch, error, code):
    members = FakeMembers(stop={"02-beta=0.2": error})
    monkeypatch.setattr(sweep_module, "run_member", members)
    folder = tmp_path / "sweep"
    with pytest.raises(RunStopped) as stopped:
        _sweep(folder, "beta=0.1,0.2,0.5")
    assert stopped.value.exit_code == code
    message = str(stopped.value)
    assert "the sweep stopped in member 02-beta=0.2 (interrupted); 1 member(s) not started" in message
    resume_line = message.splitlines()[-1]
    assert resume_line.startswith("resume the sweep with: trlrecipes sweep hh-dpo ")
    assert f"--out {folder}" in resume_line and "beta=0.1,0.2,0.5" in resume_line and "--no-eval" in resume_line
    assert [c["name"] for c in members.calls] == ["01-beta=0.1", "02-beta=0.2"]  # the third never started
    assert not (folder / "03-beta=0.5").exists()
    record = _record(folder)
    assert [m["status"] for m in record["members"]] == ["completed", "interrupted", "pending"]
    assert record["stopped"]["member"] == "02-beta=0.2" and "table" not in record

    # the same command resumes it: the finished member skipped, the stopped one resumed, the last one started
    members.stop.clear()
    _sweep(folder, "beta=0.1,0.2,0.5")
    assert [(c["name"], c["resume"]) for c in members.calls[2:]] == [("02-beta=0.2", True), ("03-beta=0.5", False)]
    assert [m["status"] for m in _record(folder)["members"]] == ["completed"] * 3


def test_a_diverged_member_is_a_result_not_a_stop(tmp_path, monkeypatch):
    diverged = RunStopped("training stopped at step 2: the loss became NaN/inf", exit_code=1)
    members = FakeMembers(stop={"01-beta=0.1": diverged})
    monkeypatch.setattr(sweep_module, "run_member", members)
    record = _sweep(tmp_path / "sweep", "beta=0.1,0.5")
    assert [c["name"] for c in members.calls] == ["01-beta=0.1", "02-beta=0.5"]
    assert record["members"][1]["status"] == "completed"


def test_a_real_sigint_between_members_stops_the_sweep(tmp_path, monkeypatch):
    """The signal arrives while no training runs (here: the first member's run returns, then Ctrl-C): the sweep's
    handler turns it into the stop, the next member never starts."""

    class SignalAfter(FakeMembers):
        def __call__(self, *args, **kwargs):
            run = super().__call__(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGINT)
            return run

    members = SignalAfter()
    monkeypatch.setattr(sweep_module, "run_member", members)
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RunStopped) as stopped:
        _sweep(tmp_path / "sweep", "beta=0.1,0.5")
    assert stopped.value.exit_code == 130
    assert str(stopped.value).startswith("SIGINT: the sweep stopped after member 01-beta=0.1 (completed); 1 member")
    assert [c["name"] for c in members.calls] == ["01-beta=0.1"]
    assert signal.getsignal(signal.SIGTERM) is previous  # the sweep's handlers are gone afterwards


def test_the_cli_exits_143_with_the_resume_line(tmp_path, monkeypatch):
    stop = RunStopped("SIGTERM: stopped after step 1", exit_code=143)
    monkeypatch.setattr(sweep_module, "run_member", FakeMembers(stop={"01-beta=0.1": stop}))
    folder = tmp_path / "sweep"
    result = CliRunner().invoke(app, ["sweep", "hh-dpo", *FIXED, "beta=0.1,0.5", "--out", str(folder), "--no-eval"])
    assert result.exit_code == 143, result.output
    assert f"resume the sweep with: trlrecipes sweep hh-dpo {' '.join(FIXED)} beta=0.1,0.5 --out {folder}" in (
        result.output
    )


def test_the_resume_line_leaves_credentials_out_and_quotes():
    command = sweep_module.sweep_command(
        "hh-dpo",
        ["hub_token=hf_secret", "lora_target=[q_proj,v_proj],[all-linear]", "beta=0.1,0.2"],
        Path("/tmp/s w"),
        demo=True,
        evaluate=True,
        config_file=None,
    )
    assert "hf_secret" not in command and "hub_token" not in command
    assert command == (
        "trlrecipes sweep hh-dpo 'lora_target=[q_proj,v_proj],[all-linear]' beta=0.1,0.2 --out '/tmp/s w' --demo"
    )


# --- compare ---------------------------------------------------------------------------------------------------
def _finished(folder: Path, method: str, config: dict, summary: dict, result: dict | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "loss": 0.7 - 0.1 * s, "rewards/margins": 0.1 * s}) + "\n" for s in (1, 2))
    )
    (folder / "run.json").write_text(json.dumps({"status": "completed", "method": method}))
    RunRecord(folder).write_config(config)
    (folder / "summary.json").write_text(json.dumps({"steps": 2, **summary, "verdicts": []}))
    if result is not None:
        (folder / "eval.json").write_text(json.dumps(result))
    return folder


def _ends(**values):
    return {name: {"start": 0.0, "end": value} for name, value in values.items()}


@pytest.fixture
def three_methods(tmp_path):
    dpo = _finished(
        tmp_path / "dpo-run",
        "DPO",
        {"model": "m", "beta": 0.1, "loss_type": "sigmoid"},
        {"train": _ends(margin=0.5, accuracy=0.75), "eval": {}},
        {"method": "DPO", "accuracy": 0.625, "margin": 0.4},
    )
    sft = _finished(tmp_path / "sft-run", "SFT", {"model": "m"}, {"train": _ends(token_accuracy=0.4), "eval": {}})
    rm = _finished(
        tmp_path / "rm-run",
        "RM",
        {"model": "m", "center_rewards_coefficient": 0.01},
        {"train": _ends(margin=2.0, accuracy=0.9), "eval": {}},
        {"method": "RM", "accuracy": 0.875, "margin": 1.5},
    )
    return [dpo, sft, rm]


def test_compare_names_each_run_its_method_and_what_each_accuracy_measures(three_methods, tmp_path, capsys):
    sweep_module.compare(three_methods, tmp_path / "cmp.png")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["run", "method", "beta"] and "accuracy of" in lines[0]
    dpo, sft, rm = lines[1:4]
    assert dpo.split()[:4] == ["dpo-run", "DPO", "0.1", "-"] and "implicit reward" in dpo
    assert sft.split()[:3] == ["sft-run", "SFT", "-"] and "None" not in sft  # no beta: "-", not None
    assert rm.split()[:2] == ["rm-run", "RM"] and "RM score" in rm and "implicit reward" not in rm
    assert any(line.startswith("accuracy: the share of pairs ranked chosen above rejected by") for line in lines)
    assert any(line.split()[:2] == ["RM", "score"] and "reward model's score" in line for line in lines)
    assert any(line.split()[:2] == ["implicit", "reward"] and "log pi_ref" in line for line in lines)
    assert (tmp_path / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_out_folder_gets_compare_png_and_a_suffixless_path_is_refused(three_methods, tmp_path, capsys):
    target = tmp_path / "plots"
    target.mkdir()
    sweep_module.compare(three_methods[:1], target)
    assert f"plot: {target / 'compare.png'}" in capsys.readouterr().out
    assert (target / "compare.png").is_file() and not (tmp_path / "plots.png").exists()
    with pytest.raises(UserError, match="name an image file .*or an existing folder"):
        sweep_module.compare(three_methods[:1], tmp_path / "results")
    with pytest.raises(UserError, match="cannot write in /proc"):
        sweep_module.compare(three_methods[:1], Path("/proc/plot.png"))


def test_the_sweep_table_of_one_method_says_once_what_its_accuracy_measures(three_methods):
    rows = [sweep_module.table_row(three_methods[0], {"beta": "0.1"})]
    table = sweep_module.format_table(rows, ["beta"])
    assert "accuracy of" not in table.splitlines()[0]
    assert "accuracy: the share of pairs whose implicit reward (beta * (log pi - log pi_ref)" in table


# --- on the tiny model and with real signals ---------------------------------------------------------------------
def _tiny_fixed(tiny_model, hh_files, tmp_path, *extra):
    overrides = tiny_overrides(tiny_model, *hh_files, tmp_path / "unused")
    return [o for o in overrides if not o.startswith(("output_dir=", "max_steps=", "save_steps="))] + list(extra)


@pytest.mark.slow
def test_a_killed_member_resumes_from_its_checkpoint_on_the_tiny_model(tiny_model, hh_files, tmp_path, monkeypatch):
    monkeypatch.setenv("TRLRECIPES_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "sweep"
    items = [
        *_tiny_fixed(tiny_model, hh_files, tmp_path, "max_steps=4", "save_steps=2", "eval_steps=0"),
        "beta=0.1,0.5",
    ]
    sweep("hh-dpo", items, out=folder, evaluate=False)
    member = folder / "01-beta=0.1"
    # What kill -9 after step 3 leaves: run.json says running, checkpoint-2 complete, checkpoint-4 never written.
    RunRecord(member).update_info(status="running")
    import shutil

    shutil.rmtree(member / "checkpoint-4")
    before = (member / "checkpoint-2" / "adapter_model.safetensors").read_bytes()
    result = CliRunner().invoke(app, ["sweep", "hh-dpo", *items, "--out", str(folder), "--no-eval"])
    assert result.exit_code == 0, result.output
    assert "ended abruptly (its process died); resuming from checkpoint-2" in result.output
    assert "resuming from" in result.output and result.output.count("completed earlier, skipped") == 1
    records = [json.loads(line) for line in (member / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]  # steps 3-4 trained again, once each
    assert (member / "checkpoint-2" / "adapter_model.safetensors").read_bytes() == before
    assert RunRecord(member).info()["status"] == "completed"


@pytest.mark.slow
def test_a_real_sigterm_stops_the_sweep_with_143(tiny_model, hh_files, tmp_path):
    """`kill -TERM` of a running `trlrecipes sweep` (a scheduler's stop): the member in training stops after its
    step with a checkpoint, the next member never starts, exit 143 with the resume line."""
    folder = tmp_path / "sweep"
    items = _tiny_fixed(tiny_model, hh_files, tmp_path, "max_steps=100000", "save_steps=100000", "eval_steps=0")
    env = {**os.environ, "TRLRECIPES_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    code = "import sys; from trlrecipes.cli import main; sys.argv[0] = 'trlrecipes'; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "sweep", "hh-dpo", *items, "beta=0.1,0.5", "--out", str(folder), "--no-eval"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    metrics = folder / "01-beta=0.1" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.is_file() and metrics.read_text().strip():
            break
        time.sleep(0.2)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, out + err
    assert "resume the sweep with: trlrecipes sweep hh-dpo" in err and "1 member(s) not started" in err
    assert not (folder / "02-beta=0.5").exists()
    member = folder / "01-beta=0.1"
    assert RunRecord(member).info()["status"] == "interrupted"
    assert run_folder.newest_valid_checkpoint(member) is not None
    assert [m["status"] for m in _record(folder)["members"]] == ["interrupted", "pending"]


def test_a_bad_value_in_any_member_stops_the_sweep_before_anything_trains(tmp_path, fake):
    folder = tmp_path / "sweep"
    with pytest.raises(UserError, match="max_length=8 is too small"):
        _sweep(folder, "max_length=96,8")
    assert fake.calls == [] and not folder.exists()
