"""Build the instruction task's prompt files from instruction_content.py. Deterministic: same seed, same bytes.

    python -m trlrecipes.tasks.build_instructions     # rewrite instructions-train.jsonl / instructions-test.jsonl

A row is an everyday question with 1-3 constraints of the kinds in SHIPPED_KINDS (the kinds the embedded model
meets sometimes: see instructions.py), each constraint in one of its wordings, parameters drawn from the seed.
Held out honestly, so that a gain on the test file is a gain in the skill, not in recalling training prompts:
  * test questions never occur in training;
  * about half of the test constraints use wordings no training prompt uses;
  * some pairs of kinds (TEST_ONLY_SHARE of the compatible pairs) are combined only in test prompts.
Kinds that cannot hold together (exactly 3 sentences and 2 paragraphs, a quoted reply that starts with "Sure!")
are never combined; parameters that clash (a capitalised phrase with "all lowercase") are redrawn.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
from collections import Counter

from trlrecipes.tasks import instruction_content as content
from trlrecipes.tasks.instructions import (
    DEMO_TEST_FILE,
    DEMO_TRAIN_FILE,
    KINDS,
    TEST_FILE,
    TRAIN_FILE,
    check,
    count_sentences,
    phrase_pattern,
)

SEED = 2024
TRAIN_SIZE, TEST_SIZE = 700, 248  # 5 rows per training question, 4 per test question
CONSTRAINT_COUNTS = (1, 1, 2, 2, 3)  # 40 % one constraint, 40 % two, 20 % three
TEST_ONLY_WORDING_SHARE = 0.5  # of the test constraints, worded in a test-only wording
TEST_ONLY_SHARE = 0.25  # of the compatible kind pairs, combined in test prompts only
TEST_ONLY_COMBO_SHARE = 0.5  # of the test rows with 2+ constraints, built on a test-only pair
CONSTRAINTS_FIRST_SHARE = 0.15  # prompts that give the constraints before the question
REPEAT_SHARE = 0.2  # starts_with constraints whose phrase is the question itself ("repeat the question")

# Measured by benchmarks/instruction_base_rates.py (figures and reasons in instructions.py): the embedded model met
# these in 0 of 64 sampled replies, so best-of-N sampling finds no pair to learn from. Their checkers stay.
DROPPED_KINDS = ("paragraphs", "lowercase", "uppercase", "quoted")
SHIPPED_KINDS = tuple(kind for kind in KINDS if kind not in DROPPED_KINDS)

# Kinds that cannot, or can hardly, hold in one reply; symmetric.
_CONFLICTS = {
    "json": set(KINDS) - {"json", "max_words", "min_words", "include_keyword", "exclude_keyword", "lowercase"},
    "quoted": {"starts_with", "ends_with", "title", "postscript", "bullets", "numbered", "paragraphs"},
    "bullets": {"numbered", "sentences", "paragraphs"},
    "numbered": {"sentences", "paragraphs"},
    "sentences": {"paragraphs", "min_words", "postscript", "title"},
    "max_words": {"min_words", "paragraphs"},
    "title": {"starts_with"},
    "postscript": {"ends_with"},
    "lowercase": {"uppercase"},
}
CONFLICTS = {frozenset((a, b)) for a, others in _CONFLICTS.items() for b in others}


def compatible(kinds) -> bool:
    kinds = list(kinds)
    return len(set(kinds)) == len(kinds) and not any(
        frozenset(p) in CONFLICTS for p in itertools.combinations(kinds, 2)
    )


def test_only_pairs(kinds=SHIPPED_KINDS, seed: int = SEED) -> set[frozenset]:
    """A fixed share of the compatible kind pairs, combined in test prompts only."""
    pairs = [frozenset(p) for p in itertools.combinations(sorted(kinds), 2) if compatible(p)]
    pairs.sort(key=sorted)
    return set(random.Random(f"{seed}-pairs").sample(pairs, round(len(pairs) * TEST_ONLY_SHARE)))


def consistent(constraints: list[dict]) -> bool:
    """Whether parameters fit together: phrase casing with lowercase/uppercase, commas in a phrase with
    no_commas, an excluded word inside a phrase or the included word, sentence ends inside phrases."""
    kinds = {c["kind"]: c for c in constraints}
    phrases = [c.get("phrase") or c.get("marker", "P.S.") for c in constraints if c["kind"] in _PHRASE_KINDS]
    if "lowercase" in kinds and any(any(ch.isupper() for ch in p) for p in phrases):
        return False
    if "uppercase" in kinds and any(any(ch.islower() for ch in p) for p in phrases):
        return False
    if "no_commas" in kinds and any("," in p for p in phrases):
        return False
    if "exclude_keyword" in kinds:
        banned = kinds["exclude_keyword"]["word"]
        others = phrases + ([kinds["include_keyword"]["word"]] if "include_keyword" in kinds else [])
        if any(phrase_pattern(banned).search(text) for text in others):
            return False
    if "sentences" in kinds:  # a phrase ending a sentence ("Sure!") is one of the n sentences
        closed = sum(count_sentences(p) for p in phrases if re.search(r"[.!?]$", p))
        if kinds["sentences"]["n"] <= closed:
            return False
    return True


_PHRASE_KINDS = ("starts_with", "ends_with", "postscript")


def draw_constraint(rng: random.Random, kind: str, entry: tuple, wordings: tuple) -> tuple[dict, str]:
    """One constraint of `kind` for a question entry, and its wording drawn from `wordings` (templates)."""
    question, keywords, topic = entry
    constraint: dict = {"kind": kind}
    template = rng.choice(wordings)
    if kind in content.PARAMS:
        constraint["n"] = rng.choice(content.PARAMS[kind])
    elif kind == "starts_with":
        constraint["phrase"] = rng.choice(content.START_PHRASES)
    elif kind == "ends_with":
        constraint["phrase"] = rng.choice(content.END_PHRASES)
    elif kind == "include_keyword":
        constraint["word"] = rng.choice(keywords)
    elif kind == "exclude_keyword":
        constraint["word"] = topic
    elif kind == "postscript":
        constraint["marker"] = "P.S."
    return constraint, render(template, constraint)


def render(template: str, constraint: dict) -> str:
    n = constraint.get("n", 0)
    return template.format(
        n=n,
        n_word=content.NUMBER_WORDS.get(n, str(n)),
        s="" if n == 1 else "s",
        phrase=constraint.get("phrase", ""),
        word=constraint.get("word", ""),
        marker=constraint.get("marker", ""),
    )


def _wordings(kind: str, split: str, rng: random.Random, *, repeat: bool = False) -> tuple:
    train, test_only = content.REPEAT_WORDINGS if repeat else content.WORDINGS[kind]
    if split == "test" and rng.random() < TEST_ONLY_WORDING_SHARE:
        return test_only
    return train


def make_row(rng: random.Random, split: str, entry: tuple, kinds: tuple[str, ...]) -> dict | None:
    """A row asking `entry`'s question under constraints of `kinds`; None when the drawn parameters clash."""
    constraints, texts = [], []
    for kind in kinds:
        if kind == "starts_with" and rng.random() < REPEAT_SHARE:
            constraint = {"kind": "starts_with", "phrase": entry[0]}
            texts.append(render(rng.choice(_wordings(kind, split, rng, repeat=True)), constraint))
        else:
            constraint, text = draw_constraint(rng, kind, entry, _wordings(kind, split, rng))
            texts.append(text)
        constraints.append(constraint)
    if not consistent(constraints):
        return None
    instructions = " ".join(texts)
    first = rng.random() < CONSTRAINTS_FIRST_SHARE
    prompt = f"{instructions} {entry[0]}" if first else f"{entry[0]} {instructions}"
    return {"prompt": prompt, "constraints": constraints, "question": entry[0]}


