"""Your own preference data: a .jsonl, .json, .csv or .parquet file with one pair per row.

Options name the columns: `prompt_column`, `chosen_column`, `rejected_column` (defaults: prompt, chosen, rejected)
and `system_column` (default: none).
Each column may hold a plain string or a list of {role, content} messages. A chosen/rejected message list may
repeat the prompt turns before its final assistant reply (as in UltraFeedback); those turns must then agree with
each other and with the prompt column. Pass `prompt_column=""` when the message lists carry the whole prompt.
A value that is not text (a number, a mapping, null; a null system column means none) is skipped as `not_text`,
never stringified; a CSV file's cells in these columns are read as text ("42" stays "42", an empty cell is empty).
"""

from __future__ import annotations

from trlrecipes.data.common import (
    MESSAGE_SKIPS,
    PAIR_SKIPS,
    Option,
    Skip,
    make_pair,
    message,
    messages,
    split_final_reply,
    text,
)

HUB_ID = None  # no Hub dataset: always pass a file (or a Hub id of a dataset in this layout)
REQUIRED_FIELDS = ("prompt", "chosen", "rejected")  # for the default mapping; see required_fields
OPTIONS = {
    "prompt_column": Option(str, "prompt", 'the prompt column; "" when the chosen/rejected message lists carry it'),
    "chosen_column": Option(str, "chosen", "the preferred reply (text or a message list)"),
    "rejected_column": Option(str, "rejected", "the dispreferred reply (text or a message list)"),
    "system_column": Option(str, "", 'a column with a system prompt per row; "" = none'),
}
SKIP_REASONS = {
    **PAIR_SKIPS,
    **MESSAGE_SKIPS,
    "conflicting_system": "the system column differs from the system message already in the prompt",
}


def required_fields(options: dict) -> tuple[str, ...]:
    columns = {name: option.default for name, option in OPTIONS.items()} | dict(options)
    return tuple(column for column in columns.values() if column)


def text_fields(options: dict) -> tuple[str, ...]:
    return required_fields(options)  # every mapped column may hold text


def _as_messages(value, role: str) -> list[dict]:
    if isinstance(value, (list, tuple)):
        return messages(value)
    content = text(value)
    return [message(role, content)] if content else []


def _reply(value) -> tuple[list[dict], str]:
    if isinstance(value, (list, tuple)):
        return split_final_reply(messages(value))
    return [], text(value)


def convert_row(
    row: dict,
    prompt_column: str = "prompt",
    chosen_column: str = "chosen",
    rejected_column: str = "rejected",
    system_column: str = "",
) -> dict:
    chosen_turns, chosen_text = _reply(row[chosen_column])
    rejected_turns, rejected_text = _reply(row[rejected_column])
    prompt_turns = _as_messages(row[prompt_column], "user") if prompt_column else []
    candidates = [turns for turns in (prompt_turns, chosen_turns, rejected_turns) if turns]
    if any(turns != candidates[0] for turns in candidates):
        raise Skip("prompt_mismatch")
    turns = candidates[0] if candidates else []
    system_text = text(row[system_column], optional=True) if system_column else ""  # null: no system prompt
    if system_text:
        if turns and turns[0]["role"] == "system" and turns[0]["content"]:
            if turns[0]["content"] != system_text:
                raise Skip("conflicting_system")
        else:
            turns = [message("system", system_text)] + turns
    return make_pair(turns, chosen_text, rejected_text)
