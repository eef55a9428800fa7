"""GSM8K's verifier: a reply is right when its last number equals the problem's answer.

    trlrecipes eval RUN --generate --prompts gsm8k-test.jsonl --reward trlrecipes.tasks.gsm8k:verify

The convention of GSM8K's own evaluation and of the RL-from-verifiable-rewards work that uses it: the *last* number
in the reply is its answer, so "... 48 + 24 = 72 clips. The answer is 72." is right for 72 and "72, or maybe 70" is
wrong. Numbers are read as people write them: thousands separators ("1,000"), a "$" ("$18", "-$5"), a minus sign
(also the Unicode one), decimals ("18.00" equals 18), a sentence's closing period ("72."), markdown or LaTeX around
them ("**72**", "\\boxed{72}"). Digits glued to letters are not numbers ("x2", "step2"), and a hyphen between two
numbers is a range or a subtraction, not a minus ("3-5" reads 3 and 5). A comma followed by other than three digits
separates numbers ("1,2,3" is three). Known limits of the convention: a reply that adds a number after its answer
("72 clips in 2 months") is judged by that last number; fractions are read as two numbers ("3/4" ends with 4).

`answer` is the row's `answer` column (data_format=gsm8k writes it as canonical number text; any number text
works). The judge signature of trlrecipes (fn(prompt, response, **row_fields) -> float); other row fields are
accepted and unused. Pure Python.
"""

from __future__ import annotations

import re
from decimal import Decimal

from trlrecipes.errors import UserError

# A number in free text: not glued to a preceding letter, digit or "." (so "x2" and the ".3" of "1.5.3" start none;
# in "3-5" the hyphen follows a digit, so it is no minus), an optional minus (ASCII or U+2212) and "$" in either
# order, digits with comma-grouped thousands or none, an optional decimal part.
NUMBER = re.compile(
    r"(?<![\w.])(?:(?P<sign>[-\u2212])\$?|\$(?P<sign2>[-\u2212])?)?(?<![\w.])"
    r"(?P<digits>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?P<fraction>\.\d+)?"
)


def numbers(text: str) -> list[Decimal]:
    """Every number in `text`, in order, as exact decimals."""
    found = []
    for match in NUMBER.finditer(text):
        value = Decimal(match["digits"].replace(",", "") + (match["fraction"] or ""))
        found.append(-value if (match["sign"] or match["sign2"]) else value)
    return found


def last_number(text: str) -> Decimal | None:
    """The reply's answer under GSM8K's convention: its last number (None when it has none)."""
    found = numbers(text)
    return found[-1] if found else None


def expected(answer: object) -> Decimal:
    """The row's answer as a number: "72", "1,000", "$5.50", 72 or 72.0 (one number, nothing else)."""
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
        raise UserError(
            f"gsm8k.verify needs the row's answer as number text, got {answer!r:.60}: use prompts with an 'answer' "
            f"column (data_format=gsm8k writes it)"
        )
    found = numbers(str(answer))
    if len(found) != 1:
        raise UserError(f"gsm8k.verify: the answer {answer!r:.60} is not one number")
    return found[0]


def verify(prompt: str, response: str, answer: object = None, **row_fields) -> float:
    """1.0 when the last number of `response` equals `answer`, else 0.0 (also for a reply with no number)."""
    if answer is None:
        raise UserError(
            "gsm8k.verify needs the row's answer: use prompts with an 'answer' column (data_format=gsm8k, or a "
            ".jsonl prompt file whose rows carry 'answer')"
        )
    if not isinstance(response, str):
        raise UserError(f"gsm8k.verify judges text replies, got {type(response).__name__}")
    reply = last_number(response)
    return 1.0 if reply is not None and reply == expected(answer) else 0.0
