"""Precision and quantization picked from the hardware, so users never meet TRL's bf16-on-CPU failure."""

from __future__ import annotations

from dataclasses import dataclass

from trlrecipes.errors import UserError


@dataclass(frozen=True)
class Precision:
    name: str  # "bf16", "fp16" or "fp32"
    trl_kwargs: dict  # passed into the TRL config (bf16/fp16/use_cpu)

    @property
    def torch_dtype(self):
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.name]


def pick_precision(requested: str = "auto") -> Precision:
    """bf16 where the GPU supports it, fp16 on older GPUs, fp32 on CPU.

    bf16 on a CPU without native bf16 made a 135M-model step ~14x slower here, and TRL 1.x's default bf16=True
    fails outright on CPU unless `use_cpu` is set.
    """
    import torch

    on_gpu = torch.cuda.is_available()
    if requested == "auto":
        requested = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if on_gpu else "fp32"
    if requested not in ("bf16", "fp16", "fp32"):
        raise UserError(f"precision={requested!r} is not one of auto, bf16, fp16, fp32")
    if requested == "fp16" and not on_gpu:
        raise UserError("precision=fp16 needs a CUDA GPU; use precision=fp32 (or auto) on CPU")
    kwargs = {"bf16": requested == "bf16", "fp16": requested == "fp16"}
    if not on_gpu:
        kwargs["use_cpu"] = True
    return Precision(requested, kwargs)


def check_4bit_backend() -> None:
    """Fail with one clear line before any model is loaded when bitsandbytes cannot quantize here."""
    try:
        import bitsandbytes  # noqa: F401
    except Exception as err:  # ImportError, or a RuntimeError from a broken CUDA setup
        raise UserError(
            f"load_in_4bit=true needs a working bitsandbytes ({type(err).__name__}: {err}); "
            f"install it with `pip install bitsandbytes` or set load_in_4bit=false".splitlines()[0]
        ) from err


def needs_bitsandbytes(cfg) -> bool:
    """load_in_4bit, or a trl.* setting that names bitsandbytes machinery (an 8-bit/paged optimizer, a quantized
    model_init_kwargs): only then may a run import bitsandbytes (trlrecipes._compat.defer_bitsandbytes)."""
    import json

    extra = json.dumps(getattr(cfg, "trl", None) or {}, default=str).lower()
    return bool(getattr(cfg, "load_in_4bit", False)) or any(
        word in extra for word in ("bnb", "8bit", "4bit", "bitsandbytes", "paged")
    )


def quantization_config(precision: Precision):
    """QLoRA's 4-bit NF4 with double quantization; compute in the training precision."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=precision.torch_dtype,
    )


def is_main_process() -> bool:
    """True outside distributed launches and on rank 0 inside them (torchrun/accelerate set RANK)."""
    import os

    return int(os.environ.get("RANK", "0")) == 0
