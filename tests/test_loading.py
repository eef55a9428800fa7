"""The one model loader (precision rule, pad-token fix-up, adapter on top, one-line errors) and what opening a run
folder tells about a run that did not complete."""

import contextlib
import os

import pytest

from trlrecipes.errors import UserError
from trlrecipes.run import folder as run_folder
from trlrecipes.run.record import RunRecord
from trlrecipes.testing import fake_run_folder


def test_loads_base_and_adapter_with_pad_fixed(tiny_model, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from trlrecipes.tools.loading import load_model

    adapter = tmp_path / "adapter"
    peft = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model),
        LoraConfig(r=2, lora_alpha=4, target_modules="all-linear", init_lora_weights=False),
    )
    peft.save_pretrained(adapter)
    model, tokenizer = load_model(str(tiny_model), adapter=adapter, padding_side="left")
    assert model.dtype == torch.float32  # CPU: fp32 (bf16 here is ~14x slower)
    assert tokenizer.pad_token is not None and model.config.pad_token_id == tokenizer.pad_token_id
    assert tokenizer.padding_side == "left" and not model.training
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        trained = model(ids).logits
        with model.disable_adapter():
            base = model(ids).logits
    assert not torch.allclose(trained, base)  # the adapter is applied


def test_reward_kind_and_missing_model(tiny_model, tmp_path):
    from trlrecipes.tools.loading import load_model

    model, _ = load_model(str(tiny_model), kind="reward")
    assert type(model).__name__.endswith("ForSequenceClassification")
    with pytest.raises(UserError, match="--reward-model .* could not be loaded"):
        load_model(str(tmp_path / "nowhere"), what="--reward-model")


def test_tools_warn_about_a_run_that_did_not_complete(tmp_path, capsys):
    from trlrecipes.tools.loading import open_run as read

    def load_run_config(folder):  # the warning comes first; this stand-in folder has no real model to check after it
        with contextlib.suppress(UserError):
            read(folder)

    out = fake_run_folder(tmp_path / "run", base_model="m", checkpoints=[2])
    RunRecord(out).update_info(status="completed", global_step=2)
    load_run_config(out)  # what eval, generate and merge read first
    assert capsys.readouterr().err == ""

    RunRecord(out).update_info(status="running")  # as kill -9 leaves it: nobody holds the folder
    load_run_config(out)
    err = capsys.readouterr().err
    assert err.startswith(f"warning: {out}: the run ended abruptly") and err.count("\n") == 1
    assert "resume from checkpoint-2 with --resume" in err

    lock = run_folder.FolderLock(out).acquire("trlrecipes run hh-dpo")
    try:
        load_run_config(out)
        assert f"is still training (pid {os.getpid()}: trlrecipes run hh-dpo)" in capsys.readouterr().err
    finally:
        lock.release()

    RunRecord(out).update_info(status="failed", reason="OSError: [Errno 28] No space left on device")
    load_run_config(out)
    assert (
        "not a completed run (failed at step 2: OSError: [Errno 28] No space left on device)"
        in capsys.readouterr().err
    )
    RunRecord(out).update_info(status="interrupted", reason=None)
    load_run_config(out)
    assert (
        "(interrupted at step 2); using the adapter at the top of the folder (saved at step 2)"
        in capsys.readouterr().err
    )
