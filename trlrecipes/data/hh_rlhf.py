"""Anthropic hh-rlhf: two full transcripts per row ("\\n\\nHuman: ...\\n\\nAssistant: ...") and no separate prompt.

Each transcript is parsed into turns at the "\\n\\nHuman:" / "\\n\\nAssistant:" markers (a marker at the very start
of the text counts too; any number of spaces may follow the colon). "Human:" or "Assistant:" without the preceding
blank line is content: the models often wrote speaker labels inside their replies. The prompt is the list of turns
before the final assistant reply, compared turn by turn between chosen and rejected; it is never cut at the
characters the two transcripts happen to share (TRL's `extract_prompt` does that and splits rows mid-reply when both
replies start with the same word).

Decisions, in the order they are checked (skips are in SKIP_REASONS, repairs are counted as NOTE_REASONS):
- skip `not_hh_format`: not a string, no marker, text before the first marker, or a first turn that is not Human.
- repair `dropped_empty_turn`: an empty turn before the final reply is dropped (its neighbours then merge). Real
  rows have an empty assistant turn that the conversation continued past.
- repair `merged_turns`: consecutive same-role turns become one message, contents joined with "\\n\\n". They come
  from a model writing an "\\n\\nAssistant:" label inside its own reply, which the data then kept as one turn;
  merging keeps the text and the strict user/assistant alternation many chat templates require. This holds for
  the final reply too: a reply that goes on with "\\n\\nAssistant: ..." stays one reply. (The sample manifest's
  character-level `prompt_mismatch` tag counts such rows; here they convert.)
- skip `no_final_assistant_reply`: the last turn, after merging, is not the assistant's.
- skip `empty_reply`: the final reply of chosen or rejected is empty (the transcript ends with "Assistant: "). An
  empty completion only teaches when to end the turn, and some chat templates drop empty messages.
- skip `empty_prompt`: no non-empty Human turn opens the conversation.
- skip `prompt_mismatch`: chosen and rejected disagree on a turn before the final reply (one side continued the
  conversation with made-up Human turns). Repairing would mean guessing which turns are real.
- skip `identical_replies`: the final replies are the same text once whitespace is normalised (identical rows, or
  rows that differ only in spacing): such a pair teaches nothing.
Contents are trimmed of surrounding whitespace. Nothing here fails: every malformed row is skipped with a reason.
"""

from __future__ import annotations

import re

from trlrecipes.data.common import NOTES_KEY, Skip, message

HUB_ID = "Anthropic/hh-rlhf"
DEFAULT_SPLIT = "train"
EVAL_SPLIT = "test"
SUBSETS = ("helpful-base", "harmless-base", "helpful-online", "helpful-rejection-sampled")
REQUIRED_FIELDS = ("chosen", "rejected")
SKIP_REASONS = {
    "not_hh_format": "a transcript is not text made of '\\n\\nHuman:' / '\\n\\nAssistant:' turns starting with Human",
    "no_final_assistant_reply": "a transcript does not end with an Assistant turn",
    "empty_reply": "the final Assistant reply of chosen or rejected is empty",
    "empty_prompt": "no non-empty Human turn opens the conversation",
    "prompt_mismatch": "chosen and rejected differ before the final reply (one side continues with extra turns)",
    "identical_replies": "chosen and rejected final replies are the same text (ignoring whitespace)",
}
NOTE_REASONS = {
    "merged_turns": "consecutive same-role turns merged into one message (converted pairs)",
    "dropped_empty_turn": "an empty turn before the final reply dropped (converted pairs)",
}

_MARKER = re.compile(r"(?:^|\n\n)(Human|Assistant):")
_ROLES = {"Human": "user", "Assistant": "assistant"}


def parse_transcript(text) -> list[dict[str, str]]:
    """Split one transcript into trimmed {role, content} turns, exactly as written (no dropping or merging)."""
    if not isinstance(text, str):
        raise Skip("not_hh_format")
    lead, *rest = _MARKER.split(text.lstrip())
    if not rest or lead.strip() or rest[0] != "Human":
        raise Skip("not_hh_format")
    return [message(_ROLES[label], body.strip()) for label, body in zip(rest[::2], rest[1::2])]


def normalize_turns(turns: list[dict[str, str]]) -> tuple[list[dict[str, str]], set[str]]:
    """Drop empty non-final turns, then merge consecutive same-role turns; returns (turns, repair notes)."""
    kept = [turn for turn in turns[:-1] if turn["content"]] + turns[-1:]
    notes = {"dropped_empty_turn"} if len(kept) < len(turns) else set()
    merged: list[dict[str, str]] = []
    for turn in kept:
        if merged and merged[-1]["role"] == turn["role"]:
            parts = [part for part in (merged[-1]["content"], turn["content"]) if part]
            merged[-1] = message(turn["role"], "\n\n".join(parts))
            notes.add("merged_turns")
        else:
            merged.append(dict(turn))
    return merged, notes


def split_transcript(text) -> tuple[list[dict[str, str]], dict[str, str], set[str]]:
    """(prompt messages, final assistant message, repair notes) of one transcript; raises Skip."""
    turns, notes = normalize_turns(parse_transcript(text))
    if turns[-1]["role"] != "assistant":
        raise Skip("no_final_assistant_reply")
    return turns[:-1], turns[-1], notes


def convert_row(row: dict) -> dict:
    chosen_prompt, chosen, chosen_notes = split_transcript(row.get("chosen"))
    rejected_prompt, rejected, rejected_notes = split_transcript(row.get("rejected"))
    if not chosen["content"] or not rejected["content"]:
        raise Skip("empty_reply")
    if not chosen_prompt or chosen_prompt[0]["role"] != "user":
        raise Skip("empty_prompt")
    if chosen_prompt != rejected_prompt:
        raise Skip("prompt_mismatch")
    if chosen["content"].split() == rejected["content"].split():
        raise Skip("identical_replies")
    pair = {"prompt": chosen_prompt, "chosen": [chosen], "rejected": [rejected]}
    notes = chosen_notes | rejected_notes
    if notes:
        pair[NOTES_KEY] = sorted(notes)
    return pair
