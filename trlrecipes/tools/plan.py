"""Peak GPU memory of a recipe's training run, estimated from the model config alone: `trlrecipes plan`.

Nothing is downloaded or loaded but the model's config.json: parameter counts come from the model built on PyTorch's
`meta` device (shapes without storage), activations from the config's sizes. Notation: B per-device batch, k
sequences per example (2: chosen + rejected, concatenated into one forward; 1 for KTO), S = max_length (every
pair is assumed to fill it: an upper bound), T = B*k*S tokens per micro-batch, c bytes per element of the compute
dtype (2 bf16/fp16, 4 fp32), h hidden size, i intermediate size, a attention heads, d head dim, L layers, V vocab,
r LoRA rank, P parameters.

  weights          P*c; 4-bit (QLoRA nf4 + double quantization): the decoder's linear weights at
                   0.5 + 1/64 + 4/(64*256) byte/param (4-bit codes, an 8-bit absmax per 64-block, an fp32 constant
                   per 256 blocks), everything else (embeddings, norms, LM head) at c
  LoRA + AdamW     P_lora * 16 bytes: fp32 params (PEFT upcasts adapters), fp32 grads, AdamW's two fp32 moments
  activations      saved for backward, per token per decoder layer (Llama-style: RMSNorm, GQA attention, gated MLP,
                   LoRA on all 7 linear layers):
                     A = 8h + 4a + c*(4ad + 3i + 7r + X) + M
                   8h: both RMSNorms keep their fp32 input; 4a: SDPA's fp32 log-sum-exp; 4ad: SDPA keeps q, k, v
                   (k/v repeated to all heads when a padding mask is present) and its output; 3i: gate output, its
                   SiLU, up output; 7r: the LoRA A outputs; X: the inputs the LoRA A matrices keep: with
                   lora_dropout > 0 every adapted layer keeps its own dropped-out copy, X = 5h + ad + i, plus
                   dropout masks M = 5h + ad + i bytes on CUDA (1-byte masks; c bytes each on CPU, where PyTorch
                   keeps the scaled noise); with lora_dropout = 0, X = 2h + ad + i (shared), M = 0. TRL's
                   disable_dropout (default true in DPO/KTO/ORPO configs) sets p=0 on every nn.Dropout, LoRA's
                   too, so the recipes train with lora_dropout effectively 0 unless trl.disable_dropout=false.
                   Without checkpointing: T*(L*A + 4h + c*h) (final norm input, hidden states kept by the LM head);
                   with activation checkpointing only each layer's input is kept: T*(L*c*h + 4h + c*h).
                   (Checked against the tensors autograd saves for a 135M Llama with LoRA: within ~3%.)
  LM head          TRL's fused LM head (DPO/IPO/KTO in TRL >= 1.x) keeps no logits: 0 here, its working tiles are
                   transient. Trainers that build full logits (ORPO) keep T*V*(c + 4) (logits, fp32 log-softmax).
  transient        the largest of the moments that do not overlap, each on top of the saved activations:
                   LM head forward (policy, then the reference): a min(T,4096) x min(V,32768) tile in c on GPU
                   (Triton folds it in place), about 5 fp32 tiles on CPU (TRL's torch fallback), where `run`
                   narrows the tile to min(V,4096) columns (_compat.CPU_LOGPROB_CHUNK);
                   LM head backward: the tile + the fp32 gradient of the hidden states (T*h*4) on GPU (torch >= 2.8
                   accumulates into fp32 without upcast copies), about 8 fp32 tiles + T*h*4 on CPU (full logits:
                   the logits' fp32 gradient T*V*4);
                   reference pass (LoRA: the same weights with adapters disabled, so no copy; no grad): one layer's
                   temporaries T*(4h + c*(h + 4ad + 3i)), or the LM head forward if larger;
                   layer backward: one layer's activation gradients T*c*(2h + 4ad + 2i), plus, with checkpointing,
                   the recomputed layer's saved activations T*A.
  CUDA context     0.5 GiB (context, cuBLAS workspace, allocator slack); in --device cpu mode the Python + torch +
                   transformers runtime (RUNTIME_BASELINE_GIB) instead.

Online RL (GRPO, RLOO: a Config with num_generations and max_completion_length) trains on one sequence per
completion (k = 1, S = max_length = prompt + completion; the program leaves longer prompts out), with a reference
pass only when beta != 0, and first generates: G = per-device batch x steps_per_generation (the accumulation by
default) sequences at once per process, each growing to S tokens. That phase holds, beside the weights and LoRA:
  KV cache         G*S * L * 2 (k and v) * kv_heads * d * c, plus one layer's copy while a step appends to it
                   (transformers' dynamic cache concatenates)
  prefill          one layer's no-grad temporaries over the G prompts (up to S - max_completion_length tokens each),
                   or the sampling step's G x V fp32 logits and their ~3 fp32 working copies, whichever is larger
With use_vllm=true (vllm_mode colocate, GPU only) vLLM generates instead, inside its own reservation of
vllm_gpu_memory_utilization x the GPU's memory (its copy of the weights and its KV cache), held for the whole run: a
component of the training step, known when --gpu-memory gives the GPU's size (vllm_mode=server: on another GPU,
not counted). The peak is the larger phase.

Peak = weights + LoRA + activations + LM head + transient + context; the evaluation pass (no grad,
per_device_eval_batch_size: weights + LoRA params + one layer's temporaries or the head tile) is checked too and
reported when it is higher. benchmarks/plan_accuracy.py compares these numbers with measured CPU peaks. A budget
given as "8GB" is read as 8 GiB, the way a GPU's memory is sold and shown by nvidia-smi.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from trlrecipes._compat import trl_has_fused_head
from trlrecipes.errors import UserError

GIB = 1024**3
CUDA_CONTEXT_GIB = 0.5
# Resident memory of a process that has imported torch, transformers, TRL, PEFT and datasets and built a trainer,
# before any model or batch exists. Measured by benchmarks/plan_accuracy.py on Linux x86-64 (torch 2.13 CPU).
RUNTIME_BASELINE_GIB = 0.55
NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)
TILE_TOKENS, TILE_VOCAB = 4096, 32768  # TRL's chunked log-prob kernel (trl/kernels/chunked_logprob.py)
# fp32 tile-sized tensors alive at once in TRL's torch fallback of that kernel (forward, backward); measured on CPU
CPU_HEAD_TILES = (5, 8)
# trainers whose loss builds the full (tokens x vocab) logits; SFT, DPO and KTO use TRL's fused head
FULL_LOGITS_TRAINERS = ("ORPOConfig", "CPOConfig")
# Per method: (sequences per example, reference pass, LM head). DPO/IPO/RPO: chosen + rejected, then the reference
# (adapters off) on both; KTO: one reply per row and a reference; ORPO/SimPO (CPO): both replies, no reference; SFT:
# one conversation, no reference; a reward model: both replies through a one-output score head, no vocabulary logits.
METHOD_SHAPES = {
    "KTO": (1, True, True),
    "SFT": (1, False, True),
    "ORPO": (2, False, True),
    "SIMPO": (2, False, True),
    "CPO": (2, False, True),
    "RM": (2, False, False),
}
MIN_MAX_LENGTH = 64
VLLM_SHARE = 0.3  # GRPOConfig / RLOOConfig vllm_gpu_memory_utilization default (TRL 1.16)
# What each multi-GPU engine splits across N processes (configs/accelerate/ holds a launch config for each).
# DDP keeps a full copy everywhere. ZeRO-2 splits gradients and optimizer states (for LoRA runs: only the adapters').
# ZeRO-3 and FSDP (full shard) also split the weights, gathering one wrapped unit (a decoder layer, or the embeddings
# and head) at a time; with prefetching the next one arrives early, so two units are counted in full.
SHARDING = {
    "none": "DDP: every GPU holds everything",
    "zero2": "DeepSpeed ZeRO-2: LoRA grads + AdamW states split",
    "zero3": "DeepSpeed ZeRO-3: weights and LoRA states split",
    "fsdp": "FSDP full shard: weights and LoRA states split",
}


@dataclass
class ModelShape:
    name: str
    model_type: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    params: int  # all parameters (tied weights once)
    linear_params: int  # weights of the decoder's linear layers (what 4-bit quantizes and LoRA adapts)
    lora_shapes: list[tuple[int, int]]  # (in, out) of every linear layer LoRA's all-linear targets

    def lora_params(self, r: int) -> int:
        return sum(r * (n_in + n_out) for n_in, n_out in self.lora_shapes)

    def describe(self) -> str:
        return (
            f"{self.model_type}, {count(self.params)} params, {self.layers} layers, hidden {self.hidden}, "
            f"intermediate {self.intermediate}, heads {self.heads}/{self.kv_heads} kv, vocab {self.vocab}"
        )


@dataclass
class Settings:
    precision: str  # bf16 | fp16 | fp32
    load_in_4bit: bool
    max_length: int
    batch: int
    grad_accum: int
    eval_batch: int
    checkpointing: bool
    lora_r: int
    lora_dropout: float
    seqs_per_example: int = 2
    full_logits: bool = False
    reference_pass: bool = True
    lm_head: bool = True  # False for a reward model: its head is one output, not the vocabulary
    method: str = "DPO"
    dropout_disabled: bool = False  # TRL's disable_dropout (default True) also zeroes the LoRA dropout layers
    processes: int = 1  # data-parallel processes (GPUs) the run is launched on
    shard: str = "none"  # none (DDP) | zero2 | zero3 | fsdp: what is split across the processes (SHARDING)
    online: bool = False  # GRPO / RLOO: a generation phase before each batch of steps
    completion_length: int = 0  # max_completion_length (online)
    generation_batch: int = 0  # sequences generated at once per process (online)
    vllm_mode: str = ""  # online, GPU: "colocate" (vLLM on this GPU) or "server" (on another one); "": transformers
    vllm_share: float | None = None  # vllm_gpu_memory_utilization when vLLM colocate generates

    @property
    def c(self) -> int:
        return 4 if self.precision == "fp32" else 2


@dataclass
class Component:
    name: str
    bytes: float
    note: str


@dataclass
class Estimate:
    components: list[Component]
    total: float
    eval_peak: float
    device: str
    generation: list[Component] = field(default_factory=list)  # online runs: the generation phase beside weights+LoRA

    @property
    def generation_peak(self) -> float:
        return sum(c.bytes for c in self.generation)

    def get(self, name: str) -> float:
        return next(c.bytes for c in self.components if c.name == name)

    @property
    def train_peak(self) -> float:
        return sum(c.bytes for c in self.components)


@dataclass
class Proposal:
    overrides: dict  # key -> value to set
    estimate: Estimate
    steps: list[str] = field(default_factory=list)

    def args(self) -> list[str]:
        return [f"{key}={_setting_text(value)}" for key, value in self.overrides.items()]


def count(n: float) -> str:
    """1234 -> 1.2K, 134515008 -> 134.5M, 7.6e9 -> 7.6B."""
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(int(n))


def _setting_text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# --- model shape --------------------------------------------------------------------------------------------------


def parse_budget(text: str) -> int:
    """'8GB', '8GiB', '8G', '7.5', '8000MB' -> bytes; GB is read as GiB (how GPU memory is sold and reported)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?i?b?)?\s*", text.lower())
    if not match:
        raise UserError(f"--gpu-memory {text!r}: use a size like 8GB, 24GiB or 16000MB")
    value, unit = float(match.group(1)), (match.group(2) or "g").rstrip("b").rstrip("i") or "g"
    scale = {"k": 1024, "m": 1024**2, "g": GIB, "t": 1024**4}[unit]
    if value <= 0:
        raise UserError(f"--gpu-memory {text!r}: must be more than 0")
    return int(value * scale)


