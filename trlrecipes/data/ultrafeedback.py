"""UltraFeedback, binarized by Hugging Face H4 (`HuggingFaceH4/ultrafeedback_binarized`, MIT licence).

Rows: `prompt` (str), `prompt_id`, `chosen` / `rejected` / `messages` (lists of {role, content}: the prompt as the
first user turn, then the assistant reply), `score_chosen` / `score_rejected` (GPT-4 ratings, floats). The prompt is
taken from the message lists (the turns before the final reply), which must agree between chosen and rejected.
"""

from __future__ import annotations

import math

from trlrecipes.data.common import MESSAGE_SKIPS, PAIR_SKIPS, Option, Skip, make_pair, messages, split_final_reply

HUB_ID = "HuggingFaceH4/ultrafeedback_binarized"
DEFAULT_SPLIT = "train_prefs"
EVAL_SPLIT = "test_prefs"
REQUIRED_FIELDS = ("chosen", "rejected", "score_chosen", "score_rejected")
TEXT_FIELDS = ("prompt",)
OPTIONS = {"keep_ties": Option(bool, False, "keep pairs whose two GPT-4 scores are equal (a coin-flip preference)")}
SKIP_REASONS = {
    **PAIR_SKIPS,
    **MESSAGE_SKIPS,
    "invalid_score": "score_chosen or score_rejected is missing or not a number",
    "chosen_scored_lower": "the chosen reply has a lower score than the rejected one",
    "tied_scores": "both replies have the same score, so the preference is arbitrary (keep_ties=True keeps them)",
}


def _score(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise Skip("invalid_score")  # a score given as text ("4.5") is not read as a number either
    return float(value)


def convert_row(row: dict, keep_ties: bool = False) -> dict:
    prompt, chosen = split_final_reply(messages(row["chosen"]))
    rejected_prompt, rejected = split_final_reply(messages(row["rejected"]))
    if rejected_prompt != prompt:
        raise Skip("prompt_mismatch")
    score_chosen, score_rejected = _score(row["score_chosen"]), _score(row["score_rejected"])
    if score_chosen < score_rejected:
        raise Skip("chosen_scored_lower")
    if score_chosen == score_rejected and not keep_ties:
        raise Skip("tied_scores")
    return make_pair(prompt, chosen, rejected)
