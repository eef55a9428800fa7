"""From a recipe (a method program, or a preset of one) and the user's settings to a finished run: the one path
shared by `trlrecipes run`, `api.run`, `sweep` and a program executed directly (`python my_dpo.py key=value`,
`accelerate launch my_dpo.py ...`).

    resolve   the typed Config: program defaults < preset < --demo < --config FILE < key=value (run/resolve.py)
    check     everything that needs no model, so a bad input costs seconds (run/preflight.py, the program's check)
    start     the run folder: may it be used, which checkpoint a resume continues from, the lock; nothing written
    execute   the program's main(cfg, run); the Run writes the folder right before training (run/lifecycle.py)
    guarded   failures to exit codes: 2 yours (one line), 1 a bug, 130/143 a stop with the resume command
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from trlrecipes.errors import UserError
from trlrecipes.hardware import is_main_process
from trlrecipes.run import contract
from trlrecipes.run import folder as run_folder
from trlrecipes.run.preflight import check_settings, preflight, preflight_late
from trlrecipes.run.record import RunRecord
from trlrecipes.run.resolve import is_secret, resolve_config, to_dict

if TYPE_CHECKING:
    from trlrecipes.run.recipes import Recipe

# Flags that control the run rather than the training; also accepted as key=value by a program run directly.
RUN_FLAGS = ("resume", "overwrite", "demo", "dry_run")


@dataclass
class RunFlags:
    """How to run (not what to train): the command's flags, the --config file and the key=value settings."""

    resume: bool = False
    overwrite: bool = False
    demo: bool = False
    dry_run: bool = False
    config_file: str | None = None
    overrides: list[str] = field(default_factory=list)


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


def resolve(recipe: Recipe, flags: RunFlags, sources: dict | None = None):
    """program defaults < preset < --demo < --config FILE < key=value; `sources` is filled with each value's origin."""
    from trlrecipes.run.demo import DEMO_SOURCE, demo_layer

    if flags.config_file:
        check_config_file(flags.config_file)
    module = recipe.module
    layers = [(recipe.preset, f"preset {recipe.name}")] if recipe.preset else []
    if flags.demo:
        layers.append((demo_layer(module), DEMO_SOURCE))
    return resolve_config(
        module.Config,
        trl_config=contract.trl_config_spec(module),
        layers=layers,
        yaml_path=flags.config_file,
        overrides=flags.overrides,
        sources=sources,
    )


def check(recipe: Recipe, cfg) -> None:
    """The checks on values alone (no files, no model): the shared ones, then the program's own."""
    check_settings(cfg, contract.trl_config_spec(recipe.module))
    contract.run_checks(recipe.module, cfg)


def dry_run_text(cfg, sources: dict) -> str:
    """The resolved settings as YAML, each line ending with where its value came from."""
    import yaml

    lines = []
    for key, value in to_dict(cfg).items():
        # collections inline (`loss_type: [sigmoid]`), so that each setting is one line with its source
        flow = None if isinstance(value, (list, dict)) else False
        text = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=flow, width=10**6).rstrip("\n")
        if key == "trl":
            origin = sorted({sources[k] for k in sources if k.startswith("trl.")}) or ["default"]
        else:
            origin = [sources.get(key, "default")]
        lines.append(f"{text}  # {', '.join(origin)}" if "\n" not in text else f"# {key}: {', '.join(origin)}\n{text}")
    return "\n".join(lines) + "\n"


def output_dir_for(cfg, recipe_name: str, flags: RunFlags) -> Path:
    if getattr(cfg, "output_dir", ""):
        return Path(cfg.output_dir).expanduser()
    if flags.resume:
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


def resume_command(entry: str, flags: RunFlags, folder: Path) -> str:
    """The command that continues this run. Credentials (hub_token=..., *secret*=...) are left out, never printed;
    they may differ on resume, so the command works as printed (give the credential again, or via HF_TOKEN)."""
    overrides = [
        item
        for item in flags.overrides
        if not item.startswith("output_dir=") and not is_secret(item.partition("=")[0])
    ]
    # Absolute paths, so that the command works from any folder.
    parts = entry.split() + overrides + [f"output_dir={Path(folder).expanduser().absolute()}"]
    if flags.config_file:
        parts += ["--config", str(Path(flags.config_file).expanduser().absolute())]
    if flags.demo:
        parts.append("--demo")
    parts.append("--resume")
    return " ".join(shlex.quote(part) if part not in entry.split() else part for part in parts)


def start(recipe: Recipe, cfg, flags: RunFlags, entry: str):
    """Check the run folder (safety, resume config and base model, which checkpoint) and return the Run. Nothing
    is written here: the Run writes its folder in `begin()`, right before training, so that a failure while the
    program loads data or the model leaves an existing folder as it was."""
    from trlrecipes.models import weights_fingerprint
    from trlrecipes.run.lifecycle import Run, StartPlan

    folder = output_dir_for(cfg, recipe.name, flags)
    cfg.output_dir = str(folder)
    cfg_dict = to_dict(cfg)
    resume_from = None
    base_weights = weights_fingerprint(cfg.model) if is_main_process() and getattr(cfg, "model", "") else None
    run_folder.check_target(folder, overwrite=flags.overwrite, resume=flags.resume)
    # One process per run folder, held until this run ends (the OS drops it when the process dies).
    lock = run_folder.FolderLock(folder).acquire(" ".join(redact_args(sys.argv))) if is_main_process() else None
    try:
        run_folder.check_target(folder, overwrite=flags.overwrite, resume=flags.resume)  # as it is now, locked
        if flags.resume:
            run_folder.check_resume_config(folder, cfg_dict)
            check_same_base(folder, cfg.model, base_weights)
            resume_from = run_folder.newest_valid_checkpoint(folder)
            if lock is not None and RunRecord(folder).status == "running":  # and we hold the lock
                print(
                    f"--resume: the run in {folder} ended abruptly (its run.json still says running); continuing "
                    f"from {resume_from.name if resume_from else 'step 0'}"
                )
    except BaseException:
        if lock is not None:
            lock.release(undo=True)
        raise
    plan = StartPlan(
        config=cfg_dict,
        info={**run_info(recipe, cfg, flags), "base_weights": base_weights},
        program_path=recipe.program_path,
        preset_path=recipe.preset_path,
        overwrite=flags.overwrite,
        resume=flags.resume,
    )
    return Run(
        dir=folder, plan=plan, resume_command=resume_command(entry, flags, folder), resume_from=resume_from, lock=lock
    )