def load_model_config(model: str, *, model_config: str | None = None, trust_remote_code: bool = False):
    """The model's transformers config, from --model-config (a config.json or its folder) or the model itself."""
    from transformers import AutoConfig, PretrainedConfig

    if model_config:
        path = Path(model_config).expanduser()
        if path.is_dir():
            path = path / "config.json"
        if not path.is_file():
            raise UserError(f"--model-config {model_config}: no config.json there")
        try:
            data = PretrainedConfig.get_config_dict(str(path))[0]
            model_type = data.get("model_type")
            if not model_type:
                raise UserError(f"--model-config {path}: has no model_type")
            from transformers import CONFIG_MAPPING

            return CONFIG_MAPPING[model_type].from_dict(data)
        except KeyError:
            raise UserError(
                f"--model-config {path}: unknown model_type {data.get('model_type')!r} for this transformers version"
            ) from None
        except (OSError, ValueError) as err:
            raise UserError(f"--model-config {path}: not a readable config.json ({str(err).splitlines()[0]})") from err
    from trlrecipes.models import looks_local, resolve_model

    if looks_local(model) and not Path(model).expanduser().exists():  # not a Hub id to try: say what it is
        raise UserError(f"model={model}: folder not found; give an existing model folder, a Hub id, or --model-config")
    try:  # the local Hugging Face cache first: no network needed when the config was downloaded once
        return AutoConfig.from_pretrained(
            resolve_model(model), trust_remote_code=trust_remote_code, local_files_only=True
        )
    except (OSError, ValueError):
        pass
    from trlrecipes.models import hub_reachable

    if not looks_local(model) and not hub_reachable():
        raise UserError(
            f"model={model}: its config is not in the local Hugging Face cache and the Hub cannot be reached (no "
            f"network); pass --model-config path/to/config.json (or model=<local folder>)"
        )
    try:
        return AutoConfig.from_pretrained(resolve_model(model), trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as err:
        raise UserError(
            f"could not read the config of model {model!r} ({str(err).splitlines()[0]}); without network "
            f"pass --model-config path/to/config.json (or model=<local folder>)"
        ) from err


def model_shape(config, name: str = "", *, trust_remote_code: bool = False) -> ModelShape:
    """Sizes from the config; parameter counts from the model built on the meta device (no memory, no weights)."""
    import torch
    from torch import nn
    from transformers import AutoModelForCausalLM

    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden = getattr(text, "hidden_size", None) or getattr(text, "n_embd", None) or getattr(text, "d_model", None)
    layers = getattr(text, "num_hidden_layers", None) or getattr(text, "n_layer", None)
    heads = getattr(text, "num_attention_heads", None) or getattr(text, "n_head", None)
    vocab = getattr(text, "vocab_size", None)
    if not all((hidden, layers, heads, vocab)):
        raise UserError(
            f"model {name or '?'}: its config lacks hidden_size/num_hidden_layers/num_attention_heads/"
            f"vocab_size, so it cannot be planned"
        )
    intermediate = getattr(text, "intermediate_size", None) or getattr(text, "n_inner", None) or 4 * hidden
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None) or hidden // heads
    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    except Exception as err:  # an architecture transformers cannot build: counts from the config instead
        return _shape_from_formula(name, text, hidden, intermediate, layers, heads, kv_heads, head_dim, vocab, err)
    output = model.get_output_embeddings()
    params = sum(p.numel() for p in model.parameters())
    lora_shapes, linear_params = [], 0
    for module in model.modules():
        if isinstance(module, nn.Linear) and module is not output:
            lora_shapes.append((module.in_features, module.out_features))
            linear_params += module.weight.numel()
    return ModelShape(
        name,
        getattr(text, "model_type", "?"),
        hidden,
        intermediate,
        layers,
        heads,
        kv_heads,
        head_dim,
        vocab,
        params,
        linear_params,
        lora_shapes,
    )


