"""The settings `--demo` adds: the embedded model and data, sized for 2 CPU cores; a program's DEMO refines them."""

from __future__ import annotations

from types import ModuleType

from trlrecipes.run import contract
from trlrecipes.run.resolve import DEMO_SOURCE  # noqa: F401  (the layer's source name, re-exported for execute)


def demo_layer(module: ModuleType) -> dict:
    """CPU-sized settings on the embedded model and data; the program's own DEMO dict refines them. Only the keys
    the program's Config has are kept (a program without `max_length` gets no max_length)."""
    from trlrecipes.demo import DEMO_TEST, DEMO_TRAIN
    from trlrecipes.models import DEMO_MODEL

    layer = {
        "model": DEMO_MODEL,
        "dataset": str(DEMO_TRAIN),
        "eval_dataset": str(DEMO_TEST),
        "data_format": "hh-rlhf",
        "subset": "",
        "max_length": 192,  # the demo pairs are short; 192 tokens hold every one of them (the longest is 141)
        "learning_rate": 1e-4,  # 30 steps instead of thousands: LoRA needs large steps to move in that budget
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        # 30 steps x 4 pairs took held-out accuracy from 0 (ties) to 0.97 in a learnability probe (the DPO program
        # refines it with its own DEMO: 10 steps at 3e-4, the same accuracy)
        "max_steps": 30,
        "logging_steps": 5,
        "save_steps": 15,
        "eval_steps": 0,  # no evaluation during the short run: the demo evaluates the held-out pairs once, after
        "max_eval_rows": 0,
        "activation_checkpointing": False,  # costs ~30% time; the 135M model fits without it
    }
    layer.update(contract.demo_settings(module))
    fields = set(module.Config.__dataclass_fields__)
    return {key: value for key, value in layer.items() if key in fields}
