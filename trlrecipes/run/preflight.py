"""Checks that run before anything heavy is imported or loaded: each problem is one line (exit 2) naming the
setting and the fix. They read the field names the built-in recipes share; a copied recipe that renames a field
simply skips its check.
"""

from __future__ import annotations

from pathlib import Path

from trlrecipes.data.common import is_local_source
from trlrecipes.errors import UserError
from trlrecipes.hardware import check_4bit_backend
from trlrecipes.values import suggest

# Below this, a prompt and a reply cannot both fit once the chat template's own tokens are counted.
MIN_MAX_LENGTH = 32
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


# The loss names each TRL config class accepts (TRL 1.16: DPOTrainer's "Unknown loss type" list, KTOConfig's
# choices; tests/test_nothing_lost.py checks them against the installed TRL). TRL only rejects an unknown one in
# the first training step, after an --overwrite has emptied the folder: it must fail here, before anything.
LOSS_TYPES = {
    "DPOConfig": (
        "sigmoid",
        "hinge",
        "ipo",
        "exo_pair",
        "nca_pair",
        "robust",
        "bco_pair",
        "sppo_hard",
        "aot",
        "aot_unpaired",
        "apo_zero",
        "apo_down",
        "discopop",
        "sft",
        "sigmoid_norm",
    ),
    "KTOConfig": ("kto", "apo_zero_unpaired"),
}
# report_to names (transformers' INTEGRATION_TO_CALLBACK) and the package each needs (None: not checked here).
TRACKERS = {
    "azure_ml": ("azureml",),
    "comet_ml": ("comet_ml",),
    "mlflow": ("mlflow",),
    "neptune": ("neptune",),
    "tensorboard": ("tensorboard", "tensorboardX"),
    "trackio": ("trackio",),
    "wandb": ("wandb",),
    "codecarbon": ("codecarbon",),
    "clearml": ("clearml",),
    "dagshub": ("dagshub",),
    "flyte": ("flytekit",),
    "dvclive": ("dvclive",),
    "swanlab": ("swanlab",),
    "kubeflow": None,
}


def preflight(cfg) -> None:
    """The checks that read files (output folder, model folder, data files) but load nothing; the checks on values
    alone (`check_settings`, the program's own `check`) come first (run/execute.check)."""
    _check_output_dir(cfg)
    _check_model(cfg, known_type=False)
    _check_data(cfg)
    if getattr(cfg, "load_in_4bit", False):
        check_4bit_backend()


def preflight_late(cfg) -> None:
    """The checks that import torch or transformers, so they run after every cheap one (the run folder's too),
    still before the model loads: the model's model_type, and the launcher's precision under DeepSpeed."""
    _check_model(cfg, known_type=True)
    _check_launch_precision(cfg)


def _check_launch_precision(cfg) -> None:
    """Under DeepSpeed the precision comes from `accelerate launch` (its config's mixed_precision), and
    TrainingArguments refuses a run whose own precision differs ("ds bf16.enabled=True vs hf bf16=False") only
    once the model is loaded. The shipped configs say bf16, for GPUs; a CPU run is fp32."""
    import os

    launched = os.environ.get("ACCELERATE_MIXED_PRECISION", "no").lower()
    precision = getattr(cfg, "precision", None)
    if (
        os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() != "true"
        or launched not in ("bf16", "fp16")
        or not isinstance(precision, str)
    ):
        return
    from trlrecipes.hardware import pick_precision

    ours = pick_precision(precision).name
    if ours != launched:
        flag = "no" if ours == "fp32" else ours
        raise UserError(
            f"accelerate launch runs DeepSpeed in {launched} (mixed_precision of its config), but this "
            f"run trains in {ours} (precision={precision}); pass --mixed_precision {flag} to accelerate "
            f"launch"
        )


def _check_output_dir(cfg) -> None:
    """The run folder can be made and written (the default runs/... too), before minutes of loading."""
    from trlrecipes.paths import check_writable

    output_dir = getattr(cfg, "output_dir", None)
    if isinstance(output_dir, str):
        check_writable(
            Path(output_dir or "runs"), f"output_dir={output_dir}" if output_dir else "output_dir (runs/)", folder=True
        )


def check_settings(cfg, trl_config: str | None = None) -> None:
    """The checks on values alone (no files, no model): also what `--dry-run` runs. `trl_config`: the program's
    TRL_CONFIG ("trl:DPOConfig"), whose loss names `loss_type` is checked against."""
    _check_finite(cfg)
    _check_loss_type(cfg, trl_config)
    _check_report_to(cfg)
    _check_settings(cfg)


def _check_finite(cfg) -> None:
    import dataclasses
    import math

    values = (
        [(f.name, getattr(cfg, f.name, None)) for f in dataclasses.fields(cfg)]
        if dataclasses.is_dataclass(cfg)
        else []
    )
    trl = getattr(cfg, "trl", None)
    values += [(f"trl.{key}", value) for key, value in trl.items()] if isinstance(trl, dict) else []
    for name, value in values:
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{name}={value} is impossible: it must be a finite number")


