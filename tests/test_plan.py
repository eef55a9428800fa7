"""`trlrecipes plan`: the memory estimate's arithmetic, proposals that really fit, and the command's output."""

import json

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.tools.plan import (
    GIB,
    NF4_BYTES_PER_PARAM,
    Settings,
    estimate,
    layer_activation_bytes,
    model_shape,
    parse_budget,
    plan_recipe,
    propose,
)

# Qwen2.5-0.5B's shape (hh-dpo's default model), so the tests need no network.
QWEN_05B = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "tie_word_embeddings": True,
    "max_position_embeddings": 32768,
}
# A Llama-shaped 3B-class model (no tied embeddings), for the 4-bit proposal.
LLAMA_3B = {
    "model_type": "llama",
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "num_hidden_layers": 28,
    "num_attention_heads": 24,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "tie_word_embeddings": False,
}


@pytest.fixture
def qwen_config(tmp_path):
    path = tmp_path / "qwen" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(QWEN_05B))
    return path


def small_shape():
    from transformers import LlamaConfig

    return model_shape(
        LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=1000,
            tie_word_embeddings=True,
        ),
        "small",
    )


def settings(**kw):
    base = dict(
        precision="bf16",
        load_in_4bit=False,
        max_length=128,
        batch=2,
        grad_accum=1,
        eval_batch=2,
        checkpointing=False,
        lora_r=8,
        lora_dropout=0.05,
    )
    return Settings(**{**base, **kw})


def test_counts_and_weights_by_hand():
    shape = small_shape()
    # per layer: q 64x64, k 64x32, v 64x32 (2 kv heads x 16), o 64x64, gate/up/down 64x128 each
    per_layer_linear = 64 * 64 + 64 * 32 + 64 * 32 + 64 * 64 + 3 * 64 * 128
    assert per_layer_linear == 36864
    assert shape.linear_params == 2 * per_layer_linear
    # + 2 RMSNorms per layer, the final norm, one (tied) embedding matrix
    assert shape.params == 2 * per_layer_linear + 2 * 2 * 64 + 64 + 1000 * 64 == 138048
    # LoRA r=8: r * (in + out) per linear layer
    assert shape.lora_params(8) == 2 * 8 * ((64 + 64) + (64 + 32) * 2 + (64 + 64) + 3 * (64 + 128)) == 16384

    e = estimate(shape, settings())
    assert e.get("weights") == 138048 * 2  # bf16
    assert e.get("LoRA + AdamW") == 16384 * 16  # fp32 param + grad + 2 AdamW moments
    assert estimate(shape, settings(precision="fp32")).get("weights") == 138048 * 4
    # 4-bit: linear weights at 0.5 + 1/64 + 4/16384 byte, the rest (norms, embeddings) in bf16
    assert NF4_BYTES_PER_PARAM == 0.5 + 1 / 64 + 4 / 16384
    assert estimate(shape, settings(load_in_4bit=True)).get("weights") == 73728 * 0.515869140625 + 64320 * 2


def test_activation_formula_by_hand():
    shape = small_shape()
    h, i, a, d, r = 64, 128, 4, 16, 8
    # with dropout: 8h + 4a + c(4ad + 3i + 7r + 5h + ad + i) + (5h + ad + i) masks
    assert layer_activation_bytes(shape, settings()) == 8 * h + 4 * a + 2 * (
        4 * a * d + 3 * i + 7 * r + 5 * h + a * d + i
    ) + (5 * h + a * d + i)
    assert layer_activation_bytes(shape, settings(lora_dropout=0.0)) == 8 * h + 4 * a + 2 * (
        4 * a * d + 3 * i + 7 * r + 2 * h + a * d + i
    )
    tokens = 2 * 2 * 128
    full = estimate(shape, settings()).get("activations")
    assert full == tokens * (2 * layer_activation_bytes(shape, settings()) + 4 * h + 2 * h)
    assert estimate(shape, settings(checkpointing=True)).get("activations") == tokens * (2 * 2 * h + 4 * h + 2 * h)
    e = estimate(shape, settings())
    assert e.train_peak == pytest.approx(sum(c.bytes for c in e.components))
    assert e.get("LM head") == 0  # TRL's fused head keeps no logits
    assert e.get("CUDA context") == 0.5 * GIB