def _shape_from_formula(name, text, h, i, layers, a, g, d, vocab, err) -> ModelShape:
    """Llama-style counts: q/k/v/o, gate/up/down, two norms per layer, embeddings (+ LM head unless tied)."""
    per_layer = [(h, a * d), (h, g * d), (h, g * d), (a * d, h), (h, i), (h, i), (i, h)]
    linear = layers * sum(n_in * n_out for n_in, n_out in per_layer)
    params = linear + layers * 2 * h + h + vocab * h * (1 if getattr(text, "tie_word_embeddings", False) else 2)
    return ModelShape(
        name or f"(formula: {type(err).__name__})",
        getattr(text, "model_type", "?"),
        h,
        i,
        layers,
        a,
        g,
        d,
        vocab,
        params,
        linear,
        per_layer * layers,
    )


# --- settings -----------------------------------------------------------------------------------------------------


def settings_from_config(cfg, module=None, device: str = "gpu") -> Settings:
    precision = getattr(cfg, "precision", "auto")
    if precision == "auto":
        precision = "bf16" if device == "gpu" else "fp32"
    if device == "cpu" and precision != "fp32":
        raise UserError(f"precision={precision} on CPU: plan --device cpu assumes fp32 (what the recipes use there)")
    from trlrecipes.run.contract import method_name

    name = str(method_name(module, cfg)) if module else "DPO"
    method = name.upper()
    trl_config = str(getattr(module, "TRL_CONFIG", "") or "") if module else ""
    full_logits = any(trl_config.endswith(name) for name in FULL_LOGITS_TRAINERS) or not trl_has_fused_head()
    trl = getattr(cfg, "trl", None) or {}
    online = hasattr(cfg, "num_generations") and hasattr(cfg, "max_completion_length")
    # TRL's DPO/KTO/ORPO configs default to disable_dropout=True, which sets p=0 on every nn.Dropout of the model,
    # the LoRA dropout layers included: then lora_dropout changes nothing, in training or in memory. GRPOConfig and
    # RLOOConfig default to False.
    disabled = bool(trl.get("disable_dropout", not online)) if trl_config else False
    shape = METHOD_SHAPES.get(method, (2, True, True))
    online_settings = {}
    if online:
        shape = (1, bool(getattr(cfg, "beta", 0) or trl.get("beta")), True)  # a reference pass only with a KL term
        batch = int(getattr(cfg, "per_device_train_batch_size", 1))
        steps = int(trl.get("steps_per_generation") or getattr(cfg, "gradient_accumulation_steps", 1))
        generation = int(trl.get("generation_batch_size") or 0) or batch * steps
        vllm = bool(getattr(cfg, "use_vllm", False) or trl.get("use_vllm"))
        if vllm and device == "cpu":
            raise UserError("use_vllm=true: vLLM generates on GPUs only; plan it with --device gpu")
        mode = str(trl.get("vllm_mode", "colocate")) if vllm else ""
        online_settings = {
            "online": True,
            "completion_length": int(cfg.max_completion_length),
            "generation_batch": generation,
            "vllm_mode": mode,
            "vllm_share": float(trl.get("vllm_gpu_memory_utilization", VLLM_SHARE)) if mode == "colocate" else None,
        }
    return Settings(
        precision=precision,
        load_in_4bit=bool(getattr(cfg, "load_in_4bit", False)),
        max_length=int(getattr(cfg, "max_length", 512)),
        batch=int(getattr(cfg, "per_device_train_batch_size", 1)),
        grad_accum=int(getattr(cfg, "gradient_accumulation_steps", 1)),
        eval_batch=int(getattr(cfg, "per_device_eval_batch_size", 1)),
        checkpointing=bool(getattr(cfg, "activation_checkpointing", False)),
        lora_r=int(getattr(cfg, "lora_r", 16)),
        lora_dropout=0.0 if disabled else float(getattr(cfg, "lora_dropout", 0.0)),
        seqs_per_example=shape[0],
        full_logits=full_logits and shape[2],
        reference_pass=shape[1],
        lm_head=shape[2],
        method=name,
        dropout_disabled=disabled and bool(getattr(cfg, "lora_dropout", 0.0)),
        **online_settings,
    )


