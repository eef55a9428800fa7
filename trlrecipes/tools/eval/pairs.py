"""Held-out evaluation of a finished run, as in the DPO literature.

For each pair the implicit reward of a reply is beta * (log pi(reply | prompt) - log pi_ref(reply | prompt)), with
log-probabilities summed over the reply tokens only (the prompt masked) and pi_ref = the same model with the LoRA
adapter disabled. Reported: accuracy (share of pairs with chosen reward > rejected reward; ties are counted
apart, since at step 0 every reward is exactly 0), mean margin, mean chosen/rejected rewards.

ORPO has no reference model, so ORPO runs report its own criterion instead: the share of pairs whose log odds
ratio (average per-token log-probabilities, as ORPO defines it) favours chosen, for the trained model and for the
base model.

Prompts and replies are rendered with the run's own tokenizer and chat template and split into prompt and
completion tokens exactly as TRL's DPOTrainer does (completion = tokens after the common prefix). A pair whose
prompt alone fills max_length is dropped and counted, as TRL's DPO and KTO trainers drop it (keep_start
truncation would leave it no reply tokens, and scoring it would count a tie that training never saw).

The reference row is computed from the same measured log-probabilities with the reference in the policy's seat;
the implicit reward of the reference against itself is zero by definition, so that row is what a run at step 0
shows (accuracy 0, ties 1). Its likelihood check (ORPO-style log odds of chosen vs rejected) is a real property of
the base model and is shown beside the trained model's. Per-pair values go to eval_pairs.jsonl.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from trlrecipes.errors import UserError
from trlrecipes.run.record import EVAL_PAIRS, RunRecord
from trlrecipes.tools.loading import load_policy, open_run

# eval.json figures that go to the run's tracker (TensorBoard/trackio) as heldout/<key>
TRACKED = (
    "accuracy",
    "ties",
    "margin",
    "chosen_reward",
    "rejected_reward",
    "base_accuracy",
    "odds_accuracy",
    "win_rate",
)


@dataclass
class PairScores:
    """Summed and per-token-averaged reply log-probabilities under the policy and the reference."""

    policy_chosen: float
    policy_rejected: float
    ref_chosen: float
    ref_rejected: float
    chosen_tokens: int
    rejected_tokens: int


def tokenize_pair(tokenizer, row: dict, max_length: int | None):
    """(prompt_ids, chosen_ids, rejected_ids) split as TRL's DPOTrainer does, truncated keep_start as its collator."""
    from trlrecipes.data.inspect import tokenize_pair as trl_split

    ids = trl_split(row, tokenizer)
    prompt, chosen, rejected = ids["prompt_ids"], ids["chosen_ids"], ids["rejected_ids"]
    if max_length:
        room = max(0, max_length - len(prompt))
        prompt, chosen, rejected = prompt[:max_length], chosen[:room], rejected[:room]
    return prompt, chosen, rejected


