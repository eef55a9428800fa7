"""GSM8K: the prompt-only converter (hand-made rows, a local folder laid out like the Hub dataset) and the verifier.

The Hub layout of openai/gsm8k: a README whose `configs` name `main` and `socratic` (no default), each a folder of
<split>-00000-of-00001.parquet files for train and test; rows `question`, `answer` (worked solution ending
"#### <number>"). The folder is loaded through the same `datasets.load_dataset` call a Hub id makes; only the
repo-id -> folder resolution is replaced (as in test_hub_layouts.py).
"""

import os
from decimal import Decimal

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest

from trlrecipes.data import get_format
from trlrecipes.data.common import convert_records
from trlrecipes.data.gsm8k import canonical_number, convert_row
from trlrecipes.data.prompts import load_prompts
from trlrecipes.errors import UserError
from trlrecipes.tasks.gsm8k import last_number, numbers, verify
from trlrecipes.testing import build_gsm8k

# Written for these tests in GSM8K's style (not copied from the dataset).
SOLVED = [
    ("Ada buys 3 boxes of 12 pencils. How many pencils?", "3 boxes x 12 = <<3*12=36>>36 pencils.\n#### 36", "36"),
    ("A farm sells 1,250 eggs a day. How many in 4 days?", "1,250 * 4 = <<1250*4=5000>>5,000\n#### 5,000", "5000"),
    ("Tom has $20 and spends $27.50. What is his balance?", "20 - 27.50 = <<20-27.5=-7.5>>-7.5\n#### -7.5", "-7.5"),
    ("A ticket costs $18. What do 2 cost?", "2 x $18 = $<<2*18=36>>36.\n#### $36", "36"),
    ("How many wheels do 4.0 cars have?", "4 x 4 = <<4*4=16>>16\n#### 16.00", "16"),
    ("Half of 9?", "9 / 2 = 4.5 #### 4.5.", "4.5"),
]


def user(text):
    return [{"role": "user", "content": text}]


# -- the converter ---------------------------------------------------------------------------------------------
def test_converter_keeps_the_question_and_the_final_number():
    for question, solution, answer in SOLVED:
        assert convert_row({"question": f"  {question}\n", "answer": solution}) == {
            "prompt": user(question),
            "answer": answer,
        }


def test_the_last_marker_counts():
    row = {"question": "Q?", "answer": "Step one #### 5 is wrong.\n#### 7"}
    assert convert_row(row)["answer"] == "7"


def test_converter_skips_by_name():
    rows = [
        {"question": "Q?", "answer": "no marker at the end: 72"},
        {"question": "Q?", "answer": "#### seventy-two"},
        {"question": "Q?", "answer": "#### 72 clips"},
        {"question": "Q?", "answer": "#### 3/4"},
        {"question": "Q?", "answer": "####"},
        {"question": "   ", "answer": "#### 1"},
        {"question": "Q?", "answer": 72},
        {"question": None, "answer": "#### 1"},
        {"question": "Fine?", "answer": "#### 1"},
    ]
    kept, summary = convert_records(rows, convert_row)
    assert kept == [{"prompt": user("Fine?"), "answer": "1"}]
    assert summary.skipped == {"no_final_answer": 1, "non_numeric_answer": 4, "empty_question": 1, "not_text": 2}
    assert summary.read == summary.converted + sum(summary.skipped.values())
    assert set(summary.skipped) <= set(get_format("gsm8k").SKIP_REASONS)


def test_canonical_numbers():
    cases = {"72": "72", " 1,000,000 ": "1000000", "$5.50": "5.5", "-3": "-3", "\u22123": "-3", "-0": "0", "72.": "72"}
    assert {text: canonical_number(text) for text in cases} == cases
    for bad in ("1,00", "12,3456", "1.2.3", "72 clips", "", "$", "--3", "1e5"):
        assert canonical_number(bad) is None, bad


def test_contract_attributes():
    fmt = get_format("gsm8k")
    assert (fmt.HUB_ID, fmt.KIND, fmt.DEFAULT_SPLIT, fmt.EVAL_SPLIT) == ("openai/gsm8k", "prompts", "train", "test")
    assert fmt.DEFAULT_SUBSET in fmt.SUBSETS and fmt.REQUIRED_FIELDS == ("question", "answer")
    assert set(fmt.features()) == {"prompt", "answer", "skip_reason"}


# -- the Hub layout, offline -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    return build_gsm8k(tmp_path_factory.mktemp("hub"))


