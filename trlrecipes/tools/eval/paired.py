"""The paired answer for a 0/1 judge (a verifier): each side's accuracy, their difference, and its interval.

The trained and the reference reply to the same prompt are judged on the same prompt, so the comparison is paired:
what matters is the prompts where exactly one side passed (b: only the trained reply passed, c: only the reference's).
Pure functions over plain lists, so every figure can be checked by hand:

* accuracy of each side: the share of replies judged 1;
* difference: trained - reference accuracy = (b - c) / n;
* a 95 % interval of the difference: a percentile bootstrap over prompts (seeded; with several samples per prompt
  the prompts are resampled, not the single replies, as in winrate.py);
* an exact McNemar test: under "no difference" each discordant prompt is as likely to favour either side, so b is
  Binomial(b + c, 1/2); the two-sided p-value sums the probabilities of outcomes at most as likely as the one seen.
  With several samples per prompt, the per-prompt mean accuracies are compared instead (the bootstrap only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from trlrecipes.tools.eval.winrate import BOOTSTRAP_RESAMPLES, mean_interval


def is_binary(*score_lists: Sequence[float]) -> bool:
    """Every score 0 or 1: a verifier's pass/fail."""
    return all(score in (0.0, 1.0) for scores in score_lists for score in scores)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant pairs."""
    n = b + c
    if n == 0:
        return 1.0
    probabilities = [math.comb(n, k) / 2**n for k in range(n + 1)]
    observed = probabilities[b]
    return min(1.0, sum(p for p in probabilities if p <= observed * (1 + 1e-9)))


def paired_accuracy(
    trained: Sequence[float],
    reference: Sequence[float],
    *,
    groups: Sequence | None = None,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict:
    """Accuracies, difference, its 95 % bootstrap interval, discordant counts and McNemar's p (one sample a
    prompt). `groups`: the prompt of each comparison when there are several samples per prompt."""
    if len(trained) != len(reference) or not trained:
        raise ValueError("trained and reference scores must be non-empty and of the same length")
    n = len(trained)
    differences = [t - r for t, r in zip(trained, reference, strict=True)]
    low, high = mean_interval(differences, groups=groups, seed=seed, resamples=resamples)
    only_trained = sum(1 for t, r in zip(trained, reference, strict=True) if t > r)
    only_reference = sum(1 for t, r in zip(trained, reference, strict=True) if r > t)
    result = {
        "trained_accuracy": sum(trained) / n,
        "reference_accuracy": sum(reference) / n,
        "accuracy_difference": sum(differences) / n,
        "accuracy_difference_ci95": [low, high],
        "only_trained_passed": only_trained,
        "only_reference_passed": only_reference,
        "both_passed": sum(1 for t, r in zip(trained, reference, strict=True) if t == r == 1.0),
        "neither_passed": sum(1 for t, r in zip(trained, reference, strict=True) if t == r == 0.0),
        "interval": "percentile bootstrap over prompts, 95 %",
    }
    if groups is None:
        result["mcnemar_p"] = mcnemar_exact(only_trained, only_reference)
    result["verdict"] = verdict(result)
    return result


def verdict(result: dict) -> str:
    """One word on the difference: 'better' or 'worse' when the interval excludes zero, else 'no clear change'."""
    low, high = result["accuracy_difference_ci95"]
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "no clear change"


def per_category(
    trained: list[dict] | None, reference: list[dict] | None, *, seed: int = 0, resamples: int = 1000
) -> dict:
    """From per-reply {category: met} (e.g. each instruction kind a prompt asks for): each category's share met by
    each side over the prompts that ask for it, and the paired difference with its interval."""
    if not trained or not reference:
        return {}
    table = {}
    categories = sorted({name for row in trained + reference for name in row})
    for name in categories:
        pairs = [(t[name], r[name]) for t, r in zip(trained, reference, strict=True) if name in t and name in r]
        if not pairs:
            continue
        t_scores = [float(t) for t, _ in pairs]
        r_scores = [float(r) for _, r in pairs]
        low, high = mean_interval([t - r for t, r in pairs], seed=seed, resamples=resamples)
        table[name] = {
            "n": len(pairs),
            "trained": sum(t_scores) / len(pairs),
            "reference": sum(r_scores) / len(pairs),
            "difference_ci95": [low, high],
        }
    return table
