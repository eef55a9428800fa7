"""What every dataset converter shares: the skip mechanism, the summary, loading, and the batched map.

A converter is a pure function `convert_row(row, **options) -> dict` that returns one row in TRL's
conversational format or raises `Skip("reason")`. `convert_dataset` runs it over a `datasets.Dataset` (in
several processes for large inputs, cached by `datasets`), drops the skipped rows and counts them by reason,
so that `read == converted + sum(skipped)` always holds and nothing is dropped silently.

A converted row may also carry `NOTES_KEY: ["flag", ...]`: informative flags (e.g. PKU-SafeRLHF's "the two
preference axes disagree") that are counted in `ConversionSummary.notes` and removed; the row is kept. A format
that emits notes explains them in a module-level `NOTE_REASONS`, like `SKIP_REASONS`.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trlrecipes.errors import UserError

SKIP_COLUMN = "skip_reason"
NOTES_KEY = "_notes"
NOTE_COLUMN = "_note_flags"
ROLES = ("system", "user", "assistant")
LOCAL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".csv", ".parquet")
# Below this many rows a second process costs more to start than it saves.
PARALLEL_MIN_ROWS = 20_000


def parallel_processes(rows: int, most: int) -> int | None:
    """Worker processes for a `datasets` map over `rows` rows: one per core up to `most`, or None (work in this
    process) below PARALLEL_MIN_ROWS or on one core. Stable per machine, so cached results still match."""
    cores = min(most, os.cpu_count() or 1)
    return cores if rows >= PARALLEL_MIN_ROWS and cores > 1 else None


@dataclass(frozen=True)
class Option:
    """A converter option: its type (values typed as text are coerced by it), default, one-line help and, where
    the values are a fixed set, the choices."""

    type: Any
    default: Any
    help: str
    choices: tuple = ()


class Skip(Exception):
    """Raised by a converter for a row that cannot be converted faithfully; `reason` is a short snake_case name."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def message(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


@dataclass
class ConversionSummary:
    read: int
    converted: int
    skipped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)  # informative counts over converted rows, not skips

    def to_dict(self) -> dict[str, Any]:
        out = {"read": self.read, "converted": self.converted, "skipped": dict(sorted(self.skipped.items()))}
        if self.notes:
            out["notes"] = dict(sorted(self.notes.items()))
        return out

    def format(self, explanations: dict[str, str] | None = None) -> str:
        explanations = explanations or {}
        lines = [f"rows read {self.read}, converted {self.converted}, skipped {sum(self.skipped.values())}"]
        for reason, count in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
            why = explanations.get(reason, "")
            lines.append(f"  skipped {count:>6}  {reason}" + (f"  ({why})" if why else ""))
        for note, count in sorted(self.notes.items(), key=lambda kv: (-kv[1], kv[0])):
            why = explanations.get(note, "")
            lines.append(f"  noted   {count:>6}  {note}" + (f"  ({why})" if why else ""))
        return "\n".join(lines)


def pair_features():
    """Arrow schema of a converted pair row; explicit so that all-skipped shards still concatenate."""
    from datasets import Features, List, Value

    messages = List({"role": Value("string"), "content": Value("string")})
    return Features({"prompt": messages, "chosen": messages, "rejected": messages, SKIP_COLUMN: Value("string")})


def _code_version(convert_row: Callable) -> str:
    """Hash of the converter's module source: `datasets` fingerprints a function by name, not code, so without
    this an edited or upgraded converter would silently be served its old cached output."""
    import hashlib
    import sys

    module = sys.modules.get(convert_row.__module__)
    source = Path(module.__file__).read_bytes() if module and getattr(module, "__file__", None) else b""
    return hashlib.sha256(source + Path(__file__).read_bytes()).hexdigest()[:16]


def _apply(row: dict, convert_row: Callable, options: dict, empty: dict, code_version: str) -> dict:
    try:
        out = convert_row(row, **options)
    except Skip as skip:
        return {**empty, SKIP_COLUMN: skip.reason, NOTE_COLUMN: []}
    notes = list(out.pop(NOTES_KEY, ()))
    return {**out, SKIP_COLUMN: "", NOTE_COLUMN: notes}


