"""`trlrecipes report`: one self-contained HTML page per run (or a comparison), checked as text and in Chromium."""

import os
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.testing import fake_run_folder

VERDICT = {
    "code": "no_learning",
    "step": 5,
    "message": "after 5 train logs the rewards are still at chance",
    "cause": "The policy is not moving away from the reference",
    "fix": "Raise learning_rate (try 5-10x)",
}
ANSWERS = [
    {
        "prompt": "How do I fix a flat bike tire?",
        "reference": "I <b>don't</b> know.",
        "trained": "Remove the wheel, find the puncture, patch it.",
        "reference_score": -1.25,
        "trained_score": 2.5,
    }
]


def fake_run(folder, **config):
    """A run folder with every file a finished, evaluated run writes (no training needed)."""
    return fake_run_folder(
        folder,
        base_model="tiny/model",
        config={
            "dataset": "data/train.jsonl",
            "data_format": "hh-rlhf",
            "beta": 0.1,
            "learning_rate": 5e-6,
            "max_steps": 4,
            "trl": {"weight_decay": 0.01},
            **config,
        },
        info={"recipe": "hh-dpo", "status": "completed", "global_step": 4, "versions": {"trl": "1.16.0"}},
        data_summary={
            "train": {
                "source": "data/train.jsonl",
                "read": 103,
                "converted": 100,
                "used": 100,
                "sha256": "ab" * 32,
                "skipped": {"not_hh_format": 3},
                "notes": {"merged_turns": 2},
            }
        },
        metrics=[
            {
                "step": s,
                "loss": 0.69 - 0.05 * s,
                "rewards/margins": 0.1 * s * config.get("beta", 0.1) * 10,
                "rewards/accuracies": 0.5 + 0.1 * s,
                "rewards/chosen": 0.05 * s,
                "rewards/rejected": -0.05 * s,
            }
            for s in range(1, 5)
        ]
        + [{"step": 4, "eval_loss": 0.6, "eval_rewards/margins": 0.3, "eval_rewards/accuracies": 0.75}],
        verdicts=[VERDICT],
        summary={"steps": 4, "train": {"margin": {"start": 0.1, "end": 0.4}}, "eval": {}, "verdicts": ["no_learning"]},
        evaluation={
            "method": "DPO",
            "pairs": 8,
            "data": "data/test.jsonl",
            "accuracy": 0.875,
            "ties": 0.0,
            "margin": 0.42,
            "chosen_reward": 0.2,
            "rejected_reward": -0.22,
            "criterion": "implicit reward",
        },
        generations=ANSWERS,
    )


def network_references(page: str) -> list[str]:
    """Anything the page would fetch: src/href attributes and CSS url(...) that are not inline data."""
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page) + re.findall(r"url\(([^)]+)\)", page)
    return [ref for ref in refs if not ref.strip("'\" ").startswith(("data:", "#"))]


def test_one_run_report_holds_the_whole_story(tmp_path):
    run = fake_run(tmp_path / "run-a")
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    page = (run / "report.html").read_text()
    assert network_references('<img src="https://x.org/a.png"><p style="background: url(b.png)">') == [
        "https://x.org/a.png",
        "b.png",
    ]  # the check itself sees what a browser would fetch
    assert network_references(page) == []
    assert page.count('src="data:image/png;base64,') == 1  # the curves
    for text in (
        "no_learning",
        "The policy is not moving away from the reference",
        "Raise learning_rate",
        "not_hh_format",
        "a transcript is not made of",
        "merged_turns",
        "ab" * 32,
        "0.875",
        "How do I fix a flat bike tire?",
        "Remove the wheel",
        "I &lt;b&gt;don&#x27;t&lt;/b&gt; know.",
        "score 2.500",
        "trl.weight_decay",
        "learning_rate",
        "@media print",
    ):
        assert text in page, text
    assert "<b>don't</b>" not in page  # the answers are escaped, never markup


def test_several_runs_give_a_comparison(tmp_path):
    runs = [fake_run(tmp_path / "run-a"), fake_run(tmp_path / "run-b", beta=0.3)]
    out = tmp_path / "both.html"
    result = CliRunner().invoke(app, ["report", *map(str, runs), "--output", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<h2>Comparison</h2>" in page and page.count('<section class="run"') == 2
    assert re.search(r'<tr class="differs"><td>beta</td><td class="num">0.100</td><td class="num">0.300</td>', page)
    assert page.count('src="data:image/png;base64,') == 3  # the overlay and each run's curves


def chromium() -> str | None:
    return next((path for path in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if path), None)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(finished_run, tmp_path):
    """A real run's report in a real browser: a page that is not blank, and nothing logged to its console."""
    browser = chromium()
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must install Debian's chromium package (see .ci/run)")
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    from PIL import Image

    page = CliRunner().invoke(app, ["report", str(finished_run), "--output", str(tmp_path / "report.html")])
    assert page.exit_code == 0, page.output
    shot = tmp_path / "shot.png"
    args = [
        browser,
        "--headless=new",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1280,1800",
        f"--screenshot={shot}",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    result = subprocess.run(args + [(tmp_path / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 1800)
    pixels = list(image.getdata())
    dark = sum(value < 128 for value in pixels) / len(pixels)  # text, rules, curves
    assert dark > 0.01, f"only {dark:.2%} of the page is drawn: blank?"
    assert len(set(pixels)) > 32  # more than a flat background
