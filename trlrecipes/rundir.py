"""The run folder: what it holds, when it may be written, and which checkpoint a resume starts from.

Layout: config.yaml (resolved config), recipe.py (the source that ran), run.json (versions, command, status),
data_summary.json, metrics.jsonl / metrics.png / verdicts.json / summary.json (the health callback),
checkpoint-N/ (bounded number), and at the end the LoRA adapter and tokenizer at the top level.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

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
                     "eval_steps", "per_device_eval_batch_size", "dataset_num_proc", "verdicts"}
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
    if not (path / COMPLETE_MARKER).is_file():
        return False
    try:
        json.loads((path / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return any((path / name).is_file() and (path / name).stat().st_size > 0
               for name in ("adapter_model.safetensors", "model.safetensors", "adapter_model.bin"))


def newest_valid_checkpoint(folder: Path) -> Path | None:
    for _, path in reversed(checkpoints(folder)):
        if is_valid_checkpoint(path):
            return path
    return None


def prepare(folder: Path, *, overwrite: bool, resume: bool) -> None:
    """Refuse to touch a previous run unless asked; `overwrite` empties it, `resume` continues it."""
    if resume and overwrite:
        raise UserError("--resume and --overwrite contradict each other; choose one")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output_dir {folder} is a file, not a folder")
    if is_nonempty(folder):
        if overwrite:
            shutil.rmtree(folder)
        elif not resume:
            raise UserError(f"output_dir {folder} already holds a run; pass --resume to continue it or "
                            f"--overwrite to replace it (or choose another output_dir=...)")
    elif resume:
        raise UserError(f"--resume: output_dir {folder} holds no run to continue; run without --resume to start one")
    folder.mkdir(parents=True, exist_ok=True)


def check_resume_config(folder: Path, new: dict) -> None:
    """A resume must train the same thing: refuse when a key outside RESUME_MAY_CHANGE differs."""
    import yaml

    path = folder / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"--resume: {path} is missing, so the run cannot be checked; start a new run instead")
    old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    changed = sorted(key for key in set(old) | set(new) if key not in RESUME_MAY_CHANGE and old.get(key) != new.get(key))
    if changed:
        details = ", ".join(f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in changed)
        raise UserError(f"--resume: the config changed in a way that makes resuming wrong ({details}); "
                        f"restore those values or start a new run with another output_dir")


def save_config(folder: Path, cfg_dict: dict) -> None:
    import yaml

    (folder / CONFIG_FILE).write_text(yaml.safe_dump(cfg_dict, sort_keys=False), encoding="utf-8")


def trim_metrics(folder: Path, last_step: int) -> int:
    """Drop metrics logged after the checkpoint a resume starts from (they will be logged again); returns the count."""
    path = folder / METRICS_FILE
    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= last_step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    return len(lines) - len(kept)
