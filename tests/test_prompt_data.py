"""Prompt-only data for online RL: prompt files (.txt, .jsonl), prompt-only formats (gsm8k) and the prompts of
preference formats, as `data.prompts.load_prompts` returns them, and what TRL's GRPOTrainer makes of them."""

import json
import os
from pathlib import Path

import pytest

from trlrecipes.data.prompts import RESERVED_COLUMNS, explanations_for, load_prompts
from trlrecipes.errors import UserError


def user(text):
    return [{"role": "user", "content": text}]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, rows: list) -> Path:
    return write(path, "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))


# -- (a) prompt files ----------------------------------------------------------------------------------------
def test_text_file_one_prompt_a_line(tmp_path):
    path = write(tmp_path / "p.txt", "What is 2 + 2?\n\n  Name a colour.  \n")
    prompts, summary = load_prompts(str(path))
    assert prompts["prompt"] == [user("What is 2 + 2?"), user("Name a colour.")]
    assert prompts.column_names == ["prompt"] and (summary.read, summary.converted, summary.skipped) == (2, 2, {})


def test_jsonl_keeps_extra_fields_as_columns(tmp_path):
    constraints = [{"kind": "max_words", "n": 20}, {"kind": "lowercase"}]
    path = jsonl(
        tmp_path / "p.jsonl",
        [
            {"prompt": "How do I keep basil fresh?", "constraints": constraints, "id": "a", "answer": 3},
            {"prompt": [{"role": "system", "content": "Be brief."}, *user("Hi?")], "id": "b", "answer": 2.5},
            {"prompt": [{"role": "system", "content": ""}, *user("Bye?")], "constraints": "[]", "id": "c"},
        ],
    )
    prompts, summary = load_prompts(str(path), data_format="prompts")
    assert prompts.column_names == ["prompt", "constraints", "id", "answer"]  # in the order the file names them
    assert prompts["prompt"] == [
        user("How do I keep basil fresh?"),
        [{"role": "system", "content": "Be brief."}, *user("Hi?")],
        user("Bye?"),  # an empty system message means none
    ]
    assert json.loads(prompts[0]["constraints"]) == constraints  # a list is kept as its JSON text
    assert prompts["constraints"][1:] == [None, "[]"] and prompts["id"] == ["a", "b", "c"]
    assert prompts["answer"] == [3.0, 2.5, None]  # integers and decimals share a float column
    assert summary.converted == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt": "ok"}\n{"prompt": ', "p.jsonl:2: not valid JSON"),
        ('{"prompt": "ok"}\n["a"]', "p.jsonl:2: expected a JSON object"),
        ('{"prompt": "ok"}\n{"question": "x"}', "p.jsonl:2: missing field(s) 'prompt'"),
        ('{"prompt": "ok"}\n{"prompt": 7}', "p.jsonl:2: the prompt is not text or a list of"),
        ('{"prompt": "   "}', "p.jsonl:1: the prompt is empty"),
        (
            '{"prompt": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}',
            "does not end with",
        ),
        ('{"prompt": [{"role": "robot", "content": "Hi"}]}', "p.jsonl:1: the prompt has a message role other than"),
        ('{"prompt": [{"text": "Hi"}]}', "p.jsonl:1: the prompt has a message role"),
        (
            '{"prompt": "a", "answer": "7"}\n\n{"prompt": "b", "answer": 7}',
            "p.jsonl:3: field 'answer' is int here but text",
        ),
        ('{"prompt": "a", "completions": 1}', "p.jsonl:1: field 'completions' is a name TRL passes"),
        ('{"prompt": "a", "trainer_state": 1}', "field 'trainer_state' is a name TRL passes"),
    ],
)
def test_a_bad_prompt_file_names_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "p.jsonl", line + "\n")
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_prompts(str(path))


