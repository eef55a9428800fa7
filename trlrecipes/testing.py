"""What the tests (and benchmarks) build on, offline: nothing here touches the network.

- `build_tiny_model` / `build_tiny_tokenizer`: a 2-layer Llama and a byte-level BPE tokenizer with a ChatML chat
  template, made in-process. The tokenizer is saved in its own folder without a model `config.json`, so
  `AutoTokenizer` cannot swap it for a model-specific class.
- `copy_with_config`: a copy of a model folder with its config.json changed.
- `hh_rows`, `write_jsonl`: hh-rlhf style pairs; `tiny_overrides`: the settings that make any built-in recipe train
  a few quick steps on the tiny model.
- `fake_run_folder`, `fake_checkpoint`: a run folder as a run leaves it, written through `RunRecord` (the one writer
  of a run's records), without training; `snapshot`, `train_steps`, `subprocess_env`: what the end-to-end tests read
  back and run with.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
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


def copy_with_config(model: str | Path, target: str | Path, **changes) -> Path:
    """A copy of the model folder `model` at `target` whose config.json has `changes` (model_type="lama", ...)."""
    import shutil

    target = Path(target)
    shutil.copytree(model, target)
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, **changes}))
    return target


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


# --- data and settings --------------------------------------------------------------------------------------------
_QUESTIONS = [
    (
        "How do I boil an egg?",
        "Put it in boiling water for nine minutes, then cool it in cold water.",
        "I don't know and I don't care.",
    ),
    ("What is the capital of France?", "Paris is the capital of France.", "Figure it out yourself."),
    (
        "Can you help me with my homework?",
        "Sure, tell me which problem you are stuck on.",
        "No. Homework is your problem, not mine.",
    ),
    (
        "Any tips for sleeping better?",
        "Keep a regular bedtime and avoid screens for an hour before sleep.",
        "Just stop complaining and sleep.",
    ),
]


def hh_rows(count: int, offset: int = 0) -> list[dict]:
    """Raw hh-rlhf style rows (single- and two-turn, every pair distinct) for training smoke tests."""
    rows = []
    for i in range(offset, offset + count):
        question, good, bad = _QUESTIONS[i % len(_QUESTIONS)]
        prefix = "" if i % 3 else "\n\nHuman: Hi there!\n\nAssistant: Hello! How can I help?"
        base = f"{prefix}\n\nHuman: {question} (case {i})\n\nAssistant: "
        rows.append({"chosen": base + good, "rejected": base + bad})
    return rows


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    path = Path(path)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def tiny_overrides(model: str | Path, train: str | Path, test: str | Path, output_dir: str | Path) -> list[str]:
    """Settings that make any built-in pair recipe run 3 quick steps on the tiny model with hh-rlhf files."""
    return [
        f"model={model}",
        f"dataset={train}",
        f"eval_dataset={test}",
        f"output_dir={output_dir}",
        "data_format=hh-rlhf",  # the tiny files are hh-rlhf; every pair recipe has a data_format field
        "max_steps=3",
        "logging_steps=1",
        "save_steps=3",
        "eval_steps=3",
        "learning_rate=1e-3",
        "per_device_train_batch_size=2",
        "gradient_accumulation_steps=1",
        "per_device_eval_batch_size=4",
        "max_length=96",
        "max_eval_rows=8",
        "activation_checkpointing=false",
    ]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a trlrecipes subprocess in a test: offline, one thread (two such processes may run at
    once on the 2 cores), plus `extra`."""
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **extra,
    }


# --- run folders ----------------------------------------------------------------------------------------------------
def fake_checkpoint(
    folder: str | Path,
    step: int,
    *,
    complete: bool = True,
    state: str | None = None,
    weights: bytes = b"\1" * 16,
) -> Path:
    """checkpoint-<step>/ as the trainer leaves it: trainer_state.json (`state` replaces its text), weights, and the
    completeness marker unless `complete` is False (a save cut short)."""
    from trlrecipes.run.folder import COMPLETE_MARKER

    path = Path(folder) / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "trainer_state.json").write_text(state if state is not None else json.dumps({"global_step": step}))
    (path / "adapter_model.safetensors").write_bytes(weights)
    if complete:
        (path / COMPLETE_MARKER).write_text("ok\n")
    return path


