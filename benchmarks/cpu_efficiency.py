"""How close a LoRA DPO step on the 135M model gets to this CPU's fp32 matmul peak, measured in one run.

Peak: torch.mm in fp32 with the same thread count, on a square 2048 matmul and on the model's own MLP shape
([tokens x hidden] x [hidden x intermediate]), best of several, measured before and after the steps (the machine may
be shared); and the square one again (best of 3) after every step, outside the timed window: "of it" compares a
lever with the peak of its own minutes, since this machine's speed drifts by up to a third between runs.
Step: a DPOTrainer built as `trlrecipes run hh-dpo --demo` builds it (SmolLM2-135M, LoRA r=16 on all
linear layers, batch 4, max_length 192, no activation checkpointing, length-grouped batches, 4096-column head tiles),
steps timed by a callback after one warm-up step.

FLOPs are counted from the model's shapes, not taken from `total_flos` (transformers' 6 x params x tokens, which
counts weight gradients a frozen base never computes and leaves the reference forward out), over every computed
position (padding included; the real-token share is printed beside it):
  forward  F = 2 x (base linear params + LoRA params) x positions + 2 x hidden x vocab x positions (the head)
               + 2 x hidden x seq^2 per sequence and layer (causal attention, QK^T and AV)
  policy   = F + backward ~ F (activation gradients through the frozen base and the head) + 4 x LoRA params x
             positions (LoRA weight and input gradients) + 2 x attention
  reference forward = F without LoRA (removed from the step by a precomputed reference)
Levers: --levers baseline precompute threads1 tiles32768 random trlfolds loraaddmm allpositions compile (each a fresh
trainer in this process; baseline is what trlrecipes runs; trlfolds is baseline with TRL's own torch folds of the
logits tiles instead of trlrecipes' lean ones; loraaddmm fuses LoRA's scale-and-add into one addmm; allpositions is
TRL's own CPU head, scoring prompt and padding positions too, with its own folds; compile is baseline under
transformers' torch_compile=True, timed after its first step).
Usage: TRLRECIPES_CACHE=... python benchmarks/cpu_efficiency.py [--steps 3] [--levers baseline precompute]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
SQUARE = {"square 2048": (2048, 2048, 2048)}
_TRL_OWN: dict = {}  # TRL's own compact-scoring rule and torch folds, restored before each lever


def matmul_peak(shapes, threads: int, repeat: int = 5) -> dict:
    import torch

    torch.set_num_threads(threads)
    out = {}
    for name, (m, k, n) in shapes.items():
        a, b = torch.randn(m, k), torch.randn(k, n)
        torch.mm(a, b)
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - start)
        out[name] = 2 * m * k * n / best / 1e9
    return out


def model_counts(model) -> dict:
    import torch

    base = lora = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            params = module.in_features * module.out_features
            if "lora_" in name:
                lora += params
            elif not name.endswith("lm_head"):
                base += params
    config = model.config
    return {
        "base": base,
        "lora": lora,
        "hidden": config.hidden_size,
        "vocab": config.vocab_size,
        "layers": config.num_hidden_layers,
        "intermediate": config.intermediate_size,
    }


def step_flops(counts: dict, batches: list[tuple[int, int, int]], *, reference: bool) -> float:
    """`batches`: (rows, length, positions the head scores) per micro-batch."""
    total = 0.0
    for rows, length, scored in batches:
        positions = rows * length
        attention = 2 * counts["hidden"] * length**2 * rows * counts["layers"]
        head = 2 * counts["hidden"] * counts["vocab"] * scored
        base = 2 * counts["base"] * positions
        lora = 2 * counts["lora"] * positions
        forward = base + lora + head + attention
        total += forward + (base + head + 2 * attention) + 2 * lora  # policy forward + backward
        if reference:
            total += base + head + attention
    return total


def build(
    model_path: str,
    data: str,
    out: Path,
    *,
    chunk: int,
    precompute: bool,
    group: bool,
    compact: bool,
    lean: bool,
    compile_: bool,
):
    import trl.kernels.chunked_logprob as kernels
    import trl.trainer.utils as trl_utils
    from peft import LoraConfig
    from transformers import AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from trlrecipes._compat import (
        _CHUNK_ATTR,
        _COMPACT_ATTR,
        _FOLD_ATTRS,
        lean_head_folds_on_cpu,
        score_reply_positions_on_cpu,
    )
    from trlrecipes.data import load_pairs
    from trlrecipes.data.batching import use_length_groups
    from trlrecipes.run import refcache

    train, _ = load_pairs("hh-rlhf", data)
    args = DPOConfig(
        output_dir=str(out),
        use_cpu=True,
        bf16=False,  # TRL's default bf16=True is emulated on a CPU without native bf16: ~14x slower steps
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        max_length=192,
        learning_rate=1e-4,
        max_steps=100,
        logging_steps=1000,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        activation_checkpointing=False,
        torch_compile=compile_,  # transformers' torch.compile of the model (inductor); step 1 pays the compile
        seed=42,
    )
    trainer = DPOTrainer(
        model=model_path,
        args=args,
        train_dataset=train,
        processing_class=AutoTokenizer.from_pretrained(model_path),
        peft_config=LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
        ),
    )
    if group:
        use_length_groups(trainer)
    setattr(trl_utils, _CHUNK_ATTR, chunk)  # the private constant trlrecipes._compat narrows on CPU
    owners = {_COMPACT_ATTR: trl_utils, **dict.fromkeys(_FOLD_ATTRS, kernels)}
    if not _TRL_OWN:  # TRL's own, captured before any lever replaces them
        _TRL_OWN.update({name: getattr(module, name) for name, module in owners.items()})
    for name, module in owners.items():
        setattr(module, name, _TRL_OWN[name])
    if compact:  # the head scores reply positions only, as trlrecipes runs on CPU
        score_reply_positions_on_cpu(trainer)
    if lean:  # the head's CPU folds trlrecipes installs (fewer passes over each logits tile)
        lean_head_folds_on_cpu(trainer)
    if precompute:
        refcache.remember(trainer.args, True)
        refcache.prepare(trainer)

    shapes: list[tuple[int, int, int]] = []
    real: list[int] = []
    collate = trainer.data_collator

    def recording(examples):
        batch = collate(examples)
        rows, length = batch["input_ids"].shape
        # the head scores every shifted position, or (compact) only the reply tokens
        scored = int(batch["completion_mask"][:, 1:].sum()) if compact else rows * (length - 1)
        shapes.append((rows, length, scored))
        real.append(int(batch["attention_mask"].sum()))
        return batch

    trainer.data_collator = recording

    class Timer(TrainerCallback):
        """Step times, and the square-2048 matmul peak measured between steps (outside the timed window), so
        that each lever is compared with the peak of the same minutes: this machine's speed drifts by up to a
        third between runs."""

        def __init__(self):
            self.times, self.peaks = [], []

        def on_step_begin(self, *a, **k):
            self._start = (time.perf_counter(), time.process_time())

        def on_step_end(self, *a, **k):
            wall, cpu = self._start
            self.times.append((time.perf_counter() - wall, time.process_time() - cpu, len(shapes)))
            import torch

            self.peaks.append(matmul_peak(SQUARE, torch.get_num_threads(), repeat=3)["square 2048"])

    timer = Timer()
    trainer.add_callback(timer)
    return trainer, timer, shapes, real


@contextmanager
def lora_scale_and_add_in_one_addmm(on: bool):
    """The `loraaddmm` lever: PEFT's LoRA Linear forward (`base(x) + lora_B(lora_A(x)) * scaling`, a multiply and an
    add over [positions x out] per layer) as one `addmm(base(x), lora_A(x), B^T, alpha=scaling)`, for the plain
    case (one adapter, no dropout, no variant); anything else runs PEFT's forward. Benchmark only."""
    import torch
    from peft.tuners.lora.layer import Linear

    original = Linear.forward

    def fused(self, x, *args, **kwargs):
        active = self.active_adapters
        name = active[0] if len(active) == 1 else None
        if (
            args
            or kwargs
            or self.disable_adapters
            or self.merged
            or name not in self.lora_A
            or name in self.lora_variant
            or not isinstance(self.lora_dropout[name], torch.nn.Identity)
            or self.lora_B[name].bias is not None
        ):
            return original(self, x, *args, **kwargs)
        result = self.base_layer(x)
        a = self.lora_A[name](x)
        flat = result.reshape(-1, result.shape[-1])
        return torch.addmm(
            flat, a.reshape(-1, a.shape[-1]), self.lora_B[name].weight.t(), alpha=self.scaling[name]
        ).view(result.shape)

    Linear.forward = fused if on else original
    try:
        yield
    finally:
        Linear.forward = original


