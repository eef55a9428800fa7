"""The paired answer for a 0/1 judge (tools/eval/paired.py) against cases computed by hand."""

from __future__ import annotations

import math

import pytest

from trlrecipes.tools.eval.paired import is_binary, mcnemar_exact, paired_accuracy, per_category


def test_mcnemar_exact_by_hand():
    # b=8 prompts only the trained reply passed, c=2 only the reference's: under "no difference" b ~ Binomial(10, 1/2);
    # the two-sided p sums the outcomes no likelier than 8: k in {0, 1, 2, 8, 9, 10} -> (1+10+45+45+10+1)/1024
    assert mcnemar_exact(8, 2) == pytest.approx(112 / 1024)
    assert mcnemar_exact(5, 5) == pytest.approx(1.0)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(6, 0) == pytest.approx(2 / 64)


def test_paired_accuracy_by_hand():
    # 10 prompts: both pass on 2, only trained on 3, only reference on 1, neither on 4
    trained = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    reference = [1, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    result = paired_accuracy([float(x) for x in trained], [float(x) for x in reference], seed=0)
    assert result["trained_accuracy"] == pytest.approx(0.5) and result["reference_accuracy"] == pytest.approx(0.3)
    assert result["accuracy_difference"] == pytest.approx(0.2)
    assert (result["only_trained_passed"], result["only_reference_passed"]) == (3, 1)
    assert (result["both_passed"], result["neither_passed"]) == (2, 4)
    assert result["mcnemar_p"] == pytest.approx(mcnemar_exact(3, 1)) == pytest.approx(10 / 16)
    low, high = result["accuracy_difference_ci95"]
    # the per-prompt differences are 3 x (+1), 1 x (-1), 6 x 0: a bootstrap mean lies in [-1, 1] and the interval
    # holds the estimate; with so few prompts it must include 0
    assert -1 <= low <= 0.2 <= high <= 1 and low <= 0 <= high
    assert result["verdict"] == "no clear change"


def test_a_clear_gain_excludes_zero_and_reads_better():
    trained = [1.0] * 60 + [0.0] * 40
    reference = [0.0] * 45 + [1.0] * 15 + [0.0] * 40  # 45 prompts turned right, none turned wrong
    result = paired_accuracy(trained, reference, seed=1)
    low, high = result["accuracy_difference_ci95"]
    assert result["accuracy_difference"] == pytest.approx(0.45) and low > 0.3 and high < 0.6
    assert result["verdict"] == "better" and result["mcnemar_p"] < 1e-10
    worse = paired_accuracy(reference, trained, seed=1)
    assert worse["verdict"] == "worse" and worse["accuracy_difference"] == pytest.approx(-0.45)


def test_several_samples_per_prompt_resample_prompts_and_skip_mcnemar():
    trained, reference = [1.0, 1.0, 0.0, 0.0] * 5, [0.0, 0.0, 0.0, 0.0] * 5
    groups = [i // 2 for i in range(20)]
    result = paired_accuracy(trained, reference, groups=groups, seed=0)
    assert "mcnemar_p" not in result and result["accuracy_difference"] == pytest.approx(0.5)


def test_per_category_table_and_binary_check():
    trained = [{"max_words": True}, {"max_words": False, "title": True}, {"title": True}]
    reference = [{"max_words": False}, {"max_words": False, "title": False}, {"title": True}]
    table = per_category(trained, reference, seed=0, resamples=200)
    assert table["max_words"]["n"] == 2 and table["max_words"]["trained"] == pytest.approx(0.5)
    assert table["title"]["reference"] == pytest.approx(0.5) and table["title"]["trained"] == pytest.approx(1.0)
    assert is_binary([0.0, 1.0], [1.0]) and not is_binary([0.5], [1.0])
    assert math.isclose(sum(1 for _ in table), 2)


def test_compare_shows_a_verifiers_paired_figures():
    from trlrecipes.tools.sweep import _verified

    paired = {"reference_accuracy": 0.12, "trained_accuracy": 0.36, "accuracy_difference_ci95": [0.14, 0.35]}
    assert _verified({"generation": {"paired": paired}}) == "0.12->0.36 [+0.14,+0.35]"
    assert _verified({"generation": {"win_rate": 0.5}}) is None and _verified({}) is None
