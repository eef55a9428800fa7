"""The verifiable arithmetic task (trlrecipes.demo.arithmetic), the demo's overlap judge, and `eval --generate`
with the verifier on a short tiny-model DPO run."""

import json

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.demo import arithmetic
from trlrecipes.errors import UserError
from trlrecipes.testing import write_jsonl


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_files_are_the_builder_output_and_hold_out_honestly():
    splits = arithmetic.build()
    assert read(arithmetic.TRAIN_FILE) == splits["train"] and read(arithmetic.TEST_FILE) == splits["test"]
    train, test = splits["train"], splits["test"]
    assert len(train) >= 300 and len(test) >= 100
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in test}
    assert not {r["template"] for r in train} & set(arithmetic.TEST_ONLY)
    assert sum(r["template"] in arithmetic.TEST_ONLY for r in test) == 40
    for row in train + test:  # every answer is what the prompt's two numbers give
        a, b = (int(n) for n in __import__("re").findall(r"\d+", row["prompt"]))
        template = next(t for t in arithmetic.TEMPLATES if t[0] == row["template"])
        expected = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if a % b == 0 else None}[template[1]]
        assert row["answer"] == expected and row["answer"] > 0, row


def test_verify_reads_the_final_number():
    row = read(arithmetic.TEST_FILE)[0]
    prompt, answer = row["prompt"], row["answer"]
    assert arithmetic.verify(prompt, f"The answer is {answer}.") == 1.0
    assert arithmetic.verify(prompt, f"First {answer + 3}, then corrected: {answer}") == 1.0
    assert arithmetic.verify(prompt, f"{answer} is wrong, it is {answer + 1}.") == 0.0
    assert arithmetic.verify(prompt, "I cannot tell.") == 0.0
    long_right = " ".join(["word"] * 50) + f" {answer}"
    assert arithmetic.reward(prompt, long_right) == pytest.approx(1.0 - 0.21)  # 51 words: 21 beyond 30
    assert arithmetic.reward(prompt, " ".join(["word"] * 200)) == pytest.approx(-0.45)
    with pytest.raises(UserError, match="not one of its problems"):
        arithmetic.verify("What is 2 + 2?", "4")


def test_demo_judge_scores_written_answers_above_rejected_ones():
    from trlrecipes.data import load_pairs
    from trlrecipes.demo import DEMO_TEST
    from trlrecipes.demo.showcase import answer_overlap

    rows, _ = load_pairs("hh-rlhf", str(DEMO_TEST))
    for row in rows:
        question = row["prompt"][-1]["content"]
        assert answer_overlap(question, row["chosen"][-1]["content"]) == 1.0
        assert answer_overlap(question, row["rejected"][-1]["content"]) < 1.0
    assert answer_overlap("not a demo question", "anything") == 0.0


@pytest.mark.slow
def test_eval_generate_with_the_verifier_on_a_short_run(tiny_model, tmp_path):
    """A 3-step custom-dpo run on verifier-made pairs, then `eval --generate --reward ...:verify`: the JSON fields
    and the task accuracy (mean verifier score) agree with the replies written to eval_generations.jsonl."""
    train = read(arithmetic.TRAIN_FILE)[:16]
    pairs = [
        {
            "prompt": r["prompt"],
            "chosen": f"The answer is {r['answer']}.",
            "rejected": f"The answer is {r['answer'] + 7}.",
        }
        for r in train
    ]
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "custom-dpo",
            f"model={tiny_model}",
            f"dataset={data}",
            "eval_share=0",
            "max_steps=3",
            "logging_steps=1",
            "save_steps=3",
            "learning_rate=1e-3",
            "per_device_train_batch_size=2",
            "gradient_accumulation_steps=1",
            "max_length=96",
            "activation_checkpointing=false",
            f"output_dir={out}",
        ],
    )
    assert result.exit_code == 0, result.output
    prompts = write_jsonl(tmp_path / "test.jsonl", read(arithmetic.TEST_FILE)[:6])
    result = CliRunner().invoke(
        app,
        [
            "eval",
            str(out),
            "--generate",
            "--reward",
            "trlrecipes.demo.arithmetic:verify",
            "--prompts",
            str(prompts),
            "--max-new-tokens",
            "8",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output[result.output.index("{") :])
    assert figures["prompts"] == figures["comparisons"] == 6 and figures["judge"].endswith(":verify")
    assert figures["wins"] + figures["ties"] + figures["losses"] == 6
    rows = read(out / "eval_generations.jsonl")
    for side in ("reference", "trained"):
        assert figures[f"{side}_score_mean"] == pytest.approx(sum(r[f"{side}_score"] for r in rows) / 6)
        assert all(r[f"{side}_score"] in (0.0, 1.0) for r in rows)
        low, high = figures[f"{side}_score_ci95"]
        assert 0 <= low <= figures[f"{side}_score_mean"] <= high <= 1
        assert figures[f"{side}_cut_share"] == sum(r[f"{side}_cut"] for r in rows) / 6
    assert 0 <= figures["lc_win_rate"] <= 1 and isinstance(figures["verdicts"], list)
    assert json.loads((out / "eval.json").read_text())["generation"]["win_rate"] == figures["win_rate"]
