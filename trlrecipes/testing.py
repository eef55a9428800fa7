"""Tiny offline model and tokenizer for tests and benchmarks: nothing here touches the network.

The tokenizer is a byte-level BPE trained in-process with a ChatML chat template. It is saved in its own
folder without a model `config.json`, so `AutoTokenizer` cannot swap it for a model-specific class.
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_CORPUS = [
    "How do I boil an egg? Put it in boiling water for nine minutes, then cool it in cold water.",
    "What is the capital of France? Paris is the capital of France.",
    "Can you help me with my homework? Sure, tell me which problem you are stuck on.",
    "I don't know and I don't care. Figure it out yourself.",
    "The quick brown fox jumps over the lazy dog. Human: Assistant: user assistant system",
    "Thanks for the help! You're welcome, happy to help with anything else.",
    "0123456789 !?.,;:'\"()[]{}<>-_=+*/\\|@#$%^&~` \n\t",
]


def build_tiny_tokenizer(folder: str | Path | None = None, vocab_size: int = 320):
    """Train a byte-level BPE tokenizer with a ChatML template; save it to `folder` when given."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None, unk_token=None
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    if folder is not None:
        tokenizer.save_pretrained(str(folder))
    return tokenizer


def build_tiny_model(folder: str | Path, hidden_size: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Save a randomly initialised 2-layer Llama model plus the tiny tokenizer into one folder and return it.

    The tokenizer is saved as a plain `PreTrainedTokenizerFast` (tokenizer_class in tokenizer_config.json), which
    `AutoTokenizer` honours even next to the model's config.json.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    tokenizer = build_tiny_tokenizer(folder)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    return folder


def build_gsm8k(root: Path) -> Path:
    """openai/gsm8k as published: README `configs` main/socratic (no default), <config>/<split>-*.parquet."""
    import datasets

    folder = root / "gsm8k"
    configs = "".join(
        f"- config_name: {config}\n  data_files:\n"
        + "".join(f"  - split: {split}\n    path: {config}/{split}-*\n" for split in ("train", "test"))
        for config in ("main", "socratic")
    )
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(f"---\nlicense: mit\nconfigs:\n{configs}---\n\n# GSM8K\n", encoding="utf-8")
    for config in ("main", "socratic"):
        (folder / config).mkdir()
        for split, count in (("train", 3), ("test", 2)):
            rows = [
                {
                    "question": f"{config} {split} question {n}?",
                    "answer": f"{n} + 1 = <<{n}+1={n + 1}>>{n + 1}\n#### {n + 1}",
                }
                for n in range(count)
            ]
            rows.append({"question": f"{config} {split} unanswered?", "answer": "no final line"})
            datasets.Dataset.from_list(rows).to_parquet(str(folder / config / f"{split}-00000-of-00001.parquet"))
    return folder
