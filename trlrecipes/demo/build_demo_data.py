"""Regenerate the demo preference set (train.jsonl, test.jsonl) from content.py. Deterministic: same seed, same bytes.

    python -m trlrecipes.demo.build_demo_data          # rewrite both files
    python -m trlrecipes.demo.build_demo_data --stats  # and print the statistics quoted in README.md

Every question yields two pairs with the same chosen answer: one against its confidently wrong answer (for most
questions) and one against a rude, evasive or off-topic reply. For each pair a coin decides whether the chosen or
the rejected side should be longer, and the rejected text is picked (or padded with overconfident filler) to
match, so that length alone does not give the answer away.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from trlrecipes.demo import content

SEED = 2
HERE = Path(__file__).parent
STYLES = ("rude", "evasive", "offtopic")
WRONG_SHARE = 0.8  # share of questions whose first pair uses the written wrong answer (the rest use two styles)
# Below 0.5 because a long chosen answer sometimes has no longer rejected option; this evens the outcome out.
CHOSEN_LONGER_ODDS = 0.45


@dataclass
class Item:
    split: str
    topic: str
    subject: str
    history: tuple[tuple[str, str], ...]
    question: str
    answer: str
    wrong: str


def parse_items(text: str = content.QA) -> list[Item]:
    items, header = [], None
    for block in text.strip().split("\n\n"):
        lines = block.strip().splitlines()
        if lines[0].startswith("## "):
            header = [part.strip() for part in lines.pop(0)[3:].split("|")]
        fields = dict(line.split(": ", 1) for line in lines)
        history = ((fields["H"], fields["P"]),) if "H" in fields else ()
        items.append(Item(*header, history, fields["Q"], fields["A"], fields["X"]))
    return items


def templates(block: str, split: str) -> list[str]:
    """Every fourth line belongs to the test split, the rest to train."""
    lines = block.strip().splitlines()
    return [line for i, line in enumerate(lines) if (i % 4 == 3) == (split == "test")]


def hh_text(history, question: str, reply: str) -> str:
    turns = [*history, (question, reply)]
    return "".join(f"\n\nHuman: {human}\n\nAssistant: {assistant}" for human, assistant in turns)


def pad_wrong(rng: random.Random, item: Item, chosen_longer: bool, openers: list[str], fillers: list[str]) -> str:
    text = item.wrong
    if chosen_longer:
        # Sometimes pad anyway (while staying shorter), so filler is not a sign of the longer side.
        candidate = f"{rng.choice(openers)} {text}" if rng.random() < 0.5 else f"{text} {rng.choice(fillers)}"
        return candidate if rng.random() < 0.3 and len(candidate) < len(item.answer) else text
    if rng.random() < 0.4:
        text = f"{rng.choice(openers)} {text}"
    for filler in rng.sample(fillers, 3):
        if len(text) > len(item.answer):
            break
        text = f"{text} {filler}"
    return text


def build(seed: int = SEED) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    out = {}
    for split in ("train", "test"):
        pools = {
            "rude": templates(content.RUDE, split),
            "evasive": templates(content.EVASIVE, split),
            "offtopic": templates(content.OFFTOPIC, split),
        }
        openers, fillers = templates(content.CONFIDENT_OPENERS, split), templates(content.CONFIDENT_FILLERS, split)
        used = Counter()
        rows = []
        for item in (item for item in parse_items() if item.split == split):
            first = "wrong" if rng.random() < WRONG_SHARE else None
            for kind in (first, None):
                if kind is None:  # the least used style so far keeps the three styles balanced
                    options = [s for s in STYLES if s != first]
                    kind = min(options, key=lambda s: (used[s], rng.random()))
                    first = first or kind
                used[kind] += 1
                chosen_longer = rng.random() < CHOSEN_LONGER_ODDS
                if kind == "wrong":
                    rejected = pad_wrong(rng, item, chosen_longer, openers, fillers)
                else:
                    texts = [t.format(subject=item.subject) for t in pools[kind]]
                    fit = [t for t in texts if (len(t) < len(item.answer)) == chosen_longer]
                    rejected = rng.choice(fit or texts)
                rows.append(
                    {
                        "chosen": hh_text(item.history, item.question, item.answer),
                        "rejected": hh_text(item.history, item.question, rejected),
                        "kind": kind,
                        "topic": item.topic,
                        "multi_turn": bool(item.history),
                    }
                )
        rng.shuffle(rows)
        out[split] = rows
    return out


def write(rows: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps({"chosen": row["chosen"], "rejected": row["rejected"]}, ensure_ascii=False) + "\n")


def last_reply(text: str) -> str:
    return text.rsplit("\n\nAssistant: ", 1)[1]


def stats(splits: dict[str, list[dict]]) -> str:
    from transformers import AutoTokenizer

    from trlrecipes.models import DEMO_MODEL, resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEMO_MODEL))
    n_tokens = lambda text: len(tokenizer(text, add_special_tokens=False).input_ids)  # noqa: E731
    lines = [
        "| split | pairs | topics | multi-turn | chosen longer (chars) | chosen longer (tokens) | "
        "mean reply chars chosen / rejected | kinds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for split, rows in splits.items():
        chosen = [last_reply(r["chosen"]) for r in rows]
        rejected = [last_reply(r["rejected"]) for r in rows]
        longer_chars = sum(len(c) > len(r) for c, r in zip(chosen, rejected, strict=False)) / len(rows)
        longer_tokens = sum(n_tokens(c) > n_tokens(r) for c, r in zip(chosen, rejected, strict=False)) / len(rows)
        kinds = Counter(r["kind"] for r in rows)
        lines.append(
            f"| {split} | {len(rows)} | {len({r['topic'] for r in rows})} | "
            f"{sum(r['multi_turn'] for r in rows)} | {longer_chars:.0%} | {longer_tokens:.0%} | "
            f"{sum(map(len, chosen)) / len(rows):.0f} / {sum(map(len, rejected)) / len(rows):.0f} | "
            + ", ".join(f"{k} {kinds[k]}" for k in ("wrong", *STYLES))
            + " |"
        )
    lines.append("")
    lines.append("Chosen longer, by rejected kind (chars):")
    for split, rows in splits.items():
        parts = []
        for kind in ("wrong", *STYLES):
            sub = [r for r in rows if r["kind"] == kind]
            share = sum(len(last_reply(r["chosen"])) > len(last_reply(r["rejected"])) for r in sub) / len(sub)
            parts.append(f"{kind} {share:.0%}")
        lines.append(f"- {split}: " + ", ".join(parts))
    lines.append("")
    lines.append(
        "Topics: "
        + "; ".join(f"{split}: " + ", ".join(sorted({r["topic"] for r in rows})) for split, rows in splits.items())
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats", action="store_true", help="print dataset statistics (loads the demo tokenizer)")
    args = parser.parse_args(argv)
    splits = build()
    for split, rows in splits.items():
        write(rows, HERE / f"{split}.jsonl")
        print(f"wrote {len(rows)} pairs to {HERE / f'{split}.jsonl'}")
    if args.stats:
        print(stats(splits))


if __name__ == "__main__":
    main()