# --- the estimate -------------------------------------------------------------------------------------------------


def layer_activation_bytes(shape: ModelShape, s: Settings, device: str = "gpu") -> float:
    """A: bytes one decoder layer keeps for backward per token (see the module docstring)."""
    h, i, a, d, r, c = shape.hidden, shape.intermediate, shape.heads, shape.head_dim, s.lora_r, s.c
    if s.lora_dropout > 0:
        # CUDA's fused dropout keeps a 1-byte mask; on CPU, PyTorch keeps the scaled noise tensor (c bytes)
        kept_inputs, masks = 5 * h + a * d + i, (5 * h + a * d + i) * (1 if device == "gpu" else c)
    else:
        kept_inputs, masks = 2 * h + a * d + i, 0
    return 8 * h + 4 * a + c * (4 * a * d + 3 * i + 7 * r + kept_inputs) + masks


def head_tile_elements(tokens: int, shape: ModelShape, device: str = "gpu") -> int:
    from trlrecipes._compat import CPU_LOGPROB_CHUNK  # `run` narrows the vocabulary tiles on CPU

    return min(tokens, TILE_TOKENS) * min(shape.vocab, TILE_VOCAB if device == "gpu" else CPU_LOGPROB_CHUNK)


def head_transients(tokens: int, shape: ModelShape, s: Settings, device: str) -> tuple[float, float]:
    """(forward, backward) peak bytes of the LM head beyond what the activations row holds."""
    h, c, V = shape.hidden, s.c, shape.vocab
    if not s.lm_head:  # a reward model's one-output score head: nothing vocabulary-sized
        return 0.0, 0.0
    if s.full_logits:
        return tokens * V * 4, tokens * V * 4 + tokens * h * 4  # an fp32 working copy / the logits' gradient
    tile = head_tile_elements(tokens, shape, device)
    if device == "gpu":  # Triton folds each tile in place; torch >= 2.8 accumulates the bf16 GEMMs into fp32 directly
        return tile * c, tile * c + tokens * h * 4
    # no Triton on CPU: TRL folds each tile with torch ops, which hold about 5 (forward) / 8 (backward) fp32 copies
    return tile * 4 * CPU_HEAD_TILES[0], tile * 4 * CPU_HEAD_TILES[1] + tokens * h * 4


