"""Win rate of trained vs reference replies: counts, a bootstrap interval, length control and a length verdict.

Pure functions over plain lists (numpy inside), so every figure `eval --generate` reports can be checked by hand.

* Outcome of one comparison: 1 when the trained reply scores higher, 0 when lower, 0.5 for a tie (ties count half,
  as in AlpacaEval and MT-Bench pairwise).
* Win rate: the mean outcome. Its 95 % interval is a percentile bootstrap (seeded, so a rerun prints the same
  interval); with several samples per prompt the prompts are resampled, not the single comparisons, because
  samples of one prompt are not independent.
* Length-controlled win rate (AlpacaEval 2, Dubois et al. 2024): a logistic model of the outcome on the
  normalised length difference, x = tanh((trained_tokens - reference_tokens) / std), read at x = 0, i.e. the win
  rate the judge would give if both replies were equally long. A slope penalty keeps the fit finite when length
  separates wins from losses perfectly; the intercept is not penalised, so it is not pulled towards 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

# The raw win rate "clearly exceeds" the length-controlled one when the gap is above 10 points: AlpacaEval 2 moved
# most models by a few points between raw and LC win rate; a 10-point gap means length alone explains a large part
# of the wins, more than bootstrap noise on a few hundred prompts (interval half-width ~5 points at n = 400).
LC_GAP = 0.10
# Trained replies "grow" when their mean token count is 20 % above the reference's: DPO's length exploitation
# roughly doubles reply length (Park et al. 2024, "Disentangling Length from Quality in DPO"); greedy decoding of
# the same model varies far less than 20 % between two close checkpoints, so a larger change is the training's doing.
LENGTH_GROWTH = 0.20
SLOPE_PENALTY = 1e-3  # L2 on the slope, per comparison: finite slope under perfect separation, no visible bias
BOOTSTRAP_RESAMPLES = 2000


def outcomes(trained: Sequence[float], reference: Sequence[float], tie_tolerance: float = 0.0) -> list[float]:
    """1 / 0.5 / 0 per comparison: trained scores above / within `tie_tolerance` of / below the reference."""
    if len(trained) != len(reference):
        raise ValueError("trained and reference scores must have the same length")
    return [0.5 if abs(t - r) <= tie_tolerance else float(t > r) for t, r in zip(trained, reference, strict=True)]


def counts(results: Sequence[float]) -> dict:
    return {
        "wins": sum(1 for o in results if o == 1.0),
        "ties": sum(1 for o in results if o == 0.5),
        "losses": sum(1 for o in results if o == 0.0),
    }


def win_rate(results: Sequence[float]) -> float:
    if not results:
        raise ValueError("no comparisons")
    return sum(results) / len(results)


def _resample_indices(n: int, groups: Sequence | None, resamples: int, seed: int):
    """Index arrays of `resamples` bootstrap draws: single items, or whole groups (e.g. prompts) when given."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if groups is None:
        return [rng.integers(0, n, n) for _ in range(resamples)]
    members: dict = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    blocks = [np.array(m) for m in members.values()]
    draws = []
    for _ in range(resamples):
        picked = rng.integers(0, len(blocks), len(blocks))
        draws.append(np.concatenate([blocks[j] for j in picked]))
    return draws


def bootstrap_interval(
    statistic: Callable,
    n: int,
    *,
    groups: Sequence | None = None,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of `statistic(indices)` over bootstrap resamples of range(n)."""
    import numpy as np

    values = np.array([statistic(idx) for idx in _resample_indices(n, groups, resamples, seed)])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def mean_interval(values: Sequence[float], **kwargs) -> tuple[float, float]:
    """Bootstrap interval of a mean (a win rate, or the mean verifier score = task accuracy)."""
    import numpy as np

    array = np.asarray(values, dtype=float)
    return bootstrap_interval(lambda idx: array[idx].mean(), len(array), **kwargs)


def length_feature(trained_tokens: Sequence[float], reference_tokens: Sequence[float]) -> list[float]:
    """tanh(difference / its standard deviation), AlpacaEval 2's bounded length term; 0 where lengths are equal."""
    diffs = [t - r for t, r in zip(trained_tokens, reference_tokens, strict=True)]
    mean = sum(diffs) / len(diffs)
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / len(diffs)) or 1.0
    return [math.tanh(d / std) for d in diffs]


