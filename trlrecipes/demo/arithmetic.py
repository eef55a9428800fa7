"""A verifiable task written for trlrecipes: one-step arithmetic word problems whose answers a program checks.

    python -m trlrecipes.demo.arithmetic            # rewrite arithmetic-train.jsonl / arithmetic-test.jsonl
    trlrecipes synth trlrecipes/demo/arithmetic-train.jsonl --output pairs.jsonl --model smollm2-135m-offline \\
        --reward trlrecipes.demo.arithmetic:reward --min-gap 0.5
    trlrecipes eval RUN --generate --prompts trlrecipes/demo/arithmetic-test.jsonl \\
        --reward trlrecipes.demo.arithmetic:verify

Each row is {"prompt": text, "answer": integer, "template": id, "split": ...}; `synth` and `eval --prompts` read the
`prompt` field and ignore the rest. Problems are built from templates (adding, taking away, groups of, sharing
equally) with names, objects and numbers drawn from a fixed seed, so the same seed gives the same bytes. Held out
honestly: the test set uses numbers, and a third of it templates, that no training prompt uses, so a trained model
cannot pass by recalling a training answer.

Judges (the synth/eval signature, fn(prompt, response) -> float):
  * `verify`: 1.0 when the last number in the reply is the answer, else 0.0 (the GSM8K convention: the final
    number is the answer; working before it is allowed). Its mean over prompts is the task accuracy.
  * `reward`: `verify` minus 0.01 per word beyond 30 (at most 0.45), for best-of-N pairs: of two right replies
    the shorter wins, and a right reply always beats a wrong one.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from functools import lru_cache
from pathlib import Path

from trlrecipes.errors import UserError

HERE = Path(__file__).parent
TRAIN_FILE = HERE / "arithmetic-train.jsonl"
TEST_FILE = HERE / "arithmetic-test.jsonl"
SEED = 15
TRAIN_SIZE, TEST_SIZE = 320, 120
TEST_ONLY_SHARE = 1 / 3  # of the test prompts, from templates no training prompt uses
WORD_BUDGET, WORD_COST, MAX_LENGTH_PENALTY = 30, 0.01, 0.45

NAMES = (
    "Ana",
    "Ben",
    "Chen",
    "Dara",
    "Eli",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jo",
    "Kofi",
    "Lena",
    "Mia",
    "Nico",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
    "Zoe",
)
THINGS = (
    "apples",
    "marbles",
    "stickers",
    "pencils",
    "stamps",
    "cookies",
    "shells",
    "books",
    "coins",
    "cards",
    "beads",
    "eggs",
    "buttons",
    "plums",
    "candles",
    "ribbons",
)
GROUPS = ("bags", "boxes", "jars", "baskets", "trays", "packs")

# (id, operation, text). {n} a name, {t} things, {g} groups; a and b are the operands of `operation`.
TEMPLATES = (
    ("add-buys", "+", "{n} has {a} {t} and buys {b} more. How many {t} does {n} have now?"),
    ("add-gift", "+", "{n} had {a} {t}. A friend gave {n} {b} more. How many {t} does {n} have?"),
    ("add-two", "+", "There are {a} {t} in one pile and {b} {t} in another. How many {t} are there in all?"),
    ("add-found", "+", "{n} collected {a} {t} on Monday and {b} {t} on Tuesday. How many {t} in total?"),
    ("sub-gives", "-", "{n} has {a} {t} and gives away {b}. How many {t} are left?"),
    ("sub-eats", "-", "There were {a} {t} on the table. {n} took {b} of them. How many {t} are still on the table?"),
    ("sub-lost", "-", "{n} started with {a} {t} and lost {b}. How many {t} does {n} have now?"),
    ("sub-need", "-", "{n} needs {a} {t} and already has {b}. How many more {t} does {n} need?"),
    ("mul-groups", "*", "{n} has {a} {g} with {b} {t} in each. How many {t} does {n} have?"),
    ("mul-rows", "*", "A shelf holds {a} rows of {t} with {b} in each row. How many {t} are on the shelf?"),
    ("mul-days", "*", "{n} gets {b} {t} every day for {a} days. How many {t} does {n} get?"),
    ("div-share", "/", "{n} shares {a} {t} equally among {b} friends. How many {t} does each friend get?"),
    ("div-pack", "/", "{a} {t} are packed into {g} of {b}. How many {g} are filled?"),
    ("div-rows", "/", "{n} puts {a} {t} into {b} equal rows. How many {t} are in each row?"),
    ("add-more", "+", "{n} has {a} {t}. Then {n} makes {b} more. How many {t} are there now?"),
)
TEST_ONLY = ("add-found", "sub-need", "mul-days", "div-rows", "add-more")  # a third of the templates


def _operands(rng: random.Random, operation: str) -> tuple[int, int, int]:
    if operation == "+":
        a, b = rng.randint(3, 60), rng.randint(2, 40)
        return a, b, a + b
    if operation == "-":
        a = rng.randint(10, 90)
        b = rng.randint(2, a - 1)
        return a, b, a - b
    if operation == "*":
        a, b = rng.randint(2, 9), rng.randint(2, 12)
        return a, b, a * b
    b, quotient = rng.randint(2, 9), rng.randint(2, 12)
    return b * quotient, b, quotient


def build(seed: int = SEED) -> dict[str, list[dict]]:
    """Train and test rows. A problem's numbers (a, b) are never shared between the splits."""
    rng = random.Random(seed)
    shared = [t for t in TEMPLATES if t[0] not in TEST_ONLY]
    test_only = [t for t in TEMPLATES if t[0] in TEST_ONLY]
    seen_prompts, used_numbers = set(), {}
    out = {"train": [], "test": []}
    plan = [
        ("train", shared, TRAIN_SIZE),
        ("test", test_only, round(TEST_SIZE * TEST_ONLY_SHARE)),
        ("test", shared, TEST_SIZE - round(TEST_SIZE * TEST_ONLY_SHARE)),
    ]
    for split, templates, size in plan:
        made = 0
        while made < size:
            template_id, operation, text = templates[made % len(templates)]
            a, b, answer = _operands(rng, operation)
            if used_numbers.setdefault((operation, a, b), split) != split:
                continue  # these numbers belong to the other split
            prompt = text.format(n=rng.choice(NAMES), t=rng.choice(THINGS), g=rng.choice(GROUPS), a=a, b=b)
            if prompt in seen_prompts:
                continue
            seen_prompts.add(prompt)
            out[split].append({"prompt": prompt, "answer": answer, "template": template_id, "split": split})
            made += 1
    for rows in out.values():
        rng.shuffle(rows)
    return out


