import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest

from trlrecipes.data.inspect import BOUNDARY, _distribution, format_report, inspect_pairs, tokenize_pair
from trlrecipes.errors import UserError
from trlrecipes.testing import build_tiny_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


def pair(prompt, chosen, rejected):
    return {
        "prompt": [{"role": "user", "content": prompt}],
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }


SHORT = pair("How do I boil an egg?", "Put it in boiling water for nine minutes.", "I don't know.")
LONG_CHOSEN = pair("Help?", "help " * 200, "No.")
LONG_PROMPT = pair("egg " * 300, "Sure.", "No.")


def full_length(tokenizer, row, side):
    return len(tokenizer.apply_chat_template(row["prompt"] + row[side], tokenize=True, return_dict=True)["input_ids"])


def test_one_of_two_pairs_truncated(tokenizer):
    report = inspect_pairs([SHORT, LONG_CHOSEN], tokenizer, max_length=128)
    assert report["rows"] == 2
    assert report["truncated"] == {"count": 1, "share": 0.5, "examples": [1]}
    assert report["prompt_fills_max_length"]["count"] == 0
    assert report["lengths"]["prompt+chosen"]["max"] == full_length(tokenizer, LONG_CHOSEN, "chosen") > 128
    assert report["lengths"]["prompt+chosen"]["min"] == full_length(tokenizer, SHORT, "chosen") < 128
    assert report["chosen_longer"]["share"] == 1.0
    json.loads(json.dumps(report))


def test_prompt_filling_max_length_counts_as_dropped_and_truncated(tokenizer):
    report = inspect_pairs([SHORT, LONG_PROMPT, SHORT, SHORT], tokenizer, max_length=128)
    assert report["prompt_fills_max_length"] == {"count": 1, "share": 0.25, "examples": [1]}
    assert report["truncated"]["share"] == 0.25
    generation_prompt = tokenizer.apply_chat_template(
        LONG_PROMPT["prompt"], tokenize=True, return_dict=True, add_generation_prompt=True
    )["input_ids"]
    assert report["lengths"]["prompt"]["max"] == len(generation_prompt)


def test_lengths_split_prompt_and_completion(tokenizer):
    tokens = tokenize_pair(SHORT, tokenizer)
    assert tokenizer.decode(tokens["prompt_ids"]).endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(tokens["chosen_ids"]) == "Put it in boiling water for nine minutes.<|im_end|>\n"
    assert tokenizer.decode(tokens["rejected_ids"]) == "I don't know.<|im_end|>\n"
    report = inspect_pairs([SHORT], tokenizer, max_length=1024)
    lengths = {key: dist["max"] for key, dist in report["lengths"].items()}
    assert lengths == {
        "prompt": len(tokens["prompt_ids"]),
        "chosen": len(tokens["chosen_ids"]),
        "rejected": len(tokens["rejected_ids"]),
        "prompt+chosen": full_length(tokenizer, SHORT, "chosen"),
        "prompt+rejected": full_length(tokenizer, SHORT, "rejected"),
    }


def test_identical_near_identical_and_length_bias(tokenizer):
    rows = [
        pair("Capital?", "Paris.", "Paris."),
        pair("Capital?", "Paris is the capital of France.", "Paris is the capital of France!"),
        pair("Capital?", "Paris.", "I don't know and I don't care. Figure it out yourself."),
        SHORT,
    ]
    report = inspect_pairs(rows, tokenizer, max_length=1024)
    assert report["identical"] == {"count": 1, "share": 0.25, "examples": [0]}
    assert report["near_identical"] == {"count": 1, "share": 0.25, "examples": [1]}
    assert report["chosen_longer"]["examples"] == [3]
    strict = inspect_pairs(rows, tokenizer, max_length=1024, near_identical_ratio=0.999)
    assert strict["near_identical"]["count"] == 0