def fake_preset_run(folder: str | Path, preset: str, overrides: list[str], **records) -> Path:
    """fake_run_folder for a run of a built-in preset with these key=value overrides: config.yaml holds the settings
    `trlrecipes run PRESET OVERRIDES` resolves to (base model included); `records` as fake_run_folder takes them."""
    from trlrecipes.run.execute import RunFlags, resolve
    from trlrecipes.run.recipes import resolve_recipe
    from trlrecipes.run.resolve import to_dict

    cfg = to_dict(resolve(resolve_recipe(preset), RunFlags(overrides=list(overrides))))
    return fake_run_folder(folder, base_model=cfg["model"], config=cfg, preset=preset, **records)


def fake_run_folder(
    folder: str | Path,
    *,
    base_model: str | Path,
    config: dict | None = None,
    info: dict | None = None,
    data_summary: dict | None = None,
    metrics: list[dict] | None = None,
    evaluation: dict | None = None,
    adapter: bool = False,
    program: str | None = "dpo",
    preset: str | None = None,
    checkpoints: Iterable[int] = (),
    verdicts: list[dict] | None = None,
    summary: dict | None = None,
    generations: list[dict] | None = None,
) -> Path:
    """A run folder as a run of `program` (a built-in program's name; `preset` a built-in preset's) leaves it, without
    training: config.yaml (`config` with model=`base_model`), program.py (and preset.yaml), run.json (`info` over
    status "completed"), and each record given: data_summary.json, metrics.jsonl, eval.json, verdicts.json,
    summary.json, eval_generations.jsonl. `adapter`: a LoRA adapter of `base_model` with random, non-zero weights (B
    is not left at zero, so it changes the logits) and the base model's tokenizer; `checkpoints`: a complete
    checkpoint-N/ for each step. Returns the folder."""
    from trlrecipes import files
    from trlrecipes.run import record as records
    from trlrecipes.run.recipes import builtin_dir

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"model": str(base_model), **(config or {})}
    if cfg["model"] != str(base_model):
        raise ValueError(f"config model {cfg['model']!r} is not base_model {str(base_model)!r}")
    record = records.RunRecord(folder)
    record.write_config(cfg)
    if program is not None:
        record.copy_sources(builtin_dir() / f"{program}.py", builtin_dir() / f"{preset}.yaml" if preset else None)
    record.write_info({"status": "completed", **(info or {})})
    if data_summary is not None:
        record.write_data_summary(data_summary)
    if metrics is not None:
        record.write_rows(records.METRICS, metrics)
    if evaluation is not None:
        record.save_evaluation(evaluation)
    if verdicts is not None:
        files.write_json(record.path(records.VERDICTS), verdicts)
    if summary is not None:
        files.write_json(record.path(records.SUMMARY), summary)
    if generations is not None:
        record.write_rows(records.GENERATIONS, generations)
    if adapter:
        _save_random_adapter(base_model, folder)
    for step in checkpoints:
        fake_checkpoint(folder, step)
    return folder


def _save_random_adapter(base_model: str | Path, folder: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(base_model)),
        LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False),
    )
    model.save_pretrained(str(folder))
    AutoTokenizer.from_pretrained(str(base_model)).save_pretrained(str(folder))


def snapshot(folder: str | Path) -> dict | None:
    """Every path under `folder` with its size and mtime (None when the folder does not exist): equal snapshots
    mean nothing was written, replaced or removed."""
    folder = Path(folder)
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def train_steps(folder: str | Path) -> list[int]:
    """The steps of the train logs in metrics.jsonl, in the order logged."""
    records = [json.loads(line) for line in (Path(folder) / "metrics.jsonl").read_text().splitlines()]
    return [record["step"] for record in records if "loss" in record]