def write(splits: dict[str, list[dict]]) -> None:
    for split, path in (("train", TRAIN_FILE), ("test", TEST_FILE)):
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in splits[split]))
        print(f"wrote {len(splits[split])} problems to {path}")


@lru_cache(maxsize=1)
def answers() -> dict[str, int]:
    """prompt -> answer for every problem of both splits (built in memory: the files are this, written out)."""
    return {row["prompt"]: row["answer"] for rows in build().values() for row in rows}


_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])-?\d+(?:\.\d+)?")


def final_number(text: str) -> float | None:
    """The last number written in `text` (1,234 and 3.5 read as one number; a digit inside a word does not count)."""
    found = _NUMBER.findall(text)
    return float(found[-1].replace(",", "")) if found else None


def verify(prompt: str, response: str) -> float:
    """1.0 when the reply's last number is the problem's answer, else 0.0."""
    expected = answers().get(prompt.strip())
    if expected is None:
        raise UserError(
            f"trlrecipes.demo.arithmetic: {prompt[:60]!r} is not one of its problems; verify only "
            f"judges prompts from arithmetic-train.jsonl / arithmetic-test.jsonl"
        )
    value = final_number(response)
    return 1.0 if value is not None and abs(value - expected) < 1e-9 else 0.0


def reward(prompt: str, response: str) -> float:
    """`verify` minus WORD_COST per word beyond WORD_BUDGET (at most MAX_LENGTH_PENALTY): for best-of-N pairs."""
    penalty = min(MAX_LENGTH_PENALTY, WORD_COST * max(0, len(response.split()) - WORD_BUDGET))
    return round(verify(prompt, response) - penalty, 4)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    write(build())


if __name__ == "__main__":
    main()
