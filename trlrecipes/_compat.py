"""Every reach into a private TRL or transformers internal, in one place.

Each function names what it touches and the versions it was checked against (TRL 1.16, transformers 5.24);
`tests/test_compat.py` fails when an installed version no longer has what a function relies on, so an upgrade
breaks one test here instead of a user's run.
"""

from __future__ import annotations

import importlib.util
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