def check_same_base(folder: Path, model: str, now: dict | None) -> None:
    """A resume continues training an adapter on the base weights it started on: refuse when the weights at the
    same model path changed (a run recorded before fingerprints existed, or a model with nothing local to read,
    is not checked)."""
    before = RunRecord(folder).info().get("base_weights")
    if not isinstance(before, dict) or now is None or before == now:
        return
    changed = sorted(name for name in set(before) | set(now) if before.get(name) != now.get(name))
    raise UserError(
        f"--resume: the base model's weights at model={model} changed since {folder} started ({', '.join(changed)} "
        f"differ); restore the original weights there, or train anew with --overwrite or another output_dir=..."
    )


def run_info(recipe: Recipe, cfg, flags: RunFlags) -> dict:
    """run.json as a run starts: what ran (recipe, method, description, command, versions) and its status."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("trlrecipes", "trl", "transformers", "peft", "datasets", "torch", "accelerate"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {
        "recipe": recipe.name,
        "method": contract.method_name(recipe.module, cfg),
        "description": recipe.description,
        "program": recipe.program_path.stem,
        "program_path": str(recipe.program_path),
        "preset_path": str(recipe.preset_path) if recipe.preset_path else None,
        "command": " ".join(redact_args(sys.argv)),
        "overrides": redact_args(flags.overrides),
        "config_file": flags.config_file,
        "demo": flags.demo,
        "resumed": flags.resume,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "versions": versions,
        "status": "running",
    }


def execute(recipe: Recipe, flags: RunFlags, entry: str):
    """Resolve, check, prepare and run. Returns the Run (None for --dry-run)."""
    sources: dict = {}
    cfg = resolve(recipe, flags, sources)
    if flags.dry_run:
        check(recipe, cfg)  # the same value errors a run would stop on (files and model are not read)
        print(dry_run_text(cfg, sources), end="")
        return None
    check(recipe, cfg)
    preflight(cfg)
    from trlrecipes.run import refcache

    if refcache.may_precompute(contract.trl_config_spec(recipe.module), getattr(cfg, "trl", None)):
        refcache.check_cache_location()  # a cache folder that cannot be written: exit 2 before the model loads
    from trlrecipes._compat import defer_bitsandbytes
    from trlrecipes.hardware import needs_bitsandbytes

    defer_bitsandbytes(needed=needs_bitsandbytes(cfg))  # seconds of imports that only 4-bit runs use
    run = start(recipe, cfg, flags, entry)
    from trlrecipes.console import quiet_libraries

    quiet_libraries()  # after every check that needs no library (bad input fails fast); no-op with --verbose
    existed = run.dir.exists()
    try:
        if flags.resume and run.resume_from is not None and run_folder.reaches_end(run.resume_from, cfg):
            _already_complete(run, cfg)
            return run
        try:
            preflight_late(cfg)  # imports transformers: after every cheap check, still before the model loads
            recipe.module.main(cfg, run)
            run.begin(before_training=False)  # a program that trained without run.train() still leaves a run
        except BaseException as err:
            if not run.started:
                if run.lock is not None:
                    run.lock.release(undo=True)  # the lock file, and the folder when this start made it
                if not existed:
                    _remove_if_empty(run.dir)  # e.g. made by the Trainer's constructor before the failure
            run.end(err)
            raise
        run.end(None)
    finally:
        if run.lock is not None:
            run.lock.release()
    return run


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


def split_run_flags(argv: list[str]) -> tuple[RunFlags, list[str]]:
    """For a program run directly: pull resume=/overwrite=/demo=/dry_run=/config= out of key=value arguments."""
    from trlrecipes.values import coerce

    flags, rest = RunFlags(), []
    argv = list(argv)
    while argv:
        item = argv.pop(0)
        if item == "--config" and argv:  # `--config FILE`, as `trlrecipes run` spells it
            item = f"config={argv.pop(0)}"
        key, sep, value = item.partition("=")
        key = key.lstrip("-").replace("-", "_")
        if key in RUN_FLAGS:
            setattr(flags, key, coerce(value, bool, key) if sep else True)
        elif key == "config" and sep:
            flags.config_file = value
        else:
            rest.append(item)
    flags.overrides = rest
    return flags, rest


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


def main_from_argv(program_file: str) -> None:
    """Entry point of a program run as a script: `python my_dpo.py key=value [resume=true] [--debug]`."""
    from trlrecipes.console import configure
    from trlrecipes.run.recipes import Recipe

    argv = sys.argv[1:]
    debug = "--debug" in argv
    configure(verbose="--verbose" in argv)
    flags, _ = split_run_flags([item for item in argv if item not in ("--debug", "--verbose")])
    path = Path(program_file).resolve()
    module = sys.modules["__main__"]

    def action():
        contract.check_program(module, path)
        recipe = Recipe(name=path.stem, program_path=path, module=module, description=contract.description(module))
        execute(recipe, flags, entry=f"python {program_file}")

    sys.exit(guarded(action, debug=debug))