def test_parse_budget():
    assert parse_budget("8GB") == parse_budget("8GiB") == parse_budget("8g") == parse_budget("8") == 8 * GIB
    assert parse_budget("512MB") == 512 * 1024**2
    assert parse_budget("7.5 GB") == int(7.5 * GIB)
    from trlrecipes.errors import UserError

    with pytest.raises(UserError):
        parse_budget("lots")


def test_proposals_fit_when_re_estimated(qwen_config):
    """Each proposal, applied through the recipe's own override machinery, re-estimates within the budget."""
    from trlrecipes.run.execute import RunFlags, resolve
    from trlrecipes.run.recipes import resolve_recipe

    start = ["activation_checkpointing=false", "per_device_train_batch_size=8", "gradient_accumulation_steps=2"]
    module = resolve_recipe("hh-dpo")
    seen = set()
    for budget in ("12GB", "6GB", "3GB", "2GB"):
        plan = plan_recipe("hh-dpo", start, budget=budget, model_config=str(qwen_config))
        assert plan.estimate.total > plan.budget
        assert plan.proposal is not None, budget
        args = plan.proposal.args()
        seen.update(arg.partition("=")[0] for arg in args)
        cfg = resolve(module, RunFlags(overrides=start + args))
        again = plan_recipe("hh-dpo", start + args, budget=budget, model_config=str(qwen_config))
        assert again.estimate.total <= again.budget, (budget, args)
        assert again.proposal is None
        # the effective batch (pairs per optimizer step) is kept
        assert cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps == 16
    # in order: smaller batches first, then checkpointing (only when batch 1 is not enough)
    assert {"per_device_train_batch_size", "activation_checkpointing"} <= seen
    small = plan_recipe("hh-dpo", start, budget="12GB", model_config=str(qwen_config)).proposal
    assert "activation_checkpointing" not in small.overrides and small.overrides["per_device_train_batch_size"] < 8


def test_four_bit_then_max_length_proposals():
    from transformers import LlamaConfig

    shape = model_shape(LlamaConfig(**{k: v for k, v in LLAMA_3B.items() if k != "model_type"}), "llama-3b")
    start = settings(max_length=1024, batch=4, grad_accum=4, checkpointing=True)
    full = estimate(shape, start).total
    assert full > 6 * GIB
    proposal = propose(shape, start, 6 * GIB)
    assert proposal.overrides.get("load_in_4bit") is True
    assert proposal.estimate.total <= 6 * GIB
    tight = propose(shape, start, 3.9 * GIB)  # 4-bit at batch 1 needs 4.5 GiB at 1024 tokens
    assert tight is not None and tight.overrides.get("max_length", 1024) < 1024 and tight.overrides["load_in_4bit"]
    assert tight.estimate.total <= 3.9 * GIB
    assert propose(shape, start, 1 * GIB) is None


def test_plan_cli_table_and_proposal(qwen_config):
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "hh-dpo",
            "per_device_train_batch_size=8",
            "activation_checkpointing=false",
            "--gpu-memory",
            "8GB",
            "--model-config",
            str(qwen_config),
        ],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for row in ("weights", "LoRA + AdamW", "activations", "LM head", "transient", "CUDA context", "peak"):
        assert f"\n  {row}" in out, row
    assert "qwen2, 494.0M params" in out
    assert "does not fit in 8.00 GiB" in out and "fits with: per_device_train_batch_size=" in out
    run_line = next(line for line in out.splitlines() if line.startswith("run: "))
    assert run_line.count("per_device_train_batch_size=") == 1 and "activation_checkpointing=false" in run_line

    fits = CliRunner().invoke(app, ["plan", "hh-dpo", "--gpu-memory", "24GB", "--model-config", str(qwen_config)])
    assert fits.exit_code == 0 and "fits in 24.00 GiB" in fits.output


def test_plan_cli_errors(qwen_config, tmp_path):
    offline = CliRunner().invoke(app, ["plan", "hh-dpo", "model=nobody-xyz/not-a-model-123"])
    assert offline.exit_code == 2 and "--model-config" in offline.output
    bad = CliRunner().invoke(app, ["plan", "hh-dpo", "--model-config", str(tmp_path / "missing.json")])
    assert bad.exit_code == 2 and "no config.json" in bad.output
    budget = CliRunner().invoke(app, ["plan", "hh-dpo", "--gpu-memory", "lots", "--model-config", str(qwen_config)])
    assert budget.exit_code == 2 and "--gpu-memory" in budget.output
    typo = CliRunner().invoke(app, ["plan", "hh-dpo", "bta=0.1", "--model-config", str(qwen_config)])
    assert typo.exit_code == 2 and "unknown key" in typo.output


