"""Every reach into a private TRL or transformers internal, in one place.

Each function names what it touches and the versions it was checked against (TRL 1.16, transformers 5.24);
`tests/test_compat.py` fails when an installed version no longer has what a function relies on, so an upgrade
breaks one test here instead of a user's run.
"""

from __future__ import annotations

import functools
import importlib.util
import types
from contextlib import contextmanager
from pathlib import Path

# TRL's fused log-prob head folds [tokens x 32768-column] vocabulary tiles with torch ops that hold several such
# temporaries at once; on CPU, 4096-column tiles cut hh-dpo's peak RSS from 0.58x to 0.39x of the textbook setup
# with the same log-probs and no slower steps (benchmarks/RESULTS.md, memory rows). GPUs take TRL's own path.
CPU_LOGPROB_CHUNK = 4096
_CHUNK_ATTR = "_CHUNKED_LOGPROB_CHUNK_SIZE"  # trl/trainer/utils.py, TRL 1.16


def narrow_head_chunks_on_cpu(trainer) -> None:
    """Set TRL's private fused-head tile width (`trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE`) to
    CPU_LOGPROB_CHUNK when training on CPU. A TRL without the constant is left alone."""
    import trl.trainer.utils as trl_utils

    current = getattr(trl_utils, _CHUNK_ATTR, None)
    if trainer.args.device.type == "cpu" and isinstance(current, int) and current > CPU_LOGPROB_CHUNK:
        setattr(trl_utils, _CHUNK_ATTR, CPU_LOGPROB_CHUNK)


# TRL's fused head scores only the positions with a label (the replies) on Triton devices and every position
# (prompt and padding too) elsewhere, to keep tile shapes fixed for compilers such as Neuron's. A CPU recompiles
# nothing, so there it scores the reply positions only: the same log-probs, with the head's matmuls and its
# element-wise passes over [positions x vocabulary] cut to the reply share of the batch (benchmarks/RESULTS.md,
# CPU efficiency rows).
_COMPACT_ATTR = "_use_triton"  # trl/trainer/utils.py imports it from trl/kernels/chunked_logprob.py, TRL 1.16


def score_reply_positions_on_cpu(trainer) -> None:
    """Make `trl.trainer.utils`'s choice of compact scoring (`_use_triton(device)`) true for CPU tensors when
    training on CPU. Only that module's name is replaced: the kernels module keeps its own, so no Triton kernel is
    ever chosen for a CPU tensor. A TRL without the name is left alone."""
    import trl.trainer.utils as trl_utils

    current = getattr(trl_utils, _COMPACT_ATTR, None)
    if trainer.args.device.type != "cpu" or not callable(current) or getattr(current, "_trlrecipes", False):
        return

    def compact_on_cpu(device, _original=current):
        return device.type == "cpu" or _original(device)

    compact_on_cpu._trlrecipes = True
    setattr(trl_utils, _COMPACT_ATTR, compact_on_cpu)


# Without Triton (on CPU) TRL's fused head folds each [tokens x 4096] logits tile into its running statistics with
# torch ops written for any soft-cap and dtype: about 13 passes over the tile forward and 13 backward, most of them
# into a fresh temporary. Without a soft-cap, in fp32 and without an entropy gradient (every preference run on CPU;
# GRPO/RLOO ask for the entropy as a metric, a gradient only with GRPO's entropy bonus, trl.entropy_coef), the same
# statistics take 6 passes forward and 3 in place backward, with the same tie rule for top-1: the 135M head in
# 0.57-0.87x of TRL's time, the most with long replies (benchmarks/head_folds.py). Anything else goes to TRL's. The
# three CPU patches here give GRPO's and RLOO's own completion scoring TRL's log-probs, entropies and gradients, the
# entropy bonus included (tests/test_compat.py), so run/lifecycle.py applies them to every trainer.
_FOLD_ATTRS = ("_forward_tile", "_backward_tile")  # trl/kernels/chunked_logprob.py, TRL 1.16


def _arguments(scope: dict) -> dict:
    """A fold's own arguments (TRL's names), to hand a case the lean fold does not cover to TRL's."""
    return {k: v for k, v in scope.items() if k != "_original" and not isinstance(v, types.ModuleType)}


