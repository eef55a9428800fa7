"""Never train on, or write over, the wrong thing: the base model's weights fingerprint a resume checks, merge never
replacing a model runs depend on, every file written atomically and never through a symlink planted in the run
folder, and every string of report.html escaped."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from trlrecipes import files
from trlrecipes.cli import app
from trlrecipes.errors import UserError
from trlrecipes.models import weights_fingerprint
from trlrecipes.testing import tiny_overrides


def test_atomic_write_replaces_a_planted_symlink_and_leaves_its_target(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "eval.json").symlink_to(outside)
    files.write_json(folder / "eval.json", {"accuracy": 1.0})
    assert outside.read_text() == "precious"
    assert not (folder / "eval.json").is_symlink() and json.loads((folder / "eval.json").read_text())["accuracy"] == 1
    assert sorted(p.name for p in folder.iterdir()) == ["eval.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    import os

    path = tmp_path / "run.json"
    path.write_text('{"status": "running"}')

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        files.write_json(path, {"status": "completed"})
    assert path.read_text() == '{"status": "running"}' and sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_appends_never_reach_a_linked_file(tmp_path):
    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"step": 1}\n')
    link = tmp_path / "metrics.jsonl"
    link.symlink_to(outside)
    files.append_line(link, '{"step": 2}')
    assert outside.read_text() == '{"step": 1}\n'
    assert link.read_text() == '{"step": 1}\n{"step": 2}\n' and not link.is_symlink()


@pytest.fixture
def linked_run(finished_run, tmp_path):
    """A copy of a finished run whose report.html, metrics.png and eval.json are links to files outside it."""
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    outside = {}
    for name in ("report.html", "metrics.png", "eval.json"):
        target = tmp_path / f"outside-{name}"
        target.write_text("precious")
        (run / name).unlink(missing_ok=True)
        (run / name).symlink_to(target)
        outside[name] = target
    return run, outside


def test_report_plot_and_eval_leave_linked_targets_untouched(linked_run):
    run, outside = linked_run
    assert CliRunner().invoke(app, ["report", str(run)]).exit_code == 0
    assert CliRunner().invoke(app, ["plot", str(run)]).exit_code == 0
    assert CliRunner().invoke(app, ["eval", str(run), "--max-rows", "2"]).exit_code == 0
    for name, target in outside.items():
        assert target.read_text() == "precious", name
        assert not (run / name).is_symlink() and (run / name).stat().st_size > 0


def test_report_escapes_every_value_it_did_not_write_itself(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    summary = json.loads((run / "data_summary.json").read_text())
    summary["eval"] = {"held_out": "<span><script>alert(1)</script>", "used": 3, "eval_share": "<b>x</b>"}
    (run / "data_summary.json").write_text(json.dumps(summary))
    assert CliRunner().invoke(app, ["report", str(run)]).exit_code == 0
    html = (run / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html


def test_weights_fingerprint_tells_changed_weights_from_a_copy(tiny_model, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert weights_fingerprint(str(copy)) == weights_fingerprint(str(tiny_model))
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one byte of the last tensor
    weights.write_bytes(bytes(data))
    assert weights_fingerprint(str(copy)) != weights_fingerprint(str(tiny_model))
    assert weights_fingerprint("not/a-cached-hub-model") is None


@pytest.mark.slow
def test_resume_refuses_base_weights_changed_at_the_same_path(tiny_model, hh_files, tmp_path):
    from trlrecipes import api

    base = tmp_path / "base"
    shutil.copytree(tiny_model, base)
    out = tmp_path / "run"
    settings = [*tiny_overrides(base, *hh_files, out), "max_steps=2", "save_steps=2"]
    api.run("hh-dpo", *settings)
    assert json.loads((out / "run.json").read_text())["base_weights"]["model.safetensors"]["whole"] is True
    api.run("hh-dpo", *settings, resume=True)  # the same weights: resumes (here: complete, nothing to train)
    weights = base / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # the base model retrained or replaced at the same path
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="base model's weights at model=.* changed"):
        api.run("hh-dpo", *settings, resume=True)


def test_merge_never_replaces_the_runs_base_model(finished_run, tiny_model, tmp_path):
    import yaml

    from trlrecipes.tools.merge import merge_run

    base = tmp_path / "models" / "base"
    shutil.copytree(tiny_model, base)
    run = tmp_path / "runs" / "run"
    shutil.copytree(finished_run, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "model": str(base)}))
    before = sorted(p.name for p in base.iterdir())
    for output in (base, base.parent):  # the base itself, or a folder holding it (--force would replace it)
        with pytest.raises(UserError, match="base model"):
            merge_run(run, output, force=True)
    assert sorted(p.name for p in base.iterdir()) == before