@pytest.fixture
def calls(hub_folder, monkeypatch, tmp_path):
    import datasets

    real, recorded = datasets.load_dataset, []

    def load_dataset(path, *args, **kwargs):
        recorded.append((path, dict(kwargs)))
        kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
        return real(str(hub_folder) if path == "openai/gsm8k" else path, *args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return recorded


def test_hub_layout_default_subset_and_splits(calls):
    train, summary = load_prompts(None, data_format="gsm8k")
    assert calls == [("openai/gsm8k", {"data_dir": "main", "split": "train"})]
    assert [row["prompt"][0]["content"] for row in train] == [f"main train question {n}?" for n in range(3)]
    assert train["answer"] == ["1", "2", "3"] and train.column_names == ["prompt", "answer"]
    assert (summary.read, summary.converted, summary.skipped) == (4, 3, {"no_final_answer": 1})
    test, _ = load_prompts("openai/gsm8k", data_format="gsm8k", split="test", subset="socratic")
    assert test["prompt"][1] == user("socratic test question 1?") and test["answer"] == ["1", "2"]


def test_hub_layout_needs_a_subset_which_the_format_supplies(calls, hub_folder, tmp_path):
    import datasets

    with pytest.raises(ValueError, match="Config name is missing"):  # why DEFAULT_SUBSET exists
        datasets.load_dataset(str(hub_folder), split="train", cache_dir=str(tmp_path / "c"))
    with pytest.raises(UserError, match="could not load dataset 'openai/gsm8k'"):
        load_prompts(None, data_format="gsm8k", subset="mian")


def test_a_downloaded_parquet_file_loads_as_a_local_source(hub_folder):
    train, summary = load_prompts(str(hub_folder / "main" / "test-00000-of-00001.parquet"), data_format="gsm8k")
    assert train["answer"] == ["1", "2"] and summary.skipped == {"no_final_answer": 1}


# -- the verifier ----------------------------------------------------------------------------------------------
def test_verify_right_replies():
    right = [
        ("72", "72"),
        ("Natalia sold 48 + 24 = 72 clips altogether.", "72"),
        ("The answer is 72.", "72"),
        ("So she sold **72** clips", "72"),
        ("\\boxed{72}", "72"),
        ("#### 72", "72"),
        ("It costs $1,250 in total.", "1250"),
        ("That is 1,250.00 dollars", "1,250"),
        ("Her balance is -$7.50.", "-7.5"),
        ("The temperature drops to \u22123 degrees", "-3"),
        ("First 3 x 4 = 12, then 12 / 2 = 6. Answer: 6", 6),
        ("18.0", 18.0),
    ]
    for reply, answer in right:
        assert verify("Q?", reply, answer=answer) == 1.0, (reply, answer)


def test_verify_wrong_replies_and_near_misses():
    wrong = [
        ("720", "72"),
        ("7.2", "72"),
        ("-72", "72"),
        ("72, or maybe 70", "72"),  # the last number is the answer
        ("She sold 72 clips in 2 months", "72"),  # a known limit of the convention
        ("seventy-two", "72"),  # no digits, no number
        ("", "72"),
        ("x72", "72"),  # glued to a letter: not a number
        ("3-5", "-5"),  # a range, not a minus
        ("1,2,3", "123"),
        ("3/4", "0.75"),
    ]
    for reply, answer in wrong:
        assert verify("Q?", reply, answer=answer) == 0.0, (reply, answer)


def test_verify_agrees_with_the_converter_on_gsm8k_solutions():
    """A GSM8K solution, judged against its own converted answer, is right: the marker line's number comes last."""
    for question, solution, _ in SOLVED:
        converted = convert_row({"question": question, "answer": solution})
        assert verify(question, solution, **{k: v for k, v in converted.items() if k != "prompt"}) == 1.0


def test_verify_refuses_what_it_cannot_judge():
    with pytest.raises(UserError, match="needs the row's answer"):
        verify("Q?", "72")
    with pytest.raises(UserError, match="not one number"):
        verify("Q?", "72", answer="72 or 73")
    with pytest.raises(UserError, match="as number text"):
        verify("Q?", "72", answer=["72"])
    with pytest.raises(UserError, match="text replies"):
        verify("Q?", None, answer="72")
    assert verify("Q?", "72", answer="72", constraints="[]", trainer_state=None) == 1.0  # other row fields: unused


def test_numbers_as_read():
    text = "Costs: $1,000.50, -$5, 3-5 days, x2, v1.5.3, 12,34 and 7."
    assert numbers(text) == [Decimal("1000.50"), Decimal(-5), 3, 5, 12, 34, 7]  # "x2", "v1.5.3": glued, none
    assert last_number("no digits") is None
