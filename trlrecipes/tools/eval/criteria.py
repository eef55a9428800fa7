"""What `trlrecipes eval` reports for the methods whose criterion is not DPO's implicit reward (see pairs.py):

SimPO  reference-free: the share of held-out pairs whose length-normalised reward beta * (mean token log-prob)
       ranks chosen above rejected, its mean margin and the share past the target margin gamma; trained vs base
SFT    the mean negative log-likelihood per reply token of the held-out chosen (and rejected) replies, trained
       vs base: SFT should lower it on chosen replies
RM     the reward model scores both replies of each held-out pair (as a judge would, tools/eval/judges.RewardModel):
       the share of pairs it ranks chosen above rejected, ties, mean margin
"""

from __future__ import annotations


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def _normalised(scores, policy: bool) -> list[tuple[float, float]]:
    """(chosen, rejected) mean token log-probabilities of each pair, under the policy or the base model."""
    return [
        (
            (s.policy_chosen if policy else s.ref_chosen) / max(s.chosen_tokens, 1),
            (s.policy_rejected if policy else s.ref_rejected) / max(s.rejected_tokens, 1),
        )
        for s in scores
    ]


def simpo_metrics(scores, beta: float, gamma: float) -> dict:
    result = {
        "criterion": "SimPO reward beta * mean token log-prob ranks chosen above rejected (no reference)",
        "pairs": len(scores),
        "beta": beta,
        "simpo_gamma": gamma,
    }
    for prefix, policy in (("", True), ("base_", False)):
        margins = [beta * (c - r) for c, r in _normalised(scores, policy)]
        result |= {
            f"{prefix}accuracy": _mean(m > 0 for m in margins),
            f"{prefix}margin": _mean(margins),
            f"{prefix}past_gamma": _mean(m > gamma for m in margins),
        }
    return result


def sft_metrics(scores) -> dict:
    result = {
        "criterion": "mean NLL per reply token of the held-out replies (lower = more likely)",
        "pairs": len(scores),
    }
    for prefix, policy in (("", True), ("base_", False)):
        pairs = _normalised(scores, policy)
        result |= {
            f"{prefix}chosen_nll": -_mean(c for c, _ in pairs),
            f"{prefix}rejected_nll": -_mean(r for _, r in pairs),
        }
    return result


def _judged(row: dict, reply: str):
    """(Prompt, reply text) of one side of a pair, as tools/synth's reward model scores it."""
    from trlrecipes.tasks.judges import Prompt

    prompt, turns = row["prompt"], row[reply]
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if isinstance(turns, str):
        return Prompt(messages, messages[-1]["content"]), turns
    messages += list(turns[:-1])  # a completion of several turns: all but the last reply join the conversation
    return Prompt(messages, messages[-1]["content"]), turns[-1]["content"]


def reward_model_metrics(run_dir, rows, batch_size: int = 8) -> dict:
    from trlrecipes.tools.eval.judges import RewardModel

    judge = RewardModel(str(run_dir), batch_size=batch_size)
    sides = {}
    for reply in ("chosen", "rejected"):
        prompts, texts = zip(*(_judged(row, reply) for row in rows), strict=True)
        sides[reply] = judge(list(prompts), list(texts))
    margins = [c - r for c, r in zip(sides["chosen"], sides["rejected"], strict=True)]
    return {
        "criterion": "reward model scores chosen above rejected",
        "pairs": len(margins),
        "accuracy": _mean(m > 0 for m in margins),
        "ties": _mean(m == 0 for m in margins),
        "margin": _mean(margins),
        "chosen_score": _mean(sides["chosen"]),
        "rejected_score": _mean(sides["rejected"]),
    }


def method_metrics(method: str, scores, cfg: dict) -> dict | None:
    """The criterion of SimPO and SFT runs from the scored pairs; None for the methods pairs.py reports itself."""
    if method == "SimPO":
        return simpo_metrics(scores, float(cfg.get("beta", 2.5)), float(cfg.get("simpo_gamma", 0.5)))
    return sft_metrics(scores) if method == "SFT" else None


def method_lines(result: dict) -> list[str] | None:
    """The table of `trlrecipes eval` for a SimPO, SFT or reward-model result; None for the others."""
    if "past_gamma" in result:
        head = f"{'':<12}{'accuracy':>10}{'margin':>10}{'> gamma':>10}"
        return [head] + [
            f"{name:<12}{result[p + 'accuracy']:>10.3f}{result[p + 'margin']:>10.3f}{result[p + 'past_gamma']:>10.2f}"
            for name, p in (("base", "base_"), ("trained", ""))
        ]
    if "chosen_nll" in result:
        head = f"{'':<12}{'chosen NLL':>12}{'rejected NLL':>14}"
        return [head] + [
            f"{name:<12}{result[p + 'chosen_nll']:>12.3f}{result[p + 'rejected_nll']:>14.3f}"
            for name, p in (("base", "base_"), ("trained", ""))
        ]
    if result.get("method") == "RM":
        return [
            f"{'':<12}{'accuracy':>10}{'ties':>8}{'margin':>10}{'chosen':>10}{'rejected':>10}",
            f"{'reward model':<12}{result['accuracy']:>10.3f}{result['ties']:>8.2f}{result['margin']:>10.3f}"
            f"{result['chosen_score']:>10.3f}{result['rejected_score']:>10.3f}",
        ]
    return None
