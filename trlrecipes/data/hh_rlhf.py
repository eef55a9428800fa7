"""Anthropic hh-rlhf: two full transcripts per row ("\\n\\nHuman: ...\\n\\nAssistant: ...") and no separate prompt.

Each transcript is parsed into turns at the "\\n\\nHuman:" / "\\n\\nAssistant:" markers (a marker at the very start
of the text counts too; any number of spaces may follow the colon). "Human:" or "Assistant:" without the preceding
blank line is content (the models often wrote speaker labels inside their replies), except for the lost turn
boundary `cut_inline_human_turn` below. The prompt is the list of turns
before the final assistant reply, compared turn by turn between chosen and rejected; it is never cut at the
characters the two transcripts happen to share (TRL's `extract_prompt` does that and splits rows mid-reply when both
replies start with the same word).

Decisions, in the order they are checked (skips are in SKIP_REASONS, repairs are counted as NOTE_REASONS):
- skip `not_text`: a transcript is not a string (a number, null, a list...).
- skip `not_hh_format`: no marker, text before the first marker, or a first turn that is not Human.
- repair `cut_inline_human_turn` and `split_inline_human_turn` (option inline_human_turn="cut", the default): an
  Assistant turn that goes on with an inline "Human: ..." turn lacking the blank line before it ("...organs.  Human:
  How serious is it?") and is then followed by a second Assistant turn lost a turn boundary: kept whole, the text
  would teach the model to write "Human:" and answer itself.
  In the final reply (the trailing Assistant turns) it is cut at that marker (`cut_inline_human_turn`: the invented
  Human turn and the second Assistant turn are dropped), so both replies answer the same prompt. Measured on the
  300-row shared sample: 2 rows (lines 43 and 288) have it; cutting keeps them as pairs, skipping loses them.
  Before the final reply (in the prompt, where the conversation went on past it) the inline turn becomes its own
  user turn (`split_inline_human_turn`: Assistant text, user text, then the second Assistant turn that answered it),
  which is the boundary the data lost; chosen and rejected share that text, so they split alike. The shared sample
  has no such row; rows outside it do (4 transcripts were lost when this was skipped).
  inline_human_turn="skip" skips every pair with a lost boundary, in the prompt or the reply, as
  `inline_human_turn`.
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

from trlrecipes.data.common import NOT_TEXT, NOTES_KEY, PAIR_SKIPS, Option, Skip, message

HUB_ID = "Anthropic/hh-rlhf"
DEFAULT_SPLIT = "train"
EVAL_SPLIT = "test"
SUBSETS = ("helpful-base", "harmless-base", "helpful-online", "helpful-rejection-sampled")
REQUIRED_FIELDS = ("chosen", "rejected")
TEXT_FIELDS = REQUIRED_FIELDS
INLINE_HUMAN_TURN = ("cut", "skip")
OPTIONS = {
    "inline_human_turn": Option(
        str,
        "cut",
        "an Assistant turn going on with an inline 'Human:' turn and a second "
        "Assistant turn (a lost boundary): cut repairs it (the final reply is cut at the marker, an earlier turn "
        "split into its own user turn), skip skips the pair",
        choices=INLINE_HUMAN_TURN,
    )
}
SKIP_REASONS = {
    NOT_TEXT: PAIR_SKIPS[NOT_TEXT],
    "not_hh_format": "a transcript is not made of '\\n\\nHuman:' / '\\n\\nAssistant:' turns starting with Human",
    "inline_human_turn": "an Assistant turn goes on with an inline 'Human:' turn, then a second Assistant turn "
    "(inline_human_turn=skip)",
    "no_final_assistant_reply": "a transcript does not end with an Assistant turn",
    "empty_reply": "the final Assistant reply of chosen or rejected is empty",
    "empty_prompt": "no non-empty Human turn opens the conversation",
    "prompt_mismatch": "chosen and rejected differ before the final reply (one side continues with extra turns)",
    "identical_replies": "chosen and rejected final replies are the same text (ignoring whitespace)",
}
NOTE_REASONS = {
    "cut_inline_human_turn": "a final reply cut before an inline 'Human:' turn followed by a second Assistant turn "
    "(converted pairs; inline_human_turn=skip skips them)",
    "split_inline_human_turn": "an Assistant turn before the final reply that went on with an inline 'Human:' turn "
    "and a second Assistant turn, split into its own user turn (converted pairs; inline_human_turn=skip skips them)",
    "merged_turns": "consecutive same-role turns merged into one message (converted pairs)",
    "dropped_empty_turn": "an empty turn before the final reply dropped (converted pairs)",
}

_MARKER = re.compile(r"(?:^|\n\n)(Human|Assistant):")
# "Human:" after text and whitespace other than the marker's blank line (the turn split already took those).
_INLINE_HUMAN = re.compile(r"(?<=\S)\s+Human:")
_ROLES = {"Human": "user", "Assistant": "assistant"}


def parse_transcript(text) -> list[dict[str, str]]:
    """Split one transcript into trimmed {role, content} turns, exactly as written (no dropping or merging)."""
    if not isinstance(text, str):
        raise Skip(NOT_TEXT)
    lead, *rest = _MARKER.split(text.lstrip())
    if not rest or lead.strip() or rest[0] != "Human":
        raise Skip("not_hh_format")
    return [message(_ROLES[label], body.strip()) for label, body in zip(rest[::2], rest[1::2], strict=False)]


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


def cut_inline_human_turn(turns: list[dict[str, str]], mode: str = "cut") -> tuple[list[dict[str, str]], set[str]]:
    """Repair each lost turn boundary: an Assistant turn holding an inline "Human:" turn and followed by another
    Assistant turn. mode "cut": inside the final reply (the trailing Assistant turns) end the transcript at the
    marker; before it, split the turn into the Assistant text and a user turn with the inline text. mode "skip":
    Skip("inline_human_turn") for either. Returns (turns, repair notes)."""
    final_start = len(turns)
    while final_start and turns[final_start - 1]["role"] == "assistant":
        final_start -= 1
    repaired: list[dict[str, str]] = []
    notes: set[str] = set()
    for index, turn in enumerate(turns):
        following = turns[index + 1] if index + 1 < len(turns) else None
        marker = None
        if turn["role"] == "assistant" and following is not None and following["role"] == "assistant":
            marker = _INLINE_HUMAN.search(turn["content"])
        if marker is None:
            repaired.append(turn)
            continue
        if mode != "cut":
            raise Skip("inline_human_turn")
        reply = message("assistant", turn["content"][: marker.start()].strip())
        if index >= final_start:
            return repaired + [reply], notes | {"cut_inline_human_turn"}
        repaired += [reply, message("user", turn["content"][marker.end() :].strip())]
        notes.add("split_inline_human_turn")
    return repaired, notes


def split_transcript(text, inline_human_turn: str = "cut") -> tuple[list[dict[str, str]], dict[str, str], set[str]]:
    """(prompt messages, final assistant message, repair notes) of one transcript; raises Skip."""
    turns, cut_notes = cut_inline_human_turn(parse_transcript(text), inline_human_turn)
    turns, notes = normalize_turns(turns)
    notes |= cut_notes
    if turns[-1]["role"] != "assistant":
        raise Skip("no_final_assistant_reply")
    return turns[:-1], turns[-1], notes


def convert_row(row: dict, inline_human_turn: str = "cut") -> dict:
    chosen_prompt, chosen, chosen_notes = split_transcript(row.get("chosen"), inline_human_turn)
    rejected_prompt, rejected, rejected_notes = split_transcript(row.get("rejected"), inline_human_turn)
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
