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
    assert source.count(f"{_CHUNK_ATTR} =") == 1 and source.count(_CHUNK_ATTR) >= 2, (
        f"TRL no longer reads {_CHUNK_ATTR}"
    )


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


def test_precomputed_reference_switch_is_what_the_loss_reads():
    """`use_precomputed_reference` flips `DPOTrainer.precompute_ref_logps`: the loss must read it and take the
    reference from the batch columns, the collator must pass them, and the reference pass keeps its signature."""
    from trl.trainer.dpo_trainer import DataCollatorForPreference, DPOTrainer

    from trlrecipes._compat import use_precomputed_reference
    from trlrecipes.run.refcache import COLUMNS

    loss_source = inspect.getsource(DPOTrainer._compute_loss)
    assert "if self.precompute_ref_logps:" in loss_source
    assert all(f'inputs["{column}"]' in loss_source for column in COLUMNS)
    assert list(inspect.signature(DPOTrainer.compute_ref_log_probs).parameters) == ["self", "model", "inputs"]
    batch = DataCollatorForPreference(pad_token_id=0)(
        [{"prompt_ids": [1, 2], "chosen_ids": [3], "rejected_ids": [4], COLUMNS[0]: -1.5, COLUMNS[1]: -2.5}]
    )
    assert batch[COLUMNS[0]].tolist() == [-1.5] and batch[COLUMNS[1]].tolist() == [-2.5]
    trainer = SimpleNamespace(precompute_ref_logps=False)
    use_precomputed_reference(trainer)
    assert trainer.precompute_ref_logps is True


def test_bitsandbytes_is_deferred_unless_needed(tmp_path):
    """In a fresh process: deferred, peft/transformers/trl import and build LoRA layers without loading
    bitsandbytes (and say it is absent); asked for again (load_in_4bit), it imports and peft sees it."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes is not installed")
    probe = (
        "import sys\n"
        "from trlrecipes._compat import defer_bitsandbytes\n"
        "defer_bitsandbytes(needed=False)\n"
        "import peft, trl, transformers\n"
        "from peft import LoraConfig, get_peft_model\n"
        "from peft.import_utils import is_bnb_available\n"
        "from transformers import LlamaConfig, LlamaForCausalLM\n"
        "from transformers.utils import is_bitsandbytes_available\n"
        "config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,\n"
        "                     num_attention_heads=2, num_key_value_heads=1)\n"
        "get_peft_model(LlamaForCausalLM(config), LoraConfig(r=2, target_modules='all-linear'))\n"
        "assert sys.modules.get('bitsandbytes') is None, 'bitsandbytes was imported'\n"
        "assert not is_bnb_available() and not is_bitsandbytes_available()\n"
        "defer_bitsandbytes(needed=True)\n"
        "import bitsandbytes\n"
        "assert is_bnb_available() and is_bitsandbytes_available()\n"
        "import peft.helpers\n"
        "assert peft.helpers.bnb is bitsandbytes\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


@pytest.mark.parametrize(
    "settings, needed",
    [
        ({"load_in_4bit": False, "trl": {}}, False),
        ({"load_in_4bit": True, "trl": {}}, True),
        ({"load_in_4bit": False, "trl": {"optim": "adamw_bnb_8bit"}}, True),
        ({"load_in_4bit": False, "trl": {"optim": "paged_adamw_32bit"}}, True),
        ({"load_in_4bit": False, "trl": {"weight_decay": 0.01}}, False),
    ],
)
def test_which_runs_need_bitsandbytes(settings, needed):
    from trlrecipes.hardware import needs_bitsandbytes

    assert needs_bitsandbytes(SimpleNamespace(**settings)) is needed
