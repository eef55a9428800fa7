"""The `prompts` data format: a file of prompts for the programs that sample their own replies (iterative DPO,
GRPO, RLOO). `.txt`, one prompt a line, or `.jsonl`, one object a line with a `prompt` (a string, or a message list
ending with a user turn); every other field of a row is kept for the judge (e.g. an instruction task's
`constraints`). Read by `data.prompts.load_prompts`; declared here so that settings, checks and reports treat it
like any other format. No Hub dataset, no held-out split (name one with eval_dataset=).
"""

from __future__ import annotations

HUB_ID = None
KIND = "prompts"
FILE_SUFFIXES = (".txt", ".jsonl", ".jsonl.gz")
REQUIRED_FIELDS = ("prompt",)
DEFAULT_SPLIT = "train"
EVAL_SPLIT = None
SKIP_REASONS: dict[str, str] = {}  # a bad prompt is an error naming file:line, never a skip


def convert_row(row: dict) -> dict:
    """A prompt file's row as the prompt dataset holds it (an error for a malformed prompt, never a skip)."""
    from trlrecipes.data.prompts import _prompt_messages, _scalar

    extras = {key: _scalar(value) for key, value in row.items() if key != "prompt"}
    return {"prompt": _prompt_messages(row.get("prompt"), "prompt"), **extras}
