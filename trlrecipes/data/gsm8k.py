"""GSM8K (`openai/gsm8k`, MIT licence): grade-school maths word problems with a worked solution ending in the number.

A prompt-only format (KIND = "prompts"): online RL (GRPO/RLOO) samples the replies itself and a verifier
(`trlrecipes.tasks.gsm8k.verify`) checks the final number, so a row becomes a question and its answer, not a pair.

Hub layout: two configs, `main` (the solutions as published) and `socratic` (the same problems, solutions as
sub-questions), each a folder of `<config>/train-*.parquet` and `<config>/test-*.parquet` files named by the
README's `configs` with no default, so the Hub id alone does not load (datasets: "Config name is missing"): the
subset (datasets' data_dir) defaults to DEFAULT_SUBSET. A local file in the same schema (.parquet, .jsonl, ...)
works as well.

Rows: `question` (str), `answer` (str: the worked solution, calculator notes such as `<<48/2=24>>` inside, then a last
line `#### <number>`). Converted row: {"prompt": [{"role": "user", "content": question}], "answer": "<number>"}, the
number as canonical text: thousands separators and a "$" dropped, "72.00" -> "72", "-3" kept ("1,000" -> "1000").
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from trlrecipes.data.common import NOT_TEXT, SKIP_COLUMN, Skip, message, text

HUB_ID = "openai/gsm8k"
KIND = "prompts"  # prompt-only rows (prompt + answer): for online RL, not for the preference trainers
SUBSETS = ("main", "socratic")
DEFAULT_SUBSET = "main"  # the README names no default config: without a subset the Hub id does not load
DEFAULT_SPLIT = "train"
EVAL_SPLIT = "test"
REQUIRED_FIELDS = ("question", "answer")
TEXT_FIELDS = REQUIRED_FIELDS  # a CSV copy's "72" stays the text "72"
MARKER = "####"  # GSM8K's final-answer marker: the text after the last one is the answer
SKIP_REASONS = {
    NOT_TEXT: "the question or the answer is not text (a number, a list, null); never stringified",
    "empty_question": "the question is empty",
    "no_final_answer": "the answer has no '#### <number>' line, so there is nothing to check a reply against",
    "non_numeric_answer": "the text after '####' is not one number (e.g. '72 clips', 'seventy-two', '3/4')",
}
# One number after the marker, as GSM8K writes them: an optional minus and "$", digits (thousands separated by commas
# in groups of three, or none), an optional decimal part; a trailing period ends a sentence and is not part of it.
_FINAL = re.compile(r"(?P<sign>[-\u2212])?\$?(?P<digits>\d{1,3}(?:,\d{3})+|\d+)(?P<fraction>\.\d+)?\.?")


def canonical_number(value: str) -> str | None:
    """`value` as canonical number text ("1,000" -> "1000", "$5.50" -> "5.5", "-3" -> "-3"), or None when it is not
    exactly one number."""
    match = _FINAL.fullmatch(value.strip())
    if match is None:
        return None
    try:
        number = Decimal(match["digits"].replace(",", "") + (match["fraction"] or ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        return None
    if match["sign"] and number != 0:
        number = -number
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def final_answer(solution: str) -> str:
    """The canonical number after the solution's last '####' (Skip when there is none or it is not a number)."""
    if MARKER not in solution:
        raise Skip("no_final_answer")
    number = canonical_number(solution.rsplit(MARKER, 1)[1])
    if number is None:
        raise Skip("non_numeric_answer")
    return number


def features():
    """The converted rows' schema: a conversational prompt and the answer text."""
    from datasets import Features, List, Value

    messages = List({"role": Value("string"), "content": Value("string")})
    return Features({"prompt": messages, "answer": Value("string"), SKIP_COLUMN: Value("string")})


def convert_row(row: dict) -> dict:
    question, solution = text(row["question"]), text(row["answer"])
    if not question:
        raise Skip("empty_question")
    return {"prompt": [message("user", question)], "answer": final_answer(solution)}
