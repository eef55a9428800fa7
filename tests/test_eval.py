"""`trlrecipes eval` checked against an independent hand computation of the implicit rewards."""

import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from conftest import hh_rows, write_jsonl
from trlrecipes.cli import app
from trlrecipes.run.programs import builtin_dir

BETA = 0.5


@pytest.fixture(scope="module")
def fake_run(tiny_model, tmp_path_factory):
    """A run folder holding a LoRA adapter with random (non-zero) weights on the tiny model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model),
                           LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
    model.save_pretrained(run)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(run)
    data = write_jsonl(run / "heldout.jsonl", hh_rows(5))
    (run / "config.yaml").write_text(yaml.safe_dump({"model": str(tiny_model), "beta": BETA, "max_length": 512,
                                                     "data_format": "hh-rlhf", "eval_dataset": str(data),
                                                     "precision": "auto", "max_eval_rows": 0}))
    shutil.copyfile(builtin_dir() / "dpo.py", run / "program.py")
    (run / "run.json").write_text('{"method": "DPO", "status": "completed"}')
    return run, data


def hand_reward(policy, reference, tokenizer, prompt, reply) -> float:
    """beta * (log pi(reply|prompt) - log pi_ref(reply|prompt)) from rendered strings and unpadded forwards."""
    import torch
    import torch.nn.functional as F

    prompt_text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    full_text = tokenizer.apply_chat_template(prompt + reply, tokenize=False)
    assert full_text.startswith(prompt_text)
    n_prompt = len(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
    ids = torch.tensor([tokenizer(full_text, add_special_tokens=False)["input_ids"]])

    def logp(model):
        with torch.no_grad():
            logits = model(ids).logits[0, :-1]
        per_token = -F.cross_entropy(logits, ids[0, 1:], reduction="none")
        return per_token[n_prompt - 1:].sum().item()

    return BETA * (logp(policy) - logp(reference))


def test_eval_matches_hand_computation(fake_run, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trlrecipes.data import load_pairs
    from trlrecipes.tools.evaluate import evaluate_run

    run, data = fake_run
    result = evaluate_run(run)
    tokenizer = AutoTokenizer.from_pretrained(run)
    reference = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    policy = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), run).eval()
    rows, _ = load_pairs("hh-rlhf", str(data))
    chosen = [hand_reward(policy, reference, tokenizer, r["prompt"], r["chosen"]) for r in rows]
    rejected = [hand_reward(policy, reference, tokenizer, r["prompt"], r["rejected"]) for r in rows]
    assert any(abs(c) > 1e-3 for c in chosen), "the random adapter must move the rewards for this test to mean much"
    margins = [c - r for c, r in zip(chosen, rejected)]
    assert result["pairs"] == 5
    # Each reward is a difference of two ~-200 fp32 log-prob sums, from padded batches here and unpadded single
    # forwards in the hand computation: they agree to ~3e-5 per sum, so 1e-4 absolute is float noise, not a bug.
    assert result["chosen_reward"] == pytest.approx(sum(chosen) / 5, abs=1e-4)
    assert result["rejected_reward"] == pytest.approx(sum(rejected) / 5, abs=1e-4)
    assert result["margin"] == pytest.approx(sum(margins) / 5, abs=1e-4)
    assert result["accuracy"] == sum(m > 0 for m in margins) / 5


def test_eval_cli_json_and_errors(fake_run, tmp_path):
    run, _ = fake_run
    result = CliRunner().invoke(app, ["eval", str(run), "--json", "--max-rows", "3"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output[result.output.index("{"):])
    assert payload["pairs"] == 3 and payload["method"] == "DPO"
    assert (run / "eval.json").is_file()
    missing = CliRunner().invoke(app, ["eval", str(tmp_path)])
    assert missing.exit_code == 2 and "not a trlrecipes run folder" in missing.output


def test_generate_compare(fake_run):
    run, _ = fake_run
    result = CliRunner().invoke(app, ["generate", str(run), "--prompt", "How do I boil an egg?", "--compare",
                                      "--max-new-tokens", "5"])
    assert result.exit_code == 0, result.output
    assert "reference:" in result.output and "trained:" in result.output


def test_batched_deduplicated_scoring_maps_back_to_each_pair(fake_run):
    """Sequences are deduplicated and sorted by length before batching; every pair must still get its own
    scores, the same as scoring it alone."""
    from trlrecipes.data import load_pairs
    from trlrecipes.tools.evaluate import load_policy, load_run_config, score_pairs

    run, data = fake_run
    model, tokenizer = load_policy(run, load_run_config(run))
    rows = list(load_pairs("hh-rlhf", str(data))[0])
    # repeated pairs and a reply shared by two pairs, as in held-out sets that pair one good answer with two bad
    rows = rows + [rows[0], {**rows[0], "rejected": [{"role": "assistant", "content": "No."}]}]
    together = score_pairs(model, tokenizer, rows, max_length=512, batch_size=8)
    alone = [score_pairs(model, tokenizer, [row], max_length=512, batch_size=1)[0] for row in rows]
    assert len(together) == len(rows)
    for joint, single in zip(together, alone):
        for field in ("policy_chosen", "policy_rejected", "ref_chosen", "ref_rejected"):
            assert getattr(joint, field) == pytest.approx(getattr(single, field), abs=1e-3)
        assert (joint.chosen_tokens, joint.rejected_tokens) == (single.chosen_tokens, single.rejected_tokens)
    assert together[0].policy_chosen != pytest.approx(together[1].policy_chosen, abs=1e-3)
