"""Dataset converters: one module per dataset family, each turning raw rows into TRL's conversational format.

Every format module defines:
  HUB_ID          the dataset's Hub id (used when no local file is given)
  REQUIRED_FIELDS fields a raw row must have (checked with file:line errors before conversion)
  SKIP_REASONS    {reason: one-line explanation} for every reason its `convert_row` can raise `Skip` with
  convert_row(row, **options) -> {"prompt": [...], "chosen": [...], "rejected": [...]}  (pure; raises Skip)
and optionally:
  OPTIONS         {name: common.Option(type, default, help, choices)}: the keyword options of convert_row; values
                  given as text (command line, YAML) are coerced by the declared type
  DEFAULT_SPLIT   the Hub split used when none is given (else "train"); EVAL_SPLIT, the Hub's held-out split (None:
                  there is none, so a share of the training pairs is held out)
  SAMPLE_CAPS     True when the rows are grouped (by topic, model...), so a row cap takes a seeded random sample
  NOTICE          a line printed whenever the dataset is loaded (e.g. a non-commercial licence)
  NOTE_REASONS    {flag: explanation} for informative flags counted in the summary (see common.NOTES_KEY)
  TEXT_FIELDS     the fields that hold text (a CSV file's cells in them stay text: "42" is not a number);
                  text_fields(options) when they depend on the options
  required_fields(options) -> fields, when the required fields depend on the options (column mappings)
  features()      the output schema, when rows carry extra columns
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from trlrecipes.errors import UserError

FORMATS = {
    "hh-rlhf": "trlrecipes.data.hh_rlhf",
    "ultrafeedback": "trlrecipes.data.ultrafeedback",
    "orca-dpo": "trlrecipes.data.orca_dpo",
    "shp": "trlrecipes.data.shp",
    "pku-saferlhf": "trlrecipes.data.pku_saferlhf",
    "custom": "trlrecipes.data.custom",
    "gsm8k": "trlrecipes.data.gsm8k",  # prompt-only (KIND = "prompts"): for online RL, read by data.prompts
    "prompts": "trlrecipes.data.prompt_file",  # a file of prompts (.txt / .jsonl), for the same programs
}


def get_format(name: str) -> ModuleType:
    if name not in FORMATS:
        raise UserError(f"unknown data format {name!r}; known formats: {', '.join(sorted(FORMATS))}")
    return importlib.import_module(FORMATS[name])


def is_prompt_only(name: str) -> bool:
    """A prompt-only format (KIND = "prompts": a prompt file, gsm8k), as opposed to one of preference pairs: its rows
    are prompts for a program that samples its own replies, and a run on it has no held-out pairs."""
    return getattr(get_format(name), "KIND", "pairs") == "prompts"


def format_options(fmt: ModuleType) -> dict:
    """The declared options of a format module ({name: Option}); empty when it takes none."""
    return dict(getattr(fmt, "OPTIONS", {}))


def check_options(format_name: str, options: dict | None, *, where: str = "") -> dict:
    """Every option of the format with its value: the given ones coerced by their declared type (text such as
    "false" or "2.0" becomes a bool or a float) and checked against their choices, the rest at their defaults.
    An unknown option is a UserError with a did-you-mean."""
    from trlrecipes.values import coerce, suggest

    declared = format_options(get_format(format_name))
    where = f" ({where})" if where else ""
    values = {name: option.default for name, option in declared.items()}
    for name, value in (options or {}).items():
        if name not in declared:
            takes = ", ".join(declared) or "no options"
            raise UserError(
                f"unknown option {name!r} for data format {format_name!r}{suggest(name, list(declared))}"
                f" (it takes {takes}){where}"
            )
        option = declared[name]
        value = coerce(value, option.type, name)
        if option.choices and value not in option.choices:
            raise UserError(f"{name} must be one of {', '.join(map(str, option.choices))}, got {value!r}{where}")
        values[name] = value
    return values


def config_options(cfg) -> dict:
    """The converter options a resolved recipe config (or a run's saved config, a mapping) carries: its fields named
    like the options of its data_format (as the recipes pass them: keep_ties, min_score_ratio, prompt_column, ...),
    else a `data_options` mapping; {} when it carries none (the converter's defaults apply)."""

    def read(name: str, default=None):
        return cfg.get(name, default) if isinstance(cfg, Mapping) else getattr(cfg, name, default)

    missing = object()
    declared = format_options(get_format(read("data_format", "hh-rlhf")))
    given = {name: value for name in declared if (value := read(name, missing)) is not missing}
    return given or dict(read("data_options") or {})


def explanations(fmt: ModuleType) -> dict[str, str]:
    """Every skip reason and note flag of a format with its one-line explanation (for ConversionSummary.format)."""
    return {**fmt.SKIP_REASONS, **getattr(fmt, "NOTE_REASONS", {})}


def load_pairs(
    format_name: str,
    source: str | None = None,
    *,
    split: str | None = None,
    subset: str | None = None,
    options: dict | None = None,
    num_proc: int | None = None,
):
    """Load `source` (a local file or Hub id; the format's Hub dataset when None) and convert it.

    `split` defaults to the format's DEFAULT_SPLIT (Hub split names differ: ultrafeedback has "train_prefs").

    Returns (datasets.Dataset of converted rows, ConversionSummary). Raises UserError when nothing is usable.
    """
    from trlrecipes.console import quiet_libraries
    from trlrecipes.data.common import convert_dataset, load_source

    quiet_libraries()  # datasets is about to be imported: its bars and logs follow the console setting

    fmt = get_format(format_name)
    source = source or fmt.HUB_ID
    if source is None:
        raise UserError(f"data format {format_name!r} has no Hub dataset; pass a data file")
    split = split or getattr(fmt, "DEFAULT_SPLIT", "train")
    options = check_options(format_name, options)
    required = fmt.required_fields(options) if hasattr(fmt, "required_fields") else fmt.REQUIRED_FIELDS
    text_fields = fmt.text_fields(options) if hasattr(fmt, "text_fields") else getattr(fmt, "TEXT_FIELDS", ())
    raw = load_source(source, split=split, subset=subset, required=required, text_fields=text_fields)
    features = fmt.features() if hasattr(fmt, "features") else None
    converted, summary = convert_dataset(
        raw, fmt.convert_row, options=options, features=features, num_proc=num_proc, desc=f"Converting {format_name}"
    )
    if summary.converted == 0:
        counts = summary.format(explanations(fmt)).replace("\n", "; ")
        raise UserError(f"{source}: no usable rows after conversion ({counts})")
    return converted, summary
