"""PKU-SafeRLHF (`PKU-Alignment/PKU-SafeRLHF`), splits train/test. LICENCE: CC BY-NC 4.0, non-commercial use only;
a model trained on it inherits that restriction in practice.

Rows: `prompt`, `response_0`, `response_1`, `better_response_id` (0/1, more helpful), `safer_response_id` (0/1,
more harmless), `is_response_0_safe`, `is_response_1_safe` (bools). The default config mixes the responses of all
generator models; pass `subset="data/Alpaca-7B"` (or Alpaca2-7B, Alpaca3-8B) for one of them.

`axis` picks which preference becomes chosen/rejected: "safe" (default: what this dataset is for) or "helpful".
Pairs where the two axes pick different responses are counted as the note `axes_disagree` (kept, not skipped).

`skip_both_unsafe=True` (default, safe axis only): when both responses are unsafe, the "safer" one is still harmful,
and preference training raises its likelihood relative to the rejected one, so by default such pairs are skipped.
On the helpful axis the flags are not used: choosing that axis means asking for helpfulness regardless of safety.
"""

from __future__ import annotations

from trlrecipes.data.common import NOTES_KEY, PAIR_SKIPS, Option, Skip, make_pair, message, text
from trlrecipes.errors import UserError

HUB_ID = "PKU-Alignment/PKU-SafeRLHF"
DEFAULT_SPLIT = "train"
EVAL_SPLIT = "test"
REQUIRED_FIELDS = (
    "prompt",
    "response_0",
    "response_1",
    "better_response_id",
    "safer_response_id",
    "is_response_0_safe",
    "is_response_1_safe",
)
TEXT_FIELDS = ("prompt", "response_0", "response_1")
SUBSETS = ("data/Alpaca-7B", "data/Alpaca2-7B", "data/Alpaca3-8B")  # one generator model each (Hub data_dir)
AXES = ("safe", "helpful")
OPTIONS = {
    "axis": Option(str, "safe", "which label picks chosen: safe (what this dataset is for) or helpful", choices=AXES),
    "skip_both_unsafe": Option(bool, True, "safe axis: skip pairs where both replies are unsafe (never reward harm)"),
}
# The rows are grouped by generator model: a row cap takes a seeded random sample, not the first rows.
SAMPLE_CAPS = True
NOTICE = "[licence] PKU-SafeRLHF is CC BY-NC 4.0: non-commercial use only, and so is an adapter trained on it"
SKIP_REASONS = {
    **{key: PAIR_SKIPS[key] for key in ("not_text", "empty_prompt", "empty_reply", "identical_replies")},
    "invalid_response_id": "better_response_id or safer_response_id is not 0 or 1",
    "missing_safety_flags": "is_response_0_safe / is_response_1_safe is not a boolean (safe axis)",
    "both_unsafe": "both responses are unsafe, so the 'safer' one is still harmful (skip_both_unsafe=False keeps "
    "them)",
    "safer_id_contradicts_flags": "safer_response_id points at the unsafe response while the other one is safe",
}
NOTE_REASONS = {"axes_disagree": "the more helpful response is not the safer one (among converted pairs; kept)"}


def convert_row(row: dict, axis: str = "safe", skip_both_unsafe: bool = True) -> dict:
    if axis not in AXES:
        raise UserError(f"pku-saferlhf: axis must be one of {', '.join(AXES)}, got {axis!r}")
    better, safer = row["better_response_id"], row["safer_response_id"]
    if any(isinstance(value, bool) or value not in (0, 1) for value in (better, safer)):
        raise Skip("invalid_response_id")
    if axis == "safe":
        safe = (row["is_response_0_safe"], row["is_response_1_safe"])
        if not all(isinstance(flag, bool) for flag in safe):
            raise Skip("missing_safety_flags")
        if skip_both_unsafe and not any(safe):
            raise Skip("both_unsafe")
        if safe[1 - safer] and not safe[safer]:
            raise Skip("safer_id_contradicts_flags")
    winner = safer if axis == "safe" else better
    responses = (text(row["response_0"]), text(row["response_1"]))
    pair = make_pair([message("user", text(row["prompt"]))], responses[winner], responses[1 - winner])
    if better != safer:
        pair[NOTES_KEY] = ["axes_disagree"]
    return pair
