"""`trlrecipes eval` checked against an independent hand computation of the implicit rewards."""

import json

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.testing import fake_run_folder, hh_rows, write_jsonl

BETA = 0.5


@pytest.fixture(scope="module")
def fake_run(tiny_model, tmp_path_factory):
    """A run folder holding a LoRA adapter with random (non-zero) weights on the tiny model."""
    run = tmp_path_factory.mktemp("run")
    data = write_jsonl(run / "heldout.jsonl", hh_rows(5))
    fake_run_folder(
        run,
        base_model=tiny_model,
        config={
            "beta": BETA,
            "max_length": 512,
            "data_format": "hh-rlhf",
            "eval_dataset": str(data),
            "precision": "auto",
            "max_eval_rows": 0,
        },
        info={"method": "DPO", "status": "completed"},
        adapter=True,
    )
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
        return per_token[n_prompt - 1 :].sum().item()

    return BETA * (logp(policy) - logp(reference))


def test_eval_matches_hand_computation(fake_run, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trlrecipes.data import load_pairs
    from trlrecipes.tools.eval.pairs import evaluate_run

    run, data = fake_run
    result = evaluate_run(run)
    tokenizer = AutoTokenizer.from_pretrained(run)
    reference = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    policy = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), run).eval()
    rows, _ = load_pairs("hh-rlhf", str(data))
    chosen = [hand_reward(policy, reference, tokenizer, r["prompt"], r["chosen"]) for r in rows]
    rejected = [hand_reward(policy, reference, tokenizer, r["prompt"], r["rejected"]) for r in rows]
    assert any(abs(c) > 1e-3 for c in chosen), "the random adapter must move the rewards for this test to mean much"
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    assert result["pairs"] == 5
    # Each reward is a difference of two ~-200 fp32 log-prob sums, from padded batches here and unpadded single
    # forwards in the hand computation: they agree to ~3e-5 per sum, so 1e-4 absolute is float noise, not a bug.
    assert result["chosen_reward"] == pytest.approx(sum(chosen) / 5, abs=1e-4)
    assert result["rejected_reward"] == pytest.approx(sum(rejected) / 5, abs=1e-4)
    assert result["margin"] == pytest.approx(sum(margins) / 5, abs=1e-4)
    assert result["accuracy"] == sum(m > 0 for m in margins) / 5


