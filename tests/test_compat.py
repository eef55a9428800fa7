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


@pytest.mark.parametrize("device, compact_on_cpu", [("cpu", True), ("cuda", False)])
def test_reply_positions_only_are_scored_on_cpu_only(monkeypatch, device, compact_on_cpu):
    import torch
    import trl.kernels.chunked_logprob as kernels
    import trl.trainer.utils as trl_utils

    from trlrecipes._compat import _COMPACT_ATTR, score_reply_positions_on_cpu

    current = getattr(trl_utils, _COMPACT_ATTR, None)
    assert callable(current), "TRL renamed the compact-scoring test its fused head reads"
    # TRL's own function, or trlrecipes' wrapper of it when a run in this process has already trained on CPU
    assert current is kernels._use_triton or getattr(current, "_trlrecipes", False)
    original = kernels._use_triton
    source = inspect.getsource(trl_utils)
    assert f"compact = {_COMPACT_ATTR}(" in source, "TRL's fused head no longer chooses compact scoring by this name"
    monkeypatch.setattr(trl_utils, _COMPACT_ATTR, original)
    trainer = SimpleNamespace(args=SimpleNamespace(device=SimpleNamespace(type=device)))
    score_reply_positions_on_cpu(trainer)
    score_reply_positions_on_cpu(trainer)  # idempotent: wrapped once
    patched = getattr(trl_utils, _COMPACT_ATTR)
    assert patched(torch.device("cpu")) is compact_on_cpu
    assert kernels._use_triton(torch.device("cpu")) is False  # the kernel choice is untouched
    if compact_on_cpu:
        assert patched.__defaults__ == (original,)


def test_compact_scoring_gives_the_log_probs_of_scoring_every_position(monkeypatch, tiny_model):
    """The fused head's log-probs at the reply positions are the same (to float rounding) whether the prompt and
    padding positions are scored too (TRL's CPU path) or left out (trlrecipes on CPU); both are 0 elsewhere."""
    import torch
    import trl.trainer.utils as trl_utils
    from transformers import AutoModelForCausalLM

    from trlrecipes._compat import _COMPACT_ATTR

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy"))
    ids = torch.randint(0, model.config.vocab_size, (3, 12))
    labels = ids.clone()
    labels[:, :5] = -100  # the prompt
    labels[1, 9:] = -100  # padding at the end of the second row
    attention = (labels != -100).long() | (torch.arange(12) < 5).long()
    results = {}
    for compact in (False, True):
        monkeypatch.setattr(trl_utils, _COMPACT_ATTR, lambda device, compact=compact: compact)
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=attention, labels=labels, fused_lm_head=True)
        results[compact] = (out.log_probs, out.entropy)
    mask = labels[:, 1:] != -100
    for full, compact in zip(results[False], results[True], strict=True):
        torch.testing.assert_close(compact[mask], full[mask], rtol=1e-5, atol=1e-5)
        assert torch.count_nonzero(compact[~mask]) == 0 and torch.count_nonzero(full[~mask]) == 0


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


def test_gguf_names_are_read_from_the_gguf_module_at_call_time():
    """gguf_read_once only helps while transformers imports GGUFReader and get_tensor_name_map from gguf inside its
    loader functions (a module-level import would keep the originals)."""
    import transformers.modeling_gguf_pytorch_utils as loader

    from trlrecipes._compat import _GGUF_NAMES

    source = inspect.getsource(loader)
    assert "from gguf import GGUFReader" in source and "get_tensor_name_map" in source
    for name in _GGUF_NAMES:
        assert not hasattr(loader, name), f"transformers now binds gguf.{name} at import; gguf_read_once has no effect"


