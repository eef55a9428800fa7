"""GPU check: tokens/s, peak GPU memory and MFU of hh-dpo next to the plain TRL script, in bf16 and 4-bit QLoRA,
plus a check that reward accuracy moves on a learnable synthetic set. No network: the model is built from a config.

    bash benchmarks/gpu_check.sh              # on a CUDA machine, from the repository root (under 5 minutes)
    python benchmarks/gpu_check.py --cpu --tiny   # the same code paths on CPU with a 2-layer model (a smoke test)

Model: Qwen2.5-0.5B's shape (hidden 896, intermediate 4864, 24 layers, 14 heads / 2 kv heads, vocab 151936, tied
embeddings; 494M parameters) with random weights and the tiny offline tokenizer (its ids are a subset of the vocab).
Data: synthetic pairs, a helpful reply vs. a curt refusal, prompt + reply ~300-500 tokens; held-out pairs use
unseen topics. The four runs, each a fresh process: plain TRL bf16 LoRA, `trlrecipes run hh-dpo` bf16, plain TRL
4-bit QLoRA, hh-dpo load_in_4bit=true. All use hh-dpo's batch settings (4 pairs x 4 accumulation, max_length 512,
activation checkpointing) with learning_rate 1e-4 so that 30 steps visibly learn.

Then GRPO (`trlrecipes run ifeval-grpo` on the same model: 8 replies to each of 1 prompt per step, the task's reward),
with transformers generating and, when vLLM imports, with vLLM colocated: seconds per step and peak memory with
generation included (random weights: the rewards are noise, these rows measure cost, not learning).

Reported per run: seconds per optimizer step (steady state, from the metrics.jsonl both programs append to), real
tokens/s (TRL's num_tokens counter), peak GPU memory (torch.cuda.max_memory_allocated in the training process), MFU
= 6 x parameters x real tokens/s / the GPU's dense bf16 peak (policy forward 2N + backward through frozen weights 2N +
reference forward 2N per token; activation recomputation and attention's quadratic term not counted), and the
held-out reward accuracy at the end (at step 0 it is 0: every reward is exactly 0 with LoRA).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench as B  # noqa: E402

MEASURE = B.HERE / "_measure.py"
# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity) by device-name fragment; first match wins.
PEAK_TFLOPS = [
    ("H200", 989.4),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.4),
    ("GH200", 989.4),
    ("A100", 312.0),
    ("L40S", 362.1),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("4090", 165.2),
    ("3090", 71.0),
    ("V100", 125.0),
    ("T4", 65.0),
]
TINY_SHAPE = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2
)
TOPICS = [
    "boil an egg",
    "fix a bike chain",
    "learn to swim",
    "plant tomatoes",
    "write a cover letter",
    "bake bread",
    "sleep better",
    "start running",
    "save money",
    "learn French",
    "tie a tie",
    "clean a window",
    "make tea",
    "read faster",
    "paint a wall",
    "train a puppy",
    "wash a car",
    "sharpen a knife",
    "cook rice",
    "repair a zipper",
    "stop procrastinating",
    "change a tire",
    "write a poem",
    "build a birdhouse",
]
HELD_OUT = 4  # the last topics are only in the held-out set


def learnable_pairs(topics: list[str], count: int, seed: int) -> list[dict]:
    import random

    rng = random.Random(seed)
    steps = [
        "first gather what you need",
        "then take it one step at a time",
        "check the result as you go",
        "ask for help if something looks wrong",
        "keep notes so the next time is easier",
        "rest when you get tired",
        "practice a little every day",
        "compare with a good example",
    ]
    rows = []
    for i in range(count):
        topic = topics[i % len(topics)]
        detail = ", ".join(rng.sample(steps, k=len(steps)))
        base = f"\n\nHuman: Can you tell me how to {topic}? I am a beginner (question {i}).\n\nAssistant: "
        good = (
            f"Sure, happy to help you {topic}. Here is a clear plan: {detail}. "
            f"In short, to {topic}: {detail}. Good luck, you can do it!"
        )
        bad = (
            f"No. I will not explain how to {topic}. Figure it out yourself, it is not my problem. "
            f"{' '.join(rng.sample(steps, k=3))}. Stop asking me."
        )
        rows.append({"chosen": base + good, "rejected": base + bad})
    return rows


def build_model(work: Path, tiny: bool, on_gpu: bool) -> tuple[Path, int]:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from trlrecipes.testing import build_tiny_tokenizer

    folder = work / ("tiny-qwen2" if tiny else "qwen2.5-0.5b-shape")
    tokenizer = build_tiny_tokenizer(folder)
    shape = dict(TINY_SHAPE, vocab_size=len(tokenizer)) if tiny else dict(B.QWEN05_SHAPE)
    config = Qwen2Config(
        **shape,
        max_position_embeddings=4096,
        rope_theta=1_000_000.0,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    with torch.device("cuda" if on_gpu else "cpu"):
        model = Qwen2ForCausalLM(config)
    params = sum(p.numel() for p in model.parameters())
    dtype = torch.bfloat16 if on_gpu else torch.float32
    model.to(dtype).save_pretrained(str(folder))
    del model
    if on_gpu:
        torch.cuda.empty_cache()
    return folder, params


def peak_tflops(name: str, override: float) -> float | None:
    if override:
        return override
    for fragment, value in PEAK_TFLOPS:
        if fragment in name:
            return value
    return None


def parse_peak(output: str) -> dict:
    for line in reversed(output.splitlines()):
        if line.startswith("PEAK_MEMORY "):
            return json.loads(line[len("PEAK_MEMORY ") :])
    return {}


def tokens_per_second(metrics: Path, times: list[tuple[int, float, float]], skip: int) -> float | None:
    """Real (non-pad) tokens per second between the first train log at step >= skip and the last one."""
    if not metrics.is_file():
        return None
    counts = {}
    for line in metrics.read_text().splitlines():
        record = json.loads(line)
        if "loss" in record and "num_tokens" in record:
            counts[int(record["step"])] = record["num_tokens"]
    points = [(s, t) for s, t, _ in times if s >= skip and s in counts]
    if len(points) < 2:
        return None
    (s0, t0), (s1, t1) = points[0], points[-1]
    return (counts[s1] - counts[s0]) / (t1 - t0) if t1 > t0 else None


def last_logged(metrics: Path, key: str) -> float | None:
    """The last training log's value of `key` (GRPO logs reward and completion length every logging step)."""
    values = [json.loads(line).get(key) for line in metrics.read_text().splitlines()] if metrics.is_file() else []
    values = [value for value in values if value is not None]
    return values[-1] if values else None