def test_plan_reads_a_local_model_folder_and_cpu_mode(tiny_model):
    plan = plan_recipe("hh-dpo", [f"model={tiny_model}"], device="cpu")
    assert plan.settings.precision == "fp32" and plan.shape.layers == 2
    assert any(c.name == "runtime" for c in plan.estimate.components)


def test_trl_disable_dropout_turns_lora_dropout_off(qwen_config):
    """TRL's DPOConfig.disable_dropout (default true) zeroes every nn.Dropout, LoRA's too: plan models that."""
    plain = plan_recipe("hh-dpo", [], model_config=str(qwen_config))
    assert plain.settings.lora_dropout == 0 and not plain.settings.dropout_disabled  # the recipes' default
    asked = plan_recipe("hh-dpo", ["lora_dropout=0.05"], model_config=str(qwen_config))
    assert asked.settings.lora_dropout == 0 and asked.settings.dropout_disabled
    assert "lora_dropout off" in asked.format()
    kept = plan_recipe("hh-dpo", ["trl.disable_dropout=false", "lora_dropout=0.05"], model_config=str(qwen_config))
    assert kept.settings.lora_dropout == 0.05
    assert kept.estimate.get("activations") == plain.estimate.get("activations")  # checkpointed: inputs only
    unchecked = ["activation_checkpointing=false", "lora_dropout=0.05"]
    assert plan_recipe(
        "hh-dpo", unchecked + ["trl.disable_dropout=false"], model_config=str(qwen_config)
    ).estimate.get("activations") > plan_recipe("hh-dpo", unchecked, model_config=str(qwen_config)).estimate.get(
        "activations"
    )


def test_evaluation_batch_is_lowered_when_evaluation_is_the_peak(qwen_config):
    # CPU: TRL's torch fallback of the fused head holds several fp32 tiles, so 8 eval pairs x 1024 tokens dominate
    plan = plan_recipe(
        "hh-dpo",
        ["max_length=1024", "per_device_train_batch_size=1", "per_device_eval_batch_size=8"],
        device="cpu",
        model_config=str(qwen_config),
    )
    assert plan.estimate.eval_peak > plan.estimate.train_peak
    budget = (plan.estimate.train_peak + plan.estimate.eval_peak) / 2
    proposal = propose(plan.shape, plan.settings, budget, "cpu")
    assert proposal.overrides.get("per_device_eval_batch_size", 8) < 8
    assert "per_device_train_batch_size" not in proposal.overrides and proposal.estimate.total <= budget


LLAMA_8B = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "tie_word_embeddings": False,
    "max_position_embeddings": 8192,
}


def test_sharded_launches_split_what_each_engine_splits(tmp_path):
    path = tmp_path / "llama8b" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(LLAMA_8B))

    def plan(**launch):
        return plan_recipe("hh-dpo", [], model_config=str(path), **launch).estimate

    single, ddp = plan(), plan(processes=4)
    zero2, zero3, fsdp = (plan(processes=4, shard=engine) for engine in ("zero2", "zero3", "fsdp"))
    assert ddp.train_peak == single.train_peak  # DDP: a full copy on every GPU
    assert zero2.get("weights") == single.get("weights") and zero2.get("LoRA + AdamW") < single.get("LoRA + AdamW")
    weights = single.get("weights")  # 8.03B params x 2 B (bf16) ~ 15 GiB
    unit = (128256 * 4096 * 2) * 2  # the largest gathered unit: embeddings + untied head, bf16
    assert zero3.get("weights") == pytest.approx(weights / 4 + 2 * unit, rel=1e-3)
    assert fsdp.train_peak == zero3.train_peak < zero2.train_peak < single.train_peak
    assert zero3.get("LoRA + AdamW") == pytest.approx(single.get("LoRA + AdamW") / 4)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--shard", "zero4", "--processes", "2"], "--shard 'zero4'"),
        (["--shard", "zero3", "--processes", "2", "--device", "cpu"], "multi-GPU"),
        (["--processes", "0"], "--processes 0"),
    ],
)
def test_plan_rejects_bad_launch_settings(args, fragment):
    result = CliRunner().invoke(app, ["plan", "hh-dpo", *args])
    assert result.exit_code == 2 and fragment in result.output, result.output


