"""Prompt-only data for online RL (GRPO/RLOO): the trainer samples the replies, so a row is a prompt and the fields
its reward function reads (TRL passes every other dataset column to reward functions as a keyword, one value per
completion).

`load_prompts` takes three kinds of source and returns (datasets.Dataset with a conversational "prompt" column plus
the extra columns, ConversionSummary):
  (a) a prompt file (data_format None, "" or "prompts"): `.txt`, one prompt a line (blank lines ignored), or
      `.jsonl` (`.jsonl.gz`), one object a line with a `prompt` that is a string (one user turn) or a message list
      ending with a user turn; every other field becomes a column. Arrow needs one type per column, so a field that
      holds a list or an object (e.g. an instruction task's `constraints`) is stored as its JSON text (judges such as
      `tasks.instructions.verify` read it back), a field missing from a row is null, and a field that is text in one
      row and a number in another is an error. A bad line is a UserError naming file:line; nothing is skipped.
  (b) a prompt-only format (KIND = "prompts", e.g. gsm8k): its converter, with named skips, as for pairs.
  (c) the prompts of a preference format (hh-rlhf, ultrafeedback, ...): its converter, then only the prompt column,
      each distinct prompt once (several pairs often share one); duplicates are counted as skips
      (`duplicate_prompt`), so read == converted + skipped still holds.
"""

from __future__ import annotations

import json
from pathlib import Path

from trlrecipes.data.common import ConversionSummary, Skip, message, messages, open_text, validate_json_lines
from trlrecipes.errors import UserError

PROMPT_FILE = "prompts"  # the data_format name of a prompt file (.txt / .jsonl)
PROMPT_FILE_SUFFIXES = (".txt", ".jsonl", ".jsonl.gz")
SKIP_REASONS = {"duplicate_prompt": "the same prompt as an earlier row (pairs often share one): each is kept once"}
# Keywords TRL's GRPOTrainer/RLOOTrainer give reward functions itself (grpo_trainer.py _calculate_rewards, 1583-1598):
# a column with one of these names would collide with them (a TypeError or a silently replaced value).
RESERVED_COLUMNS = (
    "prompts",
    "completion",
    "completions",
    "completion_ids",
    "trainer_state",
    "log_extra",
    "log_metric",
    "environments",
)
_PROMPT_ERRORS = {
    "not_text": "is not text or a list of {role, content} messages",
    "malformed_messages": "is a list, but not of {role, content} objects",
    "unknown_role": "has a message role other than system, user or assistant",
    "empty_prompt": "is empty or has an empty message",
    "prompt_not_ending_with_user": "does not end with a user message, so there is nothing to reply to",
}


def is_prompt_file(data_format: str | None) -> bool:
    return data_format in (None, "", PROMPT_FILE)


def explanations_for(data_format: str | None) -> dict[str, str]:
    """Every skip reason `load_prompts` can report for this format, with its one-line explanation."""
    if is_prompt_file(data_format):
        return {}
    from trlrecipes.data import explanations, get_format

    return {**explanations(get_format(data_format)), **SKIP_REASONS}


def load_prompts(
    source: str | None,
    *,
    data_format: str | None = None,
    split: str | None = None,
    subset: str | None = None,
    options: dict | None = None,
    max_rows: int = 0,
):
    """(prompt Dataset, ConversionSummary) from a prompt file, a prompt-only format or a preference format (see the
    module docstring). `split`/`subset`/`options` as for `load_pairs` (a format's DEFAULT_SPLIT, DEFAULT_SUBSET when
    None); `max_rows` keeps the first rows (0: all); the summary counts the whole source."""
    if is_prompt_file(data_format):
        if source is None:
            raise UserError("no prompts: pass a prompt file (.txt, a prompt a line, or .jsonl with a 'prompt' field)")
        dataset, summary = read_prompt_file(Path(source).expanduser())
    else:
        from trlrecipes.data import get_format

        fmt = get_format(data_format)
        common = {"split": split, "subset": subset, "options": options}
        if getattr(fmt, "KIND", "pairs") == "prompts":
            dataset, summary = _converted_prompts(fmt, data_format, source, **common)
        else:
            dataset, summary = _pair_prompts(data_format, source, **common)
    if max_rows and len(dataset) > max_rows:
        dataset = dataset.select(range(max_rows))
    return dataset, summary


# -- (b) a prompt-only format ---------------------------------------------------------------------------------------
def _converted_prompts(fmt, format_name: str, source, *, split, subset, options):
    from trlrecipes.console import quiet_libraries
    from trlrecipes.data import check_options, explanations
    from trlrecipes.data.common import convert_dataset, is_local_source, load_source

    quiet_libraries()
    source = source or fmt.HUB_ID
    options = check_options(format_name, options)
    if not is_local_source(source):
        subset = subset or getattr(fmt, "DEFAULT_SUBSET", None)
    raw = load_source(
        source,
        split=split or getattr(fmt, "DEFAULT_SPLIT", "train"),
        subset=subset,
        required=fmt.REQUIRED_FIELDS,
        text_fields=getattr(fmt, "TEXT_FIELDS", ()),
    )
    converted, summary = convert_dataset(
        raw, fmt.convert_row, options=options, features=fmt.features(), desc=f"Converting {format_name}"
    )
    if summary.converted == 0:
        counts = summary.format(explanations(fmt)).replace("\n", "; ")
        raise UserError(f"{source}: no usable rows after conversion ({counts})")
    return converted, summary


