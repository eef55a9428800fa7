"""Batched greedy answers (all prompts and both sides in one left-padded batch) are the answers each prompt gets
on its own."""

import json
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


def _lora_model(tiny_model):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model),
        LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False),
    ).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model)


def test_both_sides_in_one_greedy_batch_equal_a_pass_per_side(tiny_model):
    """Greedy: trained and reference rows share one generate call (PEFT mixed-adapter batch); the ids equal
    a pass with the adapter on followed by a pass under disable_adapter()."""
    from trlrecipes.tools.generate import generate_sides

    model, tokenizer = _lora_model(tiny_model)
    texts = ["Hi", "How do I boil an egg? Tell me the steps, please.", "What is the capital of France?"]
    decoding = {"max_new_tokens": 10, "do_sample": False}
    together = generate_sides(model, tokenizer, texts, decoding)
    trained = generate_sides(model, tokenizer, texts, decoding, reference=False)["trained"]
    with model.disable_adapter():
        reference = generate_sides(model, tokenizer, texts, decoding, reference=False)["trained"]
    assert together == {"trained": trained, "reference": reference}
    assert trained != reference
    assert all(len(row) == 10 for row in trained + reference)


def test_sampled_sides_are_seeded_alike(tiny_model):
    """Sampling: a pass per side with the same seed, so that with the adapter's effect removed (the LoRA B
    matrices zeroed) both sides draw the same replies."""
    import torch

    from trlrecipes.tools.generate import generate_sides

    model, tokenizer = _lora_model(tiny_model)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.zero_()
    decoding = {"max_new_tokens": 8, "do_sample": True, "temperature": 1.0, "top_k": 0, "num_return_sequences": 2}
    sides = generate_sides(model, tokenizer, ["Hi", "Tell me a story"], decoding, seed=3)
    assert len(sides["trained"]) == 4 and sides["trained"] == sides["reference"]
    assert generate_sides(model, tokenizer, ["Hi", "Tell me a story"], decoding, seed=4) != sides


def test_demo_before_after_answers_are_read_from_the_judged_replies(tmp_path):
    from trlrecipes.demo.showcase import answers_from_generations

    rows = [
        {"prompt": "Q1", "sample": 0, "reference": "r1", "trained": "t1"},
        {"prompt": "Q1", "sample": 1, "reference": "r1b", "trained": "t1b"},  # a second sample: not the greedy one
        {"prompt": "Q2", "sample": 0, "reference": "r2", "trained": "t2", "conversation": [{"role": "user"}]},
        {"prompt": "Q3", "sample": 0, "reference": "r3", "trained": "t3"},
    ]
    path = tmp_path / "eval_generations.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    found = answers_from_generations(path, ["Q1", "Q2", "Q4"])
    assert found == {"Q1": {"prompt": "Q1", "trained": "t1", "reference": "r1"}}  # Q2 multi-turn, Q4 absent


def test_replies_end_at_the_first_end_token_and_count_as_cut_only_without_one():
    """One decoding for every command that generates (generate, eval --generate, the demo, synth): a reply is the
    text before its first end token (the generation config's or the tokenizer's), even when that token is not a
    special token the tokenizer would skip; a reply with no end token that filled max_new_tokens is cut."""
    from types import SimpleNamespace

    from trlrecipes.tools.generate import decode_replies

    tokenizer = SimpleNamespace(
        eos_token_id=2,
        decode=lambda ids, skip_special_tokens: " ".join(f"t{i}" for i in ids if not (skip_special_tokens and i == 2)),
    )
    model = SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=[7, 2]))
    rows = [[5, 6, 7, 8, 9], [5, 2, 0, 0, 0], [5, 6, 8, 9, 4], [5, 6]]
    out = decode_replies(model, tokenizer, rows, max_new_tokens=5)
    assert out["texts"] == ["t5 t6", "t5", "t5 t6 t8 t9 t4", "t5 t6"]
    assert out["tokens"] == [2, 1, 5, 2]
    assert out["cut"] == [False, False, True, False]
