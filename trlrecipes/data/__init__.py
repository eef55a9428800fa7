"""Dataset converters: one module per dataset family, each turning raw rows into TRL's conversational format.

Every format module defines:
  HUB_ID          the dataset's Hub id (used when no local file is given)
  REQUIRED_FIELDS fields a raw row must have (checked with file:line errors before conversion)
  SKIP_REASONS    {reason: one-line explanation} for every reason its `convert_row` can raise `Skip` with
  convert_row(row, **options) -> {"prompt": [...], "chosen": [...], "rejected": [...]}  (pure; raises Skip)
and optionally:
  DEFAULT_SPLIT   the Hub split used when none is given (else "train"); EVAL_SPLIT, the Hub's held-out split
  NOTE_REASONS    {flag: explanation} for informative flags counted in the summary (see common.NOTES_KEY)
  required_fields(options) -> fields, when the required fields depend on the options (column mappings)
  features()      the output schema, when rows carry extra columns
"""

from __future__ import annotations

import importlib
from inspect import signature
from types import ModuleType

from trlrecipes.errors import UserError

FORMATS = {
    "hh-rlhf": "trlrecipes.data.hh_rlhf",
    "ultrafeedback": "trlrecipes.data.ultrafeedback",
    "orca-dpo": "trlrecipes.data.orca_dpo",
    "shp": "trlrecipes.data.shp",
    "pku-saferlhf": "trlrecipes.data.pku_saferlhf",
    "custom": "trlrecipes.data.custom",
}


def get_format(name: str) -> ModuleType:
    if name not in FORMATS:
        raise UserError(f"unknown data format {name!r}; known formats: {', '.join(sorted(FORMATS))}")
    return importlib.import_module(FORMATS[name])


def explanations(fmt: ModuleType) -> dict[str, str]:
    """Every skip reason and note flag of a format with its one-line explanation (for ConversionSummary.format)."""
    return {**fmt.SKIP_REASONS, **getattr(fmt, "NOTE_REASONS", {})}


def load_pairs(format_name: str, source: str | None = None, *, split: str | None = None, subset: str | None = None,
               options: dict | None = None, num_proc: int | None = None):
    """Load `source` (a local file or Hub id; the format's Hub dataset when None) and convert it.

    `split` defaults to the format's DEFAULT_SPLIT (Hub split names differ: ultrafeedback has "train_prefs").

    Returns (datasets.Dataset of converted rows, ConversionSummary). Raises UserError when nothing is usable.
    """
    from trlrecipes.data.common import convert_dataset, load_source

    fmt = get_format(format_name)
    source = source or fmt.HUB_ID
    if source is None:
        raise UserError(f"data format {format_name!r} has no Hub dataset; pass a data file")
    split = split or getattr(fmt, "DEFAULT_SPLIT", "train")
    options = options or {}
    known = [name for name in signature(fmt.convert_row).parameters if name != "row"]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UserError(f"unknown option(s) {', '.join(unknown)} for data format {format_name!r}; "
                        f"it takes {', '.join(known) or 'no options'}")
    required = fmt.required_fields(options) if hasattr(fmt, "required_fields") else fmt.REQUIRED_FIELDS
    raw = load_source(source, split=split, subset=subset, required=required)
    features = fmt.features() if hasattr(fmt, "features") else None
    converted, summary = convert_dataset(raw, fmt.convert_row, options=options, features=features, num_proc=num_proc,
                                         desc=f"Converting {format_name}")
    if summary.converted == 0:
        raise UserError(f"{source}: no usable rows after conversion ({summary.format(explanations(fmt))})".replace("\n", "; "))
    return converted, summary
