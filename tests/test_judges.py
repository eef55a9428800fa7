"""Callable judges (trlrecipes/tasks/judges.py): a row's fields and `truncated` reach the functions that take them,
and a score that is not a finite real number is refused in one line, never converted."""

from __future__ import annotations

import pytest

from trlrecipes.errors import UserError
from trlrecipes.tasks.judges import CallableReward, Prompt


def prompt(text="What is 2 + 2?", **fields):
    return Prompt([{"role": "user", "content": text}], text, fields)


@pytest.mark.parametrize(
    ("value", "words"),
    [("0.5", "not a number"), (None, "not a number"), (float("inf"), "finite"), (float("nan"), "finite"),
     (10**400, "finite"), ([1.0], "not a number")],
)  # fmt: skip
def test_a_score_that_is_not_a_finite_real_number_is_refused(value, words):
    judge = CallableReward(lambda p, r: value, "bad")
    with pytest.raises(UserError, match=words) as err:
        judge([prompt()], ["4"])
    assert "\n" not in str(err.value) and "bad" in str(err.value)


def test_numbers_of_any_real_type_are_scores():
    import numpy as np

    assert CallableReward(lambda p, r: np.float32(0.25))([prompt()], ["4"]) == [0.25]
    assert CallableReward(lambda p, r: True)([prompt()], ["4"]) == [1.0]


def test_row_fields_and_truncated_reach_the_functions_that_take_them():
    seen = []

    def named(p, r, answer=None, truncated=False):
        seen.append(("named", answer, truncated))
        return 0.0

    def everything(p, r, **fields):
        seen.append(("all", fields))
        return 0.0

    def plain(p, r):
        return 1.0

    rows = [prompt(answer="4", other="x")]
    CallableReward(named)(rows, ["4"], [True])
    CallableReward(everything)(rows, ["4"], [False])
    assert CallableReward(plain)(rows, ["4"], [True]) == [1.0]
    assert seen == [("named", "4", True), ("all", {"answer": "4", "other": "x", "truncated": False})]


def test_a_judge_with_the_wrong_signature_is_refused_before_anything_loads():
    with pytest.raises(UserError, match=r"called as fn\(prompt, response\)"):
        CallableReward(lambda text: 0.0, "one-arg")


@pytest.mark.parametrize(
    ("options", "words"),
    [({"temperature": float("inf"), "samples": 2}, "finite"), ({"temperature": float("nan"), "samples": 2}, "finite")],
)
def test_eval_generate_refuses_non_finite_temperatures(finished_run, options, words):
    from trlrecipes.tools.eval.generations import evaluate_generations

    with pytest.raises(UserError, match=words):
        evaluate_generations(finished_run, reward=lambda p, r: 0.0, **options)


@pytest.mark.parametrize(
    ("options", "words"), [({"min_gap": float("nan")}, "--min-gap"), ({"temperature": float("inf")}, "--temperature")]
)
def test_synth_refuses_non_finite_values(tmp_path, options, words):
    from trlrecipes.tools.synth import synthesize

    prompts = tmp_path / "p.txt"
    prompts.write_text("hello\n")
    with pytest.raises(UserError, match=words):
        synthesize(prompts, tmp_path / "out.jsonl", model="m", reward=lambda p, r: 0.0, **options)


def test_a_prompt_longer_than_the_models_context_is_refused_before_generating(finished_run, tmp_path):
    """One 5 MB prompt line ran for over 300 s; now it is one line naming the prompt and the sizes."""
    from trlrecipes.tools.eval.generations import evaluate_generations

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a fine question\n" + "word " * 3000 + "\n")
    with pytest.raises(UserError, match="does not fit the model's context of 1024") as err:
        evaluate_generations(finished_run, reward=lambda p, r: 0.0, prompts_file=prompts, max_new_tokens=8)
    assert "\n" not in str(err.value)


def test_the_context_check_counts_the_new_tokens_for_prompts_shorter_than_the_context():
    """A prompt of 90 tokens fits a context of 100 but not with 20 new tokens; one of 80 does. 25 emoji are 25
    characters but 100 tokens for a tokenizer of one token a UTF-8 byte."""
    from types import SimpleNamespace

    from trlrecipes.tools.generate import check_context

    model = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=100))

    def tokenizer(text, add_special_tokens=False):  # one token a UTF-8 byte
        return {"input_ids": list(text.encode("utf-8"))}

    check_context(model, tokenizer, ["x" * 80], max_new_tokens=20)
    with pytest.raises(UserError, match="is 90 tokens with the chat template; with 20 new tokens it does not fit"):
        check_context(model, tokenizer, ["x" * 90], max_new_tokens=20)
    with pytest.raises(UserError, match="is 100 tokens"):
        check_context(model, tokenizer, ["\U0001f600" * 25], max_new_tokens=1)
