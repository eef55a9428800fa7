"""The Hub loaders, offline: each format's Hub dataset rebuilt as a local folder laid out as published (the README's
`configs`, data_dir folders, split and file names, file types), loaded through the same `datasets.load_dataset`
call a Hub id makes. Only the repo-id -> folder resolution is replaced, so a wrong split, data_dir or default
fails here as it would for a user with internet. (datasets 5.x resolves a folder with LocalDatasetModuleFactory and a
Hub repo with HubDatasetModuleFactory: the same README `configs`, data_dir and split-pattern rules, in load.py.)

Layouts, as published on the Hub:
- Anthropic/hh-rlhf: <subset>/train.jsonl.gz and test.jsonl.gz for helpful-base, harmless-base, helpful-online,
  helpful-rejection-sampled, plus red-team-attempts/red_team_attempts.jsonl.gz (another schema); no `configs`.
- HuggingFaceH4/ultrafeedback_binarized: data/<split>-00000-of-00001.parquet for train_prefs, train_sft, test_prefs,
  test_sft, train_gen, test_gen, named by the README's `configs` (there is no "train" split).
- Intel/orca_dpo_pairs: one orca_rlhf.jsonl at the top (the train split); a README without `configs`.
- stanfordnlp/SHP: <subreddit>/train.json, validation.json, test.json (JSON lines despite the suffix).
- PKU-Alignment/PKU-SafeRLHF: data/<model>/train.jsonl and test.jsonl for Alpaca-7B, Alpaca2-7B, Alpaca3-8B; the
  README's `configs` name a default (all models) and one config per model.
"""

import gzip
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest

from trlrecipes.data import get_format, load_pairs
from trlrecipes.errors import UserError
from trlrecipes.testing import build_gsm8k


def user(text):
    return {"role": "user", "content": text}


def bot(text):
    return {"role": "assistant", "content": text}