def test_unusable_files(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        load_prompts(str(tmp_path / "absent.txt"))
    with pytest.raises(UserError, match=r"a prompt file is \.txt .* name its data_format"):
        load_prompts(str(write(tmp_path / "p.csv", "prompt\nhi\n")))
    with pytest.raises(UserError, match="has no prompts"):
        load_prompts(str(write(tmp_path / "empty.txt", "\n  \n")))
    with pytest.raises(UserError, match="pass a prompt file"):
        load_prompts(None)
    assert set(RESERVED_COLUMNS) >= {"prompts", "completions", "completion_ids", "trainer_state"}


def test_max_rows_keeps_the_first_and_the_summary_counts_all(tmp_path):
    prompts, summary = load_prompts(str(write(tmp_path / "p.txt", "a\nb\nc\n")), max_rows=2)
    assert prompts["prompt"] == [user("a"), user("b")] and summary.read == 3


# -- (b) a prompt-only format --------------------------------------------------------------------------------
def test_gsm8k_file_with_named_skips(tmp_path):
    path = jsonl(
        tmp_path / "gsm8k.jsonl",
        [
            {"question": "2 + 3?", "answer": "2 + 3 = <<2+3=5>>5\n#### 5"},
            {"question": "Ten times ten?", "answer": "#### 100."},
            {"question": "Which?", "answer": "#### the red one"},
            {"question": "", "answer": "#### 1"},
        ],
    )
    prompts, summary = load_prompts(str(path), data_format="gsm8k")
    assert prompts.column_names == ["prompt", "answer"]
    assert prompts["prompt"] == [user("2 + 3?"), user("Ten times ten?")] and prompts["answer"] == ["5", "100"]
    assert summary.skipped == {"non_numeric_answer": 1, "empty_question": 1}
    text = summary.format(explanations_for("gsm8k"))
    assert "non_numeric_answer  (the text after '####' is not one number" in text
    with pytest.raises(UserError, match="missing field"):
        load_prompts(str(jsonl(tmp_path / "bad.jsonl", [{"prompt": "x"}])), data_format="gsm8k")


# -- (c) the prompts of a preference format ------------------------------------------------------------------
def test_preference_prompts_once_each(tmp_path):
    def pair(question, good, bad):
        return {
            "chosen": f"\n\nHuman: {question}\n\nAssistant: {good}",
            "rejected": f"\n\nHuman: {question}\n\nAssistant: {bad}",
        }

    path = jsonl(
        tmp_path / "train.jsonl",
        [
            pair("How do I boil an egg?", "Nine minutes.", "No."),
            pair("Capital of France?", "Paris.", "Go away."),
            pair("How do I boil an egg?", "Put it in boiling water.", "Ask someone else."),
            pair("How do I boil an egg?", "Same.", "Same."),  # identical replies: skipped by the converter
        ],
    )
    prompts, summary = load_prompts(str(path), data_format="hh-rlhf")
    assert prompts.column_names == ["prompt"]
    assert prompts["prompt"] == [user("How do I boil an egg?"), user("Capital of France?")]
    assert summary.skipped == {"identical_replies": 1, "duplicate_prompt": 1}
    assert summary.read == summary.converted + sum(summary.skipped.values()) == 4
    assert "duplicate_prompt  (the same prompt as an earlier row" in summary.format(explanations_for("hh-rlhf"))


# -- what TRL makes of them ------------------------------------------------------------------------------------
def test_grpo_trains_on_loaded_prompts_and_passes_their_columns(tiny_model, tmp_path):
    """The loaded dataset as GRPOTrainer's train_dataset (LoRA, CPU, 1 step): the reward function receives the extra
    columns as keywords, one value per completion, with the JSON text of a list intact."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    path = jsonl(
        tmp_path / "p.jsonl",
        [
            {"prompt": f"Say {n}.", "answer": str(n), "constraints": [{"kind": "max_words", "n": n + 1}]}
            for n in range(4)
        ],
    )
    prompts, _ = load_prompts(str(path))
    seen = {}

    def judge(prompts, completions, answer, constraints, **kwargs):
        seen.update(prompts=prompts, answer=answer, constraints=constraints, kwargs=sorted(kwargs))
        return [float(len(c[0]["content"]) % 2) for c in completions]

    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=8,
        max_steps=1,
        report_to=[],
        save_strategy="no",
        gradient_checkpointing=False,
        disable_tqdm=True,
    )
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = GRPOTrainer(
        model=str(tiny_model), reward_funcs=judge, args=args, train_dataset=prompts, peft_config=lora
    )
    trainer.train()
    assert len(seen["answer"]) == len(seen["constraints"]) == 4  # 2 prompts x 2 completions
    assert seen["answer"][0] == seen["answer"][1] and seen["prompts"][0][-1]["role"] == "user"
    assert json.loads(seen["constraints"][0])[0]["kind"] == "max_words"
    assert seen["kwargs"] == ["completion_ids", "log_extra", "log_metric", "trainer_state"]
