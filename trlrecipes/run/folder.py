"""The run folder as a place: when it may be used, its lock, what --overwrite keeps aside, its checkpoints and
which one a resume starts from. What the run writes about itself (config.yaml, run.json, ...) is `record.py`'s.

Layout: the records (see record.py), checkpoint-N/ (a bounded number, each marked complete once transformers has
written it), `round-K/` sub-runs of a program that trains in rounds, and at the end the LoRA adapter and tokenizer
at the top level.

A folder becomes a run only when training starts (`Run.begin`): every check here runs first without writing, so
a bad config, bad data or a model that fails to load never leaves a half-made run nor touches an existing one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from datetime import datetime
from pathlib import Path

from trlrecipes import files
from trlrecipes.errors import UserError
from trlrecipes.run.record import CONFIG, INFO, METRICS, RunRecord
from trlrecipes.values import is_secret

# Written by the checkpoint callback after transformers has finished writing a checkpoint: a folder without it
# was being written when the process died and is never resumed from.
COMPLETE_MARKER = ".complete"
# Keys that may differ between the original run and a resume without making the resumed run wrong.
RESUME_MAY_CHANGE = {
    "output_dir",
    "max_steps",
    "num_train_epochs",
    "save_steps",
    "save_total_limit",
    "logging_steps",
    "eval_steps",
    "per_device_eval_batch_size",
    "dataset_num_proc",
    "verdicts",
    "report_to",
    "precompute_ref_log_probs",
}  # the same reference either way (trlrecipes.run.refcache)
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# The run folder's lock (see `FolderLock`): kept in the folder, never deleted by --overwrite, ignored as content.
LOCK_FILE = ".lock"
# Where --overwrite keeps the run it replaces until the new run has trained its first step.
REPLACED = ".replaced"
# What a finished run keeps at the top of its folder that a checkpoint also holds: the adapter and tokenizer.
FINAL_FILES = (
    "adapter_model.safetensors",
    "adapter_model.bin",
    "adapter_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)


def default_output_dir(recipe_name: str, root: str = "runs") -> Path:
    return Path(root) / f"{recipe_name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def newest_run_dir(recipe_name: str, root: str = "runs") -> Path | None:
    """The most recent auto-named run folder of this recipe (what `--resume` continues when no output_dir is set)."""
    candidates = sorted(Path(root).glob(f"{recipe_name}-????????-??????"))
    return candidates[-1] if candidates else None


def is_nonempty(folder: Path) -> bool:
    return folder.is_dir() and any(path.name != LOCK_FILE for path in folder.iterdir())


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
    for name in ("adapter_model.safetensors", "model.safetensors", "adapter_model.bin"):
        try:
            found = (path / name).stat()
        except OSError:  # absent, or removed while we looked (a running trainer rotates old checkpoints out)
            continue
        if stat.S_ISREG(found.st_mode) and found.st_size > 0:
            return True
    return False


def newest_valid_checkpoint(folder: Path, *, at_most: int | None = None) -> Path | None:
    """The one answer to "which checkpoint can this run continue from": the newest complete, undamaged one (at or
    before step `at_most` when given, e.g. the last step with a finite loss)."""
    for step, path in reversed(checkpoints(folder)):
        if (at_most is None or step <= at_most) and is_valid_checkpoint(path):
            return path
    return None


def looks_like_run(folder: Path) -> bool:
    """A folder a trlrecipes run wrote (its run.json or config.yaml, or a checkpoint), as opposed to any folder."""
    return (folder / INFO).is_file() or (folder / CONFIG).is_file() or bool(checkpoints(folder))


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
            raise UserError(
                f"output_dir {folder} is not empty and holds no trlrecipes run, so --overwrite will not "
                f"delete it; choose a new or empty output_dir=..."
            )
        if not overwrite and not resume:
            raise UserError(
                f"output_dir {folder} already holds a run; pass --resume to continue it or "
                f"--overwrite to replace it (or choose another output_dir=...)"
            )
    elif resume:
        raise UserError(f"--resume: output_dir {folder} holds no run to continue; run without --resume to start one")


def prepare(folder: Path, *, overwrite: bool, resume: bool) -> None:
    """Check the folder (see `check_target`), then empty it for `overwrite` and make sure it exists."""
    check_target(folder, overwrite=overwrite, resume=resume)
    if overwrite and is_nonempty(folder):
        # Moved aside, deleted only once the new run has finished a step (`drop_replaced`), put back if it fails
        # before that (`restore_replaced`). A stale one (a replacing run killed before its first step) goes first.
        aside = folder / REPLACED
        _remove(aside)
        aside.mkdir()
        for path in _contents(folder):
            path.rename(aside / path.name)
    folder.mkdir(parents=True, exist_ok=True)


def _contents(folder: Path) -> list[Path]:
    # The lock is held by this run: moving or deleting it would let a second run lock a new file.
    return [path for path in folder.iterdir() if path.name not in (LOCK_FILE, REPLACED)]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def drop_replaced(folder: Path) -> None:
    """Delete the run an --overwrite replaced (the new one has trained a step)."""
    _remove(folder / REPLACED)


def restore_replaced(folder: Path) -> bool:
    """Put back the run an --overwrite replaced, removing what the new run wrote before it failed. True if there
    was one."""
    aside = folder / REPLACED
    if not aside.is_dir():
        return False
    for path in _contents(folder):
        _remove(path)
    for path in list(aside.iterdir()):
        path.rename(folder / path.name)
    aside.rmdir()
    return True


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
    from trlrecipes.run.resolve import TRL_PREFIX

    flat = {}
    for key, value in cfg.items():
        if key == "trl" and isinstance(value, dict):
            flat.update({f"{TRL_PREFIX}{sub}": sub_value for sub, sub_value in value.items()})
        else:
            flat[key] = value
    return {
        key: value
        for key, value in flat.items()
        if key.removeprefix(TRL_PREFIX) not in RESUME_MAY_CHANGE and not is_secret(key)
    }


def check_resume_config(folder: Path, new: dict) -> None:
    """A resume must train the same thing: refuse when a key outside RESUME_MAY_CHANGE differs."""
    import yaml

    path = folder / CONFIG
    if not path.is_file():
        raise UserError(f"--resume: {path} is missing, so the run cannot be checked; start a new run instead")
    try:
        old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise UserError(
            f"--resume: {path} is not valid YAML ({str(err).splitlines()[0]}); start a new run instead"
        ) from err
    if not isinstance(old, dict):
        raise UserError(f"--resume: {path} does not hold a config mapping; start a new run instead")
    old, new = _comparable(old), _comparable(new)
    changed = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
    if changed:
        details = ", ".join(f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in changed)
        raise UserError(
            f"--resume: the config changed in a way that makes resuming wrong ({details}); "
            f"restore those values or start a new run with another output_dir"
        )


def trim_metrics(folder: Path, last_step: int) -> int:
    """Drop metrics logged after the checkpoint a resume starts from (they will be logged again), and lines cut
    short by a crash; returns the number of lines dropped."""
    path = folder / METRICS
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
    files.write_text(path, "".join(line + "\n" for line in kept))
    return len(lines) - len(kept)


def checkpoint_step(path: Path) -> int:
    return int(path.name.split("-")[1])


def reaches_end(checkpoint: Path, cfg) -> bool:
    """Whether `checkpoint` is at or past the end of training as `cfg` sets it: max_steps, or (max_steps=0) the
    number of epochs, read from the checkpoint's trainer state."""
    max_steps = getattr(cfg, "max_steps", 0) or 0
    if max_steps > 0:
        return checkpoint_step(checkpoint) >= max_steps
    epochs = getattr(cfg, "num_train_epochs", None)
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    epoch = state.get("epoch") if isinstance(state, dict) else None
    return isinstance(epoch, (int, float)) and isinstance(epochs, (int, float)) and epoch >= epochs - 1e-6


