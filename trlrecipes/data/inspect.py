"""Lint and preview converted pairs before spending GPU time on them.

`inspect_pairs` tokenizes every pair the way TRL 1.16's `DPOTrainer._prepare_dataset` does: the prompt alone with
`add_generation_prompt=True`, prompt+chosen and prompt+rejected each rendered as one conversation, and the completion
taken as the tokens after the common prefix of the three (the prompt keeps only that common prefix). Lengths below
are those token counts, so "truncated" and "dropped" mean exactly what the trainer's `max_length` does to them.
"""

from __future__ import annotations

import difflib
import json
import math

from trlrecipes.errors import UserError

BOUNDARY = "⟦completion⟧"
LENGTH_KEYS = ("prompt", "chosen", "rejected", "prompt+chosen", "prompt+rejected")
PERCENTILES = (50, 90, 99)
EXAMPLES = 5
FLAGS = {
    "truncated": "prompt+chosen or prompt+rejected longer than max_length (cut by the collator)",
    "prompt_fills_max_length": "prompt alone >= max_length (TRL drops these pairs)",
    "identical": "chosen text == rejected text",
    "near_identical": "chosen vs rejected difflib ratio >= {ratio} (identical pairs not counted)",
    "chosen_longer": "chosen has more tokens than rejected (length bias)",
    "prompt_boundary_moved": "the prompt alone renders differently from the start of prompt+completion",
}


def _token_ids(tokenizer, messages: list[dict], **kwargs) -> list[int]:
    return list(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, **kwargs)["input_ids"])


def _common_prefix(ids: list[int], other: list[int]) -> int:
    length = 0
    for token, other_token in zip(ids, other, strict=False):
        if token != other_token:
            break
        length += 1
    return length


def tokenize_pair(row: dict, tokenizer) -> dict:
    """prompt_ids / chosen_ids / rejected_ids as TRL 1.16's DPO `tokenize_fn` computes them for a conversational
    row."""
    tools = row.get("tools")
    tools = json.loads(tools) if isinstance(tools, str) else tools
    kwargs = {"tools": tools, **(row.get("chat_template_kwargs") or {})}
    prompt_ids = _token_ids(tokenizer, row["prompt"], add_generation_prompt=True, **kwargs)
    chosen_full = _token_ids(tokenizer, row["prompt"] + row["chosen"], **kwargs)
    rejected_full = _token_ids(tokenizer, row["prompt"] + row["rejected"], **kwargs)
    cut = min(_common_prefix(prompt_ids, chosen_full), _common_prefix(prompt_ids, rejected_full))
    return {
        "prompt_ids": prompt_ids[:cut],
        "chosen_ids": chosen_full[cut:],
        "rejected_ids": rejected_full[cut:],
        "boundary_moved": cut < len(prompt_ids),
    }


def _check_row(row, index: int) -> None:
    for key in ("prompt", "chosen", "rejected"):
        value = row.get(key) if isinstance(row, dict) else None
        if not (isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value)):
            raise UserError(
                f"pair {index}: {key!r} must be a list of {{role, content}} messages (conversational "
                f"format); convert the data first"
            )


def _text(messages: list[dict]) -> str:
    return "\n\n".join(str(m["content"]) for m in messages)


def _near_identical(a: str, b: str, ratio: float) -> bool:
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    # The cheap upper bounds rule out most pairs before the quadratic comparison.
    return matcher.real_quick_ratio() >= ratio and matcher.quick_ratio() >= ratio and matcher.ratio() >= ratio


def _distribution(values: list[int]) -> dict[str, int | None]:
    """min, nearest-rank percentiles and max."""
    ordered = sorted(values)
    if not ordered:
        return {"min": None, **{f"p{p}": None for p in PERCENTILES}, "max": None}
    ranks = {f"p{p}": ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1] for p in PERCENTILES}
    return {"min": ordered[0], **ranks, "max": ordered[-1]}


