import os

# Read once at import by huggingface_hub/datasets: must be set before any Hugging Face import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HH_SAMPLE = SHARED_DATA / "hh-rlhf-sample.jsonl"

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
    """Raw hh-rlhf style rows (single- and two-turn) for training smoke tests."""
    rows = []
    for i in range(offset, offset + count):
        question, good, bad = _QUESTIONS[i % len(_QUESTIONS)]
        prefix = "" if i % 3 else "\n\nHuman: Hi there!\n\nAssistant: Hello! How can I help?"
        base = f"{prefix}\n\nHuman: {question} (case {i})\n\nAssistant: "
        rows.append({"chosen": base + good, "rejected": base + bad})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from trlrecipes.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def hh_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("hh-data")
    return write_jsonl(folder / "train.jsonl", hh_rows(24)), write_jsonl(folder / "test.jsonl", hh_rows(8, offset=100))


@pytest.fixture
def hh_sample() -> Path:
    if not HH_SAMPLE.is_file():
        pytest.skip("../shared/data/hh-rlhf-sample.jsonl is not present")
    return HH_SAMPLE


def tiny_overrides(model: Path, train: Path, test: Path, output_dir: Path) -> list[str]:
    """Settings that make any built-in recipe run a few quick steps on the tiny model."""
    return [
        f"model={model}",
        f"dataset={train}",
        f"eval_dataset={test}",
        f"output_dir={output_dir}",
        "data_format=hh-rlhf",  # the tiny files are hh-rlhf; every recipe has a data_format field
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


@pytest.fixture(scope="session")
def finished_run(tiny_model, hh_files, tmp_path_factory) -> Path:
    """A finished tiny hh-dpo run, evaluated afterwards (eval.json); logged to TensorBoard too when it is installed.
    6 steps at learning rate 1e-30: rewards stay tied at 0, so the health monitor raises its no_learning verdict."""
    import importlib.util

    from trlrecipes import api
    from trlrecipes.tools.eval.pairs import evaluate_run, save_metrics

    train, test = hh_files
    out = tmp_path_factory.mktemp("finished") / "hh-dpo-tiny"
    tracker = "tensorboard" if importlib.util.find_spec("tensorboard") else "none"
    run = api.run(
        "hh-dpo",
        *tiny_overrides(tiny_model, train, test, out),
        "max_steps=6",
        "save_steps=6",
        "learning_rate=1e-30",
        f"report_to={tracker}",
    )
    save_metrics(run.dir, evaluate_run(run.dir))
    return run.dir