def convert_dataset(
    raw,
    convert_row: Callable,
    *,
    options: dict | None = None,
    features=None,
    num_proc: int | None = None,
    desc: str = "Converting",
):
    """Run `convert_row` over every row of `raw`; return (converted Dataset, ConversionSummary)."""
    from datasets import Features, List, Value

    features = Features({**(features or pair_features()), NOTE_COLUMN: List(Value("string"))})
    empty = {
        name: ([] if hasattr(feat, "feature") or isinstance(feat, list) else None)
        for name, feat in features.items()
        if name not in (SKIP_COLUMN, NOTE_COLUMN)
    }
    if num_proc is None:
        num_proc = parallel_processes(len(raw), most=2)
    from trlrecipes.console import long_phase

    with long_phase(len(raw)):  # the one bar of a long conversion; hidden for small data unless --verbose
        mapped = raw.map(
            _apply,
            fn_kwargs={
                "convert_row": convert_row,
                "options": options or {},
                "empty": empty,
                "code_version": _code_version(convert_row),
            },
            remove_columns=raw.column_names,
            features=features,
            num_proc=num_proc,
            desc=desc,
        )
    reasons = _value_counts(mapped.data.column(SKIP_COLUMN))  # counted in Arrow: 43k rows in ms, not seconds
    converted_count = reasons.pop("", 0)
    notes = _value_counts(mapped.data.column(NOTE_COLUMN), flatten=True)
    kept = mapped.filter(lambda reason: reason == "", input_columns=[SKIP_COLUMN], num_proc=num_proc)
    kept = kept.remove_columns([SKIP_COLUMN, NOTE_COLUMN])
    return kept, ConversionSummary(read=len(raw), converted=converted_count, skipped=dict(reasons), notes=dict(notes))


def _value_counts(column, *, flatten: bool = False) -> Counter:
    import pyarrow.compute as pc

    if flatten:
        column = pc.list_flatten(column)
    return Counter({item["values"].as_py(): item["counts"].as_py() for item in pc.value_counts(column)})


def convert_records(records: Iterable[dict], convert_row: Callable, **options) -> tuple[list[dict], ConversionSummary]:
    """The same contract as `convert_dataset` for plain lists (small inputs, tests, previews)."""
    kept, reasons, notes, read = [], Counter(), Counter(), 0
    for row in records:
        read += 1
        try:
            out = convert_row(row, **options)
        except Skip as skip:
            reasons[skip.reason] += 1
            continue
        notes.update(out.pop(NOTES_KEY, ()))
        kept.append(out)
    return kept, ConversionSummary(read=read, converted=len(kept), skipped=dict(reasons), notes=dict(notes))


# Helpers for converters: turn raw fields into trimmed messages and apply the checks every pair needs.
# A format that uses them lists the matching reasons from PAIR_SKIPS / MESSAGE_SKIPS in its SKIP_REASONS.
NOT_TEXT = "not_text"
PAIR_SKIPS = {
    NOT_TEXT: "a prompt, reply or message content is not text (a number, a mapping, a list, null); never stringified",
    "empty_prompt": "the prompt is missing or has an empty turn",
    "prompt_not_ending_with_user": "the prompt's last turn is not a user message, so there is nothing to reply to",
    "empty_reply": "the chosen or the rejected reply is empty",
    "identical_replies": "chosen and rejected are the same text, so the pair teaches nothing",
}
MESSAGE_SKIPS = {
    "malformed_messages": "a message list is not a list of {role, content} objects",
    "unknown_role": "a message role is not system, user or assistant",
    "no_final_assistant_reply": "a message list does not end with an assistant reply",
    "prompt_mismatch": "the turns before the final reply differ between chosen and rejected (or from the prompt "
    "field)",
}


def text(value, *, optional: bool = False) -> str:
    """A text field, whitespace trimmed. Anything else (a number, a mapping, a list, a bool; None unless the field
    is `optional`, where it means none) is Skip("not_text"): stringifying it would train on "42" or "{'a': 1}"."""
    if isinstance(value, str):
        return value.strip()
    if value is None and optional:
        return ""
    raise Skip(NOT_TEXT)


def messages(value) -> list[dict[str, str]]:
    """A list of {role, content} as trimmed messages."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(m, dict) for m in value):
        raise Skip("malformed_messages")
    if any(m.get("role") not in ROLES for m in value):
        raise Skip("unknown_role")
    return [message(m["role"], text(m.get("content"))) for m in value]  # a missing content is not text


def split_final_reply(conversation: list[dict]) -> tuple[list[dict], str]:
    """(turns before the final assistant message, that message's text)."""
    if not conversation or conversation[-1]["role"] != "assistant":
        raise Skip("no_final_assistant_reply")
    return conversation[:-1], conversation[-1]["content"]


def make_pair(prompt: list[dict], chosen: str, rejected: str) -> dict:
    """The checks every pair needs, then the output row. `chosen`/`rejected` are the trimmed reply texts."""
    prompt = [m for m in prompt if m["role"] != "system" or m["content"]]  # an empty system prompt means none
    if not prompt or not all(m["content"] for m in prompt):
        raise Skip("empty_prompt")
    if prompt[-1]["role"] != "user":
        raise Skip("prompt_not_ending_with_user")
    if not chosen or not rejected:
        raise Skip("empty_reply")
    if chosen == rejected:
        raise Skip("identical_replies")
    return {"prompt": prompt, "chosen": [message("assistant", chosen)], "rejected": [message("assistant", rejected)]}


def is_local_source(source: str) -> bool:
    return Path(source).exists() or source.endswith(LOCAL_SUFFIXES) or source.startswith((".", "/", "~"))


def open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def validate_json_lines(path: Path, required: Iterable[str] = ()) -> int:
    """Check a JSON-lines file before `datasets` sees it, so errors name the file and line. Returns the row count."""
    required = tuple(required)
    rows = 0
    try:
        with open_text(path) as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise UserError(
                        f"{path}:{lineno}: not valid JSON ({err.msg}); expected one JSON object per line"
                    ) from err
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
                missing = [key for key in required if key not in row]
                if missing:
                    raise UserError(
                        f"{path}:{lineno}: missing field(s) {', '.join(map(repr, missing))}; "
                        f"this format needs {', '.join(map(repr, required))}"
                    )
                rows += 1
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as err:
        raise UserError(f"{path}: cannot be read as UTF-8 JSON lines ({err})") from err
    if rows == 0:
        raise UserError(f"{path}: the file has no rows")
    return rows


# pandas' default missing-value spellings (read_csv's na_values documentation); a CSV text column keeps them as text.
CSV_NA_VALUES = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]


