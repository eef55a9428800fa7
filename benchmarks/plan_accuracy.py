"""How close is `trlrecipes plan` to reality? Peak resident memory of real DPO steps on CPU vs the estimate.

Every setting trains `hh-dpo` for a few steps (fp32, LoRA r=16 all-linear; TRL's disable_dropout=true zeroes the
recipe's lora_dropout 0.05, as in every real run) in a fresh Python process with OMP_NUM_THREADS=1, on pairs long
enough that every chosen/rejected sequence is exactly max_length tokens (so the estimate's "every pair fills
max_length" holds). A sampling thread records the process's resident set size (RSS) every 2 ms during training;
the training peak is that maximum (ru_maxrss is printed as well).
glibc's MALLOC_MMAP_THRESHOLD_ is set to 64 KiB in the children (--mmap-threshold), so freed tensors go back to the
OS and RSS follows the live tensors the way a GPU's allocated memory does; with glibc's default the heap keeps
freed blocks and RSS ran ~0.9 GiB higher for the 135M model (pass --mmap-threshold 0 to see it).

CPU RSS also holds the Python/torch/transformers/TRL runtime, the tokenizer and the dataset. A separate fresh
process that imports the same libraries and builds the same trainer on a model with *one hidden-32 layer and a tiny
vocabulary* measures that baseline once; it is subtracted from every measurement, and the comparison is against
plan's estimate without its runtime row (`plan --device cpu` adds RUNTIME_BASELINE_GIB, this baseline, instead).

Models are random-initialised from a config (no download): the 2-layer tiny test model (hidden 32) and a
SmolLM2-135M-shaped Llama (hidden 576, intermediate 1536, 30 layers, 9 heads / 3 kv heads, vocab 49152). The
tokenizer is the tiny offline test tokenizer (its ids are a subset of any vocab), which only changes the text, not
the shapes.

    OMP_NUM_THREADS=1 python benchmarks/plan_accuracy.py [--quick] [--steps 2] [--seq 256] [--batch 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRL_EXPERIMENTAL_SILENCE": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}
SMOL = dict(
    hidden_size=576,
    intermediate_size=1536,
    num_hidden_layers=30,
    num_attention_heads=9,
    num_key_value_heads=3,
    vocab_size=49152,
)
TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
# one tiny decoder layer (LoRA needs a linear layer), tiny vocab: the runtime, nearly nothing of the model
BASELINE = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2
)

# Runs inside the child process: train, sampling RSS, print one JSON line.
CHILD = r"""
import json, os, resource, sys, threading, time
import psutil
from trlrecipes.run.recipes import resolve_recipe
from trlrecipes.run.execute import RunFlags, execute
from transformers import TrainerCallback

proc = psutil.Process()
state = {"peak": 0, "sampling": False, "before": 0}
def sample():
    while True:
        if state["sampling"]:
            state["peak"] = max(state["peak"], proc.memory_info().rss)
        time.sleep(0.002)
threading.Thread(target=sample, daemon=True).start()

class Mark(TrainerCallback):
    def on_train_begin(self, args, st, control, **kw):
        state["before"] = proc.memory_info().rss
        state["sampling"] = True
    def on_train_end(self, args, st, control, **kw):
        state["sampling"] = False

