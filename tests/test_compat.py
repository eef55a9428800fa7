"""Every private TRL/transformers reach in trlrecipes._compat still finds what it relies on in the installed
versions: an upgrade that renames one fails here, by name, instead of silently changing a run."""

import inspect
from types import SimpleNamespace

import pytest


@pytest.mark.parametrize("device, expected", [("cpu", 4096), ("cuda", 32768)])
def test_fused_head_chunks_are_narrowed_on_cpu_only(monkeypatch, device, expected):
    import trl.trainer.utils as trl_utils

    from trlrecipes._compat import _CHUNK_ATTR, narrow_head_chunks_on_cpu

    assert isinstance(getattr(trl_utils, _CHUNK_ATTR, None), int), "TRL renamed its fused-head tile constant"
    monkeypatch.setattr(trl_utils, _CHUNK_ATTR, 32768)
    narrow_head_chunks_on_cpu(SimpleNamespace(args=SimpleNamespace(device=SimpleNamespace(type=device))))
    assert getattr(trl_utils, _CHUNK_ATTR) == expected


def test_the_chunk_constant_is_what_the_fused_head_reads():
    """Setting the constant only matters if TRL's chunked log-prob code reads it at call time (by global name)."""
    import trl.trainer.utils as trl_utils

    from trlrecipes._compat import _CHUNK_ATTR

    source = inspect.getsource(trl_utils)
    # defined once and read (as a module global, at call time) at least once more
    assert source.count(f"{_CHUNK_ATTR} =") == 1 and source.count(_CHUNK_ATTR) >= 2, f"TRL no longer reads {_CHUNK_ATTR}"


def test_fused_head_detection_matches_the_installed_trl():
    import trl.trainer.utils as trl_utils

    from trlrecipes._compat import trl_has_fused_head

    assert trl_has_fused_head() == hasattr(trl_utils, "add_fused_lm_head")


def test_train_sampler_hook_is_the_one_the_trainer_calls():
    from transformers import Trainer

    from trlrecipes._compat import set_train_sampler

    assert "_get_train_sampler" in Trainer.get_train_dataloader.__code__.co_names
    assert list(inspect.signature(Trainer._get_train_sampler).parameters)[:2] == ["self", "train_dataset"]
    trainer = SimpleNamespace()
    sentinel = object()
    set_train_sampler(trainer, sentinel)
    assert trainer._get_train_sampler() is sentinel


def test_dpo_loss_names_are_the_losses_the_trainer_computes():
    """The names read from DPOConfig's help text are exactly the branches of DPOTrainer's loss."""
    import re

    import trl.trainer.dpo_trainer as dpo_trainer

    from trlrecipes._compat import dpo_loss_names

    names = dpo_loss_names()
    computed = set(re.findall(r'loss_type == "(\w+)"', inspect.getsource(dpo_trainer.DPOTrainer)))
    assert {"sigmoid", "ipo", "sft"} <= set(names) and set(names) == computed