def _completion_logits(model, input_ids, attention, positions):
    """Logits at `positions` (a boolean [batch, length] mask) only: the vocabulary projection, the costliest
    layer of a small model, is applied where a reply token is predicted instead of at every position."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = base.get_decoder(), base.get_output_embeddings()
    if decoder is None or head is None:  # an architecture without the usual decoder/head split
        return model(input_ids=input_ids, attention_mask=attention).logits[positions]
    hidden = decoder(input_ids=input_ids, attention_mask=attention).last_hidden_state
    return head(hidden[positions])


def _sequence_logps(model, sequences: list[tuple[list[int], list[int]]], pad_id: int) -> list[float]:
    """Summed log-probability of each completion given its prompt, for a batch of (prompt, completion)."""
    import torch

    device = next(model.parameters()).device
    length = max(len(p) + len(c) for p, c in sequences)
    input_ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    predicts_reply = torch.zeros_like(input_ids, dtype=torch.bool)  # position t predicts token t + 1, a reply token
    for i, (prompt, completion) in enumerate(sequences):
        ids = prompt + completion
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        predicts_reply[i, max(len(prompt) - 1, 0) : len(ids) - 1] = True
    input_ids, attention, predicts_reply = input_ids.to(device), attention.to(device), predicts_reply.to(device)
    targets = torch.roll(input_ids, shifts=-1, dims=1)[predicts_reply]
    with torch.inference_mode():
        logits = _completion_logits(model, input_ids, attention, predicts_reply).float()
        token_logps = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        owner = predicts_reply.nonzero()[:, 0]  # the sequence each selected position belongs to
        sums = torch.zeros(len(sequences), device=device).index_add_(0, owner, token_logps)
    return sums.tolist()


def score_pairs(model, tokenizer, rows, max_length: int | None, batch_size: int = 8) -> list[PairScores]:
    """Policy and reference log-probabilities of every pair's replies. Each distinct (prompt, reply) sequence is
    scored once (held-out sets often repeat a chosen reply across pairs), in batches of similar length so that
    little of the compute goes to padding; `batch_size` counts pairs (2 sequences each)."""
    pairs = [tokenize_pair(tokenizer, row, max_length) for row in rows]
    index: dict[tuple, int] = {}
    for prompt, chosen, rejected in pairs:
        for completion in (chosen, rejected):
            index.setdefault((tuple(prompt), tuple(completion)), len(index))
    unique = list(index)
    order = sorted(range(len(unique)), key=lambda i: len(unique[i][0]) + len(unique[i][1]))
    policy, reference = [0.0] * len(unique), [0.0] * len(unique)
    step = max(1, 2 * batch_size)
    for start in range(0, len(order), step):
        members = order[start : start + step]
        sequences = [(list(unique[i][0]), list(unique[i][1])) for i in members]
        for i, value in zip(members, _sequence_logps(model, sequences, tokenizer.pad_token_id), strict=True):
            policy[i] = value
        with model.disable_adapter():
            for i, value in zip(members, _sequence_logps(model, sequences, tokenizer.pad_token_id), strict=True):
                reference[i] = value
    scores = []
    for prompt, chosen, rejected in pairs:
        c, r = index[(tuple(prompt), tuple(chosen))], index[(tuple(prompt), tuple(rejected))]
        scores.append(PairScores(policy[c], policy[r], reference[c], reference[r], len(chosen), len(rejected)))
    return scores


PAIRS_FILE = EVAL_PAIRS


def prompt_fills_max_length(
    tokenizer, rows, max_length: int | None, truncation_mode: str = "keep_start"
) -> list[bool]:
    """Per row: would TRL drop it? (DPOTrainer/KTOTrainer keep a row only if len(prompt_ids) < max_length under
    keep_start truncation.)"""
    from trlrecipes.data.inspect import tokenize_pair as trl_split

    if not max_length or truncation_mode != "keep_start":
        return [False] * len(rows)
    return [len(trl_split(row, tokenizer)["prompt_ids"]) >= max_length for row in rows]


def reference_scores(scores: list[PairScores]) -> list[PairScores]:
    """The reference as the policy: its implicit reward against itself (zero by definition, measured here)."""
    return [
        PairScores(s.ref_chosen, s.ref_rejected, s.ref_chosen, s.ref_rejected, s.chosen_tokens, s.rejected_tokens)
        for s in scores
    ]


def pair_rows(rows, scores: list[PairScores], beta: float) -> list[dict]:
    """One line of eval_pairs.jsonl per scored pair."""
    out = []
    for row, s in zip(rows, scores, strict=True):
        chosen, rejected = beta * (s.policy_chosen - s.ref_chosen), beta * (s.policy_rejected - s.ref_rejected)
        prompt = row.get("prompt") or []
        out.append(
            {
                "prompt": prompt[-1]["content"] if prompt else "",
                "chosen_reward": chosen,
                "rejected_reward": rejected,
                "margin": chosen - rejected,
                "outcome": "win" if chosen > rejected else "tie" if chosen == rejected else "loss",
                "policy_chosen_logp": s.policy_chosen,
                "policy_rejected_logp": s.policy_rejected,
                "ref_chosen_logp": s.ref_chosen,
                "ref_rejected_logp": s.ref_rejected,
                "chosen_tokens": s.chosen_tokens,
                "rejected_tokens": s.rejected_tokens,
            }
        )
    return out


def dpo_metrics(scores: list[PairScores], beta: float) -> dict:
    chosen = [beta * (s.policy_chosen - s.ref_chosen) for s in scores]
    rejected = [beta * (s.policy_rejected - s.ref_rejected) for s in scores]
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    n = len(scores)
    return {
        "criterion": "implicit reward beta*(log pi - log pi_ref), reply tokens only",
        "pairs": n,
        "beta": beta,
        "accuracy": sum(m > 0 for m in margins) / n,
        "ties": sum(m == 0 for m in margins) / n,
        "margin": sum(margins) / n,
        "chosen_reward": sum(chosen) / n,
        "rejected_reward": sum(rejected) / n,
        "odds_accuracy": odds_preference(scores, policy=True)[0],
        "base_odds_accuracy": odds_preference(scores, policy=False)[0],
    }


def _log_odds(avg_logp: float) -> float:
    """log(p / (1 - p)) for p = exp(avg_logp), computed stably (avg_logp < 0)."""
    return avg_logp - math.log(-math.expm1(min(avg_logp, -1e-9)))


def odds_preference(scores: list[PairScores], policy: bool) -> tuple[float, float]:
    """Share of pairs whose log odds ratio (average per-token log-probabilities) favours chosen, and its mean."""
    ratios = []
    for s in scores:
        c = (s.policy_chosen if policy else s.ref_chosen) / max(s.chosen_tokens, 1)
        r = (s.policy_rejected if policy else s.ref_rejected) / max(s.rejected_tokens, 1)
        ratios.append(_log_odds(c) - _log_odds(r))
    return sum(x > 0 for x in ratios) / len(ratios), sum(ratios) / len(ratios)


def orpo_metrics(scores: list[PairScores]) -> dict:
    trained_acc, trained_ratio = odds_preference(scores, policy=True)
    base_acc, base_ratio = odds_preference(scores, policy=False)
    return {
        "criterion": "ORPO log odds ratio (average per-token log-probabilities) favours chosen",
        "pairs": len(scores),
        "accuracy": trained_acc,
        "mean_log_odds_ratio": trained_ratio,
        "base_accuracy": base_acc,
        "base_mean_log_odds_ratio": base_ratio,
    }


def evaluate_run(
    run_dir: Path, data: str | None = None, *, max_rows: int = 0, batch_size: int = 8, model_and_tokenizer=None
) -> dict:
    """Evaluate a finished run on held-out pairs (the run's eval data unless `data` is given)."""
    from trlrecipes.data import load_pairs
    from trlrecipes.data.common import default_eval_source

    if max_rows < 0:
        raise UserError(f"--max-rows {max_rows}: must be 0 (the run's max_eval_rows) or a positive number of pairs")
    if batch_size < 1:
        raise UserError(f"--batch-size {batch_size}: must be at least 1")
    run_dir = Path(run_dir)
    cfg = open_run(run_dir)
    from trlrecipes.data import is_prompt_only

    if data is None and is_prompt_only(cfg.get("data_format", "hh-rlhf")):
        judge = cfg.get("eval_reward") or "file.py:fn"
        raise UserError(
            f"{run_dir} trained on prompts, so it has no held-out pairs for the implicit reward; judge its replies: "
            f"trlrecipes eval {run_dir} --generate --reward {judge} (or pass --data PAIRS)"
        )
    source = data or cfg.get("eval_dataset") or default_eval_source(cfg.get("dataset", ""))
    if not source:
        raise UserError(f"{run_dir}: the run has no held-out data; pass --data PATH")
    data_format = cfg.get("data_format", "hh-rlhf")
    rows, summary = load_pairs(
        data_format, source, split=cfg.get("eval_split", "test"), subset=cfg.get("subset") or None
    )
    limit = max_rows or cfg.get("max_eval_rows") or 0
    if limit and len(rows) > limit:
        rows = rows.select(range(limit))
    from trlrecipes.tools.eval.criteria import method_metrics, reward_model_metrics

    method = RunRecord(run_dir).method
    if method == "RM":  # a reward model judges the pairs itself: there is no policy to load
        return {
            "run": str(run_dir),
            "method": method,
            "data": source,
            "skipped": summary.skipped,
            **reward_model_metrics(run_dir, list(rows), batch_size),
        }
    model, tokenizer = model_and_tokenizer or load_policy(run_dir, cfg)
    rows = list(rows)
    max_length = cfg.get("max_length")
    # TRL's DPO and KTO trainers drop pairs whose prompt alone fills max_length; the reference-free ones do not
    drops = method in ("DPO", "IPO", "RPO", "KTO")
    dropped = (
        prompt_fills_max_length(tokenizer, rows, max_length, cfg.get("truncation_mode", "keep_start"))
        if drops
        else [False] * len(rows)
    )
    kept = [row for row, drop in zip(rows, dropped, strict=True) if not drop]
    if not kept:
        raise UserError(
            f"all {len(rows)} held-out pairs have a prompt that fills max_length={max_length} (TRL drops "
            f"them); nothing to evaluate: raise max_length or pass other --data"
        )
    scores = score_pairs(model, tokenizer, kept, max_length, batch_size)
    beta = float(cfg.get("beta", 0.1))
    metrics = method_metrics(method, scores, cfg)
    if metrics is None and method == "ORPO":
        metrics = orpo_metrics(scores)
    elif metrics is None:
        metrics = dpo_metrics(scores, beta)
        reference = dpo_metrics(reference_scores(scores), beta)
        metrics["reference"] = {
            key: reference[key]
            for key in ("accuracy", "ties", "margin", "chosen_reward", "rejected_reward", "odds_accuracy")
        }
    return {
        "run": str(run_dir),
        "method": method,
        "data": source,
        "skipped": summary.skipped,
        "dropped_prompt_fills_max_length": sum(dropped),
        **metrics,
        "per_pair": pair_rows(kept, scores, beta if method != "ORPO" else 1.0),
    }


def format_metrics(result: dict) -> str:
    lines = [
        f"{result['method']} run {result['run']} on {result['pairs']} held-out pairs ({result['data']})",
        f"criterion: {result['criterion']}",
    ]
    if result.get("dropped_prompt_fills_max_length"):
        lines.append(
            f"dropped {result['dropped_prompt_fills_max_length']} pairs whose prompt alone fills max_length "
            f"(TRL drops them in training too)"
        )
    from trlrecipes.tools.eval.criteria import method_lines

    if method_lines(result):  # SimPO, SFT, reward model
        lines += method_lines(result)
    elif "margin" in result:
        ref = result["reference"]
        lines += [
            f"{'':<12}{'accuracy':>10}{'ties':>8}{'margin':>10}{'chosen':>10}{'rejected':>10}",
            f"{'reference':<12}{ref['accuracy']:>10.3f}{ref['ties']:>8.2f}{ref['margin']:>10.3f}"
            f"{ref['chosen_reward']:>10.3f}{ref['rejected_reward']:>10.3f}",
            f"{'trained':<12}{result['accuracy']:>10.3f}{result['ties']:>8.2f}{result['margin']:>10.3f}"
            f"{result['chosen_reward']:>10.3f}{result['rejected_reward']:>10.3f}",
            f"likelihood check (ORPO-style log odds favour chosen): base {result['base_odds_accuracy']:.3f}"
            f" -> trained {result['odds_accuracy']:.3f}",
        ]
    else:
        lines += [
            f"{'':<12}{'accuracy':>10}{'mean log odds ratio':>22}",
            f"{'base':<12}{result['base_accuracy']:>10.3f}{result['base_mean_log_odds_ratio']:>22.3f}",
            f"{'trained':<12}{result['accuracy']:>10.3f}{result['mean_log_odds_ratio']:>22.3f}",
        ]
    return "\n".join(lines)


def public(result: dict) -> dict:
    """The figures without the per-pair rows (those go to eval_pairs.jsonl)."""
    return {key: value for key, value in result.items() if key != "per_pair"}


def save_metrics(run_dir: Path, result: dict, key: str | None = None) -> Path:
    """Merge `result` into eval.json (under `key` when given: "generation" for judged generations, "bench" for
    eval --bench), so each kind of evaluation refreshes its own figures; per-pair rows go to eval_pairs.jsonl. Then
    the model card and the run's local trackers get the new figures."""
    record = RunRecord(run_dir)
    path = record.save_evaluation(public(result), key=key, rows=None if key else result.get("per_pair"))
    from trlrecipes.monitor.trackers import log_after_training
    from trlrecipes.run.card import refresh_card

    refresh_card(run_dir)  # the card's figures now include this evaluation
    stored = record.evaluation()
    tracked = {**stored, **stored.get("generation", {})}  # the judged win rate too, when eval --generate wrote it
    log_after_training(run_dir, {key: tracked[key] for key in TRACKED if key in tracked})  # report_to's local trackers
    return path