def final_eval(metrics: Path) -> dict:
    evals = (
        [json.loads(line) for line in metrics.read_text().splitlines() if "eval_loss" in line]
        if metrics.is_file()
        else []
    )
    return evals[-1] if evals else {}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run on CPU (no CUDA needed): checks the code paths")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model instead of the 0.5B shape")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--skip-4bit", action="store_true", help="leave out the two QLoRA runs")
    parser.add_argument("--batch", type=int, default=0, help="pairs per device batch (default: hh-dpo's 4; 2 on CPU)")
    parser.add_argument("--grad-accum", type=int, default=0, help="default: hh-dpo's 4; 1 on CPU")
    parser.add_argument("--max-length", type=int, default=0, help="default: hh-dpo's 512; 256 on CPU")
    parser.add_argument(
        "--peak-tflops", type=float, default=0.0, help="the GPU's dense bf16 peak, if not in the table"
    )
    parser.add_argument("--budget", type=float, default=280.0, help="seconds for everything (each run gets a share)")
    parser.add_argument("--json", default=str(B.HERE / "gpu_results.json"))
    parser.add_argument("--work", help="working folder (default: temporary)")
    args = parser.parse_args(argv)
    started = time.time()
    os.environ.update(B.ENV)

    import torch

    on_gpu = torch.cuda.is_available() and not args.cpu
    if not on_gpu and not args.cpu:
        print("no CUDA device found: run with --cpu --tiny to check the code paths on CPU", file=sys.stderr)
        return 2
    device = torch.cuda.get_device_name(0) if on_gpu else "CPU"
    peak = peak_tflops(device, args.peak_tflops) if on_gpu else None
    work, temp = B.work_folder(args.work, prefix="trlrecipes-gpu-check-")
    env = B.child_env(HF_DATASETS_CACHE=work / "hf-datasets")
    if not on_gpu:
        # One thread per run: on a busy CPU, OpenMP threads spin-waiting for a core made single steps 20x slower
        env.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    print(
        f"gpu_check: {device}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
        f"peak bf16 {peak or 'unknown'} TFLOP/s; work folder {work}",
        flush=True,
    )

    model, params = build_model(work, args.tiny, on_gpu)
    print(
        f"model: {'tiny Qwen2' if args.tiny else 'Qwen2.5-0.5B shape'}, {params / 1e6:.0f}M parameters, "
        f"built in {time.time() - started:.0f} s",
        flush=True,
    )
    train_topics, eval_topics = TOPICS[:-HELD_OUT], TOPICS[-HELD_OUT:]
    raw_train = B.write_jsonl(work / "pairs.jsonl", learnable_pairs(train_topics, 480, seed=0))
    raw_eval = B.write_jsonl(work / "heldout.jsonl", learnable_pairs(eval_topics, 32, seed=1))
    conv_train = B.convert_for_plain(raw_train, work / "pairs-conv.jsonl")
    conv_eval = B.convert_for_plain(raw_eval, work / "heldout-conv.jsonl")

    steps, log_every = args.steps, 5
    batch = args.batch or (4 if on_gpu else 2)
    accum = args.grad_accum or (4 if on_gpu else 1)
    max_length = args.max_length or (512 if on_gpu else 256)
    common = {
        "max_steps": steps,
        "logging_steps": log_every,
        "save_steps": steps * 10,
        "learning_rate": 1e-4,
        "per_device_train_batch_size": batch,
        "gradient_accumulation_steps": accum,
        "max_length": max_length,
    }
    wrapper = [
        "--cli",
        "run",
        "hh-dpo",
        f"model={model}",
        f"dataset={raw_train}",
        f"eval_dataset={raw_eval}",
        "data_format=hh-rlhf",
        "subset=",
        f"eval_steps={steps}",
        "max_eval_rows=0",
        *(f"{k}={v}" for k, v in common.items()),
    ]
    plain = [
        str(B.PLAIN),
        "--model",
        str(model),
        "--data",
        str(conv_train),
        "--eval-data",
        str(conv_eval),
        "--eval-steps",
        str(steps),
        "--max-steps",
        str(steps),
        "--logging-steps",
        str(log_every),
        "--save-steps",
        str(steps * 10),
        "--learning-rate",
        "1e-4",
        "--batch",
        str(batch),
        "--grad-accum",
        str(accum),
        "--max-length",
        str(max_length),
        # what `trlrecipes run` adds to TRL's defaults, so both sides batch and compute alike
        "--length-groups",
        *([] if on_gpu else ["--head-chunk", "4096"]),
    ]
    runs = [("plain TRL, LoRA", plain, []), ("trlrecipes hh-dpo", wrapper, [])]
    try:
        import bitsandbytes  # noqa: F401
    except Exception as err:  # ImportError, or a RuntimeError from a CUDA mismatch
        print(f"bitsandbytes unusable ({type(err).__name__}: {err}): the 4-bit runs are left out", flush=True)
        args.skip_4bit = True
    if not args.skip_4bit:
        runs += [
            ("plain TRL, QLoRA 4-bit", plain, ["--load-in-4bit"]),
            ("trlrecipes hh-dpo, load_in_4bit", wrapper, ["load_in_4bit=true"]),
        ]
    # GRPO (online RL): the policy samples num_generations replies to each instruction prompt and the task's
    # partial-credit reward scores them; one generation batch per step. With random weights the rewards are noise:
    # these rows measure speed and memory (generation included), not learning. vLLM colocate when it imports.
    grpo_steps = max(2, steps // 3)
    grpo = [
        "--cli", "run", "ifeval-grpo", f"model={model}", f"max_steps={grpo_steps}", "num_generations=8",
        "per_device_train_batch_size=8", "gradient_accumulation_steps=1",
        f"max_completion_length={128 if on_gpu else 16}", f"max_length={384 if on_gpu else 128}",
        "learning_rate=1e-5", "logging_steps=1", f"save_steps={grpo_steps * 10}",
    ]  # fmt: skip
    runs.append(("trlrecipes ifeval-grpo", grpo, []))
    vllm_run = "trlrecipes ifeval-grpo, vLLM colocate"  # vLLM is an optional extra: its failure is reported only
    if on_gpu and importlib.util.find_spec("vllm") is not None:
        runs.append((vllm_run, grpo, ["use_vllm=true"]))
    precision = "bf16" if on_gpu and torch.cuda.is_bf16_supported() else ("fp16" if on_gpu else "fp32")
    results = []
    for index, (name, base_cmd, extra) in enumerate(runs):
        out = work / f"run-{index}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, str(MEASURE), *base_cmd, *extra]
        cmd += [f"output_dir={out}"] if base_cmd[0] == "--cli" else ["--output-dir", str(out)]
        left = args.budget - (time.time() - started)
        timeout = max(30.0, left / (len(runs) - index))
        result = B.run_child(cmd, metrics=out / "metrics.jsonl", env=env, cwd=work, timeout=timeout, poll=0.005)
        memory = parse_peak(result.output)
        online = base_cmd is grpo
        step = result.step_time(1 if online else log_every)
        tps = tokens_per_second(out / "metrics.jsonl", result.log_times, 1 if online else log_every)
        evaluation = final_eval(out / "metrics.jsonl")
        row = {
            "run": name,
            "online": online,
            "precision": precision + (" + nf4" if extra and "4bit" in extra[0] else ""),
            "exit": result.returncode,
            "wall_s": round(result.seconds, 1),
            "s_per_step": step,
            "tokens_per_s": tps,
            "peak_gpu_gb": (memory.get("cuda_max_allocated") or 0) / 1e9 or None,
            "peak_rss_gb": (memory.get("ru_maxrss") or 0) / 1e9 or None,
            # 6N per trained token counts no generation: online rows have no MFU of this kind
            "mfu": (6 * params * tps / (peak * 1e12)) if (tps and peak and not online) else None,
            "eval_reward_accuracy": evaluation.get("eval_rewards/accuracies"),
            "eval_reward_margin": evaluation.get("eval_rewards/margins"),
            "mean_reward": last_logged(out / "metrics.jsonl", "reward") if online else None,
            "mean_completion_tokens": last_logged(out / "metrics.jsonl", "completions/mean_length")
            if online
            else None,
        }
        results.append(row)
        if result.returncode != 0:
            print(f"  {name}: FAILED (exit {result.returncode})\n{result.output[-3000:]}", flush=True)
        else:
            print(f"  {name}: {json.dumps({k: v for k, v in row.items() if k != 'run'})}", flush=True)

    def fmt(value, spec):
        return "n/a" if value is None else format(value, spec)

    print(
        f"\n{'run':<40}{'prec':<12}{'s/step':>8}{'tokens/s':>10}{'GPU GB':>8}{'RSS GB':>8}{'MFU':>7}"
        f"{'eval acc':>10}{'margin':>8}{'reward':>8}"
    )
    for r in results:
        print(
            f"{r['run']:<40}{r['precision']:<12}{fmt(r['s_per_step'], '.3f'):>8}{fmt(r['tokens_per_s'], '.0f'):>10}"
            f"{fmt(r['peak_gpu_gb'], '.2f'):>8}{fmt(r['peak_rss_gb'], '.2f'):>8}{fmt(r['mfu'], '.1%'):>7}"
            f"{fmt(r['eval_reward_accuracy'], '.2f'):>10}{fmt(r['eval_reward_margin'], '.2f'):>8}"
            f"{fmt(r['mean_reward'], '.2f'):>8}"
        )
    checks = []
    offline = [r for r in results if not r["online"]]
    for plain_row, wrap_row in zip(offline[0::2], offline[1::2], strict=False):
        if plain_row["tokens_per_s"] and wrap_row["tokens_per_s"]:
            ratio = wrap_row["tokens_per_s"] / plain_row["tokens_per_s"]
            checks.append((f"{wrap_row['run']}: tokens/s vs plain TRL", ratio, ratio >= 0.98, ">= 0.98"))
        if plain_row["peak_gpu_gb"] and wrap_row["peak_gpu_gb"]:
            ratio = wrap_row["peak_gpu_gb"] / plain_row["peak_gpu_gb"]
            checks.append((f"{wrap_row['run']}: peak GPU memory vs plain TRL", ratio, ratio <= 1.02, "<= 1.02"))
    for r in offline:
        acc = r["eval_reward_accuracy"]
        checks.append(
            (
                f"{r['run']}: held-out reward accuracy after {steps} steps (0 at step 0)",
                acc,
                acc is not None and acc >= 0.75,
                ">= 0.75",
            )
        )
    if not on_gpu:  # a CPU smoke test checks code paths; its timings on a shared CPU are noise (+-15 % here)
        checks = [(n, v, None if "vs plain" in n else ok, t) for n, v, ok, t in checks]
    failed = [r["run"] for r in results if r["exit"] != 0 and r["run"] != vllm_run]
    for r in results:
        if r["exit"] != 0 and r["run"] == vllm_run:
            print(f"info {r['run']}: did not finish (exit {r['exit']}), an optional extra")
    print()
    for name, value, ok, target in checks:
        label = "info" if ok is None else ("ok  " if ok else "FAIL")
        print(f"{label} {name}: {fmt(value, '.3f')} (target {target}{', GPU only' if ok is None else ''})")
    if failed:
        print(f"FAIL runs that did not finish: {', '.join(failed)}")
    summary = {
        "device": device,
        "peak_bf16_tflops": peak,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "model_parameters": params,
        "tiny": args.tiny,
        "steps": steps,
        "batch": batch,
        "gradient_accumulation_steps": accum,
        "max_length": max_length,
        "runs": results,
        "checks": [{"name": n, "value": v, "ok": ok, "target": t} for n, v, ok, t in checks],
        "seconds": round(time.time() - started, 1),
    }
    for target in [Path(args.json)] + (
        [Path(os.environ["OUT"]) / "gpu_results.json"] if os.environ.get("OUT") else []
    ):
        try:
            target.write_text(json.dumps(summary, indent=2) + "\n")
            print(f"written: {target}")
        except OSError as err:
            print(f"could not write {target}: {err}")
    print(f"gpu_check finished in {time.time() - started:.0f} s")
    if temp is not None:
        temp.cleanup()
    return 0 if not failed and all(ok is not False for _, _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
