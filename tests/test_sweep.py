"""`trlrecipes sweep` and `trlrecipes compare` on the tiny model: the grid, the table, sweep.json, the overlay plot,
skipping finished members on rerun, and a failed member reported while the others still run."""

import json

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.errors import UserError
from trlrecipes.testing import tiny_overrides
from trlrecipes.tools.sweep import member_name, members, parse_grid, split_values

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "text, values",
    [
        ("0.1", ["0.1"]),
        ("0.05,0.1,0.2", ["0.05", "0.1", "0.2"]),
        ("[q_proj,v_proj],[all-linear]", ["q_proj,v_proj", "all-linear"]),
        ("[wandb,tensorboard]", ["wandb,tensorboard"]),
        ("a,[b,[c,d]]", ["a", "b,[c,d]"]),
    ],
)
def test_commas_sweep_and_brackets_keep_one_value(text, values):
    assert split_values(text) == values


def test_grid_and_fixed_settings():
    grid, fixed = parse_grid(["beta=0.1,0.2", "learning_rate=1e-4,5e-5", "max_steps=3", "trl.report_to=[a,b]"])
    assert grid == {"beta": ["0.1", "0.2"], "learning_rate": ["1e-4", "5e-5"]}
    assert fixed == ["max_steps=3", "trl.report_to=a,b"]
    assert members(grid) == [
        {"beta": "0.1", "learning_rate": "1e-4"},
        {"beta": "0.1", "learning_rate": "5e-5"},
        {"beta": "0.2", "learning_rate": "1e-4"},
        {"beta": "0.2", "learning_rate": "5e-5"},
    ]
    assert member_name(3, {"beta": "0.2", "trl.report_to": "a,b"}) == "03-beta=0.2_report_to=a+b"


@pytest.mark.parametrize(
    "items, message",
    [
        (["beta=0.1"], "nothing to sweep"),
        (["beta=0.1,"], "empty value"),
        (["beta=0.1,0.1"], "repeated"),
        (["beta=0.1,0.2", "beta=0.3"], "given twice"),
        (["beta=0.3", "beta=0.1,0.2"], "given twice"),
        (["beta"], "key=value"),
        (["lora_target=[a,b"], "unbalanced"),
    ],
)
def test_bad_grids_are_one_line_errors(items, message):
    with pytest.raises(UserError, match=message):
        parse_grid(items)


def _fixed(tiny_model, hh_files, tmp_path):
    overrides = tiny_overrides(tiny_model, *hh_files, tmp_path / "unused")
    return [item for item in overrides if not item.startswith("output_dir=")] + ["max_steps=2", "eval_steps=0"]


@pytest.mark.slow
def test_sweep_table_record_plot_and_rerun(tiny_model, hh_files, tmp_path, monkeypatch):
    monkeypatch.setenv("TRLRECIPES_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    folder = tmp_path / "sweep"
    # 2 steps x 2 pairs per member: cheaper live than one pass over 24 + 8 pairs, even for two members; forced here
    command = [
        "sweep",
        "hh-dpo",
        "beta=0.1,0.5",
        *_fixed(tiny_model, hh_files, tmp_path),
        "trl.precompute_ref_log_probs=true",
        "--out",
        str(folder),
    ]
    result = runner.invoke(app, command)
    print(result.output)
    assert result.exit_code == 0, result.output
    record = json.loads((folder / "sweep.json").read_text())
    assert record["grid"] == {"beta": ["0.1", "0.5"]}
    assert [m["status"] for m in record["members"]] == ["completed", "completed"]
    names = [m["name"] for m in record["members"]]
    assert names == ["01-beta=0.1", "02-beta=0.5"]
    for name in names:
        assert (folder / name / "adapter_config.json").is_file() and (folder / name / "eval.json").is_file()
    # the second member read the first one's reference pass
    assert "reference log-probs: computed once" in result.output
    assert "reference log-probs: from the cache" in result.output
    table = result.output[result.output.index("beta  status") :]
    rows = [line for line in table.splitlines()[1:3]]
    assert rows[0].startswith("0.1   completed") and rows[1].startswith("0.5   completed")
    assert record["table"][0]["eval_accuracy"] is not None and record["table"][0]["train_margin"] is not None
    assert (folder / "compare.png").read_bytes()[:8] == PNG

    before = {name: (folder / name / "metrics.jsonl").stat().st_mtime_ns for name in names}
    again = runner.invoke(app, command)
    assert again.exit_code == 0, again.output
    assert again.output.count("completed earlier, skipped") == 2
    assert {name: (folder / name / "metrics.jsonl").stat().st_mtime_ns for name in names} == before

    plot = tmp_path / "cmp.png"
    compared = runner.invoke(app, ["compare", *(str(folder / name) for name in names), "--out", str(plot)])
    assert compared.exit_code == 0, compared.output
    header = compared.output.splitlines()[0].split()
    assert header[:4] == ["run", "method", "beta", "status"]  # the run, its method, only the setting that differs
    assert plot.read_bytes()[:8] == PNG


@pytest.mark.slow
def test_a_failed_member_is_reported_and_the_others_run(tiny_model, hh_files, tmp_path, monkeypatch):
    monkeypatch.setenv("TRLRECIPES_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "sweep"
    # max_length=32: every prompt fills it, so TRL drops all pairs and that member stops with a UserError (the value
    # passes the checks made before anything trains: 32 is the least that can hold a prompt and a reply)
    command = [
        "sweep",
        "hh-dpo",
        "max_length=32,96",
        *[item for item in _fixed(tiny_model, hh_files, tmp_path) if not item.startswith("max_length=")],
        "--out",
        str(folder),
    ]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1
    record = json.loads((folder / "sweep.json").read_text())
    failed, done = record["members"]
    assert failed["status"] == "failed" and "max_length=32" in failed["error"]
    assert done["status"] == "completed" and (folder / done["name"] / "adapter_config.json").is_file()
    assert "!! member 01-max_length=32 failed" in result.output
    assert "1 of 2 member(s) did not finish: 01-max_length=32" in result.output

    again = CliRunner().invoke(app, command)  # the failed member is tried again, the finished one is not
    assert again.exit_code == 1
    assert "02-max_length=96" in again.output and again.output.count("completed earlier, skipped") == 1
