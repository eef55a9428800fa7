"""From a recipe and the user's settings to a prepared run: the one path shared by `trlrecipes run` and a
copied recipe executed directly (`python my_recipe.py key=value`, `accelerate launch my_recipe.py ...`).

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

from trlrecipes.run import folder as run_folder
from trlrecipes.run.config import is_secret, resolve_config, to_dict
from trlrecipes.errors import UserError
from trlrecipes.hardware import is_main_process
from trlrecipes.run.preflight import preflight

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
        # 30 steps x 4 pairs took held-out accuracy from 0 (ties) to 0.97 in a learnability probe
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


def resolve(module: ModuleType, options: RunOptions):
    layers = [(demo_layer(module), "--demo")] if options.demo else []
    return resolve_config(module.Config, trl_config=getattr(module, "TRL_CONFIG", None), layers=layers,
                          yaml_path=options.config_file, overrides=options.overrides)


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
        raise UserError(f"{os.environ['WORLD_SIZE']} processes are training together: set output_dir=... so that they "
                        f"share one run folder")
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
    overrides = [item for item in options.overrides
                 if not item.startswith("output_dir=") and not is_secret(item.partition("=")[0])]
    parts = entry.split() + overrides + [f"output_dir={folder}"]
    if options.config_file:
        parts += ["--config", options.config_file]
    if options.demo:
        parts.append("--demo")
    parts.append("--resume")
    return " ".join(shlex.quote(part) if part not in entry.split() else part for part in parts)


def start(module: ModuleType, recipe_path: Path, cfg, options: RunOptions, entry: str):
    """Check the run folder (safety, resume config, which checkpoint) and return the Run.

    Nothing is written here: the Run's `setup` (overwrite, config and recipe copies, run.json, resume trimming)
    runs in `run.begin()`, right before training, so that a failure while the recipe loads data or the model
    leaves an existing folder as it was.
    """
    from trlrecipes.run.session import Run

    folder = output_dir_for(cfg, recipe_path.stem, options)
    cfg.output_dir = str(folder)
    cfg_dict = to_dict(cfg)
    resume_from = None
    run_folder.check_target(folder, overwrite=options.overwrite, resume=options.resume)
    if options.resume:
        run_folder.check_resume_config(folder, cfg_dict)
        resume_from = run_folder.newest_valid_checkpoint(folder)
    info = run_info(recipe_path, options)

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
        shutil.copyfile(recipe_path, folder / run_folder.RECIPE_COPY)
        (folder / run_folder.RUN_INFO).write_text(json.dumps(info, indent=2) + "\n")

    command = resume_command(entry, options, folder)
    return Run(dir=folder, recipe_path=recipe_path, resume_command=command, resume_from=resume_from, setup=setup)


def _first_started(folder: Path) -> str | None:
    """When the run a resume continues was first started (kept across resumes in run.json)."""
    try:
        previous = json.loads((folder / run_folder.RUN_INFO).read_text())
    except (OSError, ValueError):
        return None
    return previous.get("first_started") or previous.get("started") if isinstance(previous, dict) else None


def run_info(recipe_path: Path, options: RunOptions) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("trlrecipes", "trl", "transformers", "peft", "datasets", "torch", "accelerate"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {"recipe": recipe_path.stem, "recipe_path": str(recipe_path), "command": " ".join(redact_args(sys.argv)),
            "overrides": redact_args(options.overrides), "config_file": options.config_file, "demo": options.demo,
            "resumed": options.resume, "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "versions": versions, "status": "running"}


def execute(module: ModuleType, recipe_path: Path, options: RunOptions, entry: str):
    """Resolve, check, prepare and run. Returns the Run (None for --dry-run)."""
    cfg = resolve(module, options)
    if options.dry_run:
        import yaml

        print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        return None
    preflight(cfg)
    run = start(module, recipe_path, cfg, options, entry)
    from trlrecipes.console import quiet_libraries

    quiet_libraries()  # after every check that needs no library (bad input fails fast); no-op with --verbose
    existed = run.dir.exists()
    try:
        module.main(cfg, run)
    except BaseException:
        if not run.started and not existed:
            _remove_if_empty(run.dir)  # e.g. made by the Trainer's constructor before the failure
        raise
    run.begin(before_training=False)  # a recipe that trained without run.train(): the folder still becomes a run
    return run


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
    for item in argv:
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
            print(f"internal error: {type(err).__name__}: {err}".splitlines()[0] +
                  " (rerun with --debug for the traceback)", file=sys.stderr)
        return 1
    return 0


def main_from_argv(recipe_file: str) -> None:
    """Entry point of a recipe run as a script: `python my_recipe.py key=value [resume=true] [--debug]`."""
    from trlrecipes.console import configure

    argv = sys.argv[1:]
    debug = "--debug" in argv
    configure(verbose="--verbose" in argv)
    options, _ = split_run_flags([item for item in argv if item not in ("--debug", "--verbose")])
    path = Path(recipe_file).resolve()
    module = sys.modules["__main__"]
    sys.exit(guarded(lambda: execute(module, path, options, entry=f"python {recipe_file}"), debug=debug))
