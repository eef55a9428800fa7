"""Example reward functions for `trlrecipes synth --reward examples/rewards.py:FUNCTION`.

Each function is called as `fn(prompt, response) -> float` for every sampled reply; the best-scored reply of a
prompt becomes `chosen`, the worst `rejected`. Both functions are plain Python (no model, no network), so they score
thousands of replies a second and their scores can be read and checked by hand.

    trlrecipes synth examples/arithmetic-prompts.txt --output pairs.jsonl --model smollm2-135m-offline \\
        --reward examples/rewards.py:arithmetic --min-gap 0.5

`arithmetic` verifies replies to simple calculation prompts; `concise` prefers direct, short, complete replies to
any prompt. Copy this file and edit it for your own task: a checkable answer (a verifier) is the most reliable reward
there is, and a small style penalty on top breaks ties between replies that are equally right.
"""

from __future__ import annotations

import re

# --- numbers in text ----------------------------------------------------------------------------------------------

# 1234, 1,234, 3.5: thousands separators only in groups of three, so "3,4" is two numbers
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


def numbers_in(text: str) -> list[float]:
    """The numbers written in `text`, in order. A minus sign counts as a sign only where it cannot be a subtraction:
    `= -3` and `is -3` give -3, but `9 - 12` and `9-12` give 9 and 12."""
    found = []
    for match in _NUMBER.finditer(text):
        if match.start() > 0 and text[match.start() - 1].isalpha():
            continue  # part of a word or name, such as "x2" or "SmolLM2"
        value = float(match.group().replace(",", ""))
        before = text[: match.start()].rstrip()
        if before.endswith("-") and before[:-1].rstrip()[-1:] not in tuple("0123456789)"):
            value = -value
        found.append(value)
    return found


# --- arithmetic --------------------------------------------------------------------------------------------------

_OPERATORS = {
    "+": lambda a, b: a + b,
    "plus": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "minus": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "x": lambda a, b: a * b,
    "×": lambda a, b: a * b,
    "times": lambda a, b: a * b,
    "multiplied by": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "÷": lambda a, b: a / b,
    "divided by": lambda a, b: a / b,
}
_TERM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_OPERATOR = r"multiplied by|divided by|plus|minus|times|[-+*x×/÷]"
_EXPRESSION = re.compile(rf"(?<![\w.])({_TERM})\s*({_OPERATOR})\s*({_TERM})(?!\w|\.\d)", re.IGNORECASE)
_CHAINED = re.compile(rf"\s*(?:{_OPERATOR})\s*\d", re.IGNORECASE)

WORD_BUDGET = 25  # a direct answer to "what is 17 + 25?" needs a handful of words; every word beyond this costs
WORD_COST = 0.01  # ... 0.01, so 45 extra words lose less than half a right answer: correctness always dominates
MAX_LENGTH_PENALTY = 0.45


def expected_answer(prompt: str) -> tuple[float, tuple[float, float]] | None:
    """The value of the first `a OP b` in the prompt (`17 + 25`, `8 times 7`, `144 divided by 12`) and its two
    operands; None when the prompt holds no such expression, chains a second operation (`3 + 4 * 5`: precedence is
    not worth parsing here) or divides by zero."""
    match = _EXPRESSION.search(prompt)
    if match is None or _CHAINED.match(prompt, match.end()):
        return None
    a, b = (float(match.group(i).replace(",", "")) for i in (1, 3))
    operator = match.group(2).lower()
    if operator in ("/", "÷", "divided by") and b == 0:
        return None
    return _OPERATORS[operator](a, b), (a, b)


def length_penalty(response: str, budget: int = WORD_BUDGET) -> float:
    """WORD_COST per word beyond `budget`, at most MAX_LENGTH_PENALTY."""
    return min(MAX_LENGTH_PENALTY, WORD_COST * max(0, len(response.split()) - budget))