def write_jsonl(path: Path, rows: list[dict], *, compress: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def write_readme(folder: Path, yaml_text: str) -> None:
    (folder / "README.md").write_text(f"---\n{yaml_text.strip()}\n---\n\n# Dataset card\n", encoding="utf-8")


# --- the layouts -------------------------------------------------------------------------------------------------


def hh_row(tag: str) -> dict:
    return {
        "chosen": f"\n\nHuman: Question {tag}?\n\nAssistant: A helpful answer to {tag}.",
        "rejected": f"\n\nHuman: Question {tag}?\n\nAssistant: No.",
    }


def build_hh(root: Path) -> Path:
    folder = root / "hh-rlhf"
    folder.mkdir(parents=True)
    write_readme(folder, "license: mit")
    for index, subset in enumerate(get_format("hh-rlhf").SUBSETS):
        write_jsonl(
            folder / subset / "train.jsonl.gz",
            [hh_row(f"{subset} train {n}") for n in range(index + 2)],
            compress=True,
        )
        write_jsonl(folder / subset / "test.jsonl.gz", [hh_row(f"{subset} test")], compress=True)
    write_jsonl(
        folder / "red-team-attempts" / "red_team_attempts.jsonl.gz",
        [
            {
                "transcript": "\n\nHuman: hi\n\nAssistant: hello",
                "min_harmlessness_score_transcript": 0.5,
                "num_params": "52B",
                "model_type": "plain lm",
                "rating": 1.0,
                "task_description": "x",
                "task_descripton_harmlessness_score": 0.1,
                "red_team_member_id": 1,
                "is_upworker": False,
                "tags": None,
            }
        ],
        compress=True,
    )
    return folder


UF_SPLITS = ("train_prefs", "train_sft", "test_prefs", "test_sft", "train_gen", "test_gen")


def build_ultrafeedback(root: Path) -> Path:
    import datasets

    folder = root / "ultrafeedback_binarized"
    (folder / "data").mkdir(parents=True)
    write_readme(
        folder,
        "license: mit\nconfigs:\n- config_name: default\n  data_files:\n"
        + "".join(f"  - split: {split}\n    path: data/{split}-*\n" for split in UF_SPLITS),
    )
    for split in UF_SPLITS:
        rows = []
        for n in range(3 if split.startswith("train") else 2):
            prompt = f"{split} prompt {n}?"
            rows.append(
                {
                    "prompt": prompt,
                    "prompt_id": f"{split}-{n}",
                    "chosen": [user(prompt), bot(f"A good answer {n}.")],
                    "rejected": [user(prompt), bot(f"A worse answer {n}.")],
                    "messages": [user(prompt), bot(f"A good answer {n}.")],
                    "score_chosen": 8.0,
                    "score_rejected": 5.0 if n else 8.0,
                }
            )
        datasets.Dataset.from_list(rows).to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    return folder


def build_orca(root: Path) -> Path:
    folder = root / "orca_dpo_pairs"
    folder.mkdir(parents=True)
    write_readme(folder, "license: apache-2.0\ntags:\n- dpo")
    write_jsonl(
        folder / "orca_rlhf.jsonl",
        [
            {"system": "", "question": "Is the Earth round?", "chosen": "Yes, roughly.", "rejected": "No."},
            {"system": "You are helpful.", "question": "2 + 2?", "chosen": "4.", "rejected": "5."},
        ],
    )
    return folder


SHP_SUBREDDITS = ("askculinary", "askphysics")
SHP_SPLITS = {"train": 3, "validation": 2, "test": 1}


def shp_row(subreddit: str, split: str, n: int) -> dict:
    return {
        "post_id": f"{subreddit}{split}{n}",
        "domain": f"{subreddit}_{split}",
        "upvote_ratio": 0.98,
        "history": f"{subreddit} {split} question {n}?",
        "c_root_id_A": "a",
        "c_root_id_B": "b",
        "created_at_utc_A": 1,
        "created_at_utc_B": 2,
        "score_A": 30,
        "score_B": 5,
        "human_ref_A": f"A well upvoted answer {n}.",
        "human_ref_B": f"A weak answer {n}.",
        "labels": 1,
        "seconds_difference": 1.0,
        "score_ratio": 6.0,
    }


def build_shp(root: Path) -> Path:
    folder = root / "SHP"
    folder.mkdir(parents=True)
    write_readme(folder, "task_categories:\n- text-generation\ntags:\n- human feedback")
    for subreddit in SHP_SUBREDDITS:
        for split, count in SHP_SPLITS.items():
            write_jsonl(folder / subreddit / f"{split}.json", [shp_row(subreddit, split, n) for n in range(count)])
    return folder


PKU_MODELS = ("Alpaca-7B", "Alpaca2-7B", "Alpaca3-8B")


def pku_row(model: str, split: str, n: int) -> dict:
    harm = {"Endangering National Security": False, "Insulting Behavior": False, "Violence": False}
    return {
        "prompt": f"{model} {split} question {n}?",
        "response_0": f"A safe reply {n}.",
        "response_1": f"An unsafe reply {n}.",
        "prompt_source": "Alpaca",
        "response_0_source": model,
        "response_1_source": model,
        "is_response_0_safe": True,
        "is_response_1_safe": False,
        "response_0_harm_category": harm,
        "response_1_harm_category": {**harm, "Violence": True},
        "response_0_severity_level": 0,
        "response_1_severity_level": 2,
        "better_response_id": 1,
        "safer_response_id": 0,
        "response_0_sha256": "0" * 64,
        "response_1_sha256": "1" * 64,
    }


def build_pku(root: Path) -> Path:
    folder = root / "PKU-SafeRLHF"
    folder.mkdir(parents=True)
    configs = [
        "- config_name: default\n  data_files:\n"
        + "".join(
            f"  - split: {split}\n    path:\n" + "".join(f"    - data/{model}/{split}.jsonl\n" for model in PKU_MODELS)
            for split in ("train", "test")
        )
    ]
    configs += [
        f"- config_name: {model.lower()}\n  data_files:\n"
        + "".join(f"  - split: {split}\n    path:\n    - data/{model}/{split}.jsonl\n" for split in ("train", "test"))
        for model in PKU_MODELS
    ]
    write_readme(folder, "license: cc-by-nc-4.0\nconfigs:\n" + "".join(configs))
    for index, model in enumerate(PKU_MODELS):
        write_jsonl(folder / "data" / model / "train.jsonl", [pku_row(model, "train", n) for n in range(index + 2)])
        write_jsonl(folder / "data" / model / "test.jsonl", [pku_row(model, "test", 0)])
    return folder


BUILDERS = {
    "gsm8k": build_gsm8k,
    "hh-rlhf": build_hh,
    "ultrafeedback": build_ultrafeedback,
    "orca-dpo": build_orca,
    "shp": build_shp,
    "pku-saferlhf": build_pku,
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    return {get_format(name).HUB_ID: build(root) for name, build in BUILDERS.items()}


@pytest.fixture
def calls(hub, monkeypatch, tmp_path):
    """Route the formats' Hub ids to their folders inside datasets.load_dataset; every other argument is the one
    load_source passes for a Hub id. Returns the recorded (id, kwargs) calls."""
    import datasets

    real = datasets.load_dataset
    recorded = []

    def load_dataset(path, *args, **kwargs):
        recorded.append((path, dict(kwargs)))
        kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
        return real(str(hub[path]) if path in hub else path, *args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return recorded


def prompts(dataset) -> list[str]:
    return [row["prompt"][-1]["content"] for row in dataset]


def test_every_hub_format_has_a_layout():
    from trlrecipes.data import FORMATS

    assert {name for name in FORMATS if get_format(name).HUB_ID} == set(BUILDERS)


def test_load_source_passes_the_hub_id_data_dir_and_split(calls):
    load_pairs("hh-rlhf", subset="harmless-base", split="test")
    assert calls == [("Anthropic/hh-rlhf", {"data_dir": "harmless-base", "split": "test"})]


def test_hh_rlhf_subsets_and_splits(calls):
    fmt = get_format("hh-rlhf")
    for index, subset in enumerate(fmt.SUBSETS):
        train, summary = load_pairs("hh-rlhf", subset=subset)
        assert summary.converted == index + 2 and prompts(train)[0] == f"Question {subset} train 0?"
        test, _ = load_pairs("hh-rlhf", subset=subset, split=fmt.EVAL_SPLIT)
        assert prompts(test) == [f"Question {subset} test?"]
    everything, summary = load_pairs("hh-rlhf")  # no data_dir: the four subsets' train files, not the red-team file
    assert summary.converted == 2 + 3 + 4 + 5
    with pytest.raises(UserError, match="could not load dataset 'Anthropic/hh-rlhf'"):
        load_pairs("hh-rlhf", subset="helpful_base")


def test_ultrafeedback_default_split_is_train_prefs(calls):
    fmt = get_format("ultrafeedback")
    train, summary = load_pairs("ultrafeedback")
    assert calls[-1] == (fmt.HUB_ID, {"data_dir": None, "split": "train_prefs"})
    assert prompts(train) == ["train_prefs prompt 1?", "train_prefs prompt 2?"]
    assert summary.skipped == {"tied_scores": 1}
    test, _ = load_pairs("ultrafeedback", split=fmt.EVAL_SPLIT)
    assert prompts(test) == ["test_prefs prompt 1?"]
    with pytest.raises(UserError, match="split 'train'"):  # the split the command line used to default to
        load_pairs("ultrafeedback", split="train")


def test_orca_single_train_split(calls):
    fmt = get_format("orca-dpo")
    pairs, summary = load_pairs("orca-dpo")
    assert summary.converted == 2 and fmt.EVAL_SPLIT is None
    assert pairs[1]["prompt"] == [{"role": "system", "content": "You are helpful."}, user("2 + 2?")]
    with pytest.raises(UserError, match="split 'test'"):
        load_pairs("orca-dpo", split="test")


def test_shp_subreddit_folders_and_validation_split(calls):
    fmt = get_format("shp")
    everything, _ = load_pairs("shp")
    assert len(everything) == SHP_SPLITS["train"] * len(SHP_SUBREDDITS)
    one, _ = load_pairs("shp", subset="askculinary")
    assert prompts(one) == [f"askculinary train question {n}?" for n in range(3)]
    held_out, _ = load_pairs("shp", subset="askphysics", split=fmt.EVAL_SPLIT)
    assert prompts(held_out) == [f"askphysics validation question {n}?" for n in range(2)]
    with pytest.raises(UserError, match="split 'valid'"):
        load_pairs("shp", split="valid")


def test_pku_default_config_and_model_folders(calls):
    fmt = get_format("pku-saferlhf")
    everything, summary = load_pairs("pku-saferlhf")
    assert summary.converted == 2 + 3 + 4 and summary.notes == {"axes_disagree": 9}
    for index, subset in enumerate(fmt.SUBSETS):
        model = subset.split("/")[1]
        train, _ = load_pairs("pku-saferlhf", subset=subset)
        assert prompts(train)[0] == f"{model} train question 0?" and len(train) == index + 2
        test, _ = load_pairs("pku-saferlhf", subset=subset, split=fmt.EVAL_SPLIT)
        assert prompts(test) == [f"{model} test question 0?"]
    assert {row["chosen"][0]["content"] for row in everything} == {f"A safe reply {n}." for n in range(4)}
