"""A quiet console: trlrecipes' own lines, one progress bar per long phase, and library chatter only with --verbose.

transformers, datasets, TRL, PEFT and huggingface_hub each print their own warnings and progress bars ("Loading
weights", "Tokenizing train dataset", "Generating train split", "Map", "Filter", GGUF de-quantization, deprecation
notices about their own internals). Between trlrecipes' lines these hide what the user needs to read. Unless
verbose:

- Python warnings raised inside libraries are hidden; the few that ask something of the user are said again in
  trlrecipes' words (`RESAY`), once each.
- the libraries' loggers only show errors; their progress bars are off, except that `long_phase` turns the
  datasets bars back on for a phase over many rows (conversion or tokenization of a large dataset), where the bar
  is the only sign of progress.

`configure()` is cheap (no heavy imports; the CLI calls it for every command); `quiet_libraries()` imports and
sets the libraries and runs where they are about to be used anyway (a run, `data convert`, `eval`, ...).
`--verbose` (or TRLRECIPES_VERBOSE=1, inherited by child processes) leaves every library as it is.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import warnings

VERBOSE_ENV = "TRLRECIPES_VERBOSE"
# Datasets at least this long get the datasets progress bars back for their conversion/tokenization: below, a
# phase takes a few seconds and a bar is noise (43,835 hh-rlhf pairs take ~20 s to tokenize on 2 cores).
LONG_PHASE_ROWS = 10_000
LIBRARY_LOGGERS = ("transformers", "datasets", "trl", "peft", "accelerate", "huggingface_hub", "torch", "bitsandbytes")
# (pattern of a library warning, what trlrecipes says instead). Only warnings that ask something of the user.
RESAY = [
    (
        re.compile(r"importing from 'trl\.experimental'"),
        "this method's trainer comes from TRL's experimental module: its API may change between TRL versions",
    ),
]

_state = {"verbose": None, "libraries": False, "said": set()}


def is_verbose() -> bool:
    if _state["verbose"] is None:
        return os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes")
    return _state["verbose"]


def configure(verbose: bool = False) -> None:
    """Decide for this process (and its children) whether library output is shown; cheap, imports nothing heavy."""
    verbose = verbose or os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes")
    _state["verbose"] = verbose
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
        return
    # Read at import by the libraries (also in dataset worker processes, which import them afresh).
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # read when huggingface_hub is imported; transformers' "Loading weights" bars follow it: no heavy import here
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("DATASETS_VERBOSITY", "error")
    warnings.showwarning = _resay_warning
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def _resay_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python warnings in quiet mode: hidden, unless RESAY has words for them (then said once)."""
    text = str(message)
    for pattern, said in RESAY:
        if pattern.search(text):
            note(said)
            return


def note(text: str) -> None:
    """A trlrecipes note on stderr, at most once per process."""
    if text in _state["said"]:
        return
    _state["said"].add(text)
    print(f"trlrecipes: note: {text}", file=sys.stderr, flush=True)


def quiet_libraries() -> None:
    """Turn the libraries' progress bars and logging down (unless verbose). Imports datasets and transformers:
    call it where they are about to be used."""
    if _state["verbose"] is None:
        configure()
    if is_verbose() or _state["libraries"]:
        return
    _state["libraries"] = True
    import datasets
    import huggingface_hub.utils
    import transformers.utils.logging as transformers_logging

    huggingface_hub.utils.disable_progress_bars()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def long_phase(rows: int):
    """Inside: the datasets progress bars are on when `rows` is large (and quiet mode turned them off)."""
    enabled = False
    if _state["libraries"] and rows >= LONG_PHASE_ROWS:
        import datasets

        if not datasets.is_progress_bar_enabled():
            datasets.enable_progress_bars()
            enabled = True
    try:
        yield
    finally:
        if enabled:
            import datasets

            datasets.disable_progress_bars()


def show_bars_for(rows: int) -> None:
    """Turn the datasets bars on for what follows when `rows` is large (TRL tokenizing a big training set inside the
    trainer's constructor); `hide_bars()` turns them off again."""
    if _state["libraries"] and rows >= LONG_PHASE_ROWS:
        import datasets

        datasets.enable_progress_bars()


def hide_bars() -> None:
    if _state["libraries"]:
        import datasets

        datasets.disable_progress_bars()


@contextlib.contextmanager
def library_output_hidden():
    """Inside: what libraries write to stderr (e.g. transformers' GGUF de-quantization bars, which no switch turns
    off) is dropped unless verbose. Exceptions still propagate; use around a phase that prints its own lines."""
    if is_verbose():
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()):
        yield