def _lean_forward_tile(
    tile,
    tile_stride,
    targets,
    running_max,
    sum_exp,
    x_sum_exp,
    sq_sum_exp,
    z_sum,
    max_before_target,
    target_logit,
    vocab_start,
    n_cols,
    logit_scale,
    softcap,
    inv_t,
    HAS_SOFTCAP,  # TRL's keyword names, from here on
    HAS_ENTROPY,
    HAS_LOG_SUM_SQ_PROBS,
    HAS_MEAN_LOGITS,
    HAS_IS_TOP1,
    BLOCK_SIZE,
    _original=None,
):
    import math

    import torch

    if HAS_SOFTCAP or tile.dtype != torch.float32:
        return _original(**_arguments(locals()))
    z = tile  # TRL refills this buffer with the next tile's logits, so it is free to overwrite here
    if logit_scale * inv_t != 1:
        z.mul_(logit_scale * inv_t)
    local = targets - vocab_start
    in_tile = (local >= 0) & (local < n_cols)
    if HAS_MEAN_LOGITS:
        z_sum += z.sum(-1)
    tile_max = z.amax(-1)
    target_logit.copy_(
        torch.where(in_tile, z.gather(-1, local.clamp(0, n_cols - 1).unsqueeze(-1)).squeeze(-1), target_logit)
    )
    if HAS_IS_TOP1:  # TRL's rule: the largest logit left of the target (argmax takes the first of equal maxima)
        before = torch.where(local >= n_cols, tile_max, -math.inf)  # the target lies in a later tile
        rows = in_tile.nonzero().squeeze(-1)
        if rows.numel():
            prefix = z[rows]
            prefix.masked_fill_(torch.arange(n_cols, device=z.device) >= local[rows].unsqueeze(-1), -math.inf)
            before[rows] = prefix.amax(-1)
        torch.maximum(max_before_target, before, out=max_before_target)
    new_m = torch.maximum(running_max, tile_max)
    rescale = torch.exp(running_max - new_m)
    shifted = z.sub_(new_m.unsqueeze(-1))
    e = torch.exp(shifted)
    e_sum = e.sum(-1)
    sum_exp.mul_(rescale).add_(e_sum)
    if HAS_ENTROPY:  # sum(e * z) = sum(e * (z - m)) + m * sum(e), as a batched dot product: no [n x cols] temporary
        x_sum_exp.mul_(rescale).add_(torch.bmm(e.unsqueeze(1), shifted.unsqueeze(2)).view(-1) + new_m * e_sum)
    if HAS_LOG_SUM_SQ_PROBS:
        sq_sum_exp.mul_(rescale * rescale).add_(torch.bmm(e.unsqueeze(1), e.unsqueeze(2)).view(-1))
    running_max.copy_(new_m)


def _lean_backward_tile(
    tile,
    tile_stride,
    targets,
    log_z,
    entropy,
    grad_logprobs,
    grad_entropy,
    vocab_start,
    n_cols,
    logit_scale,
    softcap,
    inv_t,
    HAS_SOFTCAP,
    HAS_LOGPROB_GRAD,
    HAS_ENTROPY_GRAD,
    BLOCK_SIZE,
    _original=None,
):
    import torch

    if HAS_SOFTCAP or HAS_ENTROPY_GRAD or not HAS_LOGPROB_GRAD or tile.dtype != torch.float32:
        return _original(**_arguments(locals()))
    scale = logit_scale * inv_t
    if scale != 1:
        tile.mul_(scale)
    # d(log p_target)/dz_j = 1[j = target] - p_j, times the incoming gradient, in the tile's own memory
    tile.sub_(log_z.unsqueeze(-1)).exp_().mul_(grad_logprobs.neg().unsqueeze(-1))
    local = targets - vocab_start
    rows = ((local >= 0) & (local < n_cols)).nonzero().squeeze(-1)
    tile.index_put_((rows, local[rows]), grad_logprobs[rows], accumulate=True)
    if scale != 1:
        tile.mul_(scale)


def lean_head_folds_on_cpu(trainer) -> None:
    """Replace `trl.kernels.chunked_logprob`'s `_forward_tile` / `_backward_tile` (the torch folds its fused head uses
    where Triton is not) with the lean ones above when training on CPU. Idempotent; a TRL without them is left
    alone."""
    import trl.kernels.chunked_logprob as kernels

    if trainer.args.device.type != "cpu":
        return
    for name, lean in zip(_FOLD_ATTRS, (_lean_forward_tile, _lean_backward_tile), strict=True):
        current = getattr(kernels, name, None)
        if callable(current) and not getattr(current, "_trlrecipes", False):
            fold = functools.partial(lean, _original=current)
            fold._trlrecipes = True
            setattr(kernels, name, fold)


