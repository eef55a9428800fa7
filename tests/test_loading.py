"""The one model loader: precision rule, pad-token fix-up, adapter on top, one-line errors."""

import pytest

from trlrecipes.errors import UserError


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
