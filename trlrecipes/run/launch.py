"""From a recipe (a method program, or a preset of one) and the user's settings to a prepared run: the one path
shared by `trlrecipes run` and a program executed directly (`python my_dpo.py key=value`, `accelerate launch ...`).

Everything that can be checked without loading a model is checked here first, so a bad input costs seconds.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from trlrecipes.errors import UserError
from trlrecipes.hardware import is_main_process
from trlrecipes.run import folder as run_folder
from trlrecipes.run.config import is_secret, resolve_config, to_dict
from trlrecipes.run.preflight import check_settings, preflight, preflight_late

if TYPE_CHECKING:
    from trlrecipes.run.programs import Recipe

# Flags that control the run rather than the training; also accepted as key=value by a recipe run directly.
RUN_FLAGS = ("resume", "overwrite", "demo", "dry_run")


@dataclass
class RunOptions:
    resume: bool = False
    overwrite: bool = False
    demo: bool = False
    dry_run: bool = False
    config_file: str | None = None
    overrides: list[str] = field(default_factory=list)


def demo_layer(module: ModuleType) -> dict:
    """CPU-sized settings on the embedded model and data; a recipe's own DEMO dict refines them."""
    from trlrecipes.demo import DEMO_TEST, DEMO_TRAIN
    from trlrecipes.models import DEMO_MODEL

    layer = {
        "model": DEMO_MODEL,
        "dataset": str(DEMO_TRAIN),
        "eval_dataset": str(DEMO_TEST),
        "data_format": "hh-rlhf",
        "subset": "",
        "max_length": 192,  # the demo pairs are short; 192 tokens hold every one of them (the longest is 141)
        "learning_rate": 1e-4,  # 30 steps instead of thousands: LoRA needs large steps to move in that budget
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        # 30 steps x 4 pairs took held-out accuracy from 0 (ties) to 0.97 in a learnability probe (the DPO program
        # refines it with its own DEMO: 10 steps at 3e-4, the same accuracy)
        "max_steps": 30,
        "logging_steps": 5,
        "save_steps": 15,
        "eval_steps": 0,  # no evaluation during the short run: the demo evaluates the held-out pairs once, after
        "max_eval_rows": 0,
        "activation_checkpointing": False,  # costs ~30% time; the 135M model fits without it
    }
    layer.update(getattr(module, "DEMO", {}))
    fields = set(module.Config.__dataclass_fields__)
    return {key: value for key, value in layer.items() if key in fields}


def check_config_file(path: str) -> None:
    """A --config file that resolve_config cannot read as YAML text says what it is instead."""
    file = Path(path).expanduser()
    if file.is_dir():
        raise UserError(f"--config {path} is a folder; pass a YAML file of key: value settings")
    if not file.is_file():
        return  # resolve_config reports it (config file not found)
    try:
        file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(
            f"--config {path} is not a text file (byte {err.start} is not UTF-8); pass a YAML file "
            f"of key: value settings"
        ) from err


def resolve(recipe: Recipe, options: RunOptions):
    """program defaults < preset < --demo < --config FILE < key=value"""
    from trlrecipes.run.config import DEMO_SOURCE

    if options.config_file:
        check_config_file(options.config_file)
    module = recipe.module
    layers = [(recipe.preset, f"preset {recipe.name}")] if recipe.preset else []
    if options.demo:
        layers.append((demo_layer(module), DEMO_SOURCE))
    return resolve_config(
        module.Config,
        trl_config=getattr(module, "TRL_CONFIG", None),
        layers=layers,
        yaml_path=options.config_file,
        overrides=options.overrides,
    )


def output_dir_for(cfg, recipe_name: str, options: RunOptions) -> Path:
    if getattr(cfg, "output_dir", ""):
        return Path(cfg.output_dir).expanduser()
    if options.resume:
        newest = run_folder.newest_run_dir(recipe_name)
        if newest is None:
            raise UserError(f"--resume: no earlier run of {recipe_name} under runs/; pass output_dir=... of the run")
        return newest
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Each process would name its own runs/<recipe>-<time> folder; one a second late would split the run.
        raise UserError(
            f"{os.environ['WORLD_SIZE']} processes are training together: set output_dir=... so that they "
            f"share one run folder"
        )
    return run_folder.default_output_dir(recipe_name)


def redact_args(items: list[str]) -> list[str]:
    """Command-line arguments with the values of secret-looking keys (`*token*=...`, `*secret*=...`) replaced,
    by the same rule that redacts config.yaml."""

    def redact(item: str) -> str:
        key, sep, _ = item.partition("=")
        return f"{key}=<redacted>" if sep and is_secret(key.lstrip("-")) else item

    return [redact(item) for item in items]


