"""Merge a run's LoRA adapter into its base model and save a standalone transformers folder: `trlrecipes merge`.

The base model is loaded in the dtype its checkpoint is stored in (config.json's `dtype`; float32 when it says
nothing), never quantized: a run trained with load_in_4bit=true (QLoRA) has its adapter merged into the
unquantized base weights, which is what the adapter approximates anyway, but the merged model's outputs can then
differ slightly from the 4-bit model the adapter was trained against (both the output and the model card say so).

The folder holds the merged weights (safetensors), config.json, generation_config.json, the run's tokenizer with
its chat template, and a README.md model card (base model, recipe, versions, data, hyperparameters, final
metrics). Before saving, the merged model's logits on a short chat prompt are compared with base + adapter.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from trlrecipes.run import folder as run_folder
from trlrecipes.errors import UserError
from trlrecipes.paths import check_writable

CHECK_PROMPT = [{"role": "user", "content": "What is the capital of France?"}]
HYPERPARAMETERS = ("loss_type", "beta", "learning_rate", "lora_r", "lora_alpha", "lora_dropout", "max_length",
                   "per_device_train_batch_size", "gradient_accumulation_steps", "num_train_epochs", "max_steps",
                   "warmup", "activation_checkpointing", "precision", "load_in_4bit", "seed")
TRAIN_METRICS = ("loss", "rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected")
EVAL_METRICS = tuple(f"eval_{key}" for key in TRAIN_METRICS)


@dataclass
class MergeResult:
    output: Path
    base: str
    dtype: str
    from_4bit: bool
    max_logit_diff: float | None
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"merged the adapter of the run into {self.base} ({self.dtype}) and saved it to {self.output}"]
        if self.max_logit_diff is not None:
            lines.append(f"check: max |logit difference| merged vs base+adapter on a sample prompt = "
                         f"{self.max_logit_diff:.3g}")
        lines += self.notes
        lines.append(f"load it with: AutoModelForCausalLM.from_pretrained({str(self.output)!r})")
        return "\n".join(lines)


def _dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def base_dtype(config):
    """The dtype the base checkpoint is stored in (float32 when its config does not say)."""
    import torch

    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def _check_output(output: Path, run_dir: Path, force: bool) -> None:
    out, run = output.resolve(), run_dir.resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"--output {output} is a file; pass a folder")
    if out == run or out in run.parents:
        raise UserError(f"--output {output} is the run folder or holds it; choose a new folder")
    if force and (out == Path.cwd().resolve() or out in Path.cwd().resolve().parents or out == Path.home().resolve()):
        raise UserError(f"--output {output} is the current or home folder; --force would replace it: choose a "
                        f"dedicated folder")
    if run_folder.is_nonempty(out) and not force:
        raise UserError(f"--output {output} is not empty; pass --force to replace it or choose another folder")
    check_writable(out.parent, f"--output {output}", folder=True)  # the merged folder is made beside it, then moved


def _publish(tmp: Path, output: Path) -> None:
    """Move the finished folder into place; with an old one there (--force), swap it out, then delete it."""
    old = None
    if output.exists():
        old = output.with_name(f".{output.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.rename(output, old)
    os.rename(tmp, output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _last_logits(model, input_ids):
    import torch

    with torch.no_grad():
        return model(input_ids=input_ids).logits.float()


def merge_run(run_dir: str | Path, output: str | Path, *, force: bool = False, check: bool = True) -> MergeResult:
    """Merge `run_dir`'s adapter into its base model (original dtype, unquantized) and save it to `output`."""
    from trlrecipes.models import resolve_model
    from trlrecipes.tools.evaluate import load_run_config

    run_dir, output = Path(run_dir), Path(output).expanduser()
    _check_output(output, run_dir, force)
    cfg = load_run_config(run_dir)

    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    if not cfg.get("model"):
        raise UserError(f"{run_dir / run_folder.CONFIG_FILE}: has no 'model' key, so the base model is unknown")
    base_name, trust = cfg["model"], bool(cfg.get("trust_remote_code", False))
    base_path = resolve_model(base_name)
    try:
        base_config = AutoConfig.from_pretrained(base_path, trust_remote_code=trust)
    except OSError as err:
        raise UserError(f"base model {base_name!r} of the run could not be found ({str(err).splitlines()[0]}); "
                        f"check the path or your network")
    stored_quantization = getattr(base_config, "quantization_config", None)
    if stored_quantization:
        method = stored_quantization.get("quant_method", "?") if isinstance(stored_quantization, dict) else "?"
        raise UserError(f"base model {base_name!r} is stored quantized ({method}); merging needs its full-precision "
                        f"weights: pass a run whose model is an unquantized checkpoint")
    dtype = base_dtype(base_config)
    from_4bit = bool(cfg.get("load_in_4bit", False))
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype, trust_remote_code=trust)
    model = PeftModel.from_pretrained(base, str(run_dir)).eval()
    tokenizer_dir = run_dir if (run_dir / "tokenizer_config.json").is_file() else Path(base_path)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), trust_remote_code=trust)

    sample = None
    if check:
        if getattr(tokenizer, "chat_template", None):
            sample = tokenizer.apply_chat_template(CHECK_PROMPT, add_generation_prompt=True, return_tensors="pt",
                                                   return_dict=True)["input_ids"]
        else:
            sample = tokenizer(CHECK_PROMPT[0]["content"], return_tensors="pt")["input_ids"]
        expected = _last_logits(model, sample)
    merged = model.merge_and_unload()
    merged = merged.to(dtype)
    difference = None
    if sample is not None:
        difference = (expected - _last_logits(merged, sample)).abs().max().item()

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.parent / f".{output.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    notes = []
    if from_4bit:
        notes.append(f"note: this run trained its adapter against a 4-bit (nf4) quantized base; it was merged into the "
                     f"unquantized {_dtype_name(dtype)} weights, so outputs can differ slightly from the 4-bit model "
                     f"used in training")
    try:
        merged.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        merged.generation_config.save_pretrained(str(tmp))
        card = model_card(run_dir, cfg, dtype=_dtype_name(dtype), from_4bit=from_4bit, max_logit_diff=difference)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        _publish(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if difference is not None and difference > _tolerance(dtype):
        notes.append(f"warning: the merged logits differ from base+adapter by up to {difference:.3g}, more than "
                     f"{_dtype_name(dtype)} rounding explains")
    return MergeResult(output=output, base=base_name, dtype=_dtype_name(dtype), from_4bit=from_4bit,
                       max_logit_diff=difference, notes=notes)


def _tolerance(dtype) -> float:
    import torch

    return {torch.float32: 1e-3, torch.float16: 0.1, torch.bfloat16: 0.5}.get(dtype, 1e-3)


# --- model card ---------------------------------------------------------------------------------------------------


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def recipe_description(run_dir: Path) -> str:
    """The preset's description when the run named a preset, else the first paragraph of the docstring of the
    program copy saved with the run (read, not executed)."""
    preset = run_dir / run_folder.PRESET_COPY
    if preset.is_file():
        from trlrecipes.run.programs import read_preset

        try:
            return read_preset(preset)[1]
        except UserError:
            pass
    path = run_dir / run_folder.PROGRAM_COPY
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError):
        return ""
    return " ".join(doc.split("\n\n")[0].split())