def csv_read_options(path: Path, text_fields: Iterable[str]) -> dict:
    """read_csv settings that keep the text columns text: a cell such as "42", "007" or "NA" stays that text (pandas
    would type it as a number or a missing value) and an empty cell is the empty text; the other columns are typed
    as pandas types them, with its usual missing values."""
    import csv

    try:
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error) as err:
        raise UserError(f"{path}: cannot be read as a UTF-8 CSV file ({err})") from err
    text_fields = set(text_fields)
    return {
        "converters": {column: str for column in header if column in text_fields},
        "keep_default_na": False,
        "na_values": {column: CSV_NA_VALUES for column in header if column not in text_fields},
    }


def load_source(
    source: str,
    *,
    split: str = "train",
    subset: str | None = None,
    required: Iterable[str] = (),
    text_fields: Iterable[str] = (),
):
    """Load raw rows from a local file (.jsonl, .jsonl.gz, .json, .csv, .parquet) or a Hub dataset id.

    `text_fields`: the columns that hold text, read from a CSV file as text (see csv_read_options)."""
    import datasets

    required = tuple(required)
    read_options = {}
    if is_local_source(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise UserError(f"{path}: file not found")
        if path.is_dir():
            raise UserError(f"{path}: is a folder; pass one data file (.jsonl, .jsonl.gz, .json, .csv, .parquet)")
        name = path.name.lower()
        if name.endswith((".jsonl", ".jsonl.gz")):
            validate_json_lines(path, required)
            builder = "json"
        elif name.endswith((".json", ".json.gz")):
            builder = "json"
        elif name.endswith(".csv"):
            builder = "csv"
            read_options = csv_read_options(path, text_fields)
        elif name.endswith(".parquet"):
            builder = "parquet"
        else:
            raise UserError(f"{path}: unknown file type; use .jsonl, .jsonl.gz, .json, .csv or .parquet")
        try:
            raw = datasets.load_dataset(builder, data_files=str(path), split="train", **read_options)
        except Exception as err:  # datasets raises many types for unreadable files
            why = f"{type(err).__name__}: {err}".splitlines()[0]
            raise UserError(f"{path}: could not be read as {builder} ({why})") from err
    else:
        try:
            raw = datasets.load_dataset(source, data_dir=subset, split=split)
        except Exception as err:
            raise UserError(
                f"could not load dataset {source!r} (subset {subset!r}, split {split!r}) from the Hub: "
                f"{type(err).__name__}: {err}; pass a local file path instead".splitlines()[0]
            ) from err
    missing = [key for key in required if key not in raw.column_names]
    if missing:
        raise UserError(f"{source}: missing field(s) {', '.join(map(repr, missing))}; found {raw.column_names}")
    if len(raw) == 0:
        raise UserError(f"{source}: the dataset has no rows")
    return raw


def default_eval_source(train_source: str) -> str:
    """The held-out data that goes with a training source: the same Hub id (its test split), or for a local
    `train.jsonl(.gz)` the `test.jsonl(.gz)` beside it (the hh-rlhf GitHub layout). Empty when there is none."""
    if not is_local_source(train_source):
        return train_source
    path = Path(train_source).expanduser()
    if "train" not in path.name:
        return ""
    sibling = path.with_name(path.name.replace("train", "test", 1))
    return str(sibling) if sibling.is_file() else ""


def content_sha256(dataset) -> str:
    """sha256 of the converted rows, in order, as canonical JSON: the same rows give the same hash however the
    dataset was stored (a fresh conversion or the datasets cache chunk their Arrow data differently, so the Arrow
    bytes are not stable); recorded in data_summary.json, run.json (the resume check) and the model card."""
    import hashlib
    import json

    digest = hashlib.sha256()
    for batch in dataset.iter(batch_size=1000):
        digest.update(json.dumps(batch, sort_keys=True, ensure_ascii=False, default=str).encode())
    return digest.hexdigest()