# -- (c) the prompts of a preference format --------------------------------------------------------------------------
def _pair_prompts(format_name: str, source, *, split, subset, options):
    from trlrecipes.data import load_pairs

    pairs, summary = load_pairs(format_name, source, split=split, subset=subset, options=options)
    seen, keep = set(), []
    for index, prompt in enumerate(pairs["prompt"]):
        key = json.dumps(prompt, sort_keys=True, ensure_ascii=False)
        if key not in seen:
            seen.add(key)
            keep.append(index)
    prompts = pairs.select(keep).select_columns(["prompt"])
    duplicates = len(pairs) - len(keep)
    skipped = dict(summary.skipped) | ({"duplicate_prompt": duplicates} if duplicates else {})
    return prompts, ConversionSummary(
        read=summary.read, converted=len(prompts), skipped=skipped, notes=dict(summary.notes)
    )


# -- (a) a prompt file ---------------------------------------------------------------------------------------------
def read_prompt_file(path: Path):
    """(Dataset, ConversionSummary) of a .txt or .jsonl prompt file; every row is kept (a bad one is a UserError)."""
    name = path.name.lower()
    if not path.exists():
        raise UserError(f"{path}: file not found")
    if path.is_dir() or not name.endswith(PROMPT_FILE_SUFFIXES):
        raise UserError(
            f"{path}: a prompt file is .txt (one prompt a line) or .jsonl (a 'prompt' field a line); for another "
            f"dataset name its data_format (e.g. data_format=gsm8k or hh-rlhf)"
        )
    rows = _text_rows(path) if name.endswith(".txt") else _json_rows(path)
    if not rows:
        raise UserError(f"{path}: the file has no prompts")
    return _dataset(path, rows), ConversionSummary(read=len(rows), converted=len(rows))


def _text_rows(path: Path) -> list[tuple[int, dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: cannot be read as UTF-8 text ({err})") from err
    return [(n, {"prompt": [message("user", line.strip())]}) for n, line in enumerate(lines, 1) if line.strip()]


def _json_rows(path: Path) -> list[tuple[int, dict]]:
    validate_json_lines(path, required=("prompt",))  # JSON, objects, the prompt field: errors name file:line
    rows = []
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            reserved = [key for key in row if key in RESERVED_COLUMNS]
            if reserved:
                raise UserError(
                    f"{path}:{lineno}: field {reserved[0]!r} is a name TRL passes to reward functions itself; "
                    f"rename it (reserved: {', '.join(RESERVED_COLUMNS)})"
                )
            prompt = _prompt_messages(row.pop("prompt"), f"{path}:{lineno}")
            extras = {key: _scalar(value) for key, value in row.items()}
            rows.append((lineno, {"prompt": prompt, **extras}))
    return rows


def _scalar(value):
    """A list or an object as its JSON text (one Arrow type per column); text, numbers, booleans, null unchanged."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value


def _prompt_messages(value, where: str) -> list[dict]:
    try:
        if isinstance(value, str):
            turns = [message("user", value.strip())]
        elif isinstance(value, list):
            turns = messages(value)
        else:
            raise Skip("not_text")
        turns = [turn for turn in turns if turn["role"] != "system" or turn["content"]]  # an empty system turn: none
        if not turns or not all(turn["content"] for turn in turns):
            raise Skip("empty_prompt")
        if turns[-1]["role"] != "user":
            raise Skip("prompt_not_ending_with_user")
    except Skip as skip:
        raise UserError(f"{where}: the prompt {_PROMPT_ERRORS[skip.reason]}") from None
    return turns


def _kind(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "text"


def _dataset(path: Path, rows: list[tuple[int, dict]]):
    """A Dataset with one Arrow type per extra column (see the module docstring), or a UserError at the first line
    whose field type differs from the one before it."""
    from datasets import Dataset, Features, List, Value

    kinds: dict[str, tuple[str, int]] = {}  # column -> (kind, first line that had it)
    for lineno, row in rows:
        for key, value in row.items():
            kind = _kind(value) if key != "prompt" else "messages"
            if kind is None:
                continue
            before = kinds.setdefault(key, (kind, lineno))
            numbers = {before[0], kind} <= {"int", "float"}
            if before[0] != kind and not numbers:
                raise UserError(
                    f"{path}:{lineno}: field {key!r} is {kind} here but {before[0]} on line {before[1]}; give it one "
                    f"type in every row"
                )
            if numbers and kind == "float":
                kinds[key] = ("float", before[1])
    columns = dict.fromkeys(key for _, row in rows for key in row)  # in the order the file first names them
    arrow = {"text": Value("string"), "int": Value("int64"), "float": Value("float64"), "bool": Value("bool")}
    features = {"prompt": List({"role": Value("string"), "content": Value("string")})}
    for key in columns:
        if key != "prompt":
            features[key] = arrow[kinds.get(key, ("text", 0))[0]]  # a column that is null in every row: text
    records = [{key: row.get(key) for key in features} for _, row in rows]
    return Dataset.from_list(records, features=Features(features))
