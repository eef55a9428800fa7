"""Stanford Human Preferences (`stanfordnlp/SHP`): Reddit posts with two top-level comments; splits train/validation/
test, one folder per subreddit (pass it as `subset`, e.g. "askculinary").

Rows: `history` (the post, used as the prompt), `human_ref_A`, `human_ref_B` (the comments), `labels` (1: A is
preferred, 0: B is), `score_A`, `score_B` (upvotes), `score_ratio` (preferred score / other score, >= 1).

Default `min_score_ratio=2.0`: a small upvote ratio is a weak, noisy preference (the comments may differ mostly in
timing or visibility); the SHP authors trained their SteamSHP models only on pairs with a ratio of at least 2.
Pass `min_score_ratio=1.0` to keep every pair.
"""

from __future__ import annotations

import math

from trlrecipes.data.common import PAIR_SKIPS, Option, Skip, make_pair, message, text

HUB_ID = "stanfordnlp/SHP"
DEFAULT_SPLIT = "train"
EVAL_SPLIT = "validation"
REQUIRED_FIELDS = ("history", "human_ref_A", "human_ref_B", "labels", "score_ratio")
TEXT_FIELDS = ("history", "human_ref_A", "human_ref_B")
DEFAULT_MIN_SCORE_RATIO = 2.0
OPTIONS = {
    "min_score_ratio": Option(
        float,
        DEFAULT_MIN_SCORE_RATIO,
        "skip pairs whose upvote ratio is below this; 1.0 keeps every pair (the SHP authors trained on >= 2)",
    )
}
# The Hub rows are grouped by subreddit: a row cap takes a seeded random sample, not the first rows.
SAMPLE_CAPS = True
SKIP_REASONS = {
    **{key: PAIR_SKIPS[key] for key in ("not_text", "empty_prompt", "empty_reply", "identical_replies")},
    "invalid_label": "labels is neither 1 (A preferred) nor 0 (B preferred)",
    "label_contradicts_scores": "the preferred comment has fewer upvotes than the other one",
    "invalid_score": "score_A, score_B or score_ratio is not a number",
    "low_score_ratio": "the upvote ratio is below min_score_ratio, a weak preference",
}


def _number(value, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise Skip("invalid_score")
    return value


def convert_row(row: dict, min_score_ratio: float = DEFAULT_MIN_SCORE_RATIO) -> dict:
    label = row["labels"]
    if isinstance(label, bool) or label not in (0, 1):
        raise Skip("invalid_label")
    a, b = text(row["human_ref_A"]), text(row["human_ref_B"])
    chosen, rejected = (a, b) if label == 1 else (b, a)
    score_a, score_b = _number(row.get("score_A"), optional=True), _number(row.get("score_B"), optional=True)
    if score_a is not None and score_b is not None and (score_a < score_b if label == 1 else score_b < score_a):
        raise Skip("label_contradicts_scores")
    ratio = row["score_ratio"]
    if ratio is None or _number(ratio) < min_score_ratio:
        raise Skip("low_score_ratio")
    return make_pair([message("user", text(row["history"]))], chosen, rejected)