def finish_from_checkpoint(folder: Path, checkpoint: Path) -> list[str]:
    """A run whose newest complete checkpoint is its last step: make the adapter at the top of the folder that
    checkpoint's, unless the run recorded that it saved it (status completed at that step, adapter newer than the
    checkpoint). Returns the names of the files copied (none when the adapter was already the final one)."""
    record = RunRecord(folder)
    info, step = record.info(), checkpoint_step(checkpoint)
    adapter = folder / "adapter_model.safetensors"
    marker = checkpoint / COMPLETE_MARKER
    saved = (
        info.get("status") == "completed"
        and info.get("global_step") == step
        and adapter.is_file()
        and adapter.stat().st_mtime_ns >= marker.stat().st_mtime_ns
    )
    copied = []
    if not saved:
        copied = copy_final_files(checkpoint, folder)
    record.set_status("completed", step)
    return copied


def copy_final_files(source: Path, folder: Path) -> list[str]:
    """The adapter and tokenizer files of `source` (a checkpoint, a round's folder) copied to the top of `folder`,
    each atomically (never a half-copied adapter, whatever interrupts this); returns the names copied."""
    copied = []
    for name in FINAL_FILES:
        if (source / name).is_file():
            files.copy(source / name, folder / name)
            copied.append(name)
    return copied