def estimate(shape: ModelShape, s: Settings, device: str = "gpu", budget: float | None = None) -> Estimate:
    """The components of the training step's peak (and the evaluation and generation phases'); `budget`: the GPU's
    memory, for vLLM colocate's share of it."""
    h, i, a, d, c, L = shape.hidden, shape.intermediate, shape.heads, shape.head_dim, s.c, shape.layers
    tokens = s.batch * s.seqs_per_example * s.max_length
    comps = []

    if s.load_in_4bit:
        weights = shape.linear_params * NF4_BYTES_PER_PARAM + (shape.params - shape.linear_params) * c
        note = (
            f"4-bit nf4: {count(shape.linear_params)} linear params x {NF4_BYTES_PER_PARAM:.3f} B, "
            f"{count(shape.params - shape.linear_params)} others x {c} B ({s.precision})"
        )
    else:
        weights = shape.params * c
        note = f"{count(shape.params)} params x {c} B ({s.precision})"
    n = max(1, s.processes)
    if s.shard in ("zero3", "fsdp") and n > 1:
        layer = shape.linear_params / shape.layers * (NF4_BYTES_PER_PARAM if s.load_in_4bit else c)
        unit = max(layer, (shape.params - shape.linear_params) * c)  # largest gathered: a layer or embeddings + head
        weights = weights / n + 2 * unit
        note += f"; split over {n} GPUs + 2 gathered units of {_gib(unit)} GiB"
    comps.append(Component("weights", weights, note))

    lora = shape.lora_params(s.lora_r)
    lora_bytes, lora_note = lora * 16, f"{count(lora)} params x 16 B (fp32 param, grad, 2 moments)"
    if s.shard != "none" and n > 1:
        lora_bytes = lora * 4 * (1 / n if s.shard != "zero2" else 1) + lora * 12 / n
        lora_note += f"; grads and moments split over {n} GPUs" + ("" if s.shard == "zero2" else ", params too")
    comps.append(Component("LoRA + AdamW", lora_bytes, lora_note))

    per_layer = layer_activation_bytes(shape, s, device)
    tail = 4 * h + c * h  # final norm's fp32 input, hidden states kept by the LM head
    if s.checkpointing:
        acts = tokens * (L * c * h + tail)
        note = f"checkpointed: {tokens} tokens x ({L} layer inputs x {c * h} B + {tail} B)"
    else:
        acts = tokens * (L * per_layer + tail)
        note = f"{tokens} tokens x ({L} layers x {per_layer / 1024:.1f} KiB + {tail} B)"
    comps.append(Component("activations", acts, note))

    if not s.lm_head:
        head = 0.0
        note = "a reward model's score head: one output per sequence, no vocabulary logits"
    elif s.full_logits:
        head = tokens * shape.vocab * (c + 4)
        note = f"full logits kept for backward: {tokens} tokens x {shape.vocab} vocab x ({c} + 4 fp32 log-softmax) B"
    else:
        head = 0.0
        note = "TRL's fused LM head keeps no logits (its tiles are counted under transient)"
    comps.append(Component("LM head", head, note))

    head_forward, head_backward = head_transients(tokens, shape, s, device)
    layer_temps = tokens * (4 * h + c * (h + 4 * a * d + 3 * i))  # one layer's temporaries in a no-grad forward
    forward = max(layer_temps, head_forward)
    forward_name = (
        "reference pass (adapters off: no weight copy, no grad) / LM head forward"
        if s.reference_pass
        else "LM head forward"
    )
    candidates = {
        forward_name: forward,
        "LM head backward": head_backward,
        "layer backward" + (" + recomputed layer" if s.checkpointing else ""): tokens * c * (2 * h + 4 * a * d + 2 * i)
        + (tokens * per_layer if s.checkpointing else 0),
    }
    which = max(candidates, key=candidates.get)
    others = ", ".join(f"{name} {_gib(value)}" for name, value in candidates.items() if name != which)
    comps.append(Component("transient", candidates[which], f"peak of: {which} (others: {others} GiB)"))

    if device == "gpu":
        comps.append(Component("CUDA context", CUDA_CONTEXT_GIB * GIB, "context, cuBLAS workspace, allocator slack"))
    else:
        comps.append(Component("runtime", RUNTIME_BASELINE_GIB * GIB, "Python + torch + transformers + TRL process"))

    generation = generation_phase(shape, s, device) if s.online else []
    if s.online and s.vllm_share is not None:
        share = s.vllm_share * budget if budget else 0.0
        note = (
            f"vllm_gpu_memory_utilization={s.vllm_share:g} of {_gib(budget)} GiB: vLLM's weights + KV cache"
            if budget
            else f"vllm_gpu_memory_utilization={s.vllm_share:g} of the GPU (give --gpu-memory to count it)"
        )
        comps.insert(-1, Component("vLLM colocate", share, note))
    total = sum(comp.bytes for comp in comps)
    eval_tokens = s.eval_batch * s.seqs_per_example * s.max_length
    eval_forward = head_transients(eval_tokens, shape, s, device)[0]
    eval_layer = eval_tokens * (4 * h + c * (h + 4 * a * d + 3 * i))
    eval_transient = max(eval_layer, eval_forward) + (eval_tokens * shape.vocab * c if s.full_logits else 0)
    eval_peak = weights + lora * 4 + eval_tokens * c * h + eval_transient + comps[-1].bytes
    if generation:  # beside what stays resident: weights, LoRA + AdamW, the context
        generation = comps[:2] + generation + comps[-1:]
    peak = max(total, eval_peak, sum(comp.bytes for comp in generation))
    return Estimate(comps, peak, eval_peak, device, generation)


