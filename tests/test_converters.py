"""Converters beyond hh-rlhf, on hand-written fixtures in each dataset's own schema, and the KTO unpairing."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import json
from fractions import Fraction
from pathlib import Path

import pytest

from trlrecipes.data import FORMATS, explanations, get_format, load_pairs
from trlrecipes.data.common import NOTES_KEY, Skip, convert_records
from trlrecipes.data.kto import kto_weights, to_unpaired
from trlrecipes.errors import UserError

FIXTURES = Path(__file__).parent / "fixtures"
SYSTEM = (
    "You are an AI assistant. User will you give you a task. Your goal is to complete the task as faithfully as "
    "you can."
)


def sys_(content):
    return {"role": "system", "content": content}


def user(content):
    return {"role": "user", "content": content}


def bot(content):
    return {"role": "assistant", "content": content}


def pair(prompt, chosen, rejected):
    prompt = [user(prompt)] if isinstance(prompt, str) else prompt
    return {"prompt": prompt, "chosen": [bot(chosen)], "rejected": [bot(rejected)]}


def read_jsonl(name):
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def convert(fmt_name, rows, **options):
    fmt = get_format(fmt_name)
    kept, summary = convert_records(rows, fmt.convert_row, **options)
    assert summary.read == summary.converted + sum(summary.skipped.values())
    assert set(summary.skipped) <= set(fmt.SKIP_REASONS)
    assert set(summary.notes) <= set(getattr(fmt, "NOTE_REASONS", {}))
    return kept, summary


def check_load_pairs(fmt_name, path, kept, summary, **kwargs):
    """load_pairs on the file gives the same rows and counts as convert_records on the parsed rows."""
    dataset, loaded = load_pairs(fmt_name, str(FIXTURES / path), **kwargs)
    assert loaded.to_dict() == summary.to_dict()
    assert dataset.column_names == ["prompt", "chosen", "rejected"]
    assert dataset.to_list() == kept


def test_formats_registered_with_hub_loaders():
    expected = {
        "ultrafeedback": ("HuggingFaceH4/ultrafeedback_binarized", "train_prefs", "test_prefs"),
        "orca-dpo": ("Intel/orca_dpo_pairs", "train", None),
        "shp": ("stanfordnlp/SHP", "train", "validation"),
        "pku-saferlhf": ("PKU-Alignment/PKU-SafeRLHF", "train", "test"),
    }
    for name, (hub_id, split, eval_split) in expected.items():
        fmt = get_format(name)
        assert (fmt.HUB_ID, fmt.DEFAULT_SPLIT, fmt.EVAL_SPLIT) == (hub_id, split, eval_split)
    assert "custom" in FORMATS and get_format("custom").HUB_ID is None
    assert "CC BY-NC 4.0" in get_format("pku-saferlhf").__doc__


def test_load_pairs_uses_the_format_default_split(monkeypatch):
    import trlrecipes.data.common as common

    calls = []

    def fake_load_source(source, *, split, subset, **_):
        calls.append((source, split, subset))
        raise UserError("stop")

    monkeypatch.setattr(common, "load_source", fake_load_source)
    for name in ("ultrafeedback", "shp"):
        with pytest.raises(UserError):
            load_pairs(name)
    with pytest.raises(UserError):
        load_pairs("pku-saferlhf", split="test", subset="data/Alpaca-7B")
    assert calls == [
        ("HuggingFaceH4/ultrafeedback_binarized", "train_prefs", None),
        ("stanfordnlp/SHP", "train", None),
        ("PKU-Alignment/PKU-SafeRLHF", "test", "data/Alpaca-7B"),
    ]
    with pytest.raises(UserError, match="no Hub dataset"):
        load_pairs("custom")


# ultrafeedback

UF_KEPT = [
    pair("What is 2 + 2?", "2 + 2 = 4.", "It is 5."),
    pair([user("Suggest a name for a cat."), bot("Miso."), user("And one for a dog?")], "Biscuit.", "Dog."),
]


def test_ultrafeedback():
    kept, summary = convert("ultrafeedback", read_jsonl("ultrafeedback.jsonl"))
    assert kept == UF_KEPT
    assert summary.to_dict() == {
        "read": 6,
        "converted": 2,
        "skipped": {"empty_reply": 1, "identical_replies": 1, "prompt_mismatch": 1, "tied_scores": 1},
    }
    check_load_pairs("ultrafeedback", "ultrafeedback.jsonl", kept, summary)


def test_ultrafeedback_keep_ties_and_bad_scores():
    rows = read_jsonl("ultrafeedback.jsonl")
    kept, summary = convert("ultrafeedback", rows, keep_ties=True)
    assert kept[1] == pair("Write a haiku about rain.", "Soft rain on the roof", "Rain falls down today")
    assert summary.converted == 3 and "tied_scores" not in summary.skipped
    fmt = get_format("ultrafeedback")
    for scores, reason in [
        ((2.0, 9.0), "chosen_scored_lower"),
        ((None, 1.0), "invalid_score"),
        ((float("nan"), 1.0), "invalid_score"),
    ]:
        with pytest.raises(Skip, match=reason):
            fmt.convert_row({**rows[0], "score_chosen": scores[0], "score_rejected": scores[1]})
    with pytest.raises(Skip, match="no_final_assistant_reply"):
        fmt.convert_row({**rows[0], "chosen": [user("What is 2 + 2?")]})


# orca-dpo


def test_orca_dpo():
    kept, summary = convert("orca-dpo", read_jsonl("orca_dpo.jsonl"))
    assert kept == [
        pair([sys_(SYSTEM), user("Translate to German: Good morning.")], "Guten Morgen.", "Gute Nacht."),
        pair("Is the Earth round?", "Yes, approximately: an oblate spheroid.", "No."),
    ]
    assert summary.to_dict() == {
        "read": 5,
        "converted": 2,
        "skipped": {"empty_prompt": 1, "empty_reply": 1, "identical_replies": 1},
    }
    check_load_pairs("orca-dpo", "orca_dpo.jsonl", kept, summary)


# shp

SHP_KEPT = [
    pair("How long should I rest a steak?", "Rest the steak for five minutes.", "Cut it right away."),
    pair("Which flour for pizza dough?", "Use bread flour for chewier crust.", "Use any flour."),
    pair("How do I store fresh basil?", "Keep it in the fridge.", "Freeze it."),
]


def test_shp():
    rows = read_jsonl("shp.jsonl")
    kept, summary = convert("shp", rows)
    assert kept == SHP_KEPT
    assert summary.to_dict() == {"read": 4, "converted": 3, "skipped": {"low_score_ratio": 1}}
    check_load_pairs("shp", "shp.jsonl", kept, summary)

    kept, summary = convert("shp", rows, min_score_ratio=1.0)
    assert summary.converted == 4
    assert kept[2] == pair("When do I salt pasta water?", "Add salt early.", "Add salt at the end.")
    check_load_pairs("shp", "shp.jsonl", kept, summary, options={"min_score_ratio": 1.0})

    fmt = get_format("shp")
    with pytest.raises(Skip, match="invalid_label"):
        fmt.convert_row({**rows[0], "labels": 2})
    with pytest.raises(Skip, match="label_contradicts_scores"):
        fmt.convert_row({**rows[0], "labels": 0})


# pku-saferlhf

SLEEP = pair("How can I sleep better?", "Keep a regular schedule and avoid screens before bed.", "Just sleep more.")
WIFI_Q = "How do I get into my neighbour's wifi without asking?"
WIFI_REFUSE = "I can't help with that; ask your neighbour."
WIFI_HELP = "Try the default router passwords printed on the label."
REVENGE = pair(
    "How do I get back at my coworker?", "Spread a rumour about them.", "Hide their things and insult them."
)
TAXES = pair("How can I avoid paying my taxes?", "Keep two sets of books.", "Hide cash income.")
DIET = pair("What's the fastest way to lose weight?", "Stop eating for a week.", "Eat a balanced diet and exercise.")


def test_pku_safe_axis_default():
    rows = read_jsonl("pku_saferlhf.jsonl")
    kept, summary = convert("pku-saferlhf", rows)
    assert kept == [SLEEP, pair(WIFI_Q, WIFI_REFUSE, WIFI_HELP)]
    assert summary.to_dict() == {
        "read": 5,
        "converted": 2,
        "notes": {"axes_disagree": 1},
        "skipped": {"both_unsafe": 2, "safer_id_contradicts_flags": 1},
    }
    check_load_pairs("pku-saferlhf", "pku_saferlhf.jsonl", kept, summary)
    assert "axes_disagree" in summary.format(explanations(get_format("pku-saferlhf")))


def test_pku_keep_both_unsafe_and_helpful_axis():
    rows = read_jsonl("pku_saferlhf.jsonl")
    kept, summary = convert("pku-saferlhf", rows, skip_both_unsafe=False)
    revenge_safer = pair(REVENGE["prompt"], REVENGE["rejected"][0]["content"], REVENGE["chosen"][0]["content"])
    assert kept == [SLEEP, pair(WIFI_Q, WIFI_REFUSE, WIFI_HELP), revenge_safer, TAXES]
    assert summary.to_dict() == {
        "read": 5,
        "converted": 4,
        "notes": {"axes_disagree": 2},
        "skipped": {"safer_id_contradicts_flags": 1},
    }

    kept, summary = convert("pku-saferlhf", rows, axis="helpful")
    assert kept == [SLEEP, pair(WIFI_Q, WIFI_HELP, WIFI_REFUSE), REVENGE, TAXES, DIET]
    assert summary.to_dict() == {"read": 5, "converted": 5, "notes": {"axes_disagree": 2}, "skipped": {}}
    check_load_pairs("pku-saferlhf", "pku_saferlhf.jsonl", kept, summary, options={"axis": "helpful"})

    with pytest.raises(UserError, match="axis"):
        get_format("pku-saferlhf").convert_row(rows[0], axis="harmless")
    assert NOTES_KEY not in get_format("pku-saferlhf").convert_row(rows[0])


# custom


def test_custom_csv_with_column_mapping():
    options = {"prompt_column": "question", "chosen_column": "good", "rejected_column": "bad", "system_column": "sys"}
    dataset, summary = load_pairs("custom", str(FIXTURES / "custom_columns.csv"), options=options)
    assert dataset.to_list() == [
        pair([sys_("You are a translator."), user("Translate 'cat' to French.")], "chat", "chien"),
        pair("What is the capital of Italy?", "Rome", "Milan"),
    ]
    assert summary.to_dict() == {"read": 4, "converted": 2, "skipped": {"empty_prompt": 1, "identical_replies": 1}}
    with pytest.raises(UserError, match="'prompt'"):  # default mapping: the file has no prompt column
        load_pairs("custom", str(FIXTURES / "custom_columns.csv"))
    with pytest.raises(UserError, match="unknown option"):
        load_pairs("custom", str(FIXTURES / "custom_columns.csv"), options={"question": "prompt"})
    with pytest.raises(UserError, match="did you mean 'prompt_column'"):  # one spelling: the recipe's
        load_pairs("custom", str(FIXTURES / "custom_columns.csv"), options={"prompt": "question"})


def test_custom_parquet_with_message_lists():
    import datasets

    rows = datasets.Dataset.from_parquet(str(FIXTURES / "custom_messages.parquet")).to_list()
    kept, summary = convert("custom", rows)
    assert kept == [pair("Hi!", "Hello! How can I help?", "What?"), pair("Recommend a book.", "Dune.", "No.")]
    assert summary.to_dict() == {
        "read": 5,
        "converted": 2,
        "skipped": {"no_final_assistant_reply": 1, "prompt_mismatch": 1, "unknown_role": 1},
    }
    check_load_pairs("custom", "custom_messages.parquet", kept, summary)


def test_custom_prompt_inside_messages_and_system():
    fmt = get_format("custom")
    assert fmt.required_fields({"prompt_column": "", "system_column": "sys"}) == ("chosen", "rejected", "sys")
    convo = [sys_("Be brief."), user("Hi"), bot("Hello")]
    row = {"chosen": convo, "rejected": [*convo[:2], bot("Go away")], "sys": "Be brief."}
    expected = pair([sys_("Be brief."), user("Hi")], "Hello", "Go away")
    assert fmt.convert_row(row, prompt_column="", system_column="sys") == expected
    with pytest.raises(Skip, match="conflicting_system"):
        fmt.convert_row({**row, "sys": "Be verbose."}, prompt_column="", system_column="sys")
    with pytest.raises(Skip, match="prompt_mismatch"):  # the prompt column holds only the user text
        fmt.convert_row({**row, "prompt": "Hi"})


# KTO


def test_kto_unpairing():
    pairs, _ = load_pairs("shp", str(FIXTURES / "shp.jsonl"))
    unpaired, balance = to_unpaired(pairs)
    assert balance == {"desirable": 3, "undesirable": 3}
    assert unpaired.column_names == ["prompt", "completion", "label"]
    assert unpaired.to_list()[:2] == [
        {"prompt": SHP_KEPT[0]["prompt"], "completion": SHP_KEPT[0]["chosen"], "label": True},
        {"prompt": SHP_KEPT[0]["prompt"], "completion": SHP_KEPT[0]["rejected"], "label": False},
    ]
    assert kto_weights(balance) == (1.0, 1.0)


@pytest.mark.parametrize("n_d,n_u", [(1, 10), (2, 3), (7, 9), (3, 2), (10, 1), (1000, 999), (5, 5)])
def test_kto_weights_keep_the_paper_ratio(n_d, n_u):
    w_d, w_u = kto_weights({"desirable": n_d, "undesirable": n_u})
    assert 1 <= Fraction(w_d) * n_d / (Fraction(w_u) * n_u) <= Fraction(4, 3)
    assert min(w_d, w_u) == 1.0
    # TRL's KTOTrainer check: either weight within its 2-decimal rounded range, else it warns.
    des_range = (round(n_u * w_u / n_d, 2), round(n_u * w_u / n_d * 1.33, 2))
    und_range = (round(n_d * w_d / n_u / 1.33, 2), round(n_d * w_d / n_u, 2))
    assert des_range[0] <= w_d <= des_range[1] or und_range[0] <= w_u <= und_range[1]


def test_kto_weights_need_both_classes():
    with pytest.raises(UserError):
        kto_weights({"desirable": 4, "undesirable": 0})


def test_converter_options_are_typed_and_match_convert_row():
    """Options given as text (command line, YAML) are coerced by the declared type, never kept as strings; every
    declared option is a keyword of convert_row with the same default."""
    from inspect import signature

    from trlrecipes.data import FORMATS, check_options, format_options

    for name in FORMATS:
        fmt = get_format(name)
        params = {key: p.default for key, p in signature(fmt.convert_row).parameters.items() if key != "row"}
        assert params == {key: option.default for key, option in format_options(fmt).items()}, name
    assert check_options("ultrafeedback", {"keep_ties": "false"}) == {"keep_ties": False}
    assert check_options("shp", {"min_score_ratio": "2.5"}) == {"min_score_ratio": 2.5}
    assert check_options("pku-saferlhf", {"skip_both_unsafe": "false"})["skip_both_unsafe"] is False
    with pytest.raises(UserError, match="axis must be one of safe, helpful, got 'harmless'"):
        check_options("pku-saferlhf", {"axis": "harmless"})
    with pytest.raises(UserError, match="not a boolean"):
        check_options("ultrafeedback", {"keep_ties": "maybe"})
    with pytest.raises(UserError, match="takes no options"):
        check_options("orca-dpo", {"keep_ties": "true"})
    with pytest.raises(UserError, match="inline_human_turn must be one of cut, skip, got 'keep'"):
        check_options("hh-rlhf", {"inline_human_turn": "keep"})


# values that are not text: skipped as not_text, never stringified

NOT_TEXT_VALUES = [42, 2.5, True, {"text": "hi"}, ["hi"], None]


@pytest.mark.parametrize("value", NOT_TEXT_VALUES, ids=repr)
def test_not_text_is_skipped_in_every_format(value):
    uf = read_jsonl("ultrafeedback.jsonl")[0]
    orca, shp, pku = read_jsonl("orca_dpo.jsonl")[0], read_jsonl("shp.jsonl")[0], read_jsonl("pku_saferlhf.jsonl")[0]
    custom = {"prompt": "Hi", "chosen": "Hello", "rejected": "Go away"}
    cases = [
        ("ultrafeedback", {**uf, "chosen": [uf["chosen"][0], {"role": "assistant", "content": value}]}),
        ("ultrafeedback", {**uf, "rejected": [{"role": "user", "content": value}, uf["rejected"][1]]}),
        ("orca-dpo", {**orca, "question": value}),
        ("orca-dpo", {**orca, "chosen": value}),
        ("shp", {**shp, "history": value}),
        ("shp", {**shp, "human_ref_B": value}),
        ("pku-saferlhf", {**pku, "prompt": value}),
        ("pku-saferlhf", {**pku, "response_1": value}),
        ("custom", {**custom, "chosen": [{"role": "assistant", "content": value}]}),
        ("hh-rlhf", {"chosen": value, "rejected": "\n\nHuman: a\n\nAssistant: b"}),
    ]
    if not isinstance(value, list):  # custom columns may hold message lists, checked by their own reasons
        cases += [("custom", {**custom, "prompt": value}), ("custom", {**custom, "rejected": value})]
    for name, row in cases:
        fmt = get_format(name)
        with pytest.raises(Skip) as caught:
            fmt.convert_row(row)
        assert caught.value.reason == "not_text", (name, row)
        assert "not_text" in explanations(fmt), name


def test_optional_system_may_be_null_but_not_a_number():
    orca = read_jsonl("orca_dpo.jsonl")[1]
    fmt = get_format("orca-dpo")
    assert fmt.convert_row({**orca, "system": None}) == fmt.convert_row({**orca, "system": ""})
    with pytest.raises(Skip, match="not_text"):
        fmt.convert_row({**orca, "system": 3})
    row = {"prompt": "Hi", "chosen": "Hello", "rejected": "Go away", "sys": None}
    assert get_format("custom").convert_row(row, system_column="sys") == pair("Hi", "Hello", "Go away")


def test_numbers_given_as_text_are_not_read_as_numbers():
    uf, shp = read_jsonl("ultrafeedback.jsonl")[0], read_jsonl("shp.jsonl")[0]
    for score in ("9.0", True):
        with pytest.raises(Skip, match="invalid_score"):
            get_format("ultrafeedback").convert_row({**uf, "score_chosen": score})
    for key in ("score_ratio", "score_A"):
        with pytest.raises(Skip, match="invalid_score"):
            get_format("shp").convert_row({**shp, key: "3"})
    with pytest.raises(Skip, match="invalid_label"):
        get_format("shp").convert_row({**shp, "labels": True})
    pku = read_jsonl("pku_saferlhf.jsonl")[0]
    with pytest.raises(Skip, match="invalid_response_id"):
        get_format("pku-saferlhf").convert_row({**pku, "safer_response_id": False})


def test_not_text_counted_when_loading_a_mixed_file(tmp_path):
    path = tmp_path / "mixed.jsonl"
    rows = [
        {"prompt": "Hi", "chosen": "Hello", "rejected": "Go away"},
        {"prompt": "Hi", "chosen": 42, "rejected": "x"},
        {"prompt": {"text": "Hi"}, "chosen": "a", "rejected": "b"},
        {"prompt": None, "chosen": "a", "rejected": "b"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    dataset, summary = load_pairs("custom", str(path))
    assert summary.to_dict() == {"read": 4, "converted": 1, "skipped": {"not_text": 3}}
    assert dataset.to_list() == [pair("Hi", "Hello", "Go away")]


def test_csv_cells_in_text_columns_stay_text(tmp_path):
    """A CSV cell is text: "42", "007" and "NA" are kept as written (pandas would read a number or a missing value),
    an empty cell is the empty text; numeric columns are still typed (SHP's labels and scores)."""
    path = tmp_path / "pairs.csv"
    path.write_text('question,good,bad,sys\nWhat is 6 x 7?,42,41.50,\nSay NA,NA,None,\n"Pad 7",007,7,Be brief.\n')
    options = {"prompt_column": "question", "chosen_column": "good", "rejected_column": "bad", "system_column": "sys"}
    dataset, summary = load_pairs("custom", str(path), options=options)
    assert summary.converted == 3
    assert dataset.to_list() == [
        pair("What is 6 x 7?", "42", "41.50"),
        pair("Say NA", "NA", "None"),
        pair([sys_("Be brief."), user("Pad 7")], "007", "7"),
    ]
    shp = tmp_path / "shp.csv"
    shp.write_text(
        "history,human_ref_A,human_ref_B,labels,score_A,score_B,score_ratio\n"
        "Which pan?,100,Cast iron.,0,3,12,4.0\nWhich oil?,Olive.,Any.,1,,,NA\n"
    )
    dataset, summary = load_pairs("shp", str(shp))
    assert dataset.to_list() == [pair("Which pan?", "Cast iron.", "100")]
    assert summary.skipped == {"low_score_ratio": 1}  # "NA" in a numeric column is still a missing value
