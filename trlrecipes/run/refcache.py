"""Reference log-probs computed once per (reference weights, tokens, max_length, precision) and reused by every run.

With LoRA and `ref_model=None` the reference is the base model with the adapter disabled: fixed for the whole run
and the same for every run of a sweep over beta or the learning rate. TRL 1.16 can precompute it
(`precompute_ref_log_probs=True`) and caches the result under a key built from the tokenized dataset's fingerprint
and a hash of the whole model, but in practice that key never repeats: the fingerprint of TRL's length filter
hashes its lambda's closure, i.e. the complete DPOConfig (output_dir, beta, learning_rate, ...), and the model hash
includes the freshly initialised LoRA weights. TRL's pass also runs in dataset order, padding every batch to its
longest pair. So here:

- the key is the content of the token columns, a hash of the reference weights only (adapter weights left out),
  and the settings that change the values (max_length, truncation, ld_alpha, precision, device, TRL version): the
  same for any output_dir, beta, learning rate, seed or LoRA rank;
- the pass is TRL's own `compute_ref_log_probs` and collator over length-sorted batches (far less padding than
  the dataset order), written to `<trlrecipes cache>/reference-logps/<key>.ref.arrow` with TRL's column names, then
  handed to TRL's training path exactly as its own precompute would (`precompute_ref_logps`);
- `auto` (the default) precomputes when it cannot cost more than the live reference forwards it replaces: the
  cache already holds them, or training covers every pair at least once (plus evaluation passes), which the
  benchmark in benchmarks/ref_cache.py measured as no slower end to end and no higher in peak memory.
  `trl.precompute_ref_log_probs=true|false` forces it either way.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

from trlrecipes.hardware import is_main_process

FORMAT = "trlrecipes-ref-logps-v1"
COLUMNS = ("ref_chosen_logps", "ref_rejected_logps")
TOKEN_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")
FLAG = "precompute_ref_log_probs"

# Runs expected to share this run's reference (a sweep sets it: the members still to run that differ only in
# training settings); the auto rule weighs one pass against that many runs' live reference forwards.
_expected_runs = 1

# The user's trl.precompute_ref_log_probs, taken out of the DPOConfig by `take_request` (so TRL does not run its
# own pass at construction) and read back by `prepare` from the trainer's args: id(args) -> True / False.
_requests: dict[int, bool] = {}


def _say(message: str) -> None:
    if is_main_process():
        print(message, flush=True)


def cache_dir() -> Path:
    from trlrecipes.models import cache_dir as trlrecipes_cache

    return trlrecipes_cache() / "reference-logps"


def take_request(config_cls, settings: dict) -> bool | None:
    """Pop `precompute_ref_log_probs` from the settings of a single-process DPOConfig (trlrecipes then runs the
    pass, see the module docstring); return the user's value, None when not given. Left to TRL otherwise
    (several processes, DeepSpeed/FSDP, other trainers)."""
    import os

    if FLAG not in settings or getattr(config_cls, "__name__", "") != "DPOConfig":
        return None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or settings.get("deepspeed") or settings.get("fsdp"):
        return None
    from trlrecipes.options import coerce

    return coerce(settings.pop(FLAG), bool, f"trl.{FLAG}")


@contextlib.contextmanager
def expected_runs(count: int):
    """Within the block, the auto rule counts on `count` runs (this one included) reading the same reference."""
    global _expected_runs
    previous, _expected_runs = _expected_runs, max(1, count)
    try:
        yield
    finally:
        _expected_runs = previous


def remember(args, request: bool | None) -> None:
    """Keep the value `take_request` popped for the trainer built with `args` (read by `prepare`)."""
    if request is not None:
        _requests[id(args)] = request


# --- the cache key --------------------------------------------------------------------------------------------
def _hasher():
    import xxhash

    return xxhash.xxh3_128()


def tokens_hash(dataset) -> str:
    """Hash of the token columns in row order (Arrow buffers, no Python loop)."""
    import pyarrow.compute as pc

    table = dataset.with_format("arrow")[:]
    h = _hasher()
    h.update(str(len(table)).encode())
    for name in TOKEN_COLUMNS:
        column = table.column(name).combine_chunks()
        h.update(name.encode())
        h.update(pc.list_value_length(column).to_numpy(zero_copy_only=False).astype("int64").tobytes())
        h.update(pc.list_flatten(column).to_numpy(zero_copy_only=False).astype("int64").tobytes())
    return h.hexdigest()


def reference_weights_hash(trainer) -> str:
    """Hash of the weights the reference forward uses: a separate ref_model's, or the policy's without its trained
    adapter (PEFT names normalised so the LoRA rank or target modules do not change it)."""
    model = trainer.ref_model if trainer.ref_model is not None else trainer.accelerator.unwrap_model(trainer.model)
    skip: set[str] = set()
    peft_config = getattr(model, "peft_config", None)
    if trainer.ref_model is None and isinstance(peft_config, dict):
        skip = {name for name in peft_config if name != "ref"}  # TRL uses an adapter named "ref" as the reference
    import torch

    h = _hasher()
    for key, tensor in sorted(_normalised_state(model, skip).items()):
        h.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def _normalised_state(model, skip: set[str]) -> dict:
    state = {}
    for key, tensor in model.state_dict().items():
        parts = key.split(".")
        if skip and any(part in skip for part in parts):
            continue
        parts = [part for part in parts if part != "base_layer"]
        if parts[:2] == ["base_model", "model"]:
            parts = parts[2:]
        state[".".join(parts)] = tensor
    return state


def cache_key(trainer, data_hash: str, weights_hash: str) -> str:
    import trl

    args = trainer.args
    model = trainer.ref_model if trainer.ref_model is not None else trainer.model
    config = getattr(model, "config", None)
    settings = (
        FORMAT,
        trl.__version__,
        data_hash,
        weights_hash,
        args.max_length,
        args.truncation_mode,
        getattr(args, "ld_alpha", None),
        bool(args.bf16),
        bool(args.fp16),
        trainer.accelerator.device.type,
        getattr(config, "_attn_implementation", None),
    )
    h = _hasher()
    h.update(repr(settings).encode())
    return h.hexdigest()


# --- deciding -------------------------------------------------------------------------------------------------
def fixed_reference(trainer) -> str | None:
    """None when the reference is fixed for the run and this module can precompute it, else why not."""
    from peft import PeftModel

    args = trainer.args
    if not (hasattr(trainer, "compute_ref_log_probs") and hasattr(trainer, "precompute_ref_logps")):
        return "not a DPO trainer"
    if getattr(args, "sync_ref_model", False):
        return "sync_ref_model=true updates the reference during training"
    model = trainer.accelerator.unwrap_model(trainer.model)
    if trainer.ref_model is None and not isinstance(model, PeftModel):
        return "full fine-tuning without a separate ref_model (TRL's own precompute handles it)"
    if args.world_size > 1 or trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled:
        return "several processes / DeepSpeed / FSDP (TRL's own precompute handles them)"
    for dataset in _datasets(trainer).values():
        if not hasattr(dataset, "__len__") or not set(TOKEN_COLUMNS) <= set(dataset.column_names or ()):
            return "the data is not TRL's tokenized preference layout (iterable or vision data)"
    return None


def _evaluates(args) -> bool:
    return str(getattr(args.eval_strategy, "value", args.eval_strategy)) != "no"


def _datasets(trainer) -> dict:
    """The datasets whose reference log-probs the run uses: the training set, and the eval set(s) when the run
    evaluates during training (a run with eval_strategy "no" never reads them; trlrecipes evaluates finished runs
    with tools/evaluate, which scores the reference itself)."""
    out = {"train": trainer.train_dataset}
    evaluation = trainer.eval_dataset if _evaluates(trainer.args) else None
    if isinstance(evaluation, dict):
        out.update({f"eval_{name}": data for name, data in evaluation.items()})
    elif evaluation is not None:
        out["eval"] = evaluation
    return out


def live_reference_rows(trainer) -> tuple[int, int]:
    """(pairs whose reference log-probs a live run computes, pairs a precompute pass computes)."""
    args = trainer.args
    train_rows = len(trainer.train_dataset)
    per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
    steps = args.max_steps
    if steps <= 0:
        steps = math.ceil(args.num_train_epochs * math.ceil(train_rows / per_step))
    live = steps * per_step
    eval_rows = sum(len(d) for name, d in _datasets(trainer).items() if name != "train")
    if eval_rows and args.eval_steps:
        live += eval_rows * math.ceil(steps / args.eval_steps)
    return live, train_rows + eval_rows


# --- the pass -------------------------------------------------------------------------------------------------
def compute(trainer, dataset, batch_size: int):
    """(chosen, rejected) float32 reference log-probs in row order, computed by TRL's `compute_ref_log_probs` over
    batches of similar length (longest first, so a too-large batch fails at once)."""
    import torch

    from trlrecipes.data.batching import training_lengths

    lengths = training_lengths(dataset)
    order = sorted(range(len(dataset)), key=lambda i: -lengths[i])
    chosen = torch.empty(len(dataset), dtype=torch.float32)
    rejected = torch.empty(len(dataset), dtype=torch.float32)
    model = trainer.ref_model if trainer.ref_model is not None else trainer.model
    device = trainer.accelerator.device
    tokens = dataset.select_columns(list(TOKEN_COLUMNS))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        columns = tokens[rows]
        batch = trainer.data_collator(
            [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        )
        batch = {key: value.to(device) for key, value in batch.items()}
        ref_chosen, ref_rejected = trainer.compute_ref_log_probs(model, batch)
        index = torch.tensor(rows)
        chosen[index] = ref_chosen.float().cpu()
        rejected[index] = ref_rejected.float().cpu()
    return chosen, rejected


def _write(path: Path, chosen, rejected) -> None:
    import os

    import pyarrow as pa

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({COLUMNS[0]: pa.array(chosen.numpy()), COLUMNS[1]: pa.array(rejected.numpy())})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)  # atomic: a concurrent or interrupted writer never leaves a half file under the key


def _attach(dataset, path: Path, *, tokens_only: bool):
    """The dataset with the cached columns beside it. Concatenating beside a dataset that has an indices mapping
    (TRL's length filter leaves one) would copy it under a fresh, run-specific name each run; the copy is made
    here once, under the same key (`<key>.tokens.arrow`), holding only the token columns the trainer reads."""
    from datasets import Dataset, concatenate_datasets

    refs = Dataset.from_file(str(path))
    if len(refs) != len(dataset):
        raise ValueError(f"{path}: {len(refs)} rows cached for a dataset of {len(dataset)}")
    dataset = dataset.remove_columns([c for c in COLUMNS if c in dataset.column_names])
    if tokens_only:
        tokens_file = path.with_name(path.name.replace(".ref.arrow", ".tokens.arrow"))
        dataset = dataset.select_columns(list(TOKEN_COLUMNS)).flatten_indices(
            cache_file_name=str(tokens_file), new_fingerprint=path.name.split(".")[0]
        )
    return concatenate_datasets([dataset, refs], axis=1)


def prepare(trainer) -> dict:
    """Decide, then attach cached or freshly computed reference log-probs to the trainer's datasets (before
    `trainer.train()`). Prints one line saying which; returns what happened (for tests and sweeps)."""
    from trlrecipes._compat import use_precomputed_reference

    request = _requests.pop(id(trainer.args), None)
    if getattr(trainer, "precompute_ref_logps", False):
        _say("reference log-probs: precomputed by TRL at start-up (trl.precompute_ref_log_probs=true)")
        return {"source": "trl"}
    if request is False:
        _say("reference log-probs: computed live at every step (trl.precompute_ref_log_probs=false)")
        return {"source": "live", "reason": "off"}
    why_not = fixed_reference(trainer)
    if why_not:
        if request:
            _say(f"reference log-probs: computed live at every step; cannot precompute here: {why_not}")
        return {"source": "live", "reason": why_not}
    started = time.monotonic()
    weights = reference_weights_hash(trainer)
    plan = {}
    for name, dataset in _datasets(trainer).items():
        key = cache_key(trainer, tokens_hash(dataset), weights)
        plan[name] = (dataset, cache_dir() / f"{key}.ref.arrow")
    missing = {name for name, (_, path) in plan.items() if not path.is_file()}
    live, precompute = live_reference_rows(trainer)
    to_compute = sum(len(plan[name][0]) for name in missing)
    if request is None and to_compute > live * _expected_runs:
        runs = f" x {_expected_runs} runs" if _expected_runs > 1 else ""
        _say(
            f"reference log-probs: computed live at every step (training computes {live} pair(s){runs}; a pass "
            f"over all {precompute} would cost more, and none are cached; trl.{FLAG}=true precomputes them)"
        )
        return {"source": "live", "reason": "cheaper live", "live_rows": live, "precompute_rows": precompute}
    args = trainer.args
    for name in sorted(missing):
        dataset, path = plan[name]
        size = args.precompute_ref_batch_size or (
            args.per_device_train_batch_size if name == "train" else args.per_device_eval_batch_size
        )
        chosen, rejected = compute(trainer, dataset, size)
        if is_main_process():
            _write(path, chosen, rejected)
    # With remove_unused_columns (the default) the trainer reads only the token and reference columns.
    tokens_only = bool(getattr(args, "remove_unused_columns", True))
    attached = {name: _attach(dataset, path, tokens_only=tokens_only) for name, (dataset, path) in plan.items()}
    trainer.train_dataset = attached.pop("train")
    if attached:  # only when evaluating during training (see _datasets)
        if isinstance(trainer.eval_dataset, dict):
            trainer.eval_dataset = {name.removeprefix("eval_"): data for name, data in attached.items()}
        else:
            trainer.eval_dataset = attached["eval"]
    use_precomputed_reference(trainer)
    rows = ", ".join(f"{len(plan[name][0])} {name}" for name in plan)
    elapsed = time.monotonic() - started
    if missing == set(plan):
        source = "computed"
        _say(
            f"reference log-probs: computed once for {rows} pairs in {elapsed:.1f} s, cached in {cache_dir()} "
            f"(reused by later runs on the same model, data and max_length)"
        )
    elif missing:
        source = "partly cached"
        _say(
            f"reference log-probs: {', '.join(sorted(set(plan) - missing))} from the cache, "
            f"{', '.join(sorted(missing))} computed ({elapsed:.1f} s); {cache_dir()}"
        )
    else:
        source = "cache"
        _say(f"reference log-probs: from the cache for {rows} pairs ({elapsed:.1f} s; {cache_dir()})")
    return {"source": source, "keys": {name: path.name.split(".")[0] for name, (_, path) in plan.items()}}
