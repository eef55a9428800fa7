"""Reference log-probs computed once and reused (trlrecipes.run.refcache): same numbers as the live reference,
a cache key that ignores output_dir / beta / LoRA rank, reuse on --resume, and the auto rule."""

import json
import re
from types import SimpleNamespace

import pytest

from trlrecipes import api
from trlrecipes.run import refcache
from trlrecipes.testing import tiny_overrides

COMPARED = (
    "loss",
    "logps/chosen",
    "logps/rejected",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "eval_loss",
    "eval_rewards/chosen",
    "eval_rewards/rejected",
    "eval_rewards/margins",
)


def _metrics(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def _run(tiny_model, hh_files, folder, *extra, resume=False):
    overrides = tiny_overrides(tiny_model, *hh_files, folder) + [
        "max_steps=4",
        "eval_steps=2",
        "save_steps=2",
        "logging_steps=1",
        *extra,
    ]
    return api.run("hh-dpo", *overrides, resume=resume)


@pytest.mark.slow
def test_cached_reference_gives_the_live_logps_and_rewards(tiny_model, hh_files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRLRECIPES_CACHE", str(tmp_path / "cache"))
    _run(tiny_model, hh_files, tmp_path / "live", "trl.precompute_ref_log_probs=false")
    assert "computed live at every step (trl.precompute_ref_log_probs=false)" in capsys.readouterr().out
    _run(tiny_model, hh_files, tmp_path / "first", "trl.precompute_ref_log_probs=true")
    assert "reference log-probs: computed once for 24 train, 8 eval pairs" in capsys.readouterr().out
    cached = sorted((tmp_path / "cache" / "reference-logps").glob("*.ref.arrow"))
    assert len(cached) == 2  # train and eval
    live, first = _metrics(tmp_path / "live"), _metrics(tmp_path / "first")
    assert [r["step"] for r in live] == [r["step"] for r in first]
    compared = 0
    for a, b in zip(live, first, strict=True):
        for key in set(COMPARED) & set(a):
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), (a["step"], key)
            compared += 1
    assert compared >= 30

    # Another output_dir, beta and LoRA rank: the same reference, so nothing is recomputed.
    _run(tiny_model, hh_files, tmp_path / "other", "trl.precompute_ref_log_probs=true", "beta=0.3", "lora_r=4")
    assert "reference log-probs: from the cache for 24 train, 8 eval pairs" in capsys.readouterr().out
    assert sorted((tmp_path / "cache" / "reference-logps").glob("*.ref.arrow")) == cached

    # A resumed run reads them from the cache as well (and precompute may differ on resume: same training).
    _run(tiny_model, hh_files, tmp_path / "first", "trl.precompute_ref_log_probs=true", "max_steps=6", resume=True)
    out = capsys.readouterr().out
    assert "resuming from" in out and "reference log-probs: from the cache" in out
    assert [r["step"] for r in _metrics(tmp_path / "first") if "loss" in r] == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_a_different_max_length_is_a_different_reference(tiny_model, hh_files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRLRECIPES_CACHE", str(tmp_path / "cache"))
    _run(tiny_model, hh_files, tmp_path / "a", "trl.precompute_ref_log_probs=true", "max_steps=1", "eval_steps=0")
    _run(
        tiny_model,
        hh_files,
        tmp_path / "b",
        "trl.precompute_ref_log_probs=true",
        "max_steps=1",
        "eval_steps=0",
        "max_length=40",
    )
    out = capsys.readouterr().out
    # eval_steps=0: nothing is evaluated during training, so only the training pairs need a reference
    assert len(re.findall(r"reference log-probs: computed once for \d+ train pairs", out)) == 2
    assert len(list((tmp_path / "cache" / "reference-logps").glob("*.ref.arrow"))) == 2


def test_token_hash_follows_the_tokens_only():
    from datasets import Dataset

    rows = {"prompt_ids": [[1, 2], [3]], "chosen_ids": [[4], [5, 6]], "rejected_ids": [[7], [8]]}
    same = Dataset.from_dict({**rows, "extra": ["a", "b"]})
    assert refcache.tokens_hash(Dataset.from_dict(rows)) == refcache.tokens_hash(same)
    moved = {**rows, "prompt_ids": [[1], [2, 3]]}  # same flat tokens, other boundaries
    assert refcache.tokens_hash(Dataset.from_dict(moved)) != refcache.tokens_hash(Dataset.from_dict(rows))


def test_reference_weights_hash_ignores_the_adapter_but_not_the_base(tiny_model):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    def trainer_for(rank, seed):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_pretrained(tiny_model)
        model = get_peft_model(model, LoraConfig(r=rank, target_modules="all-linear", init_lora_weights=False))
        return SimpleNamespace(ref_model=None, model=model, accelerator=SimpleNamespace(unwrap_model=lambda m: m))

    first = trainer_for(4, 0)
    assert refcache.reference_weights_hash(first) == refcache.reference_weights_hash(trainer_for(8, 1))
    with torch.no_grad():
        first.model.get_base_model().model.embed_tokens.weight[0, 0] += 1.0
    assert refcache.reference_weights_hash(first) != refcache.reference_weights_hash(trainer_for(4, 0))


def _planned(rows, *, max_steps=-1, epochs=1.0, batch=4, accumulation=1, eval_rows=0, eval_steps=0):
    args = SimpleNamespace(
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=accumulation,
        world_size=1,
        max_steps=max_steps,
        num_train_epochs=epochs,
        eval_strategy="steps" if eval_steps else "no",
        eval_steps=eval_steps if eval_steps else None,
    )
    return SimpleNamespace(args=args, train_dataset=[0] * rows, eval_dataset=[0] * eval_rows if eval_rows else None)


@pytest.mark.parametrize(
    "trainer, live, once",
    [
        (_planned(304, max_steps=30), 120, 304),  # the demo: 30 steps x 4 of 304 pairs -> live is cheaper
        (_planned(304, max_steps=30, eval_rows=60), 120, 304),  # held-out pairs not evaluated during training
        (_planned(100, epochs=1.0), 100, 100),  # one epoch: the same pairs either way
        (_planned(100, epochs=3.0), 300, 100),
        (_planned(1000, epochs=1.0, batch=4, accumulation=4, eval_rows=50, eval_steps=20), 63 * 16 + 50 * 4, 1050),
    ],
)
def test_live_and_precomputed_reference_rows(trainer, live, once):
    assert refcache.live_reference_rows(trainer) == (live, once)


def test_only_a_single_process_dpo_config_hands_the_flag_over(monkeypatch):
    class DPOConfig:
        pass

    class KTOConfig:
        pass

    settings = {"precompute_ref_log_probs": "true", "beta": 0.1}
    assert refcache.take_request(DPOConfig, settings) is True and settings == {"beta": 0.1}
    assert refcache.take_request(DPOConfig, {"beta": 0.1}) is None
    kto = {"precompute_ref_log_probs": True}
    assert refcache.take_request(KTOConfig, kto) is None and kto == {"precompute_ref_log_probs": True}
    monkeypatch.setenv("WORLD_SIZE", "2")
    ddp = {"precompute_ref_log_probs": True}
    assert refcache.take_request(DPOConfig, ddp) is None and ddp == {"precompute_ref_log_probs": True}