def generation_phase(shape: ModelShape, s: Settings, device: str = "gpu") -> list[Component]:
    """What generating G = s.generation_batch sequences of up to max_length tokens holds beside the weights and
    LoRA (see the module docstring); empty when vLLM generates (in its own reservation, or on its server's GPU)."""
    if s.vllm_mode:
        return []
    G, S, c = s.generation_batch, s.max_length, s.c
    h, i, a, d, L = shape.hidden, shape.intermediate, shape.heads, shape.head_dim, shape.layers
    per_token_layer = 2 * shape.kv_heads * d * c  # k and v of one layer
    kv = G * S * per_token_layer * (L + 1)
    prompt_tokens = G * max(S - s.completion_length, 1)
    prefill = prompt_tokens * (4 * h + c * (h + 4 * a * d + 3 * i))
    sampling = G * shape.vocab * 4 * 4  # the step's fp32 logits + ~3 working copies (temperature, softmax, sample)
    return [
        Component(
            "KV cache",
            kv,
            f"{G} sequences x {S} tokens x ({L} + 1 appending) layers x 2 x {shape.kv_heads} kv heads x {d} x {c} B",
        ),
        Component(
            "gen. temps",
            max(prefill, sampling),
            "prefill: one layer's temporaries over the prompts" if prefill >= sampling else "sampling: G x V fp32",
        ),
    ]


def _gib(value: float) -> str:
    return f"{value / GIB:.2f}"


# --- proposals ----------------------------------------------------------------------------------------------------


def _divisors_desc(n: int) -> list[int]:
    return [k for k in range(n, 0, -1) if n % k == 0]


