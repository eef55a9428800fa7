"""Does DPO make the model better at a task a program can check? synth -> DPO -> eval --generate, offline.

On the embedded SmolLM2-135M-Instruct (`smollm2-135m-offline`) and the arithmetic word problems that trlrecipes
ships (trlrecipes/demo/arithmetic.py: 320 training, 120 held-out prompts):
  1. `trlrecipes synth` samples N replies per training prompt and keeps (right, wrong) pairs by the verifier's
     reward (right = last number is the answer; shorter wins among right replies); prompts where all N replies
     are right, or all wrong, give no pair and are dropped (--min-gap 0.5);
  2. `trlrecipes run custom-dpo` trains LoRA DPO on those pairs;
  3. `trlrecipes eval RUN --generate --reward trlrecipes.demo.arithmetic:verify` answers the held-out prompts
     greedily with the reference (adapter off) and the trained model and verifies both.
Printed: task accuracy of reference and trained with 95 % bootstrap intervals, the paired accuracy change with
its interval, the win rate and its length-controlled twin, and the reply length change. The defaults are sized
for ~15 minutes on 2 shared CPU cores; on a GPU raise them (all 320 prompts, N=8, more steps).

    python benchmarks/verifiable_task.py [--train-prompts 96 --test-prompts 100 --steps 24 --work DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import HERE, child_env, load_avg, trlrecipes_cmd, work_folder  # noqa: E402

RESULTS = HERE / "verifiable_task_results.json"


def step(name: str, cmd: list[str], work: Path) -> tuple[float, str]:
    import subprocess

    print(f"[{name}] {' '.join(cmd[-12:])}", flush=True)
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), cwd=work)
    seconds = time.monotonic() - start
    (work / f"{name}.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(
            f"{name} failed ({proc.returncode}); see {work / f'{name}.log'}:\n{proc.stdout[-2000:]}\n"
            f"{proc.stderr[-3000:]}"
        )
    print(f"[{name}] {seconds:.0f} s", flush=True)
    return seconds, proc.stdout


def subset(source: Path, count: int, target: Path) -> Path:
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()][:count]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def main() -> None:
    from trlrecipes.demo.arithmetic import TEST_FILE, TRAIN_FILE
    from trlrecipes.tools.eval.winrate import mean_interval

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-prompts", type=int, default=96)
    parser.add_argument("--test-prompts", type=int, default=100)
    parser.add_argument("--num-samples", type=int, default=4, help="N of best-of-N")
    parser.add_argument("--steps", type=int, default=24, help="DPO optimizer steps (batch 4)")
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=64,
        help="the 135M model works its answer out at "
        "length: at 40 tokens 27 of 32 sampled replies were cut before their final number",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.7,
        help="synth sampling temperature: at 1.0 the 135M model rambles (1 right reply in 32 on 8 prompts)",
    )
    parser.add_argument("--work", default=None, help="keep the pairs, run folder and logs here")
    args = parser.parse_args()
    work, temporary = work_folder(args.work, "verifiable-task-")
    cli = trlrecipes_cmd()
    times = {}
    train = subset(TRAIN_FILE, args.train_prompts, work / "train-prompts.jsonl")
    test = subset(TEST_FILE, args.test_prompts, work / "test-prompts.jsonl")
    pairs, run_dir = work / "pairs.jsonl", work / "run"

    times["synth_s"], synth_out = step(
        "synth",
        cli
        + [
            "synth",
            str(train),
            "--output",
            str(pairs),
            "--model",
            "smollm2-135m-offline",
            "--reward",
            "trlrecipes.demo.arithmetic:reward",
            "--num-samples",
            str(args.num_samples),
            "--min-gap",
            "0.5",
            "--max-new-tokens",
            str(args.max_new_tokens),
            "--temperature",
            str(args.temperature),
            "--batch-size",
            "8",
        ],
        work,
    )
    written = sum(1 for line in pairs.read_text().splitlines() if line.strip()) if pairs.is_file() else 0
    if written < 2:
        raise SystemExit(f"synth wrote {written} pairs: too few to train on\n{synth_out}")
    times["dpo_s"], _ = step(
        "dpo",
        cli
        + [
            "run",
            "custom-dpo",
            f"dataset={pairs}",
            "model=smollm2-135m-offline",
            "eval_share=0",
            f"max_steps={args.steps}",
            f"learning_rate={args.learning_rate}",
            f"beta={args.beta}",
            "per_device_train_batch_size=4",
            "gradient_accumulation_steps=1",
            "max_length=256",
            "activation_checkpointing=false",
            "logging_steps=4",
            f"save_steps={args.steps}",
            f"output_dir={run_dir}",
        ],
        work,
    )
    times["eval_s"], eval_out = step(
        "eval",
        cli
        + [
            "eval",
            str(run_dir),
            "--generate",
            "--reward",
            "trlrecipes.demo.arithmetic:verify",
            "--prompts",
            str(test),
            "--max-new-tokens",
            str(args.max_new_tokens),
            "--batch-size",
            "16",
            "--json",
        ],
        work,
    )
    figures = json.loads(eval_out[eval_out.index("{") :])
    rows = [json.loads(line) for line in (run_dir / "eval_generations.jsonl").read_text().splitlines()]
    change = [r["trained_score"] - r["reference_score"] for r in rows]
    change_ci = mean_interval(change, seed=0)

    def ci(key):
        return f"[{figures[key][0]:.2f}, {figures[key][1]:.2f}]"

    print(
        f"\nverifiable task: {len(rows)} held-out arithmetic word problems, greedy, max {args.max_new_tokens} new "
        f"tokens; trained on {written} best-of-{args.num_samples} pairs from {args.train_prompts} prompts, "
        f"{args.steps} DPO steps (batch 4, lr {args.learning_rate:g}, beta {args.beta:g})"
    )
    print(f"{'':<12}{'accuracy':>10}{'95% CI':>16}{'reply tokens':>14}{'cut':>7}")
    for side in ("reference", "trained"):
        print(
            f"{side:<12}{figures[side + '_score_mean']:>10.3f}{ci(side + '_score_ci95'):>16}"
            f"{figures[side + '_tokens_mean']:>14.1f}{figures[side + '_cut_share']:>7.0%}"
        )
    print(f"accuracy change (paired): {sum(change) / len(change):+.3f} [{change_ci[0]:+.3f}, {change_ci[1]:+.3f}]")
    print(
        f"wins/ties/losses {figures['wins']}/{figures['ties']}/{figures['losses']}; win rate "
        f"{figures['win_rate']:.3f} {ci('win_rate_ci95')}, length-controlled {figures['lc_win_rate']:.3f} "
        f"{ci('lc_win_rate_ci95')}; reply length change {figures['length_change']:+.0%}"
    )
    for verdict in figures["verdicts"]:
        print(f"! {verdict['code']}: {verdict['message']}")
    print(
        f"time: synth {times['synth_s']:.0f} s, DPO {times['dpo_s']:.0f} s, eval {times['eval_s']:.0f} s; "
        f"load average {load_avg()}"
    )
    kept = {k: v for k, v in figures.items() if k not in ("run", "generations_file")}
    RESULTS.write_text(
        json.dumps(
            {
                "settings": vars(args) | {"work": None},
                "pairs": written,
                "times": times,
                "accuracy_change": sum(change) / len(change),
                "accuracy_change_ci95": change_ci,
                "figures": kept,
                "load_after": load_avg(),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")
    if temporary is not None:
        temporary.cleanup()


if __name__ == "__main__":
    main()
