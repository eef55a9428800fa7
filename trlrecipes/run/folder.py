"""The run folder: what it holds, when it may be written, and which checkpoint a resume starts from.

Layout: config.yaml (resolved config), recipe.py (the source that ran), run.json (versions, command, status),
data_summary.json, metrics.jsonl / metrics.png / verdicts.json / summary.json (the health callback),
checkpoint-N/ (bounded number), and at the end the LoRA adapter and tokenizer at the top level.

A folder becomes a run only when training starts (`Run.begin`): every check here runs first without writing, so
a bad config, bad data or a model that fails to load never leaves a half-made run nor touches an existing one.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

from trlrecipes.options import is_secret
from trlrecipes.errors import UserError

CONFIG_FILE = "config.yaml"
RECIPE_COPY = "recipe.py"
RUN_INFO = "run.json"
METRICS_FILE = "metrics.jsonl"
# Written by the checkpoint callback after transformers has finished writing a checkpoint: a folder without it
# was being written when the process died and is never resumed from.
COMPLETE_MARKER = ".complete"
# Keys that may differ between the original run and a resume without making the resumed run wrong.
RESUME_MAY_CHANGE = {"output_dir", "max_steps", "num_train_epochs", "save_steps", "save_total_limit", "logging_steps",
                     "eval_steps", "per_device_eval_batch_size", "dataset_num_proc", "verdicts", "report_to",
                     "precompute_ref_log_probs"}  # the same reference either way (trlrecipes.run.refcache)
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
def default_output_dir(recipe_name: str, root: str = "runs") -> Path:
    return Path(root) / f"{recipe_name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def newest_run_dir(recipe_name: str, root: str = "runs") -> Path | None:
    """The most recent auto-named run folder of this recipe (what `--resume` continues when no output_dir is set)."""
    candidates = sorted(Path(root).glob(f"{recipe_name}-????????-??????"))
    return candidates[-1] if candidates else None


def is_nonempty(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def checkpoints(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for path in folder.glob("checkpoint-*") if folder.is_dir() else []:
        match = _CHECKPOINT.match(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    return sorted(found)


def is_valid_checkpoint(path: Path) -> bool:
    """Complete (the marker written after transformers finished the folder), with a readable trainer state for
    this step and non-empty weights: anything less was cut short or damaged and is never resumed from."""
    match = _CHECKPOINT.match(path.name)
    if match is None or not (path / COMPLETE_MARKER).is_file():
        return False
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(state, dict) or state.get("global_step") != int(match.group(1)):
        return False
    return any((path / name).is_file() and (path / name).stat().st_size > 0
               for name in ("adapter_model.safetensors", "model.safetensors", "adapter_model.bin"))


def newest_valid_checkpoint(folder: Path) -> Path | None:
    for _, path in reversed(checkpoints(folder)):
        if is_valid_checkpoint(path):
            return path
    return None


def looks_like_run(folder: Path) -> bool:
    """A folder a trlrecipes run wrote (its run.json or config.yaml, or a checkpoint), as opposed to any folder."""
    return (folder / RUN_INFO).is_file() or (folder / CONFIG_FILE).is_file() or bool(checkpoints(folder))


def check_target(folder: Path, *, overwrite: bool, resume: bool) -> None:
    """Decide whether a run may use `folder`, without touching it: every refusal happens before anything is written.

    An existing non-empty folder is continued only with `resume` and replaced only with `overwrite`, and
    `overwrite` only ever replaces a folder that a run wrote (never, say, a home folder given by mistake).
    """
    if resume and overwrite:
        raise UserError("--resume and --overwrite contradict each other; choose one")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output_dir {folder} is a file, not a folder; choose another output_dir=...")
    if is_nonempty(folder):
        if overwrite and not looks_like_run(folder):
            raise UserError(f"output_dir {folder} is not empty and holds no trlrecipes run, so --overwrite will not "
                            f"delete it; choose a new or empty output_dir=...")
        if not overwrite and not resume:
            raise UserError(f"output_dir {folder} already holds a run; pass --resume to continue it or "
                            f"--overwrite to replace it (or choose another output_dir=...)")
    elif resume:
        raise UserError(f"--resume: output_dir {folder} holds no run to continue; run without --resume to start one")


def prepare(folder: Path, *, overwrite: bool, resume: bool) -> None:
    """Check the folder (see `check_target`), then empty it for `overwrite` and make sure it exists."""
    check_target(folder, overwrite=overwrite, resume=resume)
    if overwrite and is_nonempty(folder):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


def remove_checkpoints_after(folder: Path, step: int) -> list[Path]:
    """Delete checkpoints newer than the one a resume starts from: they are incomplete or corrupt (else the resume
    would start from them), and a half-written folder must not be mixed with the files the resumed run writes."""
    removed = []
    for number, path in checkpoints(folder):
        if number > step:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _comparable(cfg: dict) -> dict:
    """Flatten `trl: {...}` into `trl.<key>` entries and drop the keys allowed to change and credentials (which are
    saved redacted, and never change what is trained)."""
    from trlrecipes.run.config import TRL_PREFIX

    flat = {}
    for key, value in cfg.items():
        if key == "trl" and isinstance(value, dict):
            flat.update({f"{TRL_PREFIX}{sub}": sub_value for sub, sub_value in value.items()})
        else:
            flat[key] = value
    return {key: value for key, value in flat.items()
            if key.removeprefix(TRL_PREFIX) not in RESUME_MAY_CHANGE and not is_secret(key)}


def check_resume_config(folder: Path, new: dict) -> None:
    """A resume must train the same thing: refuse when a key outside RESUME_MAY_CHANGE differs."""
    import yaml

    path = folder / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"--resume: {path} is missing, so the run cannot be checked; start a new run instead")
    try:
        old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise UserError(f"--resume: {path} is not valid YAML ({str(err).splitlines()[0]}); start a new run instead")
    if not isinstance(old, dict):
        raise UserError(f"--resume: {path} does not hold a config mapping; start a new run instead")
    old, new = _comparable(old), _comparable(new)
    changed = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
    if changed:
        details = ", ".join(f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in changed)
        raise UserError(f"--resume: the config changed in a way that makes resuming wrong ({details}); "
                        f"restore those values or start a new run with another output_dir")


def save_config(folder: Path, cfg_dict: dict) -> None:
    import yaml

    (folder / CONFIG_FILE).write_text(yaml.safe_dump(cfg_dict, sort_keys=False), encoding="utf-8")


def trim_metrics(folder: Path, last_step: int) -> int:
    """Drop metrics logged after the checkpoint a resume starts from (they will be logged again), and lines cut
    short by a crash; returns the number of lines dropped."""
    path = folder / METRICS_FILE
    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step", 0), int) and record.get("step", 0) <= last_step:
            kept.append(line)
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    return len(lines) - len(kept)
