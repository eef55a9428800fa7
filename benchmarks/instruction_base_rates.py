"""How often does the embedded model meet each instruction kind on its own? The base rates that choose the kinds
the instruction task ships (trlrecipes/tasks/instructions.py).

For every kind in instructions.KINDS: --prompts training-style prompts whose only constraint is that kind
(build_instructions.single_kind_rows: training questions, training wordings), answered by SmolLM2-135M-Instruct
(`smollm2-135m-offline`) once greedily and --samples times at --temperature, all in batched, left-padded `generate`
calls. A reply cut at --max-new-tokens counts as failing (it did not finish). Printed per kind: greedy rate, sampled
rate, the share of prompts whose samples hold both a met and an unmet reply (what best-of-N pair mining can use),
and the share of cut replies. A kind is kept for the shipped prompt files when best-of-N sampling gives a pair on at
least --min-pair-share of its prompts (2 of 16 by default): a kind the model never or always meets gives DPO no pair
to learn from. `--rescore FILE` scores the replies saved by an earlier `--replies FILE` run again, without the model
(after a checker changes).

    OMP_NUM_THREADS=2 python benchmarks/instruction_base_rates.py [--prompts 16 --samples 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
RESULTS = HERE / "instruction_base_rates.json"


def chat_texts(tokenizer, prompts: list[str]) -> list[str]:
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]


def generate(model, tokenizer, prompts: list[str], *, per_prompt: int, sample: bool, args, seed: int) -> dict:
    """{"texts": [...], "cut": [...]} with `per_prompt` consecutive rows per prompt, in prompt order."""
    import torch

    from trlrecipes.tools.generate import decode_replies

    tokenizer.padding_side = "left"
    texts, cut = [], []
    step = max(1, args.batch // per_prompt)
    for start in range(0, len(prompts), step):
        batch = tokenizer(
            chat_texts(tokenizer, prompts[start : start + step]),
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        settings = {"do_sample": False}
        if sample:
            settings = {"do_sample": True, "temperature": args.temperature, "top_k": 0, "top_p": 1.0}
        torch.manual_seed(seed + start)
        began = time.monotonic()
        with torch.no_grad():
            out = model.generate(
                **batch,
                **settings,
                max_new_tokens=args.max_new_tokens,
                num_return_sequences=per_prompt,
                pad_token_id=tokenizer.pad_token_id,
            )
        replies = decode_replies(model, tokenizer, out[:, batch["input_ids"].shape[1] :].tolist(), args.max_new_tokens)
        texts += replies["texts"]
        cut += replies["cut"]
        print(
            f"  {'sampled' if sample else 'greedy'} {start + len(batch['input_ids'])}/{len(prompts)} prompts "
            f"({len(replies['texts'])} replies, {time.monotonic() - began:.0f} s)",
            flush=True,
        )
    return {"texts": texts, "cut": cut}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=16, help="prompts per kind")
    parser.add_argument("--samples", type=int, default=4, help="sampled replies per prompt")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--batch", type=int, default=40, help="rows per generate call")
    parser.add_argument("--kinds", default="", help="comma-separated subset (default: every kind)")
    parser.add_argument(
        "--min-pair-share", type=float, default=0.125, help="keep a kind whose prompts give pairs at least this often"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--replies", type=Path, help="also write every prompt and reply to this JSON file")
    parser.add_argument("--rescore", type=Path, help="score the replies of an earlier --replies file (no model)")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers

    from trlrecipes.tasks.build_instructions import single_kind_rows
    from trlrecipes.tasks.instructions import KINDS, check
    from trlrecipes.tools.loading import load_model

    kinds = [k for k in args.kinds.split(",") if k] or list(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise SystemExit(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
    began = time.monotonic()
    if args.rescore:
        run = json.loads(args.rescore.read_text(encoding="utf-8"))
        kinds = [k for k in kinds if any(row["constraints"][0]["kind"] == k for row in run["rows"])]
    else:
        model, tokenizer = load_model("smollm2-135m-offline", device="cpu")
        rows = [row for kind in kinds for row in single_kind_rows(kind, args.prompts)]
        prompts = [row["prompt"] for row in rows]
        print(f"{len(kinds)} kinds x {args.prompts} prompts: greedy + {args.samples} samples each", flush=True)
        greedy = generate(model, tokenizer, prompts, per_prompt=1, sample=False, args=args, seed=args.seed)
        sampled = generate(model, tokenizer, prompts, per_prompt=args.samples, sample=True, args=args, seed=args.seed)
        run = {
            "command": "python benchmarks/instruction_base_rates.py " + " ".join(sys.argv[1:]),
            "settings": {k: v for k, v in vars(args).items() if k not in ("output", "replies", "rescore")},
            "wall_seconds": round(time.monotonic() - began),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "rows": rows,
            "greedy": greedy,
            "sampled": sampled,
        }
    if args.replies:
        args.replies.write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
    rows, greedy, sampled = run["rows"], run["greedy"], run["sampled"]
    samples = run["settings"]["samples"]

    def met(row, text, was_cut) -> bool:
        return not was_cut and check(row["constraints"][0], text)

    results = {}
    for kind in kinds:
        index = [i for i, row in enumerate(rows) if row["constraints"][0]["kind"] == kind]
        greedy_met = [met(rows[i], greedy["texts"][i], greedy["cut"][i]) for i in index]
        per_prompt = [
            [met(rows[i], sampled["texts"][j], sampled["cut"][j]) for j in range(i * samples, (i + 1) * samples)]
            for i in index
        ]
        flat = [ok for group in per_prompt for ok in group]
        cuts = [greedy["cut"][i] for i in index] + [
            sampled["cut"][j] for i in index for j in range(i * samples, (i + 1) * samples)
        ]
        rate = sum(flat) / len(flat)
        pair_share = sum(any(g) and not all(g) for g in per_prompt) / len(per_prompt)
        results[kind] = {
            "greedy": round(sum(greedy_met) / len(greedy_met), 3),
            "greedy_met": f"{sum(greedy_met)}/{len(greedy_met)}",
            "sampled": round(rate, 3),
            "sampled_met": f"{sum(flat)}/{len(flat)}",
            "pair_share": round(pair_share, 3),
            "cut_share": round(sum(cuts) / len(cuts), 3),
            "keep": pair_share >= args.min_pair_share,
            "example_greedy": greedy["texts"][index[0]][:240],
            "example_prompt": rows[index[0]]["prompt"],
        }

    header = f"{'kind':<16} {'greedy':>8} {'sampled':>9} {'pair':>6} {'cut':>6}  keep"
    print("\n" + header + "\n" + "-" * len(header))
    for kind, r in results.items():
        print(
            f"{kind:<16} {r['greedy_met']:>8} {r['sampled_met']:>9} {r['pair_share']:>6.2f} {r['cut_share']:>6.2f}  "
            f"{'yes' if r['keep'] else 'no'}"
        )
    keep = [k for k, r in results.items() if r["keep"]]
    print(f"\nkeep ({len(keep)}): {', '.join(keep)}")
    print(f"drop: {', '.join(k for k in results if k not in keep) or '-'}")
    print(f"wall time {run['wall_seconds']} s (load average {run['load_average_1min']:.1f} when it ended)")
    args.output.write_text(
        json.dumps(
            {
                "command": run["command"],
                "rescored": bool(args.rescore),
                "model": "smollm2-135m-offline",
                "settings": run["settings"],
                "keep_rule": f"pair share >= {args.min_pair_share}",
                "wall_seconds": run["wall_seconds"],
                "load_average_1min": run["load_average_1min"],
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                f"transformers {transformers.__version__}, threads {torch.get_num_threads()}",
                "kinds": results,
                "keep": keep,
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