def _draw_kinds(rng: random.Random, count: int, kinds: tuple, held: set, want_held: bool) -> tuple[str, ...]:
    """`count` compatible kinds; with `want_held` the set holds a test-only pair, otherwise none."""
    while True:
        if want_held:
            pair = sorted(rng.choice(sorted(held, key=sorted)))
            chosen = pair + rng.sample([k for k in kinds if k not in pair], count - 2)
        else:
            chosen = rng.sample(kinds, count)
        if not compatible(chosen):
            continue
        has_held = any(frozenset(p) in held for p in itertools.combinations(chosen, 2))
        if has_held == want_held:
            order = list(chosen)
            rng.shuffle(order)
            return tuple(order)


def build(seed: int = SEED, kinds: tuple[str, ...] = SHIPPED_KINDS) -> dict[str, list[dict]]:
    """Train and test rows."""
    rng = random.Random(seed)
    held = test_only_pairs(kinds, seed)
    out = {}
    for split, questions, size in (
        ("train", content.TRAIN_QUESTIONS, TRAIN_SIZE),
        ("test", content.TEST_QUESTIONS, TEST_SIZE),
    ):
        order = list(questions)
        rng.shuffle(order)
        rows, seen = [], set()
        while len(rows) < size:
            entry = order[len(rows) % len(order)]
            count = rng.choice(CONSTRAINT_COUNTS)
            want_held = split == "test" and count > 1 and rng.random() < TEST_ONLY_COMBO_SHARE
            row = make_row(rng, split, entry, _draw_kinds(rng, count, kinds, held, want_held))
            if row is None or row["prompt"] in seen:
                continue
            seen.add(row["prompt"])
            rows.append(row)
        rng.shuffle(rows)
        out[split] = [{**row, "id": f"{split}-{i + 1:04d}"} for i, row in enumerate(rows)]
    return out