def propose(shape: ModelShape, s: Settings, budget: float, device: str = "gpu", *, fields=None) -> Proposal | None:
    """The smallest change that fits: fewer pairs per device (more accumulation, same effective batch), then
    activation checkpointing, then 4-bit, then a shorter max_length, each added on top of the previous; and a
    smaller evaluation batch whenever the evaluation pass is what does not fit."""
    fields = (
        set(fields)
        if fields is not None
        else {
            "activation_checkpointing",
            "load_in_4bit",
            "max_length",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "per_device_eval_batch_size",
        }
    )
    stages = [({}, [])]
    if not s.checkpointing and "activation_checkpointing" in fields:
        stages.append(({"checkpointing": True}, ["enable activation checkpointing"]))
    if not s.load_in_4bit and "load_in_4bit" in fields and device == "gpu":
        last = stages[-1]
        stages.append(({**last[0], "load_in_4bit": True}, last[1] + ["load the base in 4-bit (QLoRA)"]))
    lengths = []
    if "max_length" in fields:
        length = s.max_length // 2
        while length >= MIN_MAX_LENGTH:
            lengths.append(length)
            length //= 2
    batch_fields = {"per_device_train_batch_size", "gradient_accumulation_steps"} <= fields
    batches = _divisors_desc(s.batch) if batch_fields else [s.batch]

    eval_batches = [s.eval_batch]
    if "per_device_eval_batch_size" in fields:
        while eval_batches[-1] > 1:
            eval_batches.append(eval_batches[-1] // 2)

    def attempt(changes: dict, steps: list[str], max_length: int | None = None) -> Proposal | None:
        for batch in batches:
            trial = dataclasses.replace(
                s,
                **changes,
                batch=batch,
                grad_accum=s.grad_accum * s.batch // batch,
                max_length=max_length or s.max_length,
            )
            result = estimate(shape, trial, device, budget)
            if result.train_peak > budget:
                continue
            for eval_batch in eval_batches:  # evaluation only: its batch size changes no result
                trial = dataclasses.replace(trial, eval_batch=eval_batch)
                result = estimate(shape, trial, device, budget)
                if result.total <= budget:
                    break
            if result.total <= budget:
                overrides = {}
                if batch != s.batch:
                    overrides["per_device_train_batch_size"] = batch
                    overrides["gradient_accumulation_steps"] = trial.grad_accum
                if trial.checkpointing != s.checkpointing:
                    overrides["activation_checkpointing"] = True
                if trial.load_in_4bit != s.load_in_4bit:
                    overrides["load_in_4bit"] = True
                if trial.max_length != s.max_length:
                    overrides["max_length"] = trial.max_length
                if trial.eval_batch != s.eval_batch:
                    overrides["per_device_eval_batch_size"] = trial.eval_batch
                extra = (
                    [f"{batch} pair(s) per device x {trial.grad_accum} accumulation steps (same effective batch)"]
                    if batch != s.batch
                    else []
                )
                cut = (
                    [
                        f"shorten max_length to {trial.max_length} (longer pairs get truncated: check with "
                        f"`trlrecipes data inspect`)"
                    ]
                    if max_length
                    else []
                )
                cut += [f"evaluate {trial.eval_batch} pairs at a time"] if trial.eval_batch != s.eval_batch else []
                return Proposal(overrides, result, extra + steps + cut)
        return None

    for changes, steps in stages:
        found = attempt(changes, steps)
        if found:
            return found
    for length in lengths:
        found = attempt(stages[-1][0], stages[-1][1], length)
        if found:
            return found
    return None


# --- the command ------------------------------------------------------------------------------------------------


@dataclass
class Plan:
    recipe: str
    shape: ModelShape
    settings: Settings
    estimate: Estimate
    budget: float | None
    proposal: Proposal | None
    overrides: list[str]
    device: str
    model: str = ""

    def format(self) -> str:
        s, e = self.settings, self.estimate
        lines = [
            f"plan for {self.recipe}: model {self.model}"
            + (f" (shape from {self.shape.name})" if self.shape.name != self.model else ""),
            f"  model: {self.shape.describe()}",
            f"  method: {s.method}, "
            + ("reference pass (adapters off)" if s.reference_pass else "no reference pass")
            + (
                ", 1 sequence per completion (prompt + completion)"
                if s.online
                else f", {s.seqs_per_example} sequence(s) per example"
            )
            + ("" if s.lm_head else ", a one-output score head instead of the LM head"),
            f"  settings: {s.precision}{' + 4-bit base' if s.load_in_4bit else ''}, "
            + (
                f"{s.batch} completions x {s.max_length} tokens per device"
                if s.online
                else f"{s.batch} examples x {s.seqs_per_example} sequences x {s.max_length} tokens per device"
            )
            + ", gradient accumulation "
            + f"{s.grad_accum}, activation checkpointing {'on' if s.checkpointing else 'off'}, LoRA r={s.lora_r}"
            f" (all linear layers), "
            + (
                "lora_dropout off (TRL's disable_dropout=true zeroes it; trl.disable_dropout=false turns it on)"
                if s.dropout_disabled
                else f"lora_dropout {s.lora_dropout:g}"
            ),
            *(
                [f"  launch: {s.processes} processes, {SHARDING[s.shard]} (per-GPU figures below)"]
                if s.processes > 1
                else []
            ),
            "",
            f"  {'component':<14}{'GiB':>8}  how",
            f"  {'-' * 14}{'-' * 8}  {'-' * 40}",
        ]
        for comp in e.components:
            lines.append(f"  {comp.name:<14}{comp.bytes / GIB:>8.2f}  {comp.note}")
        lines.append(f"  {'-' * 14}{'-' * 8}")
        where = "GPU memory" if self.device == "gpu" else "CPU RAM"
        lines.append(f"  {'peak':<14}{e.train_peak / GIB:>8.2f}  estimated peak {where} (training step)")
        if e.generation:
            lines.append(
                f"  generation: {s.generation_batch} sequences at once (per-device batch x steps_per_generation), "
                f"each up to {s.max_length} tokens ({s.completion_length} generated), beside the weights and LoRA:"
            )
            lines += [f"  {comp.name:<14}{comp.bytes / GIB:>8.2f}  {comp.note}" for comp in e.generation[2:-1]]
            lines.append(f"  {'gen. peak':<14}{e.generation_peak / GIB:>8.2f}  estimated peak {where} (generation)")
        elif s.vllm_mode == "colocate":
            lines.append("  generation: in vLLM's own reservation (vLLM colocate, counted above)")
        elif s.vllm_mode:
            lines.append("  generation: on the vLLM server's GPU (vllm_mode=server), not counted here")
        if e.eval_peak > e.train_peak:
            lines.append(
                f"  {'eval peak':<14}{e.eval_peak / GIB:>8.2f}  the evaluation pass ({s.eval_batch} pairs "
                f"per device, no grad) needs more: lower per_device_eval_batch_size"
            )
        if self.budget is None:
            return "\n".join(lines)
        spare = self.budget - e.total
        if spare >= 0:
            lines.append(f"\nfits in {self.budget / GIB:.2f} GiB ({spare / GIB:.2f} GiB spare)")
            return "\n".join(lines)
        lines.append(f"\ndoes not fit in {self.budget / GIB:.2f} GiB (short by {-spare / GIB:.2f} GiB)")
        if e.generation and e.generation_peak > self.budget:
            lines.append(
                f"generating {s.generation_batch} sequences at once needs {e.generation_peak / GIB:.2f} GiB: lower "
                f"max_completion_length, or generate fewer at once (trl.steps_per_generation below "
                f"gradient_accumulation_steps; it must still hold whole groups of num_generations)"
            )
        if self.proposal is None:
            floor = e.get("weights") + e.components[-1].bytes
            lines.append(
                f"no setting tried fits (batch 1, activation checkpointing, 4-bit, max_length down to "
                f"{MIN_MAX_LENGTH}); weights and context alone take {floor / GIB:.2f} GiB: use a smaller "
                f"model or a larger GPU"
            )
            return "\n".join(lines)
        p = self.proposal
        lines.append(f"fits with: {' '.join(p.args())}   (estimated {p.estimate.total / GIB:.2f} GiB)")
        lines += [f"  - {step}" for step in p.steps]
        kept = [item for item in self.overrides if item.partition("=")[0].strip() not in p.overrides]
        command = " ".join(["trlrecipes run", self.recipe] + kept + p.args())
        lines.append(f"run: {command}")
        return "\n".join(lines)


def plan_recipe(
    recipe: str,
    overrides: list[str] | None = None,
    *,
    budget: str | float | None = None,
    model_config: str | None = None,
    device: str = "gpu",
    config_file: str | None = None,
    demo: bool = False,
    processes: int = 1,
    shard: str = "none",
) -> Plan:
    from trlrecipes.run.execute import RunFlags, resolve
    from trlrecipes.run.recipes import resolve_recipe

    if device not in ("gpu", "cpu"):
        raise UserError(f"--device {device!r}: use gpu or cpu")
    if shard not in SHARDING:
        raise UserError(f"--shard {shard!r}: use one of {', '.join(SHARDING)}")
    if processes < 1:
        raise UserError(f"--processes {processes}: use 1 or more")
    if shard != "none" and device == "cpu":
        raise UserError("--shard plans multi-GPU engines; use --device gpu")
    overrides = list(overrides or [])
    found = resolve_recipe(recipe)
    module = found.module
    cfg = resolve(found, RunFlags(overrides=overrides, config_file=config_file, demo=demo))
    model = getattr(cfg, "model", "")
    trust = bool(getattr(cfg, "trust_remote_code", False))
    config = load_model_config(model, model_config=model_config, trust_remote_code=trust)
    shape = model_shape(config, model_config or model, trust_remote_code=trust)
    settings = settings_from_config(cfg, module, device)
    settings = dataclasses.replace(settings, processes=processes, shard=shard)
    if settings.load_in_4bit and device == "cpu":
        raise UserError("load_in_4bit=true needs a CUDA GPU; plan it with --device gpu")
    budget_bytes = parse_budget(budget) if isinstance(budget, str) else budget
    result = estimate(shape, settings, device, budget_bytes)
    proposal = None
    if budget_bytes is not None and result.total > budget_bytes:
        proposal = propose(shape, settings, budget_bytes, device, fields=set(cfg.__dataclass_fields__))
    return Plan(recipe, shape, settings, result, budget_bytes, proposal, overrides, device, model)
