"""`trlrecipes merge`: the merged folder loads with plain transformers and reproduces base + adapter."""

import json

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.testing import fake_run_folder

SAMPLE = [{"role": "user", "content": "How do I boil an egg?"}]


def make_run(base, folder, **config):
    """A finished-looking run folder: a LoRA adapter with random (non-zero) weights and the files a run writes."""
    return fake_run_folder(
        folder,
        base_model=base,
        config={
            "precision": "auto",
            "load_in_4bit": False,
            "trust_remote_code": False,
            "dataset": "data/train.jsonl",
            "data_format": "hh-rlhf",
            "beta": 0.25,
            "learning_rate": 5e-6,
            "lora_r": 4,
            "lora_alpha": 8,
            "lora_dropout": 0.05,
            "max_length": 256,
            "max_steps": 30,
            **config,
        },
        preset="hh-dpo",
        info={
            "recipe": "hh-dpo",
            "method": "DPO",
            "description": "DPO with LoRA on Anthropic hh-rlhf (helpful-base), reference = the base model with "
            "adapters disabled",
            "status": "completed",
            "global_step": 30,
            "versions": {"trlrecipes": "0.1.0", "trl": "1.16.0"},
        },
        data_summary={
            "train": {
                "source": "data/train.jsonl",
                "used": 100,
                "read": 103,
                "converted": 100,
                "skipped": {"empty_reply": 3},
            }
        },
        metrics=[
            {"step": 10, "loss": 0.69, "rewards/accuracies": 0.5},
            {"step": 30, "loss": 0.41, "rewards/accuracies": 0.875, "rewards/margins": 1.5},
            {"step": 30, "eval_loss": 0.52, "eval_rewards/accuracies": 0.75},
        ],
        evaluation={"pairs": 8, "data": "data/test.jsonl", "accuracy": 0.625, "margin": 0.3},
        adapter=True,
    )


@pytest.fixture(scope="module")
def run_dir(tiny_model, tmp_path_factory):
    return make_run(tiny_model, tmp_path_factory.mktemp("merge") / "run")


def reference_and_merged(base, run, merged_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(run)).eval()
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    return reference, merged, tokenizer


def test_merged_model_matches_base_plus_adapter(run_dir, tiny_model, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    out = tmp_path / "merged"
    result = CliRunner().invoke(app, ["merge", str(run_dir), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "check: max |logit difference|" in result.output
    for name in ("config.json", "generation_config.json", "model.safetensors", "tokenizer_config.json", "README.md"):
        assert (out / name).is_file(), name
    assert not any(p.name.startswith("adapter") for p in out.iterdir())

    reference, merged, tokenizer = reference_and_merged(tiny_model, run_dir, out)
    assert tokenizer.chat_template
    ids = tokenizer.apply_chat_template(SAMPLE, add_generation_prompt=True, return_tensors="pt", return_dict=True)[
        "input_ids"
    ]
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    with torch.no_grad():
        want, got, plain = reference(input_ids=ids).logits, merged(input_ids=ids).logits, base(input_ids=ids).logits
    assert (want - plain).abs().max() > 1e-3, "the random adapter must change the logits for this test to mean much"
    assert torch.allclose(want, got, atol=1e-5, rtol=1e-5), (want - got).abs().max()
    kwargs = dict(max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    with torch.no_grad():
        assert torch.equal(reference.generate(input_ids=ids, **kwargs), merged.generate(input_ids=ids, **kwargs))
    assert merged.dtype == torch.float32


def test_model_card(run_dir, tmp_path):
    from trlrecipes.run.card import data_summary_hash
    from trlrecipes.tools.merge import merge_run

    out = tmp_path / "merged"
    merge_run(run_dir, out)
    card = (out / "README.md").read_text()
    assert card.startswith("---\nbase_model:")
    for text in (
        "hh-dpo",
        "DPO with LoRA on Anthropic hh-rlhf",
        "trlrecipes 0.1.0",
        "data/train.jsonl",
        data_summary_hash(run_dir),
        "| beta | 0.25 |",
        "| lora_r | 4 |",
        "| lora_alpha | 8 |",
        "| max_length | 256 |",
        "steps: 30",
        "rewards/accuracies 0.875",
        "eval_rewards/accuracies 0.75",
        "accuracy 0.625",
        "100 pairs used (103 rows read, 100 converted, 3 skipped: empty_reply 3)",
    ):
        assert text in card, text
    assert "4-bit" not in card


def test_refuses_non_empty_output_unless_force(run_dir, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["merge", str(run_dir), "--output", str(out)])
    assert result.exit_code == 2 and "--force" in result.output
    assert (out / "keep.txt").read_text() == "mine"
    result = CliRunner().invoke(app, ["merge", str(run_dir), "--output", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert not (out / "keep.txt").exists() and (out / "config.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary folders left behind"
    inside = CliRunner().invoke(app, ["merge", str(run_dir), "--output", str(run_dir), "--force"])
    assert inside.exit_code == 2 and "run folder" in inside.output
    missing = CliRunner().invoke(app, ["merge", str(tmp_path / "nope"), "--output", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "not a trlrecipes run folder" in missing.output


def test_bf16_base_stays_bf16_and_4bit_run_is_merged_unquantized(tiny_model, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = tmp_path / "base-bf16"
    AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.bfloat16).save_pretrained(base)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(base)
    run = make_run(base, tmp_path / "qlora-run", load_in_4bit=True)
    out = tmp_path / "merged"
    result = CliRunner().invoke(app, ["merge", str(run), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "4-bit" in result.output and "unquantized bfloat16" in result.output
    assert "4-bit (nf4, QLoRA)" in (out / "README.md").read_text()
    config = json.loads((out / "config.json").read_text())
    assert config.get("dtype", config.get("torch_dtype")) == "bfloat16"
    assert "quantization_config" not in config

    from peft import PeftModel

    merged = AutoModelForCausalLM.from_pretrained(out, dtype="auto").eval()
    assert merged.dtype == torch.bfloat16
    reference = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16), str(run)
    ).eval()
    ids = AutoTokenizer.from_pretrained(out).apply_chat_template(
        SAMPLE, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    with torch.no_grad():
        diff = (reference(input_ids=ids).logits.float() - merged(input_ids=ids).logits.float()).abs().max()
    assert diff < 0.05  # one bf16 rounding of the merged weights