def arithmetic(prompt: str, response: str) -> float:
    """Verifier for prompts that ask for one calculation, like "What is 17 + 25?".

    Rewards a reply that states the right result and nothing else numeric, because that is a direct answer
    (1.0); a reply that contains the right result among other numbers gets 0.5, because it may be a lucky guess in
    a list of guesses or a correct result buried in working that the reader must check; a reply without the right
    result gets 0. The prompt's own operands do not count as other numbers, so "17 + 25 = 42" is a direct answer
    (and when the result equals an operand, restating the prompt is not taken for answering it).
    WORD_COST is taken off for every word beyond WORD_BUDGET, at most MAX_LENGTH_PENALTY, so that of two right
    replies the shorter one wins and rambling is never chosen over a clean answer.

    A prompt with no `a OP b` in it scores 0 for every reply: all its replies tie, and `--min-gap` above 0 drops it
    instead of making a pair out of noise.
    """
    parsed = expected_answer(prompt)
    if parsed is None:
        return 0.0
    expected, operands = parsed
    numbers = numbers_in(response)
    if _states(numbers, expected, operands):
        others = [n for n in numbers if not _same(n, expected) and not any(_same(n, op) for op in operands)]
        correct = 0.5 if others else 1.0
    else:
        correct = 0.0
    return round(correct - length_penalty(response), 4)  # 0.41, not 0.41000000000000003, in the pairs file


def _states(numbers: list[float], expected: float, operands: tuple[float, float]) -> bool:
    """Whether the reply's numbers include the result. When the result equals an operand (81 / 9 = 9) and the reply
    restates both operands, one of its 9s is the restated operand: "81 / 9 = 9" states the result, "a quotient of 81
    with a remainder of 9" does not, while a bare "9" does."""
    count = sum(_same(n, expected) for n in numbers)
    restated = all(sum(_same(n, op) for n in numbers) >= sum(_same(o, op) for o in operands) for op in operands)
    needed = 1 + (sum(_same(op, expected) for op in operands) if restated else 0)
    return count >= needed


def _same(x: float, y: float) -> bool:
    """Equal to 2 decimals of relative precision, so 3.33 matches 10 / 3 but 3.3 does not."""
    return abs(x - y) <= 0.005 * max(1.0, abs(y))


# --- concise -----------------------------------------------------------------------------------------------------

_FILLER_OPENERS = (
    "sure",
    "certainly",
    "of course",
    "great question",
    "good question",
    "absolutely",
    "okay",
    "well,",
    "as an ai",
    "i'm happy to",
    "i am happy to",
    "i'd be happy to",
    "i would be happy to",
)


def concise(prompt: str, response: str) -> float:
    """A "direct and concise" heuristic for any prompt, scored from 1.0 down.

    Penalises what makes a short model's reply worse to read without being wrong in any checkable way:
      * a filler opener ("Sure!", "Great question", "As an AI...") before the answer: -0.3, the answer is late;
      * repetition, the share of word trigrams that occur more than once (a model looping on itself): up to -1.0;
      * length beyond 60 words: -0.01 a word, at most -0.45 (the reader wanted the answer, not an essay);
      * a reply that stops mid-sentence (no final . ! ? or closing quote/bracket/code fence), usually cut at
        --max-new-tokens: -0.2, so a complete reply beats an equally long truncated one.
    The prompt is not used; it is part of the signature every reward shares.
    """
    text = response.strip()
    if not text:
        return 0.0
    score = 1.0
    if text.lower().startswith(_FILLER_OPENERS):
        score -= 0.3
    words = re.findall(r"\w+", text.lower())
    trigrams = list(zip(words, words[1:], words[2:], strict=False))
    if trigrams:
        repeated = len(trigrams) - len(set(trigrams))
        score -= repeated / len(trigrams)
    score -= length_penalty(text, budget=60)
    if not text.endswith((".", "!", "?", '"', "'", ")", "]", "`", "*")):
        score -= 0.2
    return round(score, 4)
