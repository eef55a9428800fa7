"""The model side of a run's settings: what the trainer loads, its tokenizer, LoRA and QLoRA's 4-bit settings."""

from __future__ import annotations


def model_path(cfg) -> str:
    """What the trainer loads: a Hub id or folder as given, or the folder an offline alias converts to."""
    from trlrecipes.models import resolve_model

    return resolve_model(cfg.model)


def tokenizer(cfg):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path(cfg), trust_remote_code=cfg.trust_remote_code)


def lora_config(cfg, task_type: str = "CAUSAL_LM", **extra):
    """LoRA on all linear layers with the run's rank, alpha and dropout; `extra` for a program's own choices (a
    reward model's `modules_to_save=["score"]`)."""
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules="all-linear",
        task_type=task_type,
        **extra,
    )


def quantization_config(cfg):
    """QLoRA's 4-bit (nf4) settings with load_in_4bit, else None."""
    if not getattr(cfg, "load_in_4bit", False):
        return None
    from trlrecipes.hardware import pick_precision
    from trlrecipes.hardware import quantization_config as nf4

    return nf4(pick_precision(cfg.precision))


def continue_adapter(trainer, folder) -> None:
    """Start `trainer`'s fresh LoRA adapter from the weights saved in `folder` (a previous round's), through PEFT's
    public state-dict loader. The trainer built its adapter from the same settings, so every LoRA weight must find
    its place; the reference stays the model with the adapter disabled (the start model), unlike passing a
    PeftModel to DPOTrainer, which would make a frozen copy of the loaded adapter the reference."""
    from pathlib import Path

    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    from trlrecipes.errors import UserError

    path = Path(folder) / "adapter_model.safetensors"
    if not path.is_file():
        raise UserError(f"{folder}: holds no adapter_model.safetensors to continue from; resume or rerun that round")
    weights = load_file(str(path))
    result = set_peft_model_state_dict(trainer.model, weights)
    lost = [key for key in result.missing_keys if "lora_" in key] + list(result.unexpected_keys)
    if lost:
        raise UserError(
            f"{path}: its LoRA weights do not match this run's adapter ({len(lost)} mismatched, e.g. {lost[0]}); the "
            f"lora_* settings changed since that round"
        )
