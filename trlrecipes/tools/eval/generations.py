"""`trlrecipes eval RUN --generate`: the trained model's replies judged against the reference's on the same prompts.

The run's model is loaded once. For every prompt (the run's held-out prompts, or `--prompts FILE`) the trained
reply (adapter on) and the reference reply (the same model with the adapter off, i.e. the base model DPO measured
itself against) are generated with the same decoding: greedy by default (both sides in one batch, see
tools/generate.generate_sides), or `samples` sampled replies each at `temperature`, a pass per side seeded alike.
A judge scores every reply (`fn(prompt, response, **fields) -> float`, or a sequence-classification reward model:
see judges.py), and winrate.py turns the scores into wins/ties/losses, a win rate with a bootstrap interval, a
length-controlled win rate and a length verdict. A 0/1 judge (a verifier) also gets the paired answer (paired.py):
each side's accuracy, the difference with its 95 % interval and McNemar's exact test, and, when the judge explains
its verdict per category (the instruction task's constraint kinds), a per-category table.

Written to the run folder: eval_generations.jsonl (one comparison a line) and the figures under "generation" in
eval.json (the implicit-reward figures of plain `trlrecipes eval` stay beside them).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from trlrecipes import files
from trlrecipes.errors import UserError
from trlrecipes.run.record import GENERATIONS
from trlrecipes.tasks.judges import Prompt

GENERATIONS_FILE = GENERATIONS
# A judge reads whole replies: when more than this share of either side's replies stops at --max-new-tokens, the
# figures judge cut-off text (a length or ending rule passes or fails on a fragment), and the result says so.
CUT_SHARE_LIMIT = 0.20


def held_out_prompts(run_dir: Path, cfg: dict, data: str | None = None) -> tuple[list[Prompt], str]:
    """The distinct prompts of the run's held-out pairs (or of `data`), in file order, and where they came from; for
    a run trained on prompts (iterative DPO, GRPO) its held-out prompts, with the fields its judges read."""
    from trlrecipes.data import get_format, is_prompt_only, load_pairs
    from trlrecipes.data.common import default_eval_source

    data_format = cfg.get("data_format", "hh-rlhf")
    prompt_only = is_prompt_only(data_format)
    source = data or cfg.get("eval_dataset") or ("" if prompt_only else default_eval_source(cfg.get("dataset", "")))
    if prompt_only and not source and getattr(get_format(data_format), "EVAL_SPLIT", None):
        source = cfg.get("dataset")  # a Hub dataset's held-out split (gsm8k's test)
    if not source:
        raise UserError(
            f"{run_dir}: the run has no held-out data file; pass --prompts FILE (one prompt a line, or "
            f".jsonl with a 'prompt' field) or --data PAIRS"
        )
    if prompt_only:
        return _held_out_prompt_rows(cfg, data_format, source), source
    rows, _ = load_pairs(
        data_format,
        source,
        split=cfg.get("eval_split", "test"),
        subset=cfg.get("subset") or None,
    )
    prompts, seen = [], set()
    for row in rows:
        messages = row.get("prompt")
        if not isinstance(messages, list) or not messages or messages[-1].get("role") != "user":
            continue
        prompt = Prompt([{"role": m["role"], "content": m["content"]} for m in messages], messages[-1]["content"])
        if prompt.key not in seen:
            seen.add(prompt.key)
            prompts.append(prompt)
    if not prompts:
        raise UserError(f"{source}: no held-out pair has a prompt ending in a user message; pass --prompts FILE")
    return prompts, source


def _held_out_prompt_rows(cfg: dict, data_format: str, source: str) -> list[Prompt]:
    """A prompt run's held-out prompts, each row's other columns kept as the judge's fields."""
    from trlrecipes.data.prompts import load_prompts

    split = cfg.get("eval_split") or "test"
    rows, _ = load_prompts(source, data_format=data_format, split=split, subset=cfg.get("subset") or None)
    prompts = []
    for row in rows:
        messages = [{"role": m["role"], "content": m["content"]} for m in row["prompt"]]
        fields = {key: value for key, value in row.items() if key != "prompt" and value is not None}
        prompts.append(Prompt(messages, messages[-1]["content"], fields))
    return prompts


def generate_pair(
    model, tokenizer, prompts: list[Prompt], *, max_new_tokens: int, samples: int, temperature: float, seed: int
) -> dict:
    """Trained and reference replies for a batch of prompts: texts, reply token counts (up to the end-of-turn
    token) and whether each reply was cut at max_new_tokens; `samples` replies per prompt, prompt-major."""
    from trlrecipes.tools.generate import check_context, decode_replies, generate_sides

    texts = [tokenizer.apply_chat_template(p.messages, add_generation_prompt=True, tokenize=False) for p in prompts]
    check_context(model, tokenizer, texts, max_new_tokens)
    decoding = (
        {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0, "num_return_sequences": samples}
        if temperature > 0
        else {"do_sample": False, "temperature": None, "top_k": None, "top_p": None}
    )
    generated = generate_sides(model, tokenizer, texts, {"max_new_tokens": max_new_tokens, **decoding}, seed=seed)
    return {name: decode_replies(model, tokenizer, rows, max_new_tokens) for name, rows in generated.items()}


