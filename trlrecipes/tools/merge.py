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

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from trlrecipes.errors import UserError
from trlrecipes.paths import check_writable
from trlrecipes.run import folder as run_folder
from trlrecipes.run.card import model_card
from trlrecipes.run.record import CONFIG

CHECK_PROMPT = [{"role": "user", "content": "What is the capital of France?"}]


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
            lines.append(
                f"check: max |logit difference| merged vs base+adapter on a sample prompt = {self.max_logit_diff:.3g}"
            )
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
        raise UserError(
            f"--output {output} is the current or home folder; --force would replace it: choose a dedicated folder"
        )
    _refuse_model_folder(out, run_dir, output)
    if run_folder.is_nonempty(out) and not force:
        raise UserError(f"--output {output} is not empty; pass --force to replace it or choose another folder")
    check_writable(out.parent, f"--output {output}", folder=True)  # the merged folder is made beside it, then moved


def _refuse_model_folder(out: Path, run_dir: Path, output: Path) -> None:
    """Never replace a folder a model depends on, nor one holding it: the run's base model (every run and cached
    reference trained on it would silently get another base) and trlrecipes' converted models and reference cache."""
    from trlrecipes.models import cache_dir, looks_local, resolve_model
    from trlrecipes.run.record import RunRecord

    base = RunRecord(run_dir).base_model
    guarded = {cache_dir() / "models": "trlrecipes' converted models", cache_dir() / "reference-logps": "the cache"}
    if base and (looks_local(base) or Path(resolve_model(base)).exists()):
        guarded[Path(resolve_model(base)).expanduser()] = f"the run's base model ({base})"
    for folder, what in guarded.items():
        folder = folder.resolve()
        if out == folder or out in folder.parents:
            raise UserError(
                f"--output {output} is {what} or holds it; merging there would replace a model that runs and cached "
                f"references depend on: choose a new folder"
            )


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
    from trlrecipes.tools.loading import check_policy_run, open_run

    run_dir, output = Path(run_dir), Path(output).expanduser()
    _check_output(output, run_dir, force)
    cfg = open_run(run_dir)
    check_policy_run(run_dir, "merge")

    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if not cfg.get("model"):
        raise UserError(f"{run_dir / CONFIG}: has no 'model' key, so the base model is unknown")
    base_name, trust = cfg["model"], bool(cfg.get("trust_remote_code", False))
    base_path = resolve_model(base_name)
    try:
        base_config = AutoConfig.from_pretrained(base_path, trust_remote_code=trust)
    except OSError as err:
        raise UserError(
            f"base model {base_name!r} of the run could not be found ({str(err).splitlines()[0]}); "
            f"check the path or your network"
        ) from err
    stored_quantization = getattr(base_config, "quantization_config", None)
    if stored_quantization:
        method = stored_quantization.get("quant_method", "?") if isinstance(stored_quantization, dict) else "?"
        raise UserError(
            f"base model {base_name!r} is stored quantized ({method}); merging needs its full-precision "
            f"weights: pass a run whose model is an unquantized checkpoint"
        )
    dtype = base_dtype(base_config)
    from_4bit = bool(cfg.get("load_in_4bit", False))
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype, trust_remote_code=trust)
    model = PeftModel.from_pretrained(base, str(run_dir)).eval()
    tokenizer_dir = run_dir if (run_dir / "tokenizer_config.json").is_file() else Path(base_path)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), trust_remote_code=trust)

    sample = None
    if check:
        if getattr(tokenizer, "chat_template", None):
            sample = tokenizer.apply_chat_template(
                CHECK_PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )["input_ids"]
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
        notes.append(
            f"note: this run trained its adapter against a 4-bit (nf4) quantized base; it was merged into the "
            f"unquantized {_dtype_name(dtype)} weights, so outputs can differ slightly from the 4-bit model "
            f"used in training"
        )
    try:
        merged.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        merged.generation_config.save_pretrained(str(tmp))
        card = model_card(
            run_dir, cfg, merged={"dtype": _dtype_name(dtype), "from_4bit": from_4bit, "max_logit_diff": difference}
        )
        (tmp / "README.md").write_text(card, encoding="utf-8")
        _publish(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if difference is not None and difference > _tolerance(dtype):
        notes.append(
            f"warning: the merged logits differ from base+adapter by up to {difference:.3g}, more than "
            f"{_dtype_name(dtype)} rounding explains"
        )
    return MergeResult(
        output=output,
        base=base_name,
        dtype=_dtype_name(dtype),
        from_4bit=from_4bit,
        max_logit_diff=difference,
        notes=notes,
    )


def _tolerance(dtype) -> float:
    import torch

    return {torch.float32: 1e-3, torch.float16: 0.1, torch.bfloat16: 0.5}.get(dtype, 1e-3)