def single_kind_rows(kind: str, count: int) -> list[dict]:
    """`count` training-style prompts whose only constraint is `kind` (any kind, shipped or not): training
    questions and training wordings, drawn from a seed of their own. For measuring base rates."""
    rng = random.Random(f"base-rates-{kind}")
    questions = rng.sample(content.TRAIN_QUESTIONS, count)
    rows = []
    for i, entry in enumerate(questions):
        row = None
        while row is None:
            row = make_row(rng, "train", entry, (kind,))
        rows.append({**row, "id": f"{kind}-{i + 1:02d}"})
    return rows


# The --demo's task: what a short, well-formed reply meets and the embedded model learns in one CPU round. One
# constraint a prompt; the held-out prompts ask test questions in test-only wordings. Chosen by measurement
# (ifeval-dpo --demo, one round of 48 prompts x 4 samples, 20 steps): with sentences and starts_with in the set as
# well, held-out accuracy rose 0.23 -> 0.40 and 0.17 -> 0.53 in two runs, but exactly-N-sentences fell (0.41 ->
# 0.18: the trained replies got short, not countable) and starts_with never moved (0.11 -> 0.11); without them,
# 0.12 -> 0.36 (benchmarks/RESULTS.md, "Instruction following").
DEMO_KINDS = ("max_words", "no_commas", "include_keyword", "exclude_keyword", "title")
DEMO_TRAIN_SIZE, DEMO_TEST_SIZE = 96, 120


def build_demo(seed: int = SEED, kinds: tuple[str, ...] = DEMO_KINDS) -> dict[str, list[dict]]:
    """The demo's train and held-out rows: single-constraint prompts cycling through `kinds`; train questions in
    training wordings, test questions in test-only wordings."""
    out = {}
    for split, questions, size in (
        ("train", content.TRAIN_QUESTIONS, DEMO_TRAIN_SIZE),
        ("test", content.TEST_QUESTIONS, DEMO_TEST_SIZE),
    ):
        rng = random.Random(f"demo-{split}-{seed}")
        order = list(questions)
        rng.shuffle(order)
        rows, seen, i = [], set(), 0
        while len(rows) < size:
            entry, kind = order[i % len(order)], kinds[i % len(kinds)]
            i += 1
            train_wordings, test_wordings = content.WORDINGS[kind]
            constraint, text = draw_constraint(rng, kind, entry, test_wordings if split == "test" else train_wordings)
            prompt = f"{entry[0]} {text}"
            if prompt not in seen:
                seen.add(prompt)
                rows.append({"prompt": prompt, "constraints": [constraint], "question": entry[0]})
        rng.shuffle(rows)
        out[split] = [{**row, "id": f"demo-{split}-{n + 1:04d}"} for n, row in enumerate(rows)]
    return out


def write(splits: dict[str, list[dict]], files: tuple = ((("train", TRAIN_FILE), ("test", TEST_FILE)))) -> None:
    for split, path in files:
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in splits[split]))
        print(f"wrote {len(splits[split])} prompts to {path}")


def stats(splits: dict[str, list[dict]]) -> str:
    lines = []
    for split, rows in splits.items():
        kinds = Counter(c["kind"] for row in rows for c in row["constraints"])
        sizes = Counter(len(row["constraints"]) for row in rows)
        lines.append(f"{split}: {len(rows)} prompts, constraints per prompt {dict(sorted(sizes.items()))}")
        lines.append("  " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats", action="store_true", help="also print per-kind and per-size counts")
    args = parser.parse_args(argv)
    splits = build()
    for rows in splits.values():  # every shipped prompt's constraints are well-formed
        for row in rows:
            for constraint in row["constraints"]:
                check(constraint, "x")
    write(splits)
    demo = build_demo()
    write(demo, (("train", DEMO_TRAIN_FILE), ("test", DEMO_TEST_FILE)))
    if args.stats:
        print(stats(splits))
        print(stats(demo))


if __name__ == "__main__":
    main()