def resume_command(entry: str, options: RunOptions, folder: Path) -> str:
    """The command that continues this run. Credentials (hub_token=..., *secret*=...) are left out, never printed;
    they may differ on resume, so the command works as printed (give the credential again, or via HF_TOKEN)."""
    overrides = [
        item
        for item in options.overrides
        if not item.startswith("output_dir=") and not is_secret(item.partition("=")[0])
    ]
    # Absolute paths, so that the command works from any folder.
    parts = entry.split() + overrides + [f"output_dir={Path(folder).expanduser().absolute()}"]
    if options.config_file:
        parts += ["--config", str(Path(options.config_file).expanduser().absolute())]
    if options.demo:
        parts.append("--demo")
    parts.append("--resume")
    return " ".join(shlex.quote(part) if part not in entry.split() else part for part in parts)


def start(recipe: Recipe, cfg, options: RunOptions, entry: str):
    """Check the run folder (safety, resume config, which checkpoint) and return the Run.

    Nothing is written here: the Run's `setup` (overwrite, config and recipe copies, run.json, resume trimming)
    runs in `run.begin()`, right before training, so that a failure while the recipe loads data or the model
    leaves an existing folder as it was.
    """
    from trlrecipes.run.session import Run

    folder = output_dir_for(cfg, recipe.name, options)
    cfg.output_dir = str(folder)
    cfg_dict = to_dict(cfg)
    resume_from = None
    run_folder.check_target(folder, overwrite=options.overwrite, resume=options.resume)
    # One process per run folder, held until this run ends (the OS drops it when the process dies).
    lock = run_folder.FolderLock(folder).acquire(" ".join(redact_args(sys.argv))) if is_main_process() else None
    try:
        run_folder.check_target(folder, overwrite=options.overwrite, resume=options.resume)  # as it is now, locked
        if options.resume:
            run_folder.check_resume_config(folder, cfg_dict)
            resume_from = run_folder.newest_valid_checkpoint(folder)
            if lock is not None and run_folder.read_info(folder).get("status") == "running":  # and we hold the lock
                print(
                    f"--resume: the run in {folder} ended abruptly (its run.json still says running); continuing "
                    f"from {resume_from.name if resume_from else 'step 0'}"
                )
    except BaseException:
        if lock is not None:
            lock.release(undo=True)
        raise
    info = run_info(recipe, cfg, options)

    def setup(before_training: bool = True) -> None:
        if not is_main_process():
            return
        if before_training:
            run_folder.prepare(folder, overwrite=options.overwrite, resume=options.resume)
        else:  # a recipe that trained without run.train(): only record the run, never empty what it wrote
            folder.mkdir(parents=True, exist_ok=True)
        if options.resume and before_training:
            step = int(resume_from.name.split("-")[1]) if resume_from else 0
            for path in run_folder.remove_checkpoints_after(folder, step):
                print(f"--resume: removed {path}: incomplete or damaged, so it cannot be resumed from")
            run_folder.trim_metrics(folder, step)
            if resume_from is None:
                print(f"--resume: no complete checkpoint in {folder}; training starts from step 0 in that folder")
            info.update(first_started=_first_started(folder), resumed_from=str(resume_from) if resume_from else None)
        run_folder.save_config(folder, cfg_dict)
        shutil.copyfile(recipe.program_path, folder / run_folder.PROGRAM_COPY)
        if recipe.preset_path is not None:
            shutil.copyfile(recipe.preset_path, folder / run_folder.PRESET_COPY)
        (folder / run_folder.RUN_INFO).write_text(json.dumps(info, indent=2) + "\n")

    command = resume_command(entry, options, folder)
    return Run(
        dir=folder,
        program_path=recipe.program_path,
        resume_command=command,
        resume_from=resume_from,
        setup=setup,
        lock=lock,
    )


def _first_started(folder: Path) -> str | None:
    """When the run a resume continues was first started (kept across resumes in run.json)."""
    previous = run_folder.read_info(folder)
    return previous.get("first_started") or previous.get("started")


