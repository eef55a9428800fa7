"""Batched greedy answers (one left-padded batch per side) are the answers each prompt gets on its own."""

from pathlib import Path


def test_batched_answers_equal_one_prompt_at_a_time(tiny_model):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trlrecipes.tools.generate import generate_answers

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model),
        LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False),
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    prompts = ["Hi", "How do I boil an egg? Tell me the steps, please.", "What is the capital of France?"]
    loaded = (model, tokenizer)
    batched = generate_answers(Path("unused"), prompts, compare=True, max_new_tokens=12, model_and_tokenizer=loaded)
    alone = [
        generate_answers(Path("unused"), [p], compare=True, max_new_tokens=12, model_and_tokenizer=loaded)[0]
        for p in prompts
    ]
    assert batched == alone
    assert any(row["trained"] != row["reference"] for row in batched)  # the adapter is on for "trained" only
    assert tokenizer.padding_side == AutoTokenizer.from_pretrained(tiny_model).padding_side  # restored
