"""Iterative DPO on the instruction-following task, round by round: held-out verifier accuracy of the reference and
of each round's adapter, greedy and sampled, with the paired 95 % interval, and the wall time of every phase.

    python benchmarks/instruction_rounds.py                       # 2 rounds x 128 prompts, the full held-out set
    python benchmarks/instruction_rounds.py --rounds 1 --prompts-per-round 32 --eval-rows 40   # a quick look

Training: `trlrecipes run ifeval-dpo` on SmolLM2-135M (the embedded model) with the settings below; each round
samples 4 replies for a new block of training prompts, judges them with the task's partial-credit reward and trains
`--steps` DPO steps from the previous round's adapter. Evaluation: `trlrecipes eval RUN/round-N --generate` on the
held-out prompts (trlrecipes/tasks/instructions-test.jsonl: questions and some wordings/combinations never trained
on) with the all-or-nothing verifier, once greedy and once sampled (temperature 0.7, one reply a prompt, seeded).
Prints a table and writes benchmarks/instruction_rounds.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench as B  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TEST = REPO / "trlrecipes" / "tasks" / "instructions-test.jsonl"
VERIFY = "trlrecipes.tasks.instructions:verify"


def evaluate(folder: Path, args, sampled: bool) -> dict:
    extra = ("--temperature", "0.7", "--seed", "0") if sampled else ()
    return B.verifier_eval(
        folder, TEST, VERIFY, max_new_tokens=args.max_new_tokens, rows=args.eval_rows, batch_size=256, extra=extra
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--prompts-per-round", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40, help="DPO steps per round (batch 4)")
    parser.add_argument("--learning-rate", default="3e-4")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--eval-rows", type=int, default=0, help="held-out prompts (0: all 248)")
    parser.add_argument("--run", default="/tmp/trlrecipes-instruction-rounds")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "instruction_rounds.json"))
    args = parser.parse_args()
    run = Path(args.run)
    settings = [
        f"output_dir={run}", "model=smollm2-135m-offline", f"rounds={args.rounds}",
        f"prompts_per_round={args.prompts_per_round}", f"max_steps={args.steps}",
        f"learning_rate={args.learning_rate}",
        f"max_new_tokens={args.max_new_tokens}", "per_device_train_batch_size=4", "gradient_accumulation_steps=1",
        "max_length=320", "activation_checkpointing=false", "logging_steps=5", f"save_steps={max(5, args.steps // 2)}",
    ]  # fmt: skip
    train_seconds, _ = B.trlrecipes("run", "ifeval-dpo", *settings, *(["--overwrite"] if run.exists() else []))
    info = json.loads((run / "run.json").read_text())
    rows = []
    for number in range(1, args.rounds + 1):
        folder = run / f"round-{number}"
        for sampled in (False, True):
            figures = evaluate(folder, args, sampled)
            rows.append({"round": number, **info["rounds"][number - 1], **figures})
            print(
                f"round {number} {figures['decoding']:<28} reference {figures['reference_accuracy']:.3f} -> "
                f"trained {figures['trained_accuracy']:.3f}  difference {figures['difference']:+.3f} "
                f"[{figures['ci95'][0]:+.3f}, {figures['ci95'][1]:+.3f}]  ({figures['seconds']:.0f} s)",
                flush=True,
            )
    result = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "settings": settings,
        "train_seconds": round(train_seconds, 1),
        "rounds": info["rounds"],
        "evaluations": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"training {train_seconds:.0f} s (all rounds: sampling and DPO); results in {args.out}")


if __name__ == "__main__":
    main()
