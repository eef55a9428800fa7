"""`trlrecipes synth`: best-of-N pairs from the tiny model, scored by a reward model or a Python callable;
resume, min-gap drops, and the output trains with data_format=custom."""

import json
import math

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app

PROMPTS = ["How do I boil an egg?", "What is the capital of France?", "Can you help me with my homework?",
           "Any tips for sleeping better?", "Tell me a joke.", "flat: this prompt gets the same score for everything"]

# A reward module the CLI imports from the current directory: distinct replies get (almost surely) distinct scores,
# the "flat" prompt gets 0 for every reply, so its gap is exactly 0.
REWARD_MODULE = '''
import hashlib

CALLS = []

def score(prompt, response):
    CALLS.append((prompt, response))
    if prompt.startswith("flat"):
        return 0.0
    return int(hashlib.sha256(response.encode()).hexdigest()[:8], 16) / 16 ** 8 * 10
'''


def length_reward(prompt: str, response: str) -> float:
    return float(len(response))


@pytest.fixture(scope="module")
def reward_model(tiny_model, tmp_path_factory):
    """A 1-layer Llama sequence classifier with one output, on the tiny tokenizer (which has a chat template)."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from trlrecipes.testing import build_tiny_tokenizer

    folder = tmp_path_factory.mktemp("reward-model")
    tokenizer = build_tiny_tokenizer(folder)
    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, num_labels=1,
                         pad_token_id=tokenizer.pad_token_id)
    LlamaForSequenceClassification(config).save_pretrained(str(folder))
    return folder


def write_prompts(path, prompts):
    path.write_text("\n".join(prompts) + "\n", encoding="utf-8")
    return path


def read_rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def synth(*args):
    return CliRunner().invoke(app, ["synth", *map(str, args)])


def common(tiny_model, samples=4):
    return ["--model", tiny_model, "--num-samples", samples, "--max-new-tokens", 8, "--batch-size", 3]


def test_reward_model_pairs_are_best_and_worst(tiny_model, reward_model, tmp_path):
    prompts = write_prompts(tmp_path / "prompts.txt", PROMPTS[:4])
    out = tmp_path / "pairs.jsonl"
    result = synth(prompts, "--output", out, "--reward-model", reward_model, *common(tiny_model))
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert len(rows) == 4 and "written             4" in result.output
    assert [r["prompt"] for r in rows] == [[{"role": "user", "content": p}] for p in PROMPTS[:4]]

    from trlrecipes.synth import Prompt, RewardModel

    scorer = RewardModel(str(reward_model))
    for row in rows:
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"
        assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
        assert len(row["scores"]) == 4
        assert row["score_chosen"] == max(row["scores"]) and row["score_rejected"] == min(row["scores"])
        # the stored scores are the reward model's scores of prompt + reply under its chat template
        prompt = Prompt(row["prompt"], row["prompt"][-1]["content"])
        again = scorer([prompt, prompt], [row["chosen"][0]["content"], row["rejected"][0]["content"]])
        assert again == pytest.approx([row["score_chosen"], row["score_rejected"]], abs=1e-4)


def test_reward_model_without_chat_template_scores_a_text_pair(reward_model, tmp_path):
    import shutil

    from trlrecipes.synth import Prompt, RewardModel

    folder = tmp_path / "plain-rm"
    shutil.copytree(reward_model, folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    scorer = RewardModel(str(folder))
    assert not scorer.use_template
    batch = scorer.encode([Prompt([{"role": "user", "content": "Hi?"}], "Hi?")], ["Hello."])
    text = scorer.tokenizer.decode(batch["input_ids"][0], skip_special_tokens=True)
    assert "Hi?" in text and "Hello." in text and "<|im_start|>" not in text
    assert math.isfinite(scorer([Prompt([{"role": "user", "content": "Hi?"}], "Hi?")], ["Hello."])[0])


def test_callable_reward_resume_and_min_gap(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_rewards.py").write_text(REWARD_MODULE, encoding="utf-8")
    out = tmp_path / "pairs.jsonl"
    first = write_prompts(tmp_path / "first.txt", PROMPTS[:3])
    result = synth(first, "--output", out, "--reward", "my_rewards:score", "--min-gap", "1e-9", *common(tiny_model))
    assert result.exit_code == 0, result.output
    assert len(read_rows(out)) == 3

    # all prompts, one of them "flat" (gap 0): the first 3 are skipped as done, the flat one is dropped and counted
    everything = write_prompts(tmp_path / "all.txt", PROMPTS)
    result = synth(everything, "--output", out, "--reward", "my_rewards:score", "--min-gap", "1e-9",
                   *common(tiny_model))
    assert result.exit_code == 0, result.output
    assert "already done        3" in result.output
    assert "written             2" in result.output
    assert "dropped             1  score gap below --min-gap" in result.output
    rows = read_rows(out)
    assert len(rows) == 5 and not any(r["prompt"][0]["content"].startswith("flat") for r in rows)
    for row in rows:
        assert row["score_chosen"] - row["score_rejected"] >= 1e-9
    dropped = read_rows(tmp_path / "pairs.jsonl.dropped.jsonl")
    assert [d["reason"] for d in dropped] == ["small_gap"] and dropped[0]["gap"] == 0.0

    # a third run has nothing left: the dropped prompt is remembered, nothing is sampled again
    result = synth(everything, "--output", out, "--reward", "my_rewards:score", "--min-gap", "1e-9",
                   *common(tiny_model))
    assert result.exit_code == 0, result.output
    assert "already done        6" in result.output and "written             0" in result.output
    assert len(read_rows(out)) == 5


def test_callable_in_process_and_jsonl_prompts(tiny_model, tmp_path):
    from trlrecipes.synth import synthesize

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": "Tell me a joke."}) + "\n" +
                       json.dumps({"prompt": [{"role": "system", "content": "Be brief."},
                                              {"role": "user", "content": "Hi there!"}]}) + "\n" +
                       json.dumps({"prompt": "Tell me a joke."}) + "\n", encoding="utf-8")
    out = tmp_path / "pairs.jsonl"
    summary = synthesize(prompts, out, model=str(tiny_model), reward=length_reward, num_samples=3,
                         max_new_tokens=6, seed=3, progress=lambda text: None)
    assert (summary.read, summary.duplicates, summary.written) == (3, 1, 2)
    rows = read_rows(out)
    assert rows[1]["prompt"][0] == {"role": "system", "content": "Be brief."}
    for row in rows:
        assert len(row["chosen"][0]["content"]) == row["score_chosen"] == max(row["scores"])
        assert len(row["rejected"][0]["content"]) == row["score_rejected"]

    # same seed, same prompts: the same samples
    again = tmp_path / "again.jsonl"
    synthesize(prompts, again, model=str(tiny_model), reward=length_reward, num_samples=3, max_new_tokens=6, seed=3,
               progress=lambda text: None)
    assert read_rows(again) == rows


def test_user_errors_exit_2(tiny_model, reward_model, tmp_path):
    prompts = write_prompts(tmp_path / "p.txt", PROMPTS[:1])
    out = tmp_path / "o.jsonl"
    cases = [
        (["--reward", "nosuchmodule_xyz:score"], "no module"),
        ([], "exactly one reward"),
        (["--reward", "x:y", "--reward-model", str(reward_model)], "exactly one reward"),
        (["--reward-model", str(reward_model), "--num-samples", "1"], "at least 2"),
    ]
    for extra, message in cases:
        args = ["--model", tiny_model, "--max-new-tokens", 4] + (["--num-samples", 2] if "--num-samples" not in extra
                                                                 else [])
        result = synth(prompts, "--output", out, *args, *extra)
        assert result.exit_code == 2, result.output
        assert message in result.output
    missing = synth(tmp_path / "none.txt", "--output", out, "--model", tiny_model, "--reward", "x:y")
    assert missing.exit_code == 2 and "not found" in missing.output


def test_synthesized_pairs_train_with_custom_format(tiny_model, reward_model, tmp_path):
    prompts = write_prompts(tmp_path / "prompts.txt", PROMPTS[:5] + ["One more question?"])
    out = tmp_path / "synth.jsonl"
    result = synth(prompts, "--output", out, "--reward-model", reward_model, *common(tiny_model, samples=3))
    assert result.exit_code == 0, result.output
    assert len(read_rows(out)) == 6

    run_dir = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "run", "hh-dpo", f"model={tiny_model}", f"dataset={out}", "data_format=custom", f"eval_dataset={out}",
        f"output_dir={run_dir}", "max_steps=2", "logging_steps=1", "save_steps=2", "eval_steps=2",
        "learning_rate=1e-3", "per_device_train_batch_size=2", "gradient_accumulation_steps=1",
        "per_device_eval_batch_size=4", "max_length=96", "max_eval_rows=4", "activation_checkpointing=false"])
    assert result.exit_code == 0, result.output
    assert (run_dir / "adapter_model.safetensors").is_file()
    summary = json.loads((run_dir / "data_summary.json").read_text())
    assert summary["train"]["converted"] == 6 and summary["train"]["skipped"] == {}
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 2
