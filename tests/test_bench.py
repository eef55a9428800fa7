"""`eval RUN --bench TASKS`: the real lm-evaluation-harness, offline, on a task defined over a local file: the
reference (adapter off) and the trained model scored alike, a paired difference, a regression verdict, eval.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.errors import UserError

pytest.importorskip("lm_eval")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def task_file(tmp_path):
    """The example task of examples/bench, with its data path made absolute (lm-eval reads it from the cwd)."""
    shutil.copy(REPO / "examples" / "bench" / "facts.jsonl", tmp_path / "facts.jsonl")
    text = (REPO / "examples" / "bench" / "facts.yaml").read_text()
    path = tmp_path / "facts.yaml"
    path.write_text(text.replace("examples/bench/facts.jsonl", str(tmp_path / "facts.jsonl")))
    return path


@pytest.mark.slow
def test_bench_scores_both_sides_offline_and_records_them(finished_run, task_file, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    result = CliRunner().invoke(
        app,
        ["eval", str(run), "--bench", str(task_file), "--bench-option", "limit=12", "--bench-option", "batch_size=4"],
    )
    assert result.exit_code == 0, result.output
    assert "trlrecipes_facts acc" in result.output and "reference" in result.output
    bench = json.loads((run / "eval.json").read_text())["bench"]
    rows = {row["metric"].split(",")[0]: row for row in bench["rows"]}
    assert set(rows) == {"acc", "acc_norm"} and bench["tasks"] == ["trlrecipes_facts"]
    for row in rows.values():
        assert 0 <= row["reference"] <= 1 and 0 <= row["trained"] <= 1
        assert row["difference"] == pytest.approx(row["trained"] - row["reference"])
        assert row["stderr_kind"] == "paired over 12 examples" and row["verdict"] in ("ok", "regression")
    # finished_run trained at learning rate 1e-30: the adapter changes nothing, so both sides score alike
    assert all(row["difference"] == 0 and row["verdict"] == "ok" for row in rows.values())
    assert "held-out" not in bench and json.loads((run / "eval.json").read_text()).get("accuracy") is not None
    # the report and the compare table show it too
    assert CliRunner().invoke(app, ["report", str(run)]).exit_code == 0
    assert "Benchmarks (lm-eval" in (run / "report.html").read_text()
    from trlrecipes.tools.sweep import table_row

    assert table_row(run, {})["bench"] == "0/2 regressed"


def test_regression_verdict_from_paired_per_example_scores():
    from trlrecipes.tools.eval.bench import compare

    def results(scores):
        samples = [{"doc_id": i, "acc": s} for i, s in enumerate(scores)]
        mean = sum(scores) / len(scores)
        return {
            "results": {"t": {"acc,none": mean, "acc_stderr,none": 0.05}},
            "higher_is_better": {"t": {"acc": True}},
            "samples": {"t": samples},
        }

    same, worse = [1.0] * 30 + [0.0] * 10, [1.0] * 20 + [0.0] * 20  # 10 of 40 examples turned wrong, none right
    (row,) = compare(results(same), results(worse))
    assert row["difference"] == pytest.approx(-0.25) and row["verdict"] == "regression"
    assert row["stderr_kind"] == "paired over 40 examples"
    (row,) = compare(results(same), results(same))
    assert row["difference"] == 0 and row["verdict"] == "ok"


def test_unknown_task_and_bad_options_are_one_line(finished_run, tmp_path):
    from trlrecipes.tools.eval.bench import bench_run, parse_options

    with pytest.raises(UserError, match="limit"):
        parse_options(["limt=3"])
    with pytest.raises(UserError, match="file not found"):
        bench_run(finished_run, [str(tmp_path / "missing.yaml")])
    result = CliRunner().invoke(app, ["eval", str(finished_run), "--bench-option", "limit=3"])
    assert result.exit_code == 2 and "only applies with --bench" in result.stderr
