"""Checks that run before anything heavy is imported or loaded: each problem is one line (exit 2) naming the
setting and the fix. They read the field names the built-in recipes share; a copied recipe that renames a field
simply skips its check.
"""

from __future__ import annotations

from inspect import signature
from pathlib import Path

from trlrecipes.data.common import is_local_source
from trlrecipes.errors import UserError
from trlrecipes.hardware import check_4bit_backend
from trlrecipes.options import suggest

# Below this, a prompt and a reply cannot both fit once the chat template's own tokens are counted.
MIN_MAX_LENGTH = 32
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


def preflight(cfg) -> None:
    _check_settings(cfg)
    _check_loss_types(cfg)
    _check_model(cfg)
    _check_data(cfg)
    if getattr(cfg, "load_in_4bit", False):
        check_4bit_backend()


def _check_settings(cfg) -> None:
    max_length = getattr(cfg, "max_length", None)
    if isinstance(max_length, int) and max_length < MIN_MAX_LENGTH:
        raise UserError(f"max_length={max_length} is too small to hold a prompt and a reply; use at least "
                        f"{MIN_MAX_LENGTH} (typical: 512 to 2048)")
    precision = getattr(cfg, "precision", None)
    if isinstance(precision, str) and precision not in PRECISIONS:
        raise UserError(f"precision={precision!r} is not one of {', '.join(PRECISIONS)}; use precision=auto")
    warmup = getattr(cfg, "warmup", None)
    if isinstance(warmup, (int, float)) and warmup < 0:
        raise UserError(f"warmup={warmup} is impossible: use a share of the steps below 1 (e.g. 0.1) or a step count")
    for name in ("logging_steps", "save_steps"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value < 1:
            raise UserError(f"{name}={value} is impossible: it must be at least 1")
    logging_steps, save_steps = getattr(cfg, "logging_steps", None), getattr(cfg, "save_steps", None)
    if isinstance(logging_steps, int) and isinstance(save_steps, int):
        check_save_interval(save_steps, logging_steps)


def _check_loss_types(cfg) -> None:
    """A list `loss_type` (the DPO program's): every name one TRL's DPOTrainer computes, one weight per name."""
    names = getattr(cfg, "loss_type", None)
    if not isinstance(names, list):
        return
    if not names:
        raise UserError("loss_type is empty; use e.g. loss_type=sigmoid (or sigmoid,sft with loss_weights=1.0,0.2)")
    from trlrecipes._compat import dpo_loss_names

    known = dpo_loss_names()
    for name in names:
        if known and name not in known:
            raise UserError(f"loss_type={name!r} is not a loss of TRL's DPOTrainer{suggest(name, known)} (known: "
                            f"{', '.join(known)})")
    weights = getattr(cfg, "loss_weights", None)
    if weights is not None and len(weights) != len(names):
        raise UserError(f"loss_weights has {len(weights)} value(s) for {len(names)} loss_type name(s) "
                        f"({','.join(names)}); give one weight per name, e.g. loss_weights="
                        f"{','.join(['1.0'] * len(names))}")


def check_save_interval(save_steps: int, logging_steps: int) -> None:
    """A checkpoint is only known to be good when a finite loss was logged at its step."""
    if save_steps % logging_steps:
        raise UserError(f"save_steps={save_steps} must be a multiple of logging_steps={logging_steps}; "
                        f"e.g. save_steps={save_steps - save_steps % logging_steps or logging_steps}")


def _looks_local(name: str) -> bool:
    # A Hub id is "name" or "owner/name": a path that exists, starts with . / ~, or has two slashes is a folder.
    return is_local_source(name) or name.count("/") > 1


def _check_model(cfg) -> None:
    import os

    from trlrecipes.models import is_offline_alias

    model = getattr(cfg, "model", "")
    if not isinstance(model, str) or not model or is_offline_alias(model):
        return
    if _looks_local(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise UserError(f"model={model}: folder not found; give an existing local model folder or a Hub id "
                            f"like Qwen/Qwen2.5-0.5B-Instruct")
        if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
            # e.g. an SFT run: DPO on it trains against the SFT model only once it is merged (its reference is then
            # the merged model with the new adapters off; on a stacked adapter, trlrecipes eval would compare
            # against the base)
            merged = f"{str(path).rstrip('/')}-merged"
            raise UserError(f"model={model}: is a LoRA adapter folder (a run?), not a model; merge it first: "
                            f"trlrecipes merge {model} --output {merged}, then model={merged}")
        if not (path / "config.json").is_file():
            raise UserError(f"model={model}: not a model folder (it has no config.json); give the folder that "
                            f"save_pretrained wrote, or a Hub id")
        return
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return
        try:
            cached = try_to_load_from_cache(model, "config.json")
        except Exception:  # a malformed repo id: let the loader report it
            return
        if not isinstance(cached, str):
            raise UserError(f"model={model}: not in the local Hugging Face cache and HF_HUB_OFFLINE is set; "
                            f"download it once while online, or pass a local model folder as model=...")


def _check_data(cfg) -> None:
    """Local JSON-lines data is read (not loaded into `datasets`) here: unreadable lines, missing fields and files
    where no row converts fail now. Other file types and Hub datasets are checked when the recipe loads them."""
    fmt_name = getattr(cfg, "data_format", None)
    dataset = getattr(cfg, "dataset", "")
    if not isinstance(fmt_name, str) or not isinstance(dataset, str):
        return
    from trlrecipes.data import get_format

    fmt = get_format(fmt_name)  # an unknown format is a one-line UserError
    # Only the files the settings name: which held-out file a recipe uses when eval_dataset is empty is its choice.
    sources = [("dataset", dataset), ("eval_dataset", getattr(cfg, "eval_dataset", ""))]
    for setting, source in sources:
        if source and isinstance(source, str) and is_local_source(source):
            _check_data_file(setting, source, fmt_name, fmt)


def _check_data_file(setting: str, source: str, fmt_name: str, fmt) -> None:
    from trlrecipes.data.common import LOCAL_SUFFIXES, validate_json_lines

    path = Path(source).expanduser()
    if not path.exists():
        raise UserError(f"{setting}={source}: file not found; fix the path (or give a Hub dataset id)")
    if path.is_dir():
        raise UserError(f"{setting}={source}: is a folder; pass one data file ({', '.join(LOCAL_SUFFIXES)})")
    name = path.name.lower()
    if not name.endswith(LOCAL_SUFFIXES):
        raise UserError(f"{setting}={source}: unknown file type; use one of {', '.join(LOCAL_SUFFIXES)}")
    if path.stat().st_size == 0:
        raise UserError(f"{setting}={source}: the file is empty; point {setting}= at a data file with rows")
    if not name.endswith((".jsonl", ".jsonl.gz")):
        return
    # Formats whose required fields depend on converter options (column mappings) are checked by the recipe.
    option_dependent = hasattr(fmt, "required_fields")
    required = () if option_dependent else tuple(fmt.REQUIRED_FIELDS)
    try:
        validate_json_lines(path, required)
    except UserError as err:
        hint = (f"; check that data_format={fmt_name} matches the file" if "missing field" in str(err) else
                f"; point {setting}= at a file with one JSON object per line" if "no rows" in str(err) else "")
        raise UserError(f"{setting}: {err}{hint}".replace("\n", "; "))
    # Whether a row converts may depend on options a recipe passes (e.g. pku-saferlhf's axis): only formats whose
    # converter takes none can be judged here.
    if list(signature(fmt.convert_row).parameters) == ["row"]:
        _check_usable_rows(setting, path, fmt_name, fmt)


def _check_usable_rows(setting: str, path: Path, fmt_name: str, fmt) -> None:
    """Convert rows until one is usable; if none is, say why every row was skipped."""
    import json
    from collections import Counter

    from trlrecipes.data import explanations
    from trlrecipes.data.common import Skip, open_text

    reasons: Counter = Counter()
    with open_text(path) as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                fmt.convert_row(json.loads(line))
                return
            except Skip as skip:
                reasons[skip.reason] += 1
    why = explanations(fmt)
    details = ", ".join(f"{count} {reason}" + (f" ({why[reason]})" if reason in why else "")
                        for reason, count in reasons.most_common())
    raise UserError(f"{setting}={path}: none of its {sum(reasons.values())} rows is a usable {fmt_name} pair "
                    f"(skipped: {details}); fix the rows or set data_format= to the file's format")