def test_eval_cli_json(fake_run):
    run, _ = fake_run
    result = CliRunner().invoke(app, ["eval", str(run), "--json", "--max-rows", "3"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output[result.output.index("{") :])
    assert payload["pairs"] == 3 and payload["method"] == "DPO"
    assert (run / "eval.json").is_file()


def test_generate_compare(fake_run):
    run, _ = fake_run
    result = CliRunner().invoke(
        app, ["generate", str(run), "--prompt", "How do I boil an egg?", "--compare", "--max-new-tokens", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "reference:" in result.output and "trained:" in result.output


def test_batched_deduplicated_scoring_maps_back_to_each_pair(fake_run):
    """Sequences are deduplicated and sorted by length before batching; every pair must still get its own
    scores, the same as scoring it alone."""
    from trlrecipes.data import load_pairs
    from trlrecipes.tools.eval.pairs import score_pairs
    from trlrecipes.tools.loading import load_policy
    from trlrecipes.tools.loading import open_run as load_run_config

    run, data = fake_run
    model, tokenizer = load_policy(run, load_run_config(run))
    rows = list(load_pairs("hh-rlhf", str(data))[0])
    # repeated pairs and a reply shared by two pairs, as in held-out sets that pair one good answer with two bad
    rows = rows + [rows[0], {**rows[0], "rejected": [{"role": "assistant", "content": "No."}]}]
    together = score_pairs(model, tokenizer, rows, max_length=512, batch_size=8)
    alone = [score_pairs(model, tokenizer, [row], max_length=512, batch_size=1)[0] for row in rows]
    assert len(together) == len(rows)
    for joint, single in zip(together, alone, strict=True):
        for field in ("policy_chosen", "policy_rejected", "ref_chosen", "ref_rejected"):
            assert getattr(joint, field) == pytest.approx(getattr(single, field), abs=1e-3)
        assert (joint.chosen_tokens, joint.rejected_tokens) == (single.chosen_tokens, single.rejected_tokens)
    assert together[0].policy_chosen != pytest.approx(together[1].policy_chosen, abs=1e-3)


REWARD_FILE = """
def length(prompt, response):
    return float(len(response))
"""


def test_eval_reports_a_measured_reference_row_and_per_pair_values(fake_run):
    from trlrecipes.tools.eval.pairs import evaluate_run, format_metrics, save_metrics

    run, _ = fake_run
    result = evaluate_run(run)
    reference = result["reference"]
    assert reference["accuracy"] == 0.0 and reference["ties"] == 1.0 and reference["margin"] == 0.0
    assert reference["odds_accuracy"] == result["base_odds_accuracy"]
    save_metrics(run, result)
    rows = [json.loads(line) for line in (run / "eval_pairs.jsonl").read_text().splitlines()]
    assert len(rows) == result["pairs"] == 5
    assert sum(r["margin"] for r in rows) / 5 == pytest.approx(result["margin"])
    assert {r["outcome"] for r in rows} <= {"win", "tie", "loss"}
    stored = json.loads((run / "eval.json").read_text())
    assert "per_pair" not in stored and stored["reference"] == reference
    assert "reference" in format_metrics(result)


def test_eval_drops_pairs_whose_prompt_fills_max_length(fake_run, tmp_path):
    """As TRL's DPOTrainer does (len(prompt_ids) >= max_length): counted, not scored as a tie."""
    from trlrecipes.tools.eval.pairs import evaluate_run, format_metrics

    run, _ = fake_run
    long_prompt = "\n\nHuman: " + "tell me more about boiling eggs please " * 120 + "\n\nAssistant: "
    rows = hh_rows(3) + [{"chosen": long_prompt + "Sure.", "rejected": long_prompt + "No."}]
    data = write_jsonl(tmp_path / "with-long.jsonl", rows)
    result = evaluate_run(run, str(data))
    assert result["pairs"] == 3 and result["dropped_prompt_fills_max_length"] == 1
    assert "dropped 1 pairs whose prompt alone fills max_length" in format_metrics(result)


def _greedy(model, tokenizer, prompt, max_new_tokens):
    import torch

    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(
            **ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
    return tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).strip()


def test_eval_generate_cli_end_to_end(fake_run, tiny_model, tmp_path, monkeypatch):
    """Trained and reference replies (greedy) equal the adapter's and the base model's own greedy replies; the
    callable judge scores both; the figures reach eval.json and --json, the replies eval_generations.jsonl."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run, _ = fake_run
    (tmp_path / "judges.py").write_text(REWARD_FILE)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("How do I boil an egg?\nWhat is the capital of France?\nAny tips for sleeping better?\n")
    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(app, ["eval", str(run)])  # implicit figures first: --generate must keep them in eval.json
    result = CliRunner().invoke(
        app,
        [
            "eval",
            str(run),
            "--generate",
            "--reward",
            "judges:length",
            "--prompts",
            str(prompts),
            "--max-new-tokens",
            "7",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output[result.output.index("{") :])
    for key in (
        "wins",
        "ties",
        "losses",
        "win_rate",
        "win_rate_ci95",
        "lc_win_rate",
        "lc_win_rate_ci95",
        "reference_tokens_mean",
        "trained_tokens_mean",
        "reference_cut_share",
        "trained_cut_share",
        "verdicts",
        "reference_score_mean",
        "trained_score_mean",
    ):
        assert key in payload, key
    assert payload["prompts"] == 3 and payload["wins"] + payload["ties"] + payload["losses"] == 3
    rows = [json.loads(line) for line in (run / "eval_generations.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == prompts.read_text().splitlines()
    tokenizer = AutoTokenizer.from_pretrained(run)
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    policy = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), run).eval()
    for row in rows:
        assert row["reference"] == _greedy(base, tokenizer, row["prompt"], 7)
        assert row["trained"] == _greedy(policy, tokenizer, row["prompt"], 7)
        assert row["reference_score"] == float(len(row["reference"]))
        assert row["trained_score"] == float(len(row["trained"]))
        assert 0 <= row["trained_tokens"] <= 7 and row["trained_cut"] == (row["trained_tokens"] == 7)
    assert any(r["reference"] != r["trained"] for r in rows), "the random adapter must change some reply"
    stored = json.loads((run / "eval.json").read_text())
    assert stored["generation"]["win_rate"] == payload["win_rate"] and "accuracy" in stored
    text = CliRunner().invoke(
        app,
        [
            "eval",
            str(run),
            "--generate",
            "--reward",
            "judges:length",
            "--prompts",
            str(prompts),
            "--max-new-tokens",
            "7",
        ],
    )
    assert text.exit_code == 0 and "win rate" in text.output and "length-controlled" in text.output


def test_reward_model_from_a_peft_adapter_folder(tiny_model, tmp_path):
    """A LoRA adapter over a sequence-classification head (a reward-model run's folder) loads as a judge, with its
    trained score head, not a freshly initialised one."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from trlrecipes.tasks.judges import Prompt
    from trlrecipes.tools.eval.judges import RewardModel

    torch.manual_seed(1)
    base = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    base.config.pad_token_id = tokenizer.pad_token_id
    model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="SEQ_CLS", init_lora_weights=False)
    ).eval()
    model.save_pretrained(tmp_path / "rm")
    tokenizer.save_pretrained(tmp_path / "rm")
    prompts = [Prompt([{"role": "user", "content": "How do I boil an egg?"}], "How do I boil an egg?")] * 2
    replies = ["Nine minutes in boiling water.", "I don't care."]
    torch.manual_seed(99)  # a different seed: a re-initialised score head would give other scores
    judge = RewardModel(str(tmp_path / "rm"))
    with torch.no_grad():
        expected = model(**judge.encode(prompts, replies)).logits[:, 0].tolist()
    assert judge(prompts, replies) == pytest.approx(expected, abs=1e-5)


def test_demo_showcase_shows_the_judged_win_rate_next_to_the_implicit_table(fake_run, capsys):
    from types import SimpleNamespace

    from trlrecipes.demo.showcase import show_demo

    run, _ = fake_run
    show_demo(SimpleNamespace(dir=run), strict=False, max_new_tokens=4)
    printed = capsys.readouterr().out
    assert printed.index("held-out evaluation") < printed.index("judged (trained vs reference)")
    assert "word overlap" in printed and "win rate" in printed and "length-controlled" in printed
    stored = json.loads((run / "eval.json").read_text())
    assert stored["generation"]["judge"] == "answer_overlap" and stored["generation"]["prompts"] == 5


def test_simpo_and_sft_criteria_by_hand():
    from trlrecipes.tools.eval.criteria import sft_metrics, simpo_metrics
    from trlrecipes.tools.eval.pairs import PairScores

    # pair 1: chosen mean -1.0 vs rejected -2.0 (trained), -1.5 vs -1.5 (base); pair 2: -3 vs -1 (trained)
    scores = [PairScores(-10.0, -40.0, -15.0, -30.0, 10, 20), PairScores(-6.0, -2.0, -4.0, -2.0, 2, 2)]
    simpo = simpo_metrics(scores, beta=2.0, gamma=1.0)
    assert simpo["accuracy"] == 0.5 and simpo["margin"] == pytest.approx((2.0 * 1.0 + 2.0 * -2.0) / 2)
    assert simpo["past_gamma"] == 0.5 and simpo["base_accuracy"] == 0.0 and simpo["base_margin"] == pytest.approx(-1.0)
    sft = sft_metrics(scores)
    assert sft["chosen_nll"] == pytest.approx((1.0 + 3.0) / 2) and sft["base_chosen_nll"] == pytest.approx(1.75)
