import os

# Read once at import by huggingface_hub/datasets: must be set before any Hugging Face import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from trlrecipes.testing import build_tiny_model, hh_rows, tiny_overrides, write_jsonl  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HH_SAMPLE = SHARED_DATA / "hh-rlhf-sample.jsonl"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
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


@pytest.fixture(scope="session")
def tiny_run(tiny_model, hh_files, tmp_path_factory):
    """`tiny_run(recipe, *extra)`: a built-in recipe trained on the tiny model with the tiny settings
    (`trlrecipes.testing.tiny_overrides`, then `extra`) once per session, as (run folder, what the run printed). Tests
    that read the same training share it; a test that changes the folder must leave it as a run left it."""
    from typer.testing import CliRunner

    from trlrecipes.cli import app

    runs = {}

    def train(recipe: str, *extra: str) -> tuple[Path, str]:
        if (recipe, *extra) not in runs:
            out = tmp_path_factory.mktemp(recipe) / "run"
            result = CliRunner().invoke(app, ["run", recipe, *tiny_overrides(tiny_model, *hh_files, out), *extra])
            assert result.exit_code == 0, result.output
            runs[(recipe, *extra)] = out, result.output
        return runs[(recipe, *extra)]

    return train


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