def test_online_runs_plan_one_sequence_per_completion_and_the_generation_phase(qwen_config):
    """GRPO/RLOO: one sequence per completion, a reference pass only with beta; the generation phase holds the KV
    cache of per-device batch x steps_per_generation sequences of max_length tokens (by hand: Qwen2.5-0.5B, 24
    layers, 2 kv heads x 64, bf16), and when that phase is the one that does not fit, plan says what shrinks it."""
    plan = plan_recipe("ifeval-grpo", [], model_config=str(qwen_config))
    s, e = plan.settings, plan.estimate
    assert s.online and s.seqs_per_example == 1 and not s.reference_pass and s.method == "GRPO"
    assert s.generation_batch == 8 * 4 and s.completion_length == 256 and s.max_length == 512
    assert not s.dropout_disabled and s.lora_dropout == 0  # GRPOConfig keeps dropout (disable_dropout=False)
    kv = next(c for c in e.generation if c.name == "KV cache")
    assert kv.bytes == 32 * 512 * (24 + 1) * 2 * 2 * 64 * 2
    assert e.generation_peak == pytest.approx(
        e.get("weights") + e.get("LoRA + AdamW") + sum(c.bytes for c in e.generation[2:-1]) + 0.5 * GIB
    )
    assert e.total == max(e.train_peak, e.eval_peak, e.generation_peak)
    text = plan.format()
    assert "32 sequences at once" in text and "gen. peak" in text and "8 completions x 512 tokens" in text
    assert plan_recipe("ifeval-grpo", ["beta=0.04"], model_config=str(qwen_config)).settings.reference_pass
    fewer = plan_recipe("ifeval-grpo", ["trl.steps_per_generation=2"], model_config=str(qwen_config))
    assert fewer.settings.generation_batch == 16 and fewer.estimate.generation_peak < e.generation_peak
    rloo = plan_recipe("ifeval-grpo", ["trainer=rloo"], model_config=str(qwen_config))
    assert rloo.settings.method == "RLOO" and rloo.settings.online
    long = ["gradient_accumulation_steps=64", "max_completion_length=4096", "max_length=8192"]
    tight = plan_recipe("ifeval-grpo", long, budget="16GB", model_config=str(qwen_config))
    assert tight.estimate.generation_peak > 16 * GIB > tight.estimate.train_peak
    assert "generating 512 sequences at once needs" in tight.format()


def test_vllm_colocate_counts_its_share_of_the_gpu(qwen_config):
    with_budget = plan_recipe("ifeval-grpo", ["use_vllm=true"], budget="40GB", model_config=str(qwen_config))
    e = with_budget.estimate
    assert e.get("vLLM colocate") == pytest.approx(0.3 * 40 * GIB) and e.generation == []
    assert "in vLLM's own reservation" in with_budget.format()
    shared = plan_recipe(
        "ifeval-grpo",
        ["use_vllm=true", "trl.vllm_gpu_memory_utilization=0.5"],
        budget="40GB",
        model_config=str(qwen_config),
    )
    assert shared.estimate.get("vLLM colocate") == pytest.approx(20 * GIB)
    unknown = plan_recipe("ifeval-grpo", ["use_vllm=true"], model_config=str(qwen_config))
    assert unknown.estimate.get("vLLM colocate") == 0 and "give --gpu-memory" in unknown.format()
    server = plan_recipe("ifeval-grpo", ["use_vllm=true", "trl.vllm_mode=server"], model_config=str(qwen_config))
    assert not any(c.name == "vLLM colocate" for c in server.estimate.components) and not server.estimate.generation
    assert "on the vLLM server's GPU" in server.format()
    from trlrecipes.errors import UserError

    with pytest.raises(UserError, match="vLLM generates on GPUs only"):
        plan_recipe("ifeval-grpo", ["use_vllm=true"], model_config=str(qwen_config), device="cpu")