def test_gguf_read_once_parses_a_file_once_and_restores_the_module(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    import gguf

    from trlrecipes._compat import gguf_read_once

    parsed = []
    monkeypatch.setattr(gguf, "GGUFReader", lambda path, *a, **k: parsed.append(path) or object())
    monkeypatch.setattr(gguf, "get_tensor_name_map", lambda arch, layers: parsed.append((arch, layers)) or object())
    originals = (gguf.GGUFReader, gguf.get_tensor_name_map)
    with gguf_read_once():
        first, again = gguf.GGUFReader(tmp_path / "m.gguf"), gguf.GGUFReader(str(tmp_path / "m.gguf"))
        table = gguf.get_tensor_name_map("llama", 30)
        assert again is first and gguf.get_tensor_name_map("llama", 30) is table
        assert gguf.get_tensor_name_map("llama", 2) is not table
    assert parsed == [tmp_path / "m.gguf", ("llama", 30), ("llama", 2)]
    assert (gguf.GGUFReader, gguf.get_tensor_name_map) == originals


def _fused_head_outputs(hidden, weight, targets, *, softcap=None, chunk=16, entropy_grad=False):
    import torch
    from trl.kernels.chunked_logprob import ChunkedLogProbFunction

    hidden = hidden.detach().clone().requires_grad_(True)
    weight = weight.detach().clone().requires_grad_(True)
    outputs = ("log_probs", "entropy", "log_sum_sq_probs", "mean_logits", "is_top1")
    log_probs, entropy, sq, mean, top1 = ChunkedLogProbFunction.apply(
        hidden, weight, None, targets, 0.7, chunk, softcap, 1.3, outputs
    )
    loss = (log_probs * torch.linspace(-1, 2, len(targets))).sum() + (entropy.sum() if entropy_grad else 0)
    loss.backward()
    return [log_probs, entropy, sq, mean, top1, hidden.grad, weight.grad]


@pytest.mark.parametrize("softcap, entropy_grad", [(None, False), (None, True), (30.0, False)])
def test_lean_head_folds_give_trls_statistics_and_gradients(monkeypatch, softcap, entropy_grad):
    """The lean CPU folds give what TRL's own torch folds give: log-probs, entropy, log-sum-sq, mean logits and
    gradients to float rounding, top-1 exactly (ties included: a duplicated vocabulary row before the target in
    the same tile and in an earlier one); a soft-cap or an entropy gradient is handed to TRL's folds."""
    import torch
    import trl.kernels.chunked_logprob as kernels

    from trlrecipes._compat import _FOLD_ATTRS, lean_head_folds_on_cpu

    originals = {name: getattr(kernels, name) for name in _FOLD_ATTRS}
    assert all(callable(f) for f in originals.values()), "TRL renamed its torch folds"
    source = inspect.getsource(kernels.ChunkedLogProbFunction)
    assert all(f"else {name}" in source for name in _FOLD_ATTRS), "TRL's fused head no longer picks these folds"
    for name, fold in list(originals.items()):  # TRL's own, also when an earlier in-process run installed lean ones
        originals[name] = getattr(fold, "keywords", {}).get("_original", fold)
        monkeypatch.setattr(kernels, name, originals[name])
    torch.manual_seed(0)
    vocab, width = 50, 8
    weight = torch.randn(vocab, width)
    weight[20] = weight[37]  # equal logits: 20 sits left of 37 (other tile), 33 left of 37 (same 16-column tile)
    weight[33] = weight[37]
    hidden = torch.randn(12, width) * 3
    hidden[:4] = weight[37] * 4  # rows whose largest logit is the duplicated one
    targets = torch.tensor([37, 20, 33, 5, 0, 49, 16, 15, 31, 32, 47, 48])
    expected = _fused_head_outputs(hidden, weight, targets, softcap=softcap, entropy_grad=entropy_grad)
    lean_head_folds_on_cpu(SimpleNamespace(args=SimpleNamespace(device=SimpleNamespace(type="cpu"))))
    lean_head_folds_on_cpu(SimpleNamespace(args=SimpleNamespace(device=SimpleNamespace(type="cpu"))))  # once
    assert all(getattr(kernels, name).keywords["_original"] is originals[name] for name in _FOLD_ATTRS)
    got = _fused_head_outputs(hidden, weight, targets, softcap=softcap, entropy_grad=entropy_grad)
    assert got[4].tolist() == expected[4].tolist()
    assert expected[4][:2].tolist() == [False, True]  # the tie rule is exercised: 37 loses to 20, 20 wins
    for want, have in zip(expected[:4] + expected[5:], got[:4] + got[5:], strict=True):  # logits up to ~40
        torch.testing.assert_close(have, want, rtol=1e-5, atol=1e-5 * float(want.detach().abs().max()))


def test_lean_head_folds_stay_off_the_gpu(monkeypatch):
    import trl.kernels.chunked_logprob as kernels

    from trlrecipes._compat import _FOLD_ATTRS, lean_head_folds_on_cpu

    before = {name: getattr(kernels, name) for name in _FOLD_ATTRS}
    lean_head_folds_on_cpu(SimpleNamespace(args=SimpleNamespace(device=SimpleNamespace(type="cuda"))))
    assert {name: getattr(kernels, name) for name in _FOLD_ATTRS} == before


@pytest.mark.parametrize("trainer_name", ["GRPOTrainer", "RLOOTrainer"])
def test_cpu_head_patches_give_online_trainers_trls_log_probs_entropy_and_gradients(
    monkeypatch, tiny_model, trainer_name
):
    """run/lifecycle.py applies the three CPU head patches to every trainer, GRPO's and RLOO's too. Through the
    trainers' own scoring of completions (`_get_per_token_logps_and_entropies`, on a LoRA model with TRL's fused head
    asking for log-probs and entropy), the patched head gives TRL's own CPU path's log-probs, entropies and LoRA
    gradients, with a policy-gradient loss alone and with GRPO's entropy bonus (an entropy gradient: the lean
    backward fold hands that case to TRL's), padding and prompt positions included. So no patch needs to skip them."""
    import contextlib

    import torch
    import trl
    import trl.kernels.chunked_logprob as kernels
    import trl.trainer.utils as trl_utils
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from trlrecipes import _compat as compat
    from trlrecipes._compat import (
        _CHUNK_ATTR,
        _COMPACT_ATTR,
        _FOLD_ATTRS,
        lean_head_folds_on_cpu,
        narrow_head_chunks_on_cpu,
        score_reply_positions_on_cpu,
    )

    # TRL's own CPU path, also when an earlier run in this process installed the patches: full tiles, every position
    # scored (its CPU choice), its torch folds
    monkeypatch.setattr(trl_utils, _CHUNK_ATTR, 32768)
    monkeypatch.setattr(trl_utils, _COMPACT_ATTR, lambda device: False)
    for name in _FOLD_ATTRS:
        fold = getattr(kernels, name)
        monkeypatch.setattr(kernels, name, getattr(fold, "keywords", {}).get("_original", fold))
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy"))  # what both trainers ask of the head
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    score = getattr(trl, trainer_name)._get_per_token_logps_and_entropies.__wrapped__  # without TRL's profiling
    trainer = SimpleNamespace(accelerator=SimpleNamespace(autocast=contextlib.nullcontext))
    ids = torch.randint(0, model.config.vocab_size, (4, 14))
    attention = torch.ones_like(ids)
    attention[1, :3] = 0  # a left-padded prompt
    attention[2, 11:] = 0  # a completion that ended early (padding after it)
    advantages = torch.tensor([0.5, -1.0, 1.5, -0.25]).unsqueeze(1)

    def outputs(entropy_bonus: bool):
        model.zero_grad()
        logps, entropy, _ = score(trainer, model, ids, attention, 6, batch_size=2, compute_entropy=True)
        mask = attention[:, -6:].float()
        loss = -(logps * advantages * mask).sum() - (0.01 * (entropy * mask).sum() if entropy_bonus else 0)
        loss.backward()
        grads = [p.grad.clone() for n, p in model.named_parameters() if "lora_" in n]
        return [logps.detach() * mask, entropy.detach() * mask, *grads]

    expected = {bonus: outputs(bonus) for bonus in (False, True)}
    cpu = SimpleNamespace(args=SimpleNamespace(device=torch.device("cpu")))
    monkeypatch.setattr(compat, "CPU_LOGPROB_CHUNK", 64)  # the tiny vocabulary (320) in 5 tiles, as 49152 in 12
    narrow_head_chunks_on_cpu(cpu)
    score_reply_positions_on_cpu(cpu)
    lean_head_folds_on_cpu(cpu)
    assert getattr(trl_utils, _CHUNK_ATTR) == 64 and trl_utils._use_triton(torch.device("cpu"))
    assert all(getattr(getattr(kernels, name), "_trlrecipes", False) for name in _FOLD_ATTRS)
    for bonus in (False, True):
        got = outputs(bonus)
        assert len(got) == len(expected[bonus]) > 2
        for have, want in zip(got, expected[bonus], strict=True):
            torch.testing.assert_close(have, want, rtol=1e-5, atol=1e-6)
    assert not torch.equal(expected[True][2], expected[False][2])  # the entropy bonus did reach the gradients
