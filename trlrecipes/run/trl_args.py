"""The TRL config of a run, built from the program's Config: what passes through by name, what the run sets.

Every Config field that is also a field of the TRL config class passes through under its own name; the run adds
its plumbing (the folder, precision, logging/checkpoint/eval intervals, the tracker, tokenizer processes), `warmup`
(a share below 1) and the model's loading arguments; a program's hand-computed fields (KTO's class weights) come
next, and `trl.<field>=` settings last, so they win. The result is written to the run folder as trl_config.json.
"""

from __future__ import annotations

import dataclasses
import os

from trlrecipes.errors import UserError
from trlrecipes.run import refcache

# Config fields the run maps itself (they mean something else to TRL, or need the run's folder or rules).
RUN_OWNED = {"output_dir", "report_to", "logging_steps", "save_steps", "eval_steps", "max_steps", "trl"}


def build(
    config_cls,
    cfg,
    *,
    folder,
    train_rows: int,
    has_eval: bool,
    quantization=None,
    quantize_on_load: bool = False,
    **by_hand,
):
    """The TRL config for a run in `folder`. `quantize_on_load`: put QLoRA's quantization config into the model's
    loading arguments, for trainers that take no `quantization_config` argument (ORPO)."""
    from trlrecipes.hardware import pick_precision

    precision = pick_precision(cfg.precision)
    trl_fields = {f.name for f in dataclasses.fields(config_cls) if f.init}
    passed = {
        f.name: getattr(cfg, f.name)
        for f in dataclasses.fields(cfg)
        if f.name in trl_fields and f.name not in RUN_OWNED
    }
    model_init = {"dtype": precision.torch_dtype, "trust_remote_code": cfg.trust_remote_code}
    if quantize_on_load and quantization is not None:
        model_init["quantization_config"] = quantization
    plumbing = run_settings(
        precision,
        folder=folder,
        train_rows=train_rows,
        logging_steps=cfg.logging_steps,
        save_steps=cfg.save_steps,
        eval_steps=cfg.eval_steps,
        has_eval=has_eval,
        report_to=cfg.report_to,
    )
    settings = {
        **passed,
        # the plumbing this TRL config has (GRPOConfig and RLOOConfig tokenize nothing ahead: no dataset_num_proc)
        **{key: value for key, value in plumbing.items() if key in trl_fields},
        "max_steps": cfg.max_steps or -1,  # 0 = run num_train_epochs
        "warmup_steps": cfg.warmup,  # below 1: a share of the total steps
        "model_init_kwargs": model_init,
        **by_hand,
        **cfg.trl,
    }
    return build_trl_config(config_cls, settings)


def run_settings(
    precision,
    *,
    folder,
    train_rows: int,
    logging_steps: int,
    save_steps: int,
    eval_steps: int,
    has_eval: bool,
    report_to: str = "none",
    save_total_limit: int = 2,
) -> dict:
    """TrainingArguments every program sets the same way: folder, precision, logging, checkpoints, evaluation."""
    from trlrecipes.console import show_bars_for

    show_bars_for(train_rows)  # TRL tokenizes a large set: show its progress bar
    # eval_steps=0: no evaluation during training (transformers would otherwise also evaluate after the last step)
    evaluate = has_eval and eval_steps > 0
    return {
        "output_dir": str(folder),
        **precision.trl_kwargs,
        "logging_steps": logging_steps,
        "save_strategy": "steps",
        "save_steps": save_steps,
        "save_total_limit": save_total_limit,
        "eval_strategy": "steps" if evaluate else "no",
        "eval_steps": eval_steps if evaluate else None,
        "report_to": [] if report_to in ("", "none") else report_to.split(","),
        "run_name": folder.name,  # the trackers' run is named like the folder (trackio would pick a random name)
        "disable_tqdm": True,  # the health callback prints one compact line per log event instead
        "dataset_num_proc": tokenizer_processes(train_rows),
    }


def tokenizer_processes(train_rows: int) -> int | None:
    """Processes for TRL's tokenization: one per core (up to 8) for a large training set (2 processes made the
    first run on 43,835 hh-rlhf pairs 0.69x as long on 2 cores), else None: starting workers costs more than it
    saves on a small set."""
    from trlrecipes.data.common import parallel_processes

    return parallel_processes(train_rows, most=8)


def build_trl_config(config_cls, settings: dict):
    """Build a TRL config; its own validation errors are the user's settings, so they become one-line UserErrors.

    A `hub_token` is moved into the HF_TOKEN environment variable of this process (where huggingface_hub reads it
    for a push) instead of the config: transformers pickles the whole config into every checkpoint's
    training_args.bin, and a token must never be written to the run folder.
    """
    settings = dict(settings)
    token = settings.pop("hub_token", None)
    if token:
        os.environ["HF_TOKEN"] = str(token)
    precompute = refcache.take_request(config_cls, settings)  # trlrecipes runs that pass itself, cached
    try:
        args = config_cls(**settings)
    except (ValueError, TypeError) as err:
        raise UserError(f"{config_cls.__name__} rejected the settings: {err}".splitlines()[0]) from err
    refcache.remember(args, precompute)
    return args


def resolved(args) -> dict:
    """The TRL config as the trainer received it, as plain JSON-able data (for trl_config.json): secrets redacted,
    objects named by their type."""
    from trlrecipes.values import is_secret

    def plain(value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {str(k): ("<redacted>" if is_secret(str(k)) and v else plain(v)) for k, v in value.items()}
        if hasattr(value, "value") and isinstance(value.value, (str, int)):  # enums
            return value.value
        return f"<{type(value).__name__}>"

    out = {}
    for f in dataclasses.fields(args):
        if not f.init:
            continue
        value = getattr(args, f.name, None)
        out[f.name] = "<redacted>" if is_secret(f.name) and value else plain(value)
    return out