# transformers reads a GGUF file three times to build a config, a tokenizer and a model (each a full GGUFReader
# parse of the ~50k-entry vocabulary, ~7 s for SmolLM2 on 2 cores) and builds gguf's tensor-name table once per
# tensor (397 times, ~10 s). Both come from `from gguf import ...` inside transformers' functions, so names set on
# the gguf module for the length of a conversion take effect there: one parse, one table per (arch, layers).
_GGUF_NAMES = ("GGUFReader", "get_tensor_name_map")  # read by transformers/modeling_gguf_pytorch_utils.py, 5.24


@contextmanager
def gguf_read_once():
    """While converting a GGUF model: the same path gives the same (read-only) GGUFReader, and the tensor-name
    table is built once per architecture and layer count. The gguf module's own names are restored after."""
    import gguf

    original_reader, original_map = (getattr(gguf, name) for name in _GGUF_NAMES)
    readers: dict = {}

    def reader(path, *args, **kwargs):
        key = (str(Path(path).resolve()), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = original_reader(path, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = reader, functools.lru_cache(maxsize=None)(original_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = original_reader, original_map


def trl_has_fused_head() -> bool:
    """Whether the installed TRL has the fused LM head (`trl.trainer.utils.add_fused_lm_head`, TRL >= 1.15), read
    from its source file without importing TRL (that takes seconds and `plan` must stay fast)."""
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        return False
    source = Path(next(iter(spec.submodule_search_locations))) / "trainer" / "utils.py"
    try:
        return "def add_fused_lm_head" in source.read_text(encoding="utf-8")
    except OSError:
        return False


def set_train_sampler(trainer, sampler) -> None:
    """Make a transformers Trainer draw training batches from `sampler` by replacing its private
    `Trainer._get_train_sampler(train_dataset=None)` (transformers 5.24; TRL's trainers do not override it)."""
    trainer._get_train_sampler = lambda train_dataset=None: sampler


def use_precomputed_reference(trainer) -> None:
    """Make a TRL DPOTrainer read the reference log-probs from the batch (`ref_chosen_logps`/`ref_rejected_logps`
    columns) instead of running the reference forward: the switch TRL's own `precompute_ref_log_probs` sets at
    construction (`DPOTrainer.precompute_ref_logps`, read by `_compute_loss` and `evaluate`; TRL 1.16)."""
    trainer.precompute_ref_logps = True


_BNB = "bitsandbytes"


def defer_bitsandbytes(*, needed: bool) -> None:
    """Keep bitsandbytes out of a run that does not quantize. peft imports it whenever it is installed
    (`peft/helpers.py` at import, LoRA's layer dispatch via the cached `peft.import_utils.is_bnb_available`), and
    importing it registers its `torch.library` ops, seconds of every run's start-up (benchmarks/import_time.py).
    An entry of None in sys.modules makes `import bitsandbytes` fail and `importlib.util.find_spec` answer None, which
    is how peft and transformers (`is_bitsandbytes_available`) tell that it is absent (answers they cache).
    `needed=True` (load_in_4bit, a bitsandbytes optimizer) undoes it, also after an earlier run in this process
    deferred it."""
    import sys

    if needed:
        if _BNB in sys.modules and sys.modules[_BNB] is None:
            del sys.modules[_BNB]
            for module, name in (
                ("peft.import_utils", "is_bnb_available"),
                ("peft.import_utils", "is_bnb_4bit_available"),
                ("transformers.utils.import_utils", "is_bitsandbytes_available"),
            ):
                cached = getattr(sys.modules.get(module), name, None)  # lru_cache'd answers of "absent"
                if hasattr(cached, "cache_clear"):
                    cached.cache_clear()
            helpers = sys.modules.get("peft.helpers")
            if helpers is not None and getattr(helpers, "bnb", 1) is None:
                import bitsandbytes

                helpers.bnb = bitsandbytes
        return
    if _BNB not in sys.modules and "peft" not in sys.modules:
        sys.modules[_BNB] = None
