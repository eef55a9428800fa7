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

A cache entry proves itself before it is used: each file has a record beside it (`<file>.json`: the key, the
key's inputs, the row count, the byte size and an xxh3-128 hash of the bytes as written). A file without its record,
with another size or hash, unreadable, with other columns or row count, with NaN/inf reference values, or a tokens
file whose tokens are not the run's, is not used: one line says which file and why, and it is computed again and
replaced. (Trusting any existing file trained a run on another dataset's tokens, or against garbage log-probs,
with exit 0.) Every write goes through a temp file in the same folder and `os.replace`; the temp file is removed
whatever fails, and a folder that cannot be written is one line (exit 2): `check_cache_location` asks that before
any model loads.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path

from trlrecipes.errors import UserError
from trlrecipes.hardware import is_main_process

FORMAT = "trlrecipes-ref-logps-v1"
COLUMNS = ("ref_chosen_logps", "ref_rejected_logps")
TOKEN_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")
FLAG = "precompute_ref_log_probs"
RECORD_SUFFIX = ".json"  # <key>.ref.arrow.json: the record a cached file is checked against before it is used
_HASH_CHUNK = 1 << 20

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


def _fix() -> str:
    return (
        "set TRLRECIPES_CACHE to a folder you can write (the cache is $TRLRECIPES_CACHE/reference-logps), or pass "
        "trl.precompute_ref_log_probs=false to compute the reference live"
    )


def check_cache_location() -> None:
    """Raise a one-line UserError unless the cache folder can be written (it may not exist yet): a file where the
    folder should be, a read-only folder, or a place no folder can be made (/proc). Asked before any model loads by
    preflight, and again by `prepare` before it writes."""
    from trlrecipes.paths import check_writable

    try:
        check_writable(cache_dir(), "reference log-prob cache", folder=True)
    except UserError as err:
        raise UserError(f"{err}; {_fix()}") from None


def take_request(config_cls, settings: dict) -> bool | None:
    """Pop `precompute_ref_log_probs` from the settings of a single-process DPOConfig (trlrecipes then runs the
    pass, see the module docstring); return the user's value, None when not given. Left to TRL otherwise
    (several processes, DeepSpeed/FSDP, other trainers)."""
    import os

    if FLAG not in settings or getattr(config_cls, "__name__", "") != "DPOConfig":
        return None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or settings.get("deepspeed") or settings.get("fsdp"):
        return None
    from trlrecipes.values import coerce

    return coerce(settings.pop(FLAG), bool, f"trl.{FLAG}")


def may_precompute(trl_config: str | None, trl_settings: dict | None = None) -> bool:
    """Whether a run of this TRL config (a recipe's TRL_CONFIG, e.g. "trl:DPOConfig") with these trl.* settings may
    read or write the cache: preflight asks `check_cache_location` only then (an SFT run, a DPO run with
    trl.precompute_ref_log_probs=false, or several processes never touch it). The same rule as `take_request`."""
    settings = trl_settings or {}
    if not str(trl_config or "").endswith(":DPOConfig"):
        return False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or settings.get("deepspeed") or settings.get("fsdp"):
        return False
    if FLAG in settings:
        from trlrecipes.values import coerce

        return coerce(settings[FLAG], bool, f"trl.{FLAG}") is not False
    return True


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


def key_inputs(trainer, data_hash: str, weights_hash: str) -> dict:
    """What the reference log-probs depend on (the key is their hash; the record of each file keeps them)."""
    import trl

    args = trainer.args
    model = trainer.ref_model if trainer.ref_model is not None else trainer.model
    config = getattr(model, "config", None)
    return {
        "format": FORMAT,
        "trl": trl.__version__,
        "data_hash": data_hash,
        "weights_hash": weights_hash,
        "max_length": args.max_length,
        "truncation_mode": args.truncation_mode,
        "ld_alpha": getattr(args, "ld_alpha", None),
        "bf16": bool(args.bf16),
        "fp16": bool(args.fp16),
        "device": trainer.accelerator.device.type,
        "attn_implementation": getattr(config, "_attn_implementation", None),
    }


def key_of(inputs: dict) -> str:
    h = _hasher()
    h.update(repr(tuple(inputs.values())).encode())  # the tuple the key was always made of: old keys still match
    return h.hexdigest()


def cache_key(trainer, data_hash: str, weights_hash: str) -> str:
    return key_of(key_inputs(trainer, data_hash, weights_hash))


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


# --- the files and their records -------------------------------------------------------------------------------
def file_digest(path: Path) -> str:
    """xxh3-128 of a file's bytes: 256 MiB in 0.02 s from the page cache on the 2-core test machine, so checking an
    entry costs far less than the reference pass it saves."""
    h = _hasher()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def record_path(path: Path) -> Path:
    return path.with_name(path.name + RECORD_SUFFIX)


def _replace_atomically(path: Path, write) -> None:
    """`write(tmp)` into a temp file beside `path`, then os.replace: a reader never sees a half file under the key,
    and the temp file is removed whatever fails (a full disk, an interrupt). OSError -> one-line UserError."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise UserError(
            f"cannot write the reference log-prob cache file {path} ({err.strerror or err}); {_fix()}"
        ) from err
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # still there only when something failed


def write_entry(path: Path, tables, schema, *, kind: str, key: str, inputs: dict, rows: int) -> None:
    """Write an Arrow stream file (`tables` in order) and then its record (key, inputs, rows, bytes, hash)."""
    import pyarrow as pa

    def write_table(tmp: Path) -> None:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            for table in tables:
                writer.write_table(table)

    _replace_atomically(path, write_table)
    record = {
        "format": FORMAT,
        "kind": kind,
        "file": path.name,
        "key": key,
        "rows": rows,
        "bytes": path.stat().st_size,
        "xxh3_128": file_digest(path),
        "inputs": inputs,
    }
    try:
        _replace_atomically(record_path(path), lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))
    except BaseException:
        path.unlink(missing_ok=True)  # a file without its record would only be refused later
        raise


def _write_refs(path: Path, chosen, rejected, *, key: str, inputs: dict) -> None:
    import pyarrow as pa

    table = pa.table({COLUMNS[0]: pa.array(chosen.numpy()), COLUMNS[1]: pa.array(rejected.numpy())})
    write_entry(path, [table], table.schema, kind="ref", key=key, inputs=inputs, rows=len(table))


def _write_tokens(path: Path, dataset, *, key: str, inputs: dict) -> None:
    """The token columns in the dataset's row order (its indices mapping applied), streamed 1000 rows at a time."""
    tokens = dataset.select_columns(list(TOKEN_COLUMNS)).with_format("arrow")
    schema = tokens[:0].schema
    write_entry(path, tokens.iter(batch_size=1000), schema, kind="tokens", key=key, inputs=inputs, rows=len(dataset))


def _non_finite(table, columns) -> int:
    import pyarrow.compute as pc

    # is_finite is null for a null value, and sum skips nulls: nulls count as not finite
    return sum(len(table.column(name)) - (pc.sum(pc.is_finite(table.column(name))).as_py() or 0) for name in columns)


def read_entry(path: Path, *, kind: str, key: str, inputs: dict, rows: int):
    """(dataset, None) for a cached file that proves itself against its record and the run; (None, why not) for
    one that does not; (None, None) when there is no file."""
    import pyarrow as pa
    from datasets import Dataset

    if not path.is_file():
        return None, None
    try:
        record = json.loads(record_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict):
        return None, f"no readable record {record_path(path).name} beside it: cut short, or from an older trlrecipes"
    names = tuple(record.get(field) for field in ("format", "kind", "file", "key"))
    if names != (FORMAT, kind, path.name, key):
        return None, "its record belongs to another cache entry"
    if record.get("inputs") != json.loads(json.dumps(inputs)):
        return None, "its record names other inputs than this run's"
    if record.get("rows") != rows:
        return None, f"written for {record.get('rows')} pairs, the data has {rows}"
    size = path.stat().st_size
    if size != record.get("bytes"):
        return None, f"truncated or replaced: {size} bytes where {record.get('bytes')} were written"
    if file_digest(path) != record.get("xxh3_128"):
        return None, "changed or damaged: its content hash differs from its record"
    try:
        dataset = Dataset.from_file(str(path))
        table = dataset.with_format("arrow")[:]
    except (pa.ArrowException, OSError, ValueError) as err:
        return None, f"unreadable: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    expected = COLUMNS if kind == "ref" else TOKEN_COLUMNS
    if sorted(dataset.column_names) != sorted(expected) or len(dataset) != rows:
        return None, f"it holds columns {dataset.column_names} and {len(dataset)} rows, not {list(expected)} x {rows}"
    if kind == "ref":
        if not all(pa.types.is_floating(table.column(name).type) for name in COLUMNS):
            return None, "its reference log-probs are not floating-point numbers"
        bad = _non_finite(table, COLUMNS)
        if bad:
            return None, f"{bad} of its reference log-probs are NaN/inf"
    elif tokens_hash(dataset) != inputs["data_hash"]:
        return None, "its tokens are not this run's"
    return dataset, None


def _check_finite(chosen, rejected, name: str) -> None:
    """A reference pass that gives NaN/inf is refused (and not cached): training against it can only diverge, and
    the run would then blame the learning rate."""
    import torch

    bad = ~(torch.isfinite(chosen) & torch.isfinite(rejected))
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        raise UserError(
            f"the reference model gives NaN/inf log-probs for {int(bad.sum())} of {len(bad)} {name} pairs (first: "
            f"row {first}); nothing was cached. Check the base model's weights, or train in another precision "
            f"(precision=fp32)"
        )


def _tokens_path(ref_path: Path) -> Path:
    return ref_path.with_name(ref_path.name.replace(".ref.arrow", ".tokens.arrow"))


def _attach(dataset, refs, ref_path: Path, *, key: str, inputs: dict, tokens_only: bool):
    """The dataset with the cached columns beside it. Concatenating beside a dataset that has an indices mapping
    (TRL's length filter leaves one) would copy it under a fresh, run-specific name each run; the copy is made
    here once, under the same key (`<key>.tokens.arrow`), holding only the token columns the trainer reads, and
    checked like the reference file before it is reused."""
    from datasets import Dataset, concatenate_datasets

    if tokens_only:
        path = _tokens_path(ref_path)
        tokens, problem = read_entry(path, kind="tokens", key=key, inputs=inputs, rows=len(dataset))
        if problem:
            _say(f"reference log-probs: not using the cached {path} ({problem}); writing it again")
        if tokens is None:
            check_cache_location()
            _write_tokens(path, dataset, key=key, inputs=inputs)
            tokens = Dataset.from_file(str(path))
        dataset = tokens
    else:
        dataset = dataset.remove_columns([c for c in COLUMNS if c in dataset.column_names])
    return concatenate_datasets([dataset, refs], axis=1)


def prepare(trainer) -> dict:
    """Decide, then attach cached or freshly computed reference log-probs to the trainer's datasets (before
    `trainer.train()`). Prints one line saying which; returns what happened (for tests and sweeps)."""
    from datasets import Dataset

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
    plan, refs, rejected = {}, {}, {}
    for name, dataset in _datasets(trainer).items():
        inputs = key_inputs(trainer, tokens_hash(dataset), weights)
        key = key_of(inputs)
        path = cache_dir() / f"{key}.ref.arrow"
        plan[name] = (dataset, path, key, inputs)
        found, problem = read_entry(path, kind="ref", key=key, inputs=inputs, rows=len(dataset))
        if found is not None:
            refs[name] = found
        elif problem:
            rejected[name] = problem
            _say(f"reference log-probs: not using the cached {path} ({problem}); it is replaced when computed again")
    missing = set(plan) - set(refs)
    live, precompute = live_reference_rows(trainer)
    to_compute = sum(len(plan[name][0]) for name in missing)
    if request is None and to_compute > live * _expected_runs:
        runs = f" x {_expected_runs} runs" if _expected_runs > 1 else ""
        _say(
            f"reference log-probs: computed live at every step (training computes {live} pair(s){runs}; a pass "
            f"over all {precompute} would cost more, and none are cached; trl.{FLAG}=true precomputes them)"
        )
        return {"source": "live", "reason": "cheaper live", "live_rows": live, "precompute_rows": precompute}
    if missing:
        check_cache_location()  # before the pass, not after it
    args = trainer.args
    for name in sorted(missing):
        dataset, path, key, inputs = plan[name]
        size = args.precompute_ref_batch_size or (
            args.per_device_train_batch_size if name == "train" else args.per_device_eval_batch_size
        )
        chosen, rejected_logps = compute(trainer, dataset, size)
        _check_finite(chosen, rejected_logps, name)
        if is_main_process():
            _write_refs(path, chosen, rejected_logps, key=key, inputs=inputs)
            refs[name] = Dataset.from_file(str(path))
        else:
            refs[name] = Dataset.from_dict({COLUMNS[0]: chosen.numpy(), COLUMNS[1]: rejected_logps.numpy()})
    # With remove_unused_columns (the default) the trainer reads only the token and reference columns.
    tokens_only = bool(getattr(args, "remove_unused_columns", True)) and is_main_process()
    attached = {
        name: _attach(dataset, refs[name], path, key=key, inputs=inputs, tokens_only=tokens_only)
        for name, (dataset, path, key, inputs) in plan.items()
    }
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
    return {
        "source": source,
        "keys": {name: key for name, (_, _, key, _) in plan.items()},
        "rejected": rejected,
    }