def fit_logistic(x: Sequence[float], y: Sequence[float], slope_penalty: float = SLOPE_PENALTY) -> tuple[float, float]:
    """(intercept, slope) maximising the mean Bernoulli log-likelihood of targets y in [0, 1] (ties are 0.5) minus
    slope_penalty / 2 * slope ** 2, by Newton's method (the objective is concave: it converges in a few steps)."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    design = np.stack([np.ones_like(x), x], axis=1)
    penalty = np.diag([0.0, slope_penalty])
    theta = np.zeros(2)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(design @ theta)))
        gradient = design.T @ (y - p) / len(x) - penalty @ theta
        hessian = -(design.T * (p * (1 - p))) @ design / len(x) - penalty
        hessian -= 1e-12 * np.eye(2)  # all-equal x (no length signal): the slope column is then only the penalty
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(theta[0]), float(theta[1])


def length_controlled_win_rate(
    results: Sequence[float], trained_tokens: Sequence[float], reference_tokens: Sequence[float]
) -> float:
    """The fitted win probability at zero length difference. All outcomes equal: that outcome (the likelihood
    has no finite maximum then, and no length adjustment can change a unanimous result)."""
    if len(set(results)) == 1:
        return float(results[0])
    intercept, _ = fit_logistic(length_feature(trained_tokens, reference_tokens), results)
    return 1 / (1 + math.exp(-intercept))


def length_verdicts(raw: float, lc: float, reference_tokens_mean: float, trained_tokens_mean: float) -> list[dict]:
    """A `length_exploitation` verdict (code, message, cause, fix) when length explains the win, else none."""
    growth = trained_tokens_mean / reference_tokens_mean - 1 if reference_tokens_mean > 0 else 0.0
    signs = []
    # length explains the wins and the trained replies are the longer ones: exploitation. (When shorter trained
    # replies win, e.g. under a verifier of length limits, length explains the wins too, but nothing was exploited.)
    if raw - lc > LC_GAP and growth > 0:
        signs.append(f"the raw win rate {raw:.2f} exceeds the length-controlled {lc:.2f} by more than {LC_GAP:.2f}")
    if growth > LENGTH_GROWTH:
        signs.append(
            f"trained replies are {growth:+.0%} longer than the reference's ({trained_tokens_mean:.1f} vs "
            f"{reference_tokens_mean:.1f} tokens; threshold +{LENGTH_GROWTH:.0%})"
        )
    if not signs:
        return []
    return [
        {
            "code": "length_exploitation",
            "message": "; ".join(signs),
            "cause": "DPO-style training raises the likelihood of whatever separates chosen from rejected, and in "
            "most preference data the chosen reply is longer; the policy learns to be long, and a judge "
            "that likes long replies (most reward models do) rewards it.",
            "fix": "Read the length-controlled win rate, not the raw one; length-balance the pairs (`trlrecipes "
            "data inspect` shows chosen-longer shares) or drop pairs whose only difference is length; raise "
            "beta, or add a length-normalised loss (SimPO, or DPO with ld_alpha / loss_type ['sigmoid', "
            "'sft']); judge with a length-penalised reward.",
        }
    ]


def summarize(
    trained_scores: Sequence[float],
    reference_scores: Sequence[float],
    trained_tokens: Sequence[int],
    reference_tokens: Sequence[int],
    *,
    groups: Sequence | None = None,
    seed: int = 0,
    tie_tolerance: float = 0.0,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict:
    """Every figure of a trained-vs-reference comparison, ready for eval.json."""
    import numpy as np

    results = outcomes(trained_scores, reference_scores, tie_tolerance)
    n = len(results)
    raw = win_rate(results)
    lc = length_controlled_win_rate(results, trained_tokens, reference_tokens)
    array, feature = np.asarray(results), None
    if len(set(results)) > 1:
        feature = np.asarray(length_feature(trained_tokens, reference_tokens))

    def lc_of(idx):
        sample = array[idx]
        if feature is None or np.all(sample == sample[0]):
            return float(sample[0])
        return 1 / (1 + math.exp(-fit_logistic(feature[idx], sample)[0]))

    options = {"groups": groups, "seed": seed, "resamples": resamples}
    ref_mean, trained_mean = float(np.mean(reference_tokens)), float(np.mean(trained_tokens))
    return {
        "comparisons": n,
        **counts(results),
        "win_rate": raw,
        "win_rate_ci95": list(mean_interval(results, **options)),
        "lc_win_rate": lc,
        "lc_win_rate_ci95": list(bootstrap_interval(lc_of, n, **options)),
        "reference_score_mean": float(np.mean(reference_scores)),
        "reference_score_ci95": list(mean_interval(reference_scores, **options)),
        "trained_score_mean": float(np.mean(trained_scores)),
        "trained_score_ci95": list(mean_interval(trained_scores, **options)),
        "reference_tokens_mean": ref_mean,
        "trained_tokens_mean": trained_mean,
        "length_change": trained_mean / ref_mean - 1 if ref_mean else None,
        "verdicts": length_verdicts(raw, lc, ref_mean, trained_mean),
        "thresholds": {"lc_gap": LC_GAP, "length_growth": LENGTH_GROWTH},
    }
