"""trlrecipes.tools.eval.winrate against hand-computed cases: all wins, all ties, wins explained entirely by length."""

import math

import pytest

from trlrecipes.tools.eval import winrate


def test_outcomes_count_ties_half():
    results = winrate.outcomes([1.0, 0.2, 0.5, 0.7], [0.5, 0.2, 0.9, 0.65], tie_tolerance=0.1)
    assert results == [1.0, 0.5, 0.0, 0.5]
    assert winrate.counts(results) == {"wins": 1, "ties": 2, "losses": 1}
    assert winrate.win_rate(results) == 0.5


def test_all_wins():
    summary = winrate.summarize([1.0] * 20, [0.0] * 20, list(range(10, 30)), [12] * 20)
    assert (summary["wins"], summary["ties"], summary["losses"]) == (20, 0, 0)
    assert summary["win_rate"] == 1.0 and summary["win_rate_ci95"] == [1.0, 1.0]
    assert summary["lc_win_rate"] == 1.0 and summary["lc_win_rate_ci95"] == [1.0, 1.0]


def test_all_ties():
    summary = winrate.summarize([0.3] * 15, [0.3] * 15, [5] * 15, [5] * 15)
    assert summary["ties"] == 15 and summary["win_rate"] == 0.5 and summary["win_rate_ci95"] == [0.5, 0.5]
    assert summary["lc_win_rate"] == 0.5 and summary["verdicts"] == []
    # the fit itself: targets all 0.5 at varying lengths give intercept 0 and slope 0
    intercept, slope = winrate.fit_logistic([-1.0, -0.3, 0.2, 0.9], [0.5] * 4)
    assert intercept == pytest.approx(0, abs=1e-9) and slope == pytest.approx(0, abs=1e-9)


def _length_explained():
    """32 comparisons. Trained 5 tokens longer in 24 of them: wins 18, loses 6 (3:1). Trained 5 tokens shorter in 8:
    wins 2, loses 6 (1:3). The win odds depend on the length difference only, symmetrically, so at equal length the
    trained model wins half the time: LC = 0.5, while raw = (18 + 2) / 32 = 0.625 because trained is mostly longer."""
    trained = [1.0] * 18 + [0.0] * 6 + [1.0] * 2 + [0.0] * 6
    reference = [0.5] * 32
    trained_tokens = [25] * 24 + [15] * 8
    reference_tokens = [20] * 32
    return trained, reference, trained_tokens, reference_tokens


def test_wins_explained_entirely_by_length():
    trained, reference, trained_tokens, reference_tokens = _length_explained()
    # unpenalised, the fit is saturated: p(+x) = 0.75, p(-x) = 0.25, so the intercept is exactly logit(0.5) = 0
    x = winrate.length_feature(trained_tokens, reference_tokens)
    assert x[0] == pytest.approx(-x[-1]) and x[0] == pytest.approx(math.tanh(5 / math.sqrt(18.75)))
    intercept, slope = winrate.fit_logistic(x, winrate.outcomes(trained, reference), slope_penalty=0.0)
    assert intercept == pytest.approx(0, abs=1e-8)
    assert slope == pytest.approx(math.log(3) / x[0], rel=1e-6)
    summary = winrate.summarize(trained, reference, trained_tokens, reference_tokens)
    assert summary["win_rate"] == 0.625
    assert summary["lc_win_rate"] == pytest.approx(0.5, abs=0.005)  # the default slope penalty moves it < 0.005
    assert summary["length_change"] == pytest.approx(22.5 / 20 - 1)
    [verdict] = summary["verdicts"]
    assert verdict["code"] == "length_exploitation" and "length-controlled" in verdict["message"]
    assert verdict["cause"] and verdict["fix"]


def test_wins_independent_of_length_keep_their_rate():
    """3:1 wins at both length differences: the length term explains nothing, so LC = raw = 0.75."""
    trained = ([1.0] * 3 + [0.0]) * 8
    trained_tokens = [30] * 16 + [10] * 16
    summary = winrate.summarize(trained, [0.5] * 32, trained_tokens, [20] * 32)
    assert summary["win_rate"] == 0.75
    assert summary["lc_win_rate"] == pytest.approx(0.75, abs=1e-6)
    assert summary["verdicts"] == []


def test_growth_alone_raises_the_verdict():
    verdicts = winrate.length_verdicts(0.55, 0.52, reference_tokens_mean=40, trained_tokens_mean=60)
    assert [v["code"] for v in verdicts] == ["length_exploitation"] and "+50%" in verdicts[0]["message"]
    assert winrate.length_verdicts(0.55, 0.52, 40, 47) == []


def test_bootstrap_interval_matches_the_normal_approximation_and_is_seeded():
    results = [1.0] * 240 + [0.0] * 160  # p = 0.6, n = 400: standard error sqrt(0.24 / 400) = 0.0245
    low, high = winrate.mean_interval(results, seed=3)
    assert low < 0.6 < high
    assert (high - low) / 2 == pytest.approx(1.96 * math.sqrt(0.24 / 400), rel=0.15)
    assert winrate.mean_interval(results, seed=3) == (low, high)


def test_grouped_bootstrap_resamples_prompts():
    """10 prompts x 10 identical samples: the samples add no information, so the interval is that of 10 items."""
    per_prompt = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    results = [o for o in per_prompt for _ in range(10)]
    groups = [i for i in range(10) for _ in range(10)]
    grouped = winrate.mean_interval(results, groups=groups, seed=0)
    single = winrate.mean_interval(per_prompt, seed=0)
    flat = winrate.mean_interval(results, seed=0)
    assert grouped[1] - grouped[0] == pytest.approx(single[1] - single[0], abs=0.05)
    assert grouped[1] - grouped[0] > 2 * (flat[1] - flat[0])