def run_info(recipe: Recipe, cfg, options: RunOptions) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from trlrecipes.run.programs import method_of

    versions = {}
    for package in ("trlrecipes", "trl", "transformers", "peft", "datasets", "torch", "accelerate"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {
        "recipe": recipe.name,
        "method": method_of(recipe.module, cfg),
        "program": recipe.program_path.stem,
        "program_path": str(recipe.program_path),
        "preset_path": str(recipe.preset_path) if recipe.preset_path else None,
        "command": " ".join(redact_args(sys.argv)),
        "overrides": redact_args(options.overrides),
        "config_file": options.config_file,
        "demo": options.demo,
        "resumed": options.resume,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "versions": versions,
        "status": "running",
    }


def execute(recipe: Recipe, options: RunOptions, entry: str):
    """Resolve, check, prepare and run. Returns the Run (None for --dry-run)."""
    cfg = resolve(recipe, options)
    trl_config = getattr(recipe.module, "TRL_CONFIG", None)
    if options.dry_run:
        import yaml

        check_settings(cfg, trl_config)  # the same value errors a run would stop on (files and model are not read)
        print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        return None
    preflight(cfg, trl_config)
    from trlrecipes._compat import defer_bitsandbytes
    from trlrecipes.hardware import needs_bitsandbytes

    defer_bitsandbytes(needed=needs_bitsandbytes(cfg))  # seconds of imports that only 4-bit runs use
    run = start(recipe, cfg, options, entry)
    from trlrecipes.console import quiet_libraries

    quiet_libraries()  # after every check that needs no library (bad input fails fast); no-op with --verbose
    existed = run.dir.exists()
    try:
        if options.resume and run.resume_from is not None and run_folder.reaches_end(run.resume_from, cfg):
            _already_complete(run, cfg)
            return run
        try:
            preflight_late(cfg)  # imports transformers: after every cheap check, still before the model loads
            recipe.module.main(cfg, run)
        except BaseException as err:
            if not run.started:
                if run.lock is not None:
                    run.lock.release(undo=True)  # the lock file, and the folder when this start made it
                if not existed:
                    _remove_if_empty(run.dir)  # e.g. made by the Trainer's constructor before the failure
            elif _still_running(run):  # the program failed after run.train() or without it
                status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
                try:
                    run_folder.update_info(
                        run.dir, status=status, reason=f"{type(err).__name__}: {err}".splitlines()[0]
                    )
                except OSError:  # e.g. the disk is full: the original error is what must reach the user
                    pass
            raise
        run.begin(before_training=False)  # a recipe that trained without run.train(): the folder still becomes a run
        if _still_running(run):  # it returned: the program's own training ended
            run_folder.update_info(run.dir, status="completed")
    finally:
        if run.lock is not None:
            run.lock.release()
    return run


def _still_running(run) -> bool:
    return is_main_process() and run_folder.read_info(run.dir).get("status") == "running"


def _already_complete(run, cfg) -> None:
    """--resume of a run whose newest complete checkpoint is at or past its end: train nothing (one more step
    would change a finished adapter); make sure the adapter at the top of the folder is that checkpoint's."""
    if not is_main_process():
        return
    checkpoint = run.resume_from
    end = f"max_steps={cfg.max_steps}" if getattr(cfg, "max_steps", 0) else f"num_train_epochs={cfg.num_train_epochs}"
    copied = run_folder.finish_from_checkpoint(run.dir, checkpoint)
    if copied:
        print(f"--resume: the adapter in {run.dir} was not the final one; saved it again from {checkpoint}")
    print(
        f"--resume: the run in {run.dir} is complete ({checkpoint.name} is at or past {end}); nothing to train. "
        f"To train further, resume with a larger max_steps="
    )


def _remove_if_empty(folder: Path) -> None:
    """Remove a folder this start created, only if nothing is in it (never a folder that held anything)."""
    try:
        folder.rmdir()  # fails unless empty
    except OSError:
        pass


def split_run_flags(argv: list[str]) -> tuple[RunOptions, list[str]]:
    """For a recipe run directly: pull resume=/overwrite=/demo=/dry_run=/config= out of key=value arguments."""
    from trlrecipes.options import coerce

    options, rest = RunOptions(), []
    argv = list(argv)
    while argv:
        item = argv.pop(0)
        if item == "--config" and argv:  # `--config FILE`, as `trlrecipes run` spells it
            item = f"config={argv.pop(0)}"
        key, sep, value = item.partition("=")
        key = key.lstrip("-").replace("-", "_")
        if key in RUN_FLAGS:
            setattr(options, key, coerce(value, bool, key) if sep else True)
        elif key == "config" and sep:
            options.config_file = value
        else:
            rest.append(item)
    options.overrides = rest
    return options, rest


def guarded(action, *, debug: bool = False) -> int:
    """Run `action()` and map failures to exit codes: 2 user error, 1 internal error, 130/143 interrupts."""
    import traceback

    from trlrecipes.errors import RunStopped

    try:
        action()
    except UserError as err:
        print("error: " + " ".join(str(err).split("\n")), file=sys.stderr)  # always one line
        return 2
    except RunStopped as stop:
        print(str(stop), file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # an internal failure: one line by default, the traceback with --debug
        if debug:
            traceback.print_exc()
        else:
            print(
                f"internal error: {type(err).__name__}: {err}".splitlines()[0]
                + " (rerun with --debug for the traceback)",
                file=sys.stderr,
            )
        return 1
    return 0


def main_from_argv(recipe_file: str) -> None:
    """Entry point of a program run as a script: `python my_dpo.py key=value [resume=true] [--debug]`."""
    from trlrecipes.console import configure
    from trlrecipes.run.programs import Recipe

    argv = sys.argv[1:]
    debug = "--debug" in argv
    configure(verbose="--verbose" in argv)
    options, _ = split_run_flags([item for item in argv if item not in ("--debug", "--verbose")])
    path = Path(recipe_file).resolve()
    module = sys.modules["__main__"]
    recipe = Recipe(name=path.stem, program_path=path, module=module, description=(module.__doc__ or "").strip())
    sys.exit(guarded(lambda: execute(recipe, options, entry=f"python {recipe_file}"), debug=debug))
