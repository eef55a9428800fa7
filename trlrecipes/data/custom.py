"""Your own preference data: a .jsonl, .json, .csv or .parquet file with one pair per row.

Options name the columns: `prompt`, `chosen`, `rejected` (defaults: the same names) and `system` (default: none).
Each column may hold a plain string or a list of {role, content} messages. A chosen/rejected message list may
repeat the prompt turns before its final assistant reply (as in UltraFeedback); those turns must then agree with
each other and with the prompt column. Pass `prompt=None` when the message lists carry the whole prompt.
"""

from __future__ import annotations

from trlrecipes.data.common import MESSAGE_SKIPS, PAIR_SKIPS, Skip, make_pair, message, messages, split_final_reply, text

HUB_ID = None  # no Hub dataset: always pass a file (or a Hub id of a dataset in this layout)
REQUIRED_FIELDS = ("prompt", "chosen", "rejected")  # for the default mapping; see required_fields
SKIP_REASONS = {
    **PAIR_SKIPS,
    **MESSAGE_SKIPS,
    "conflicting_system": "the system column differs from the system message already in the prompt",
}


def required_fields(options: dict) -> tuple[str, ...]:
    columns = {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected", "system": None, **options}
    return tuple(columns[key] for key in ("prompt", "chosen", "rejected", "system") if columns[key])


def _as_messages(value, role: str) -> list[dict]:
    if isinstance(value, (list, tuple)):
        return messages(value)
    content = text(value)
    return [message(role, content)] if content else []


def _reply(value) -> tuple[list[dict], str]:
    if isinstance(value, (list, tuple)):
        return split_final_reply(messages(value))
    return [], text(value)


def convert_row(row: dict, prompt: str | None = "prompt", chosen: str = "chosen", rejected: str = "rejected",
                system: str | None = None) -> dict:
    chosen_turns, chosen_text = _reply(row[chosen])
    rejected_turns, rejected_text = _reply(row[rejected])
    prompt_turns = _as_messages(row[prompt], "user") if prompt else []
    candidates = [turns for turns in (prompt_turns, chosen_turns, rejected_turns) if turns]
    if any(turns != candidates[0] for turns in candidates):
        raise Skip("prompt_mismatch")
    turns = candidates[0] if candidates else []
    system_text = text(row[system]) if system else ""
    if system_text:
        if turns and turns[0]["role"] == "system" and turns[0]["content"]:
            if turns[0]["content"] != system_text:
                raise Skip("conflicting_system")
        else:
            turns = [message("system", system_text)] + turns
    return make_pair(turns, chosen_text, rejected_text)