import trlrecipes.run.lifecycle as runtime
original = runtime.Run.callbacks
runtime.Run.callbacks = lambda self, *a, **kw: original(self, *a, **kw) + [Mark()]
recipe = resolve_recipe("hh-dpo")
start = time.time()
execute(recipe, RunFlags(overrides=sys.argv[1:]), entry="bench")
print("RESULT " + json.dumps({"peak": state["peak"], "before_train": state["before"],
                              "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                              "seconds": time.time() - start}))
"""


def build_model(folder: Path, shape: dict) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from trlrecipes.testing import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer(folder)
    shape = {**shape}
    shape.setdefault("vocab_size", len(tokenizer))
    torch.manual_seed(0)
    config = LlamaConfig(
        **shape,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    return folder


def write_pairs(path: Path, rows: int = 16) -> Path:
    """Short prompts, long replies: every sequence is truncated to exactly max_length tokens."""
    words = "the quick brown fox jumps over the lazy dog while paris is the capital of france and eggs boil".split()
    lines = []
    for n in range(rows):
        reply = " ".join(words[(n + k) % len(words)] for k in range(900))
        lines.append(
            json.dumps(
                {
                    "prompt": f"Tell me a long story number {n}.",
                    "chosen": "Sure. " + reply,
                    "rejected": "No. " + reply[::-1],
                }
            )
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def run_child(overrides: list[str], workdir: Path) -> dict:
    env = {**os.environ, **ENV}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *overrides], cwd=workdir, env=env, capture_output=True, text=True, timeout=900
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"child failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def overrides_for(model: Path, data: Path, out: Path, *, seq: int, batch: int, ckpt: bool, steps: int) -> list[str]:
    return [
        f"model={model}",
        f"dataset={data}",
        "data_format=custom",
        "eval_dataset=",
        f"output_dir={out}",
        "precision=fp32",
        f"max_length={seq}",
        f"per_device_train_batch_size={batch}",
        "gradient_accumulation_steps=1",
        f"max_steps={steps}",
        "logging_steps=1",
        "save_steps=1000",
        f"activation_checkpointing={str(ckpt).lower()}",
        "verdicts=false",
        "learning_rate=1e-4",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny model only")
    parser.add_argument("--only", choices=("tiny", "smol"), help="run one model's cases")
    parser.add_argument("--no-ckpt-only", action="store_true", help="skip the activation-checkpointing cases")
    parser.add_argument("--ckpt-only", action="store_true", help="only the activation-checkpointing cases")
    parser.add_argument(
        "--mmap-threshold",
        type=int,
        default=65536,
        help="set glibc's MALLOC_MMAP_THRESHOLD_ in the children (bytes): large blocks then go to "
        "mmap and return to the OS when freed, so RSS follows the live tensors, as GPU memory "
        "would; 0 keeps glibc's default, whose heap keeps freed blocks (default 65536)",
    )
    args = parser.parse_args()
    os.environ.update(ENV)
    if args.mmap_threshold:
        os.environ["MALLOC_MMAP_THRESHOLD_"] = str(args.mmap_threshold)

    from trlrecipes.tools.plan import GIB, RUNTIME_BASELINE_GIB, plan_recipe

    cases = [("tiny", TINY, False), ("tiny", TINY, True)]
    if not args.quick:
        cases += [("smollm2-135m-shape", SMOL, False), ("smollm2-135m-shape", SMOL, True)]
    if args.only:
        cases = [case for case in cases if case[0].startswith(args.only)]
    if args.ckpt_only or args.no_ckpt_only:
        cases = [case for case in cases if case[2] == args.ckpt_only]
    with tempfile.TemporaryDirectory(prefix="plan-bench-") as tmp:
        tmp = Path(tmp)
        data = write_pairs(tmp / "pairs.jsonl")
        models = {"baseline": build_model(tmp / "baseline", BASELINE)}
        for name, shape, _ in cases:
            if name not in models:
                models[name] = build_model(tmp / name, shape)
        print(
            f"python {sys.version.split()[0]}, OMP_NUM_THREADS=1, {args.steps} steps, batch {args.batch}, "
            f"max_length {args.seq}, fp32, LoRA r=16 (lora_dropout 0.05, zeroed by TRL's disable_dropout)"
            + (f", MALLOC_MMAP_THRESHOLD_={args.mmap_threshold}" if args.mmap_threshold else ""),
            flush=True,
        )
        t0 = time.time()
        base = run_child(
            overrides_for(
                models["baseline"],
                data,
                tmp / "run-baseline",
                seq=args.seq,
                batch=args.batch,
                ckpt=False,
                steps=args.steps,
            ),
            tmp,
        )
        baseline = base["peak"]
        print(
            f"baseline (imports + trainer on a 1-layer hidden-32 model): {baseline / GIB:.3f} GiB peak RSS "
            f"(plan --device cpu assumes {RUNTIME_BASELINE_GIB} GiB)",
            flush=True,
        )
        rows = []
        for index, (name, _, ckpt) in enumerate(cases):
            overrides = overrides_for(
                models[name], data, tmp / f"run-{index}", seq=args.seq, batch=args.batch, ckpt=ckpt, steps=args.steps
            )
            measured = run_child(overrides, tmp)
            plan = plan_recipe("hh-dpo", overrides, device="cpu")
            runtime = plan.estimate.get("runtime")
            estimate = plan.estimate.train_peak - runtime  # no evaluation pass in these runs
            net = measured["peak"] - baseline
            rows.append((name, ckpt, estimate, net, measured, plan))
            print(
                f"  {name} ckpt={ckpt}: estimate {estimate / GIB:.3f} GiB, measured {net / GIB:.3f} GiB net "
                f"({measured['peak'] / GIB:.3f} peak RSS, {measured['seconds']:.0f} s)",
                flush=True,
            )
        print(f"\ntotal time {time.time() - t0:.0f} s\n")
        header = (
            f"{'model':<20}{'ckpt':>5}{'estimate GiB':>14}{'measured GiB':>14}{'error':>8}"
            f"{'  (RSS peak / before training / ru_maxrss, GiB)'}"
        )
        print(header)
        print("-" * len(header))
        for name, ckpt, estimate, net, measured, _plan in rows:
            # below ~50 MiB the net figure is within the run-to-run noise of the baseline: show the absolute gap
            error = (
                f"{(estimate - net) / net * 100:.0f}%"
                if net > 50 * 1024**2
                else f"{(estimate - net) / 1024**2:+.0f}MiB"
            )
            print(
                f"{name:<20}{str(ckpt).lower():>5}{estimate / GIB:>14.3f}{net / GIB:>14.3f}{error:>8}"
                f"  ({measured['peak'] / GIB:.3f} / {measured['before_train'] / GIB:.3f} / "
                f"{measured['ru_maxrss'] / GIB:.3f})"
            )
        print("\nestimate components (GiB) per row:")
        for name, ckpt, _, _, _, plan in rows:
            parts = ", ".join(f"{c.name} {c.bytes / GIB:.3f}" for c in plan.estimate.components if c.name != "runtime")
            print(f"  {name} ckpt={str(ckpt).lower()}: {parts}")


if __name__ == "__main__":
    main()