def data_summary_hash(run_dir: Path) -> str | None:
    """sha256 of data_summary.json's content as canonical JSON (sorted keys), first 16 hex digits."""
    summary = _read_json(run_dir / "data_summary.json")
    if summary is None:
        return None
    canonical = json.dumps(summary, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def final_metrics(run_dir: Path) -> tuple[dict, dict]:
    """The last training log and the last evaluation log of metrics.jsonl (keys of interest only)."""
    train, evaluation = {}, {}
    path = run_dir / run_folder.METRICS_FILE
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if "loss" in record:
                train = {"step": record.get("step"), **{k: record[k] for k in TRAIN_METRICS if k in record}}
            if "eval_loss" in record:
                evaluation = {"step": record.get("step"), **{k: record[k] for k in EVAL_METRICS if k in record}}
    return train, evaluation


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def model_card(run_dir: Path, cfg: dict, *, dtype: str, from_4bit: bool, max_logit_diff: float | None) -> str:
    import trlrecipes

    info = _read_json(run_dir / run_folder.RUN_INFO) or {}
    summary = _read_json(run_dir / "summary.json") or {}
    versions = info.get("versions") or {}
    recipe = info.get("recipe") or "unknown"
    method = _method(run_dir)
    steps = info.get("global_step", summary.get("steps"))
    base = cfg.get("model", "?")
    lines = ["---", f"base_model: {json.dumps(str(base))}", "library_name: transformers",
             f"tags: [trlrecipes, {method.lower()}, lora, merged]", "---", "",
             f"# {method} fine-tune of {base} (LoRA merged)", "",
             f"LoRA adapter trained with the trlrecipes recipe `{recipe}` and merged into the base model's "
             f"{dtype} weights. It loads with `AutoModelForCausalLM.from_pretrained` and needs neither PEFT nor "
             f"trlrecipes.", ""]
    if from_4bit:
        lines += [f"**Note:** the adapter was trained against a 4-bit (nf4, QLoRA) quantized base and merged into the "
                  f"unquantized {dtype} base weights; outputs can differ slightly from the 4-bit training model.", ""]
    lines += ["## Training", "",
              f"- base model: `{base}`",
              f"- recipe: `{recipe}` ({method})" + (f": {recipe_description(run_dir)}" if recipe_description(run_dir)
                                                    else ""),
              f"- trlrecipes {trlrecipes.__version__} (run with {versions.get('trlrecipes', '?')}), TRL "
              f"{versions.get('trl', '?')}, transformers {versions.get('transformers', '?')}, PEFT "
              f"{versions.get('peft', '?')}",
              f"- steps: {steps if steps is not None else '?'}" + (f" (status: {info['status']})"
                                                                     if info.get("status") else "")]
    if info.get("command"):
        lines.append(f"- command: `{info['command']}`")
    lines += ["", "## Data", "",
              f"- dataset: `{cfg.get('dataset', '?')}` (format `{cfg.get('data_format', '?')}`"
              + (f", subset `{cfg['subset']}`" if cfg.get("subset") and cfg.get("data_format") == "hh-rlhf" else "")
              + ")"]
    if cfg.get("eval_dataset"):
        lines.append(f"- held-out data: `{cfg['eval_dataset']}`")
    digest = data_summary_hash(run_dir)
    if digest:
        data = _read_json(run_dir / "data_summary.json") or {}
        for name, part in data.items():
            if isinstance(part, dict):
                skipped = sum((part.get("skipped") or {}).values())
                lines.append(f"- {name}: {part.get('used', '?')} pairs used ({part.get('read', '?')} rows read, "
                             f"{part.get('converted', '?')} converted, {skipped} skipped)")
        lines.append(f"- data summary sha256 (canonical data_summary.json): `{digest}`")
    lines += ["", "## Hyperparameters", "", "| setting | value |", "|---|---|"]
    lines += [f"| {key} | {_fmt(cfg[key])} |" for key in HYPERPARAMETERS if key in cfg]
    lines += [f"| trl.{key} | {_fmt(value)} |" for key, value in sorted((cfg.get("trl") or {}).items())]
    train, evaluation = final_metrics(run_dir)
    evaluated = _read_json(run_dir / "eval.json")
    if train or evaluation or evaluated:
        lines += ["", "## Final metrics", ""]
        if train:
            lines.append(f"- last training log (step {train.pop('step')}): "
                         + ", ".join(f"{k} {_fmt(v)}" for k, v in train.items()))
        if evaluation:
            lines.append(f"- last evaluation (step {evaluation.pop('step')}): "
                         + ", ".join(f"{k} {_fmt(v)}" for k, v in evaluation.items()))
        if isinstance(evaluated, dict):
            keys = [k for k in ("accuracy", "margin", "chosen_reward", "rejected_reward", "base_accuracy")
                    if k in evaluated]
            lines.append(f"- `trlrecipes eval` on {evaluated.get('pairs', '?')} held-out pairs "
                         f"({evaluated.get('data', '?')}): " + ", ".join(f"{k} {_fmt(evaluated[k])}" for k in keys))
    if max_logit_diff is not None:
        lines += ["", "## Merge check", "",
                  f"Max absolute logit difference between this merged model and base + adapter on a sample prompt: "
                  f"{max_logit_diff:.3g} ({dtype})."]
    return "\n".join(lines) + "\n"


def _method(run_dir: Path) -> str:
    from trlrecipes.tools.evaluate import run_method

    try:
        return run_method(run_dir)
    except (OSError, SyntaxError, ValueError):
        return "DPO"
