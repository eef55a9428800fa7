"""DPO vs GRPO on the verifiable instruction-following task, side by side from the same start model: held-out
verifier accuracy with the paired 95 % interval, at a matched number of sampled completions and at matched wall time.

    OMP_NUM_THREADS=2 python benchmarks/dpo_vs_grpo.py          # ~20 min on 2 CPU cores
    python benchmarks/dpo_vs_grpo.py --completions 64 --eval-rows 32                 # a quick look

Start model: SmolLM2-135M-Instruct (`smollm2-135m-offline`). Task: trlrecipes/tasks/instructions-*.jsonl (format
constraints a program checks); training judge the partial-credit `reward`, held-out judge the all-or-nothing `verify`.
Every setting is explicit here (not --demo), so that changes to a program's demo settings do not move these numbers.

  reference   the start model (each run's adapter off), greedy on the held-out prompts
  DPO         `trlrecipes run ifeval-dpo`: one round, `--completions`/4 training prompts x 4 sampled replies
              (temperature 0.8), best and worst reply of a prompt a pair when their scores differ, `--dpo-steps` DPO
              steps on the pairs (4 a step, learning rate 3e-4, beta 0.1); the reference of DPO is the start model
  GRPO        `trlrecipes run ifeval-grpo`: 4 prompts x 4 sampled replies a step (temperature 1, beta 0, loss dapo,
              learning rate 5e-4): `--completions`/16 steps sample as many completions as DPO did (matched
              completions), and a second run gets the steps that fit DPO's wall time, from the first run's own
              per-step time and start-up (matched wall time)

The same token cap (`--max-new-tokens`) bounds every sampled training reply and every held-out reply; a reply cut at
the cap fails the verifier (an unfinished reply has not followed the instruction), so finishing within it is part of
the task for every method alike. Wall time is the whole `trlrecipes run` process (start-up, sampling, training);
evaluation is timed apart. Evaluation: `trlrecipes eval RUN --generate --prompts instructions-test.jsonl --reward
...:verify --max-rows N --max-new-tokens M` (greedy, both sides in one batch): each side's accuracy, the paired
difference with its percentile-bootstrap 95 % interval over prompts, and McNemar's exact p. One training run per
method and seed 42: a single draw, not a mean over seeds.

Prints the table and writes benchmarks/dpo_vs_grpo.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench as B  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TRAIN = REPO / "trlrecipes" / "tasks" / "instructions-train.jsonl"
TEST = REPO / "trlrecipes" / "tasks" / "instructions-test.jsonl"
REWARD, VERIFY = "trlrecipes.tasks.instructions:reward", "trlrecipes.tasks.instructions:verify"
MODEL = "smollm2-135m-offline"
GRPO_PROMPTS, GROUP = 4, 4  # prompts per GRPO step, completions per prompt


def common(args, out: Path) -> list[str]:
    return [
        f"model={MODEL}",
        f"dataset={TRAIN}",
        f"eval_dataset={TEST}",
        "data_format=prompts",
        f"reward={REWARD}",
        f"eval_reward={VERIFY}",
        f"output_dir={out}",
        "seed=42",
        "logging_steps=1",
        "activation_checkpointing=false",
        "max_eval_rows=0",
    ]


def train_dpo(args, out: Path) -> dict:
    prompts = args.completions // 4
    seconds, _ = B.trlrecipes(
        "run", "ifeval-dpo", *common(args, out), "rounds=1", f"prompts_per_round={prompts}", "num_samples=4",
        "temperature=0.8", f"max_new_tokens={args.max_new_tokens}", f"max_steps={args.dpo_steps}",
        "per_device_train_batch_size=4", "gradient_accumulation_steps=1", "learning_rate=3e-4", "beta=0.1",
        "max_length=256", f"save_steps={args.dpo_steps}", "--overwrite",
    )  # fmt: skip
    info = json.loads((out / "run.json").read_text())
    summary = (info.get("rounds") or [{}])[0]
    return {
        "method": "iterative DPO (1 round)",
        "completions": prompts * 4,
        "pairs": summary.get("pairs"),
        "steps": info.get("global_step"),
        "wall_s": round(seconds, 1),
        "sampled_mean_reward": summary.get("sampled_mean_score"),
    }


def train_grpo(args, out: Path, steps: int, label: str) -> dict:
    seconds, _ = B.trlrecipes(
        "run", "ifeval-grpo", *common(args, out), f"num_generations={GROUP}",
        f"per_device_train_batch_size={GRPO_PROMPTS * GROUP}", "gradient_accumulation_steps=1",
        f"max_completion_length={args.max_new_tokens}", f"max_length={args.max_new_tokens + 128}",
        f"max_steps={steps}", "learning_rate=5e-4", "temperature=1.0", f"save_steps={steps}", "--overwrite",
    )  # fmt: skip
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    step_times = [log["step_time"] for log in logs if isinstance(log.get("step_time"), (int, float))]
    rewards = [log["reward"] for log in logs if "loss" in log and isinstance(log.get("reward"), (int, float))]
    third = max(1, len(rewards) // 3)
    return {
        "method": label,
        "completions": steps * GRPO_PROMPTS * GROUP,
        "steps": steps,
        "wall_s": round(seconds, 1),
        "step_s": round(sum(step_times) / len(step_times), 1) if step_times else None,
        "startup_s": round(seconds - sum(step_times), 1),
        "train_reward_first_third": round(sum(rewards[:third]) / third, 3) if rewards else None,
        "train_reward_last_third": round(sum(rewards[-third:]) / third, 3) if rewards else None,
    }


def evaluate(args, folder: Path) -> dict:
    return B.verifier_eval(
        folder, TEST, VERIFY, max_new_tokens=args.max_new_tokens, rows=args.eval_rows, batch_size=128
    )


def head_to_head(first: Path, second: Path) -> dict:
    """The second run's greedy held-out replies against the first's, prompt by prompt (same prompts, same verifier):
    the paired difference with its bootstrap interval and McNemar's p, as `eval --generate` gives against the
    reference."""
    from trlrecipes.tools.eval.paired import paired_accuracy

    def scores(folder: Path) -> dict[str, float]:
        rows = [json.loads(line) for line in (folder / "eval_generations.jsonl").read_text().splitlines()]
        return {row["prompt"]: float(row["trained_score"]) for row in rows}

    a, b = scores(first), scores(second)
    if a.keys() != b.keys():
        sys.exit(f"{first} and {second} were evaluated on different prompts")
    prompts = sorted(a)
    paired = paired_accuracy([b[p] for p in prompts], [a[p] for p in prompts])
    return {
        "first": first.name,
        "second": second.name,
        "first_accuracy": paired["reference_accuracy"],
        "second_accuracy": paired["trained_accuracy"],
        "difference": paired["accuracy_difference"],
        "ci95": paired["accuracy_difference_ci95"],
        "mcnemar_p": paired.get("mcnemar_p"),
        "only_second_passed": paired.get("only_trained_passed"),
        "only_first_passed": paired.get("only_reference_passed"),
    }


def table(rows: list[dict], reference: dict) -> str:
    versus = "vs reference, 95% CI, McNemar p"
    head = f"{'method':<28}{'completions':>12}{'wall s':>8}{'accuracy':>10}  {versus:<38}{'cut':>5}"
    lines = [head, "-" * len(head)]
    lines.append(
        f"{'reference (start model)':<28}{'-':>12}{'-':>8}{reference['reference_accuracy']:>10.3f}  {'':<38}"
        f"{reference['reference_cut_share']:>5.0%}"
    )
    for row in rows:
        e = row["eval"]
        paired = f"{e['difference']:+.3f} [{e['ci95'][0]:+.3f}, {e['ci95'][1]:+.3f}]  p={e['mcnemar_p']:.2g}"
        lines.append(
            f"{row['method']:<28}{row['completions']:>12}{row['wall_s']:>8.0f}{e['trained_accuracy']:>10.3f}  "
            f"{paired:<38}{e['trained_cut_share']:>5.0%}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=256, help="sampled completions for DPO and matched GRPO")
    parser.add_argument("--dpo-steps", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--eval-rows", type=int, default=248, help="held-out prompts (248: all of them)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("dpo_vs_grpo.json"))
    args = parser.parse_args()
    if args.completions % (GRPO_PROMPTS * GROUP) or args.completions % 4:
        sys.exit(f"--completions must be a multiple of {GRPO_PROMPTS * GROUP}")
    work = args.work or Path(tempfile.mkdtemp(prefix="dpo_vs_grpo-"))
    started = time.monotonic()
    rows = []

    dpo = train_dpo(args, work / "dpo")
    print(f"DPO: {dpo}", flush=True)
    rows.append(dpo)
    grpo = train_grpo(
        args, work / "grpo-completions", args.completions // (GRPO_PROMPTS * GROUP), "GRPO, matched completions"
    )
    print(f"GRPO (matched completions): {grpo}", flush=True)
    rows.append(grpo)
    # the steps that fit DPO's wall time, from this machine's GRPO start-up and per-step time just measured
    fit = max(1, round((dpo["wall_s"] - grpo["startup_s"]) / grpo["step_s"]))
    timed = train_grpo(args, work / "grpo-time", fit, "GRPO, matched wall time")
    print(f"GRPO (matched wall time): {timed}", flush=True)
    rows.append(timed)

    for row, folder in zip(rows, ("dpo", "grpo-completions", "grpo-time"), strict=True):
        row["eval"] = evaluate(args, work / folder)
        print(f"{row['method']}: {row['eval']}", flush=True)
    references = {row["eval"]["reference_accuracy"] for row in rows}
    reference = rows[0]["eval"]
    text = table(rows, reference)
    versus = [head_to_head(work / "dpo", work / folder) for folder in ("grpo-completions", "grpo-time")]
    text += "\n\nGRPO vs DPO, paired on the same held-out prompts:\n" + "\n".join(
        f"  {row['second']:<18} {row['second_accuracy']:.3f} vs DPO {row['first_accuracy']:.3f}: "
        f"{row['difference']:+.3f} [{row['ci95'][0]:+.3f}, {row['ci95'][1]:+.3f}], GRPO only "
        f"{row['only_second_passed']}, DPO only {row['only_first_passed']}, McNemar p={row['mcnemar_p']:.3g}"
        for row in versus
    )
    print("\n" + text)
    if len(references) > 1:
        print(f"note: the reference (adapter off, greedy) scored differently across runs: {sorted(references)}")
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": vars(args) | {"work": str(work), "out": str(args.out), "model": MODEL},
        "rows": rows,
        "reference": {k: reference[k] for k in ("reference_accuracy", "reference_cut_share", "reference_tokens_mean")},
        "grpo_vs_dpo": versus,
        "table": text,
        "total_s": round(time.monotonic() - started, 1),
        "load_average": os.getloadavg(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {args.out} (total {result['total_s']:.0f} s)")


if __name__ == "__main__":
    main()
