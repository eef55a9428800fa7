"""The quiet console: trlrecipes' own lines by default, the libraries' warnings and bars only with --verbose."""

import logging
import os
import subprocess
import sys
import warnings

import pytest

from trlrecipes.testing import tiny_overrides

# What transformers, datasets, TRL and PEFT print on their own during a run or a conversion.
LIBRARY_NOISE = (
    "Warning",
    "Loading weights",
    "Tokenizing",
    "Generating train split",
    "Map",
    "Filter",
    "it/s]",
    "examples/s]",
    "Creating json from Arrow",
)


def trlrecipes(*args, env=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    env.pop("TRLRECIPES_VERBOSE", None)
    result = subprocess.run(
        [sys.executable, "-m", "trlrecipes.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )
    return result.returncode, result.stdout + result.stderr


def noise(output: str) -> list[str]:
    return [word for word in LIBRARY_NOISE if word in output]


@pytest.mark.slow
def test_run_prints_only_trlrecipes_lines(tiny_model, hh_files, tmp_path):
    train, test = hh_files
    code, output = trlrecipes("run", "hh-dpo", *tiny_overrides(tiny_model, train, test, tmp_path / "run"))
    assert code == 0, output
    assert noise(output) == [], output
    for line in (
        "[train]",
        "rows read 24, converted 24",
        "[##########] 3/3",
        "training summary",
        "adapter and tokenizer saved",
    ):
        assert line in output, line


def test_data_convert_is_quiet_and_verbose_shows_the_libraries(hh_files, tmp_path):
    train, _ = hh_files
    args = ["data", "convert", "hh-rlhf", "--input", str(train), "--output", str(tmp_path / "pairs.jsonl")]
    # Each run reads the file into a datasets cache of its own: a cached file loads without the bars to hide or show.
    code, quiet = trlrecipes(*args, env={"HF_DATASETS_CACHE": str(tmp_path / "cache-quiet")})
    assert code == 0, quiet
    assert noise(quiet) == [], quiet
    assert quiet.splitlines() == ["rows read 24, converted 24, skipped 0", f"wrote 24 rows to {tmp_path}/pairs.jsonl"]
    code, verbose = trlrecipes("--verbose", *args, env={"HF_DATASETS_CACHE": str(tmp_path / "cache-verbose")})
    assert code == 0, verbose
    assert "Generating train split" in verbose, verbose  # the switch is what hides the bars


def test_library_warnings_hidden_and_the_ones_that_matter_said_in_our_words(monkeypatch, capsys):
    from trlrecipes import console

    monkeypatch.setattr(console, "_state", {"verbose": None, "libraries": False, "said": set()})
    monkeypatch.delenv(console.VERBOSE_ENV, raising=False)
    for name in ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY"):
        monkeypatch.setenv(name, os.environ.get(name, "warning"))  # restored after the test
    levels = {name: logging.getLogger(name).level for name in console.LIBRARY_LOGGERS}
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        console.configure(verbose=False)
        warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning, stacklevel=1)
        for _ in range(2):
            warnings.warn("You are importing from 'trl.experimental'. APIs unstable", UserWarning, stacklevel=1)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    err = capsys.readouterr().err
    assert "deprecated" not in err and "Warning" not in err
    assert err.count("trlrecipes: note: this method's trainer comes from TRL's experimental module") == 1


def test_long_phase_shows_datasets_bars_only_for_large_data(monkeypatch):
    import datasets

    from trlrecipes import console

    monkeypatch.setattr(console, "_state", {"verbose": False, "libraries": True, "said": set()})
    datasets.disable_progress_bars()
    try:
        with console.long_phase(console.LONG_PHASE_ROWS - 1):
            assert not datasets.is_progress_bar_enabled()
        with console.long_phase(console.LONG_PHASE_ROWS):
            assert datasets.is_progress_bar_enabled()
        assert not datasets.is_progress_bar_enabled()
    finally:
        datasets.enable_progress_bars()


def test_training_line_shows_speed_and_time_left():
    from trlrecipes.monitor.health import LIVE_WIDTH, live_line, pace

    assert pace(5.234, 18) == "5.2 s/step, 1m34s left"
    assert pace(14.2, 400) == "14 s/step, 1h34m left"
    record = {
        "step": 12,
        "loss": 0.69314,
        "rewards/margins": 0.1234,
        "rewards/accuracies": 0.5,
        "rewards/chosen": -0.123,
        "rewards/rejected": -0.246,
    }
    line = live_line(record, 30, pace(5.234, 18))
    assert line == (
        "[####......] 12/30 (5.2 s/step, 1m34s left) loss 0.6931 margin 0.123 acc 0.50 chosen -0.123 rejected -0.246"
    )
    assert len(line) <= LIVE_WIDTH