class FolderLock:
    """One process per run folder: an exclusive `flock` on `<folder>/.lock`, holding the holder's PID and command.

    The operating system drops the lock when the process ends however it ends (kill -9 included), so a lock is
    never stale; the file itself may stay and means nothing then. The file is kept in the folder (and spared by
    --overwrite) because a lock on a deleted file would not stop a second run from locking a new one."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / LOCK_FILE
        self._fd: int | None = None
        self.created_folder = False
        self.created_file = False

    def acquire(self, command: str) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (and no claim of one)
            return self
        self.created_folder = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.created_file = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UserError(
                f"output_dir {self.folder} is in use by another run ({holder(self.folder)}); wait for it "
                f"to end, or choose another output_dir=..."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps({"pid": os.getpid(), "command": command}) + "\n").encode())
        self._fd = fd
        return self

    def release(self, *, undo: bool = False) -> None:
        """Drop the lock; `undo`: also remove the lock file and the folder when this lock created them (a start
        that failed before anything else was written leaves no trace)."""
        if self._fd is None:
            return
        if undo and self.created_file:
            self.path.unlink(missing_ok=True)  # while still held, so no other run holds a lock on the removed file
        os.close(self._fd)
        self._fd = None
        if undo and self.created_folder:
            try:
                self.folder.rmdir()  # fails unless empty
            except OSError:
                pass


def holder(folder: Path) -> str:
    """Who holds the lock of `folder`, as the lock file says ("pid N: command")."""
    try:
        record = json.loads((folder / LOCK_FILE).read_text(encoding="utf-8"))
        return f"pid {record['pid']}: {record['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def is_locked(folder: Path) -> bool:
    """Whether a live process holds the folder's lock (False when there is no lock file, or on non-POSIX)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken just to test
    return False


def unfinished(folder: Path) -> str | None:
    """One line on a run that did not complete, for the commands that read its folder (eval, generate, merge):
    what state it is in and which adapter they use; None for a completed run (or a folder without run.json)."""
    info = RunRecord(folder).info()
    status, step = info.get("status"), info.get("global_step")
    if status in (None, "completed"):
        return None
    newest = newest_valid_checkpoint(folder)
    resume = f"resume from {newest.name} with --resume" if newest else "no complete checkpoint to resume from"
    adapter = "the adapter at the top of the folder"
    if status == "running" and is_locked(folder):
        return f"{folder} is still training ({holder(folder)}); using {adapter}, from an earlier save"
    if status == "running":
        return (
            f"{folder}: the run ended abruptly (run.json still says running and no process holds the folder); "
            f"{resume}; using {adapter}, which may be older than {newest.name if newest else 'the last step'}"
        )
    reason = f": {info['reason']}" if info.get("reason") else ""
    return (
        f"{folder} is not a completed run ({status} at step {step}{reason}); using {adapter}"
        + (f" (saved at step {step})" if status == "interrupted" else "")
        + f"; {resume}"
    )