def evaluate_generations(
    run_dir: Path,
    *,
    reward_spec: str | None = None,
    reward_model: str | None = None,
    reward=None,
    prompts_file: str | Path | None = None,
    data: str | None = None,
    max_rows: int = 0,
    samples: int = 1,
    temperature: float = 0.0,
    seed: int = 0,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    model_and_tokenizer=None,
    progress: bool = True,
    trust_remote_code: bool = False,
) -> dict:
    """Generate, judge and summarise; writes eval_generations.jsonl and returns the figures (eval.json's
    "generation")."""
    import math

    from tqdm.auto import tqdm

    from trlrecipes.tasks.judges import read_prompts
    from trlrecipes.tools.eval.judges import make_judge
    from trlrecipes.tools.eval.paired import is_binary, paired_accuracy, per_category
    from trlrecipes.tools.eval.winrate import summarize
    from trlrecipes.tools.loading import check_policy_run, load_policy, open_run

    if samples < 1 or max_new_tokens < 1 or batch_size < 1:
        raise UserError("--samples, --max-new-tokens and --batch-size must be at least 1")
    if not math.isfinite(temperature) or temperature < 0:
        raise UserError(f"--temperature {temperature}: must be 0 (greedy) or a finite number above 0 (e.g. 0.7)")
    if samples > 1 and temperature == 0:
        raise UserError(
            f"--samples {samples} with greedy decoding gives {samples} identical replies; set "
            f"--temperature above 0 (e.g. 0.7) to sample"
        )
    if prompts_file is not None and data is not None:
        raise UserError("pass --prompts FILE or --data PAIRS, not both")
    run_dir = Path(run_dir)
    cfg = open_run(run_dir)
    check_policy_run(run_dir, "eval --generate")
    if prompts_file is not None:
        prompts, source = read_prompts(prompts_file), str(prompts_file)
    else:
        prompts, source = held_out_prompts(run_dir, cfg, data)
    limit = max_rows or cfg.get("max_eval_rows") or 0
    prompts = prompts[:limit] if limit else prompts
    judge = make_judge(
        reward_spec=reward_spec,
        reward_model=reward_model,
        reward=reward,
        batch_size=batch_size,
        trust_remote_code=trust_remote_code,
    )
    model, tokenizer = model_and_tokenizer or load_policy(run_dir, cfg)

    start = time.monotonic()
    sides = {"trained": {"texts": [], "tokens": [], "cut": []}, "reference": {"texts": [], "tokens": [], "cut": []}}
    bar = tqdm(total=len(prompts), desc="eval --generate", unit="prompt", file=sys.stderr, disable=not progress)
    for first in range(0, len(prompts), batch_size):
        batch = prompts[first : first + batch_size]
        replies = generate_pair(
            model,
            tokenizer,
            batch,
            max_new_tokens=max_new_tokens,
            samples=samples,
            temperature=temperature,
            seed=seed + first,
        )
        for name, part in replies.items():
            for key in ("texts", "tokens", "cut"):
                sides[name][key] += part[key]
        bar.update(len(batch))
    bar.close()
    generation_seconds = time.monotonic() - start
    flat = [p for p in prompts for _ in range(samples)]
    # a judge that takes `truncated` learns which replies stopped at the cap (a verifier fails them)
    scores = {name: [float(s) for s in judge(flat, sides[name]["texts"], sides[name]["cut"])] for name in sides}
    explain = getattr(judge, "breakdown", None)
    details = {name: explain(flat, sides[name]["texts"], sides[name]["cut"]) if explain else None for name in sides}
    groups = [i // samples for i in range(len(flat))] if samples > 1 else None
    figures = summarize(
        scores["trained"],
        scores["reference"],
        sides["trained"]["tokens"],
        sides["reference"]["tokens"],
        groups=groups,
        seed=seed,
    )

    rows = []
    for i, prompt in enumerate(flat):
        row = {
            "prompt": prompt.text,
            "sample": i % samples,
            "reference": sides["reference"]["texts"][i],
            "trained": sides["trained"]["texts"][i],
            "reference_score": scores["reference"][i],
            "trained_score": scores["trained"][i],
            "reference_tokens": sides["reference"]["tokens"][i],
            "trained_tokens": sides["trained"]["tokens"][i],
            "reference_cut": sides["reference"]["cut"][i],
            "trained_cut": sides["trained"]["cut"][i],
        }
        if len(prompt.messages) > 1:
            row["conversation"] = prompt.messages
        if prompt.fields:
            row["fields"] = prompt.fields
        for name in ("reference", "trained"):
            if details[name] is not None:
                row[f"{name}_breakdown"] = details[name][i]
        rows.append(row)
    path = files.write_jsonl(run_dir / GENERATIONS_FILE, rows)
    n = len(flat)
    cut = {name: sum(sides[name]["cut"]) / n for name in sides}
    if max(cut.values()) > CUT_SHARE_LIMIT:
        figures["verdicts"] = figures["verdicts"] + [cut_verdict(cut, max_new_tokens)]
    if is_binary(scores["trained"], scores["reference"]):
        figures["paired"] = paired_accuracy(scores["trained"], scores["reference"], groups=groups, seed=seed)
        if details["trained"] is not None:
            figures["paired"]["per_category"] = per_category(details["trained"], details["reference"], seed=seed)
    return {
        "run": str(run_dir),
        "judge": getattr(judge, "name", str(judge)),
        "prompts": len(prompts),
        "source": source,
        "samples": samples,
        "decoding": "greedy" if temperature == 0 else f"sampled, temperature {temperature:g}",
        "seed": seed,
        "max_new_tokens": max_new_tokens,
        **figures,
        "reference_cut_share": cut["reference"],
        "trained_cut_share": cut["trained"],
        "generation_seconds": round(generation_seconds, 1),
        "generations_file": str(path),
    }


def cut_verdict(cut: dict, max_new_tokens: int) -> dict:
    return {
        "code": "replies_cut",
        "message": (
            f"{max(cut.values()):.0%} of the replies stopped at --max-new-tokens {max_new_tokens} before the end of "
            f"their turn (reference {cut['reference']:.0%}, trained {cut['trained']:.0%})"
        ),
        "cause": "the judge scored cut-off text: a rule on length or ending passes or fails on a fragment",
        "fix": f"rerun with a larger --max-new-tokens (e.g. {max_new_tokens * 2}) so that most replies end",
    }


def format_paired(paired: dict) -> list[str]:
    """The paired lines of a 0/1 judge: accuracies, difference with its interval, discordant prompts, per kind."""
    low, high = paired["accuracy_difference_ci95"]
    test = f", McNemar exact p = {paired['mcnemar_p']:.3g}" if "mcnemar_p" in paired else ""
    lines = [
        f"verifier accuracy: reference {paired['reference_accuracy']:.3f} -> trained "
        f"{paired['trained_accuracy']:.3f}; difference {paired['accuracy_difference']:+.3f}, "
        f"95% CI [{low:+.3f}, {high:+.3f}] ({paired['verdict']})",
        f"  prompts passed by the trained reply only: {paired['only_trained_passed']}, by the reference only: "
        f"{paired['only_reference_passed']}, by both: {paired['both_passed']}, by neither: "
        f"{paired['neither_passed']}{test}",
    ]
    table = paired.get("per_category") or {}
    if table:
        width = max(len(name) for name in table)
        lines.append(f"  {'per kind':<{width}}  {'n':>4}  {'reference':>9}  {'trained':>8}  95% CI of the difference")
        for name, row in table.items():
            lo, hi = row["difference_ci95"]
            lines.append(
                f"  {name:<{width}}  {row['n']:>4}  {row['reference']:>9.2f}  {row['trained']:>8.2f}  "
                f"[{lo:+.2f}, {hi:+.2f}]"
            )
    return lines


def format_generation_metrics(result: dict) -> str:
    from trlrecipes.monitor.health import Verdict, format_verdict

    def ci(key):
        low, high = result[key]
        return f"[{low:.2f}, {high:.2f}]"

    lines = [
        f"judged generations: {result['prompts']} prompts ({result['source']}) x {result['samples']} "
        f"({result['decoding']}, max {result['max_new_tokens']} new tokens); judge {result['judge']}",
        f"{'':<12}{'mean score':>12}{'95% CI':>16}{'reply tokens':>14}{'cut':>8}",
        f"{'reference':<12}{result['reference_score_mean']:>12.3f}{ci('reference_score_ci95'):>16}"
        f"{result['reference_tokens_mean']:>14.1f}{result['reference_cut_share']:>8.0%}",
        f"{'trained':<12}{result['trained_score_mean']:>12.3f}{ci('trained_score_ci95'):>16}"
        f"{result['trained_tokens_mean']:>14.1f}{result['trained_cut_share']:>8.0%}",
        f"trained vs reference: {result['wins']} wins, {result['ties']} ties, {result['losses']} losses; "
        f"win rate {result['win_rate']:.3f} {ci('win_rate_ci95')} (ties count half), length-controlled "
        f"{result['lc_win_rate']:.3f} {ci('lc_win_rate_ci95')}",
    ]
    if result.get("length_change") is not None:
        lines.append(f"reply length change: {result['length_change']:+.0%}")
    if result.get("paired"):
        lines += format_paired(result["paired"])
    for verdict in result["verdicts"]:
        lines.append(
            format_verdict(Verdict(verdict["code"], 0, verdict["message"], verdict["cause"], verdict["fix"])).replace(
                " (step 0)", ""
            )
        )
    lines.append(f"replies: {result['generations_file']}")
    return "\n".join(lines)