def _check_loss_type(cfg, trl_config: str | None) -> None:
    """`loss_type` (a name, or the DPO program's list of names to mix): every name one the program's TRL trainer
    computes, and one weight per name in `loss_weights`."""
    loss_type = getattr(cfg, "trl", {}).get("loss_type") if isinstance(getattr(cfg, "trl", None), dict) else None
    loss_type = loss_type if loss_type is not None else getattr(cfg, "loss_type", None)
    config_name = (trl_config or "").rpartition(":")[2]
    known = LOSS_TYPES.get(config_name)
    if known is None or loss_type is None:
        return
    names = [loss_type] if isinstance(loss_type, str) else list(loss_type)
    if not names:
        raise UserError("loss_type is empty; use e.g. loss_type=sigmoid (or sigmoid,sft with loss_weights=1.0,0.2)")
    for name in names:
        if name not in known:
            raise UserError(
                f"loss_type={name!r} is not one of the losses TRL's {config_name} knows "
                f"({', '.join(known)}){suggest(name, list(known))}"
            )
    weights = getattr(cfg, "loss_weights", None)
    if weights is not None and len(weights) != len(names):
        raise UserError(
            f"loss_weights has {len(weights)} value(s) for {len(names)} loss_type name(s) "
            f"({','.join(names)}); give one weight per name, e.g. loss_weights="
            f"{','.join(['1.0'] * len(names))}"
        )


def _check_report_to(cfg) -> None:
    import importlib.util

    report_to = getattr(cfg, "report_to", None)
    if not isinstance(report_to, str) or report_to in ("", "none", "all"):
        return
    for name in (part.strip() for part in report_to.split(",") if part.strip()):
        if name not in TRACKERS:
            raise UserError(
                f"report_to={name!r} is not a tracker transformers knows; use one of {', '.join(TRACKERS)} (or none)"
            )
        packages = TRACKERS[name]
        if packages and not any(importlib.util.find_spec(package) for package in packages):
            raise UserError(
                f"report_to={name} needs the {packages[0]} package, which is not installed: "
                f"pip install {packages[0]} (or report_to=none)"
            )


def _check_settings(cfg) -> None:
    max_length = getattr(cfg, "max_length", None)
    if isinstance(max_length, int) and max_length < MIN_MAX_LENGTH:
        raise UserError(
            f"max_length={max_length} is too small to hold a prompt and a reply; use at least "
            f"{MIN_MAX_LENGTH} (typical: 512 to 2048)"
        )
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


def check_save_interval(save_steps: int, logging_steps: int) -> None:
    """A checkpoint is only known to be good when a finite loss was logged at its step."""
    if save_steps % logging_steps:
        raise UserError(
            f"save_steps={save_steps} must be a multiple of logging_steps={logging_steps}; "
            f"e.g. save_steps={save_steps - save_steps % logging_steps or logging_steps}"
        )


def _check_model(cfg, *, known_type: bool) -> None:
    from trlrecipes.models import check_model, looks_local

    model = getattr(cfg, "model", "")
    if isinstance(model, str) and model and looks_local(model) and Path(model).expanduser().is_dir():
        path = Path(model).expanduser()
        if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
            # e.g. an SFT run: DPO on it trains against the SFT model only once it is merged (its reference is then
            # the merged model with the new adapters off; on a stacked adapter, trlrecipes eval would compare
            # against the base)
            merged = f"{str(path).rstrip('/')}-merged"
            raise UserError(
                f"model={model}: is a LoRA adapter folder (a run?), not a model; merge it first: "
                f"trlrecipes merge {model} --output {merged}, then model={merged}"
            )
    if isinstance(model, str) and model:
        check_model(model, trust_remote_code=bool(getattr(cfg, "trust_remote_code", False)), known_type=known_type)


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
            _check_data_file(setting, source, fmt_name, fmt, _converter_options(fmt_name, cfg))


def _converter_options(fmt_name: str, cfg) -> dict | None:
    """The converter options the config carries, typed; None when they are not valid (the recipe reports them)."""
    from trlrecipes.data import check_options, config_options

    try:
        return check_options(fmt_name, config_options(cfg))
    except UserError:
        return None


def _check_data_file(setting: str, source: str, fmt_name: str, fmt, options: dict | None = None) -> None:
    from trlrecipes.data.common import LOCAL_SUFFIXES, validate_json_lines

    path = Path(source).expanduser()
    if not path.exists():
        raise UserError(f"{setting}={source}: file not found; fix the path (or give a Hub dataset id)")
    if path.is_dir():
        raise UserError(f"{setting}={source}: is a folder; pass one data file")
    name = path.name.lower()
    suffixes = getattr(fmt, "FILE_SUFFIXES", LOCAL_SUFFIXES)
    if not name.endswith(suffixes):
        raise UserError(f"{setting}={source}: unknown file type; use one of {', '.join(suffixes)}")
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
        hint = (
            f"; check that data_format={fmt_name} matches the file"
            if "missing field" in str(err)
            else f"; point {setting}= at a file with one JSON object per line"
            if "no rows" in str(err)
            else ""
        )
        raise UserError(f"{setting}: {err}{hint}".replace("\n", "; ")) from err
    # Whether a row converts depends on the converter options: judged with those the config carries (its fields
    # named like them, as the recipes pass them; the rest at their defaults), unless they are invalid (None).
    if options is not None and not option_dependent:
        _check_usable_rows(setting, path, fmt_name, fmt, options)


def _check_usable_rows(setting: str, path: Path, fmt_name: str, fmt, options: dict | None = None) -> None:
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
                fmt.convert_row(json.loads(line), **(options or {}))
                return
            except Skip as skip:
                reasons[skip.reason] += 1
    why = explanations(fmt)
    details = ", ".join(
        f"{count} {reason}" + (f" ({why[reason]})" if reason in why else "") for reason, count in reasons.most_common()
    )
    raise UserError(
        f"{setting}={path}: none of its {sum(reasons.values())} rows is a usable {fmt_name} pair "
        f"(skipped: {details}); fix the rows or set data_format= to the file's format"
    )
