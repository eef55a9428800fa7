"""Orca DPO pairs (`Intel/orca_dpo_pairs`, Apache-2.0): one `train` split of 12,859 rows, no held-out split.

Rows: `system` (may be empty), `question`, `chosen`, `rejected` (strings). A non-empty system prompt becomes a
system message before the user question.
"""

from __future__ import annotations

from trlrecipes.data.common import PAIR_SKIPS, make_pair, message, text

HUB_ID = "Intel/orca_dpo_pairs"
DEFAULT_SPLIT = "train"
EVAL_SPLIT = None  # train only: hold out a slice of train for evaluation
REQUIRED_FIELDS = ("question", "chosen", "rejected")  # `system` is optional: a missing or null one means none
TEXT_FIELDS = ("system", "question", "chosen", "rejected")
SKIP_REASONS = {key: PAIR_SKIPS[key] for key in ("not_text", "empty_prompt", "empty_reply", "identical_replies")}


def convert_row(row: dict) -> dict:
    system = text(row.get("system"), optional=True)
    prompt = ([message("system", system)] if system else []) + [message("user", text(row["question"]))]
    return make_pair(prompt, text(row["chosen"]), text(row["rejected"]))
