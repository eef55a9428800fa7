"""The one model loader of the tools (eval, generate, synth, `--reward-model` checkpoints): a base model,
optionally with a run's LoRA adapter on top, with one precision rule and one pad-token fix-up.

Precision: the training rule (`hardware.pick_precision`: bf16 on Ampere+ GPUs, fp16 on older ones, fp32 on CPU)
unless a caller passes a dtype. Pad token: the EOS token when the tokenizer has none, and the model's config told
the same id (batched scoring and generation pad). Two loaders stay apart on purpose: `merge` loads on CPU in the
checkpoint's own dtype without the pad fix-up (it saves the model and tokenizer, which must stay the base's), and a
reward-model run folder (tools/judge.py) needs its base loaded with one output before the adapter.
"""

from __future__ import annotations

from pathlib import Path

from trlrecipes.errors import UserError

KINDS = ("causal-lm", "reward")


def load_model(
    name_or_path: str,
    *,
    kind: str = "causal-lm",
    precision: str = "auto",
    dtype=None,
    adapter: str | Path | None = None,
    trust_remote_code: bool = False,
    device: str | None = None,
    padding_side: str | None = None,
    what: str = "model",
):
    """(model, tokenizer), in eval mode on `device` (the GPU when there is one).

    `kind`: "causal-lm" or "reward" (a sequence-classification model). `adapter`: a folder with a PEFT adapter
    (a run folder); its tokenizer is used when it saved one. `what` names the setting in error messages."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from trlrecipes.hardware import pick_precision
    from trlrecipes.models import resolve_model

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    path = resolve_model(name_or_path)
    tokenizer_dir = Path(adapter) if adapter and (Path(adapter) / "tokenizer_config.json").is_file() else path
    model_class = AutoModelForCausalLM if kind == "causal-lm" else AutoModelForSequenceClassification
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), trust_remote_code=trust_remote_code)
        model = model_class.from_pretrained(
            path, dtype=dtype or pick_precision(precision).torch_dtype, trust_remote_code=trust_remote_code
        )
    except OSError as err:
        raise UserError(
            f"{what} {name_or_path!r} could not be loaded ({str(err).splitlines()[0]}); pass a local "
            f"model folder, the offline alias smollm2-135m-offline, or check your network"
        ) from err
    if padding_side:
        tokenizer.padding_side = padding_side
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    return ready(model, tokenizer, device=device)


def ready(model, tokenizer, *, device: str | None = None):
    """The fix-ups every loaded model gets: the pad token (EOS when the tokenizer has none, the same id in the
    model's config), eval mode, and `device` (the GPU when there is one)."""
    import torch

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu")).eval()
    return model, tokenizer