def test_percentiles_are_nearest_rank():
    assert _distribution(list(range(100, 0, -1))) == {"min": 1, "p50": 50, "p90": 90, "p99": 99, "max": 100}
    assert _distribution([7]) == {"min": 7, "p50": 7, "p90": 7, "p99": 7, "max": 7}
    assert _distribution([])["p50"] is None


def test_previews_mark_the_completion_boundary(tokenizer):
    report = inspect_pairs([SHORT] * 5, tokenizer, max_length=1024, preview=2)
    assert len(report["previews"]) == 2
    chosen_part = report["previews"][0].split("--- rejected completion ---")[0]
    before, after = chosen_part.split(BOUNDARY)
    assert before.endswith("How do I boil an egg?<|im_end|>\n<|im_start|>assistant\n")
    assert after.startswith("Put it in boiling water")
    assert report["previews"][0].endswith(BOUNDARY + "I don't know.<|im_end|>\n")


def test_template_rendering_prompt_differently_moves_the_boundary(tokenizer):
    thinking = tokenizer.chat_template.replace("'<|im_start|>assistant\n'", "'<|im_start|>assistant\n<think></think>'")
    assert thinking != tokenizer.chat_template
    tokenizer_copy = build_tiny_tokenizer()
    tokenizer_copy.chat_template = thinking
    report = inspect_pairs([SHORT], tokenizer_copy, max_length=1024)
    assert report["prompt_boundary_moved"]["share"] == 1.0
    assert BOUNDARY + "Put it in" in report["previews"][0]


def test_dataset_input_matches_list_input(tokenizer):
    from datasets import Dataset

    rows = [SHORT, LONG_CHOSEN]
    assert inspect_pairs(Dataset.from_list(rows), tokenizer, 128) == inspect_pairs(rows, tokenizer, 128)


def test_matches_trl_dpo_prepare_dataset(tokenizer):
    """Token ids and the dropped rows agree with TRL's own DPOTrainer._prepare_dataset (called unbound)."""
    from types import SimpleNamespace

    from datasets import Dataset
    from trl.trainer.dpo_trainer import DPOTrainer

    rows = [SHORT, LONG_CHOSEN, LONG_PROMPT, pair("Hi", "Hello, happy to help.", "Hello? What?")]
    args = SimpleNamespace(dataset_num_proc=None, max_length=128, truncation_mode="keep_start")
    prepared = DPOTrainer._prepare_dataset(SimpleNamespace(), Dataset.from_list(rows), tokenizer, args, "train")
    report = inspect_pairs(rows, tokenizer, max_length=128)
    assert len(prepared) == len(rows) - report["prompt_fills_max_length"]["count"]
    kept = [row for index, row in enumerate(rows) if index not in report["prompt_fills_max_length"]["examples"]]
    for row, trl_row in zip(kept, prepared, strict=False):
        ours = tokenize_pair(row, tokenizer)
        for key in ("prompt_ids", "chosen_ids", "rejected_ids"):
            assert ours[key] == trl_row[key]


def test_format_report(tokenizer):
    report = inspect_pairs([SHORT, LONG_CHOSEN], tokenizer, max_length=128, preview=1)
    text = format_report(report, summary_text="rows read 3, converted 2, skipped 1")
    assert text.startswith("rows read 3, converted 2, skipped 1\n")
    assert "2 pairs, max_length 128" in text
    truncated_line = next(line for line in text.splitlines() if line.strip().startswith("truncated"))
    assert "50.0%" in truncated_line and "e.g. pairs 1" in truncated_line
    assert text.count(BOUNDARY) == 2


def test_bad_input(tokenizer):
    with pytest.raises(UserError, match="pair 0: 'prompt' must be a list"):
        inspect_pairs([{"prompt": "Hi", "chosen": "a", "rejected": "b"}], tokenizer, 128)
    bare = build_tiny_tokenizer()
    bare.chat_template = None
    with pytest.raises(UserError, match="no chat template"):
        inspect_pairs([SHORT], bare, 128)