def render_preview(index: int, tokens: dict, tokenizer) -> str:
    """The rendered pair with BOUNDARY where the trained completion starts."""

    def decode(ids):
        return tokenizer.decode(ids, skip_special_tokens=False)

    prompt, chosen, rejected = (tokens[key] for key in ("prompt_ids", "chosen_ids", "rejected_ids"))
    return (
        f"pair {index}: prompt {len(prompt)} tokens, chosen {len(chosen)}, rejected {len(rejected)}\n"
        f"{decode(prompt)}{BOUNDARY}{decode(chosen)}\n"
        f"--- rejected completion ---\n{BOUNDARY}{decode(rejected)}"
    )


def inspect_pairs(rows, tokenizer, max_length: int, preview: int = 3, near_identical_ratio: float = 0.9) -> dict:
    """A JSON-serialisable report on conversational pairs (a list of dicts or a datasets.Dataset)."""
    if not getattr(tokenizer, "chat_template", None):
        raise UserError("the tokenizer has no chat template; inspect_pairs renders pairs with it as DPOTrainer does")
    lengths = {key: [] for key in LENGTH_KEYS}
    flagged = {key: [] for key in FLAGS}
    previews = []
    count = 0
    for index, row in enumerate(rows):
        count += 1
        _check_row(row, index)
        tokens = tokenize_pair(row, tokenizer)
        prompt, chosen, rejected = (len(tokens[key]) for key in ("prompt_ids", "chosen_ids", "rejected_ids"))
        values = (prompt, chosen, rejected, prompt + chosen, prompt + rejected)
        for key, value in zip(LENGTH_KEYS, values, strict=True):
            lengths[key].append(value)
        chosen_text, rejected_text = _text(row["chosen"]), _text(row["rejected"])
        identical = chosen_text == rejected_text
        checks = {
            "truncated": prompt + max(chosen, rejected) > max_length,
            "prompt_fills_max_length": prompt >= max_length,
            "identical": identical,
            "near_identical": not identical and _near_identical(chosen_text, rejected_text, near_identical_ratio),
            "chosen_longer": chosen > rejected,
            "prompt_boundary_moved": tokens["boundary_moved"],
        }
        for key, hit in checks.items():
            if hit:
                flagged[key].append(index)
        if index < preview:
            previews.append(render_preview(index, tokens, tokenizer))
    report = {
        "rows": count,
        "max_length": max_length,
        "near_identical_ratio": near_identical_ratio,
        "lengths": {key: _distribution(values) for key, values in lengths.items()},
    }
    for key, indices in flagged.items():
        report[key] = {
            "count": len(indices),
            "share": len(indices) / count if count else 0.0,
            "examples": indices[:EXAMPLES],
        }
    report["previews"] = previews
    return report


def format_report(report: dict, summary_text: str | None = None) -> str:
    """The report as terminal text; `summary_text` (e.g. a ConversionSummary.format()) goes first."""
    lines = [summary_text, ""] if summary_text else []
    lines.append(f"{report['rows']} pairs, max_length {report['max_length']} (token counts as DPOTrainer sees them)")
    columns = ["min", *(f"p{p}" for p in PERCENTILES), "max"]
    lines.append(f"  {'tokens':<16}" + "".join(f"{name:>8}" for name in columns))
    for key, dist in report["lengths"].items():
        lines.append(f"  {key:<16}" + "".join(f"{'-' if dist[name] is None else dist[name]:>8}" for name in columns))
    for key, meaning in FLAGS.items():
        entry = report[key]
        examples = f"  e.g. pairs {', '.join(map(str, entry['examples']))}" if entry["count"] else ""
        lines.append(
            f"  {key:<24}{entry['count']:>7}  {entry['share']:>6.1%}  "
            f"{meaning.format(ratio=report['near_identical_ratio'])}{examples}"
        )
    for text in report["previews"]:
        lines += ["", text]
    return "\n".join(lines)