def run_lever(lever: str, model_path: str, data: str, steps: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(1 if lever == "threads1" else threads)
    with tempfile.TemporaryDirectory() as tmp, lora_scale_and_add_in_one_addmm(lever == "loraaddmm"):
        chunk = 32768 if lever == "tiles32768" else 4096
        trainer, timer, shapes, real = build(
            model_path,
            data,
            Path(tmp),
            chunk=chunk,
            precompute=lever == "precompute",
            group=lever != "random",
            compact=lever != "allpositions",
            lean=lever not in ("allpositions", "trlfolds"),
            compile_=lever == "compile",
        )
        trainer.args.max_steps = steps + 1
        trainer.train()
        counts = model_counts(trainer.model)
    measured = timer.times[1:]  # step 1 warms up allocator and kernels
    # one micro-batch per step, collated in step order (the loader may collate one ahead: count from the start)
    step_shapes = shapes[1 : 1 + len(measured)]
    first = 1
    flops = step_flops(counts, step_shapes, reference=lever != "precompute")
    wall = sum(t[0] for t in measured)
    positions = sum(r * length for r, length, _ in step_shapes)
    return {
        "lever": lever,
        "threads": torch.get_num_threads(),
        "s_per_step": wall / len(measured),
        "adjacent_peak": max(timer.peaks),  # between this lever's steps, its own thread count
        "cpu_s_per_step": sum(t[1] for t in measured) / len(measured),
        "gflops": flops / wall / 1e9,
        "tflop_per_step": flops / len(measured) / 1e12,
        "real_share": sum(real[first : first + len(measured)]) / max(1, positions),
        "counts": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--levers", nargs="+", default=["baseline", "precompute"])
    args = parser.parse_args()
    import torch

    from trlrecipes.demo import DEMO_TRAIN
    from trlrecipes.models import DEMO_MODEL, resolve_model

    threads = torch.get_num_threads()
    model_path = resolve_model(DEMO_MODEL)
    shapes = {"square 2048": (2048, 2048, 2048), "MLP [1536 x 576] x [576 x 1536]": (1536, 576, 1536)}
    before = matmul_peak(shapes, threads)
    rows = []
    for lever in args.levers:  # each row printed as soon as it is measured (a shared machine may be slow)
        rows.append(run_lever(lever, model_path, str(DEMO_TRAIN), args.steps, threads))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "counts"}), flush=True)
    torch.set_num_threads(threads)
    after = matmul_peak(shapes, threads)
    peak = {name: max(before[name], after[name]) for name in shapes}
    best_peak = max(peak.values())
    load = os.getloadavg()
    print(
        f"fp32 matmul peak, {threads} threads: "
        + ", ".join(f"{name} {value:.1f} GFLOP/s" for name, value in peak.items())
    )
    print(
        f"{'lever':<12}{'threads':>8}{'s/step':>9}{'CPU s/step':>12}{'TFLOP/step':>12}{'GFLOP/s':>10}"
        f"{'of peak':>9}{'peak between steps':>20}{'of it':>7}{'real tokens':>13}"
    )
    for row in rows:
        print(
            f"{row['lever']:<12}{row['threads']:>8}{row['s_per_step']:>9.2f}{row['cpu_s_per_step']:>12.2f}"
            f"{row['tflop_per_step']:>12.3f}{row['gflops']:>10.1f}{row['gflops'] / best_peak:>9.0%}"
            f"{row['adjacent_peak']:>20.1f}{row['gflops'] / row['adjacent_peak']:>7.0%}{row['real_share']:>13.2f}"
        )
    print(
        f"(FLOPs counted from the model's shapes over computed positions; precompute counts no reference forward, "
        f"so its GFLOP/s is useful work only.) load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    (HERE / "cpu_efficiency.json").write_text(json.dumps({"peak": peak, "rows": rows, "load": load}, indent=2) + "\n")


if __name__ == "__main__":
    main()
