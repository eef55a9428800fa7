"""From a recipe and the user's settings to a prepared run: the one path shared by `trlrecipes run` and a
copied recipe executed directly (`python my_recipe.py key=value`, `accelerate launch my_recipe.py ...`).

Everything that can be checked without loading a model is checked here first, so a bad input costs seconds.
"""

from __future__ import annotations

import json
import platform
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from inspect import signature
from pathlib import Path
from types import ModuleType

from trlrecipes import rundir
from trlrecipes.config import is_secret, resolve_config, to_dict
from trlrecipes.data.common import is_local_source
from trlrecipes.errors import UserError
from trlrecipes.hardware import check_4bit_backend, is_main_process

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
    from trlrecipes.demo_data import DEMO_TEST, DEMO_TRAIN
    from trlrecipes.models import DEMO_MODEL

    layer = {
        "model": DEMO_MODEL,
        "dataset": str(DEMO_TRAIN),
        "eval_dataset": str(DEMO_TEST),
        "data_format": "hh-rlhf",
        "subset": "",
        "max_length": 192,  # the demo pairs are short; 192 tokens hold every one of them
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "max_steps": 40,  # ~3 min on 2 CPU cores for a 135M model
        "logging_steps": 5,
        "save_steps": 20,
        "eval_steps": 20,
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


# Below this, a prompt and a reply cannot both fit once the chat template's own tokens are counted.
MIN_MAX_LENGTH = 32
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


def preflight(cfg) -> None:
    """Cheap checks of the usual fields before anything heavy is imported or loaded: each problem is one line
    (exit 2) that names the setting and the fix. A copied recipe that renames fields simply skips those checks."""
    _check_settings(cfg)
    _check_model(cfg)
    _check_data(cfg)
    if getattr(cfg, "load_in_4bit", False):
        check_4bit_backend()


def _check_settings(cfg) -> None:
    max_length = getattr(cfg, "max_length", None)
    if isinstance(max_length, int) and max_length < MIN_MAX_LENGTH:
        raise UserError(f"max_length={max_length} is too small to hold a prompt and a reply; use at least "
                        f"{MIN_MAX_LENGTH} (typical: 512 to 2048)")
    precision = getattr(cfg, "precision", None)
    if isinstance(precision, str) and precision not in PRECISIONS:
        raise UserError(f"precision={precision!r} is not one of {', '.join(PRECISIONS)}; use precision=auto")
    warmup = getattr(cfg, "warmup", None)
    if isinstance(warmup, (int, float)) and warmup < 0:
        raise UserError(f"warmup={warmup} is impossible: use a share of the steps below 1 (e.g. 0.1) or a step count")
    for name in ("logging_steps", "save_steps", "eval_steps"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value < 1:
            raise UserError(f"{name}={value} is impossible: it must be at least 1")
    logging_steps, save_steps = getattr(cfg, "logging_steps", None), getattr(cfg, "save_steps", None)
    if isinstance(logging_steps, int) and isinstance(save_steps, int) and save_steps % logging_steps:
        # A checkpoint is only known to be good when a finite loss was logged at its step.
        raise UserError(f"save_steps={save_steps} must be a multiple of logging_steps={logging_steps}; "
                        f"e.g. save_steps={save_steps - save_steps % logging_steps or logging_steps}")


def _looks_local(name: str) -> bool:
    # A Hub id is "name" or "owner/name": a path that exists, starts with . / ~, or has two slashes is a folder.
    return is_local_source(name) or name.count("/") > 1


def _check_model(cfg) -> None:
    import os

    from trlrecipes.models import is_offline_alias

    model = getattr(cfg, "model", "")
    if not isinstance(model, str) or not model or is_offline_alias(model):
        return
    if _looks_local(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise UserError(f"model={model}: folder not found; give an existing local model folder or a Hub id "
                            f"like Qwen/Qwen2.5-0.5B-Instruct")
        if not (path / "config.json").is_file():
            raise UserError(f"model={model}: not a model folder (it has no config.json); give the folder that "
                            f"save_pretrained wrote, or a Hub id")
        return
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return
        try:
            cached = try_to_load_from_cache(model, "config.json")
        except Exception:  # a malformed repo id: let the loader report it
            return
        if not isinstance(cached, str):
            raise UserError(f"model={model}: not in the local Hugging Face cache and HF_HUB_OFFLINE is set; "
                            f"download it once while online, or pass a local model folder as model=...")


def _check_data(cfg) -> None:
    """Local JSON-lines data is read (not loaded into `datasets`) here: unreadable lines, missing fields and files
    where no row converts fail now. Other file types and Hub datasets are checked when the recipe loads them."""
    fmt_name = getattr(cfg, "data_format", None)
    dataset = getattr(cfg, "dataset", "")
    if not isinstance(fmt_name, str) or not isinstance(dataset, str):
        return
    from trlrecipes.data import get_format

    fmt = get_format(fmt_name)  # an unknown format is a one-line UserError
    # Only the files the settings name: which held-out file a recipe uses when eval_dataset is empty is its choice.
    sources = [("dataset", dataset), ("eval_dataset", getattr(cfg, "eval_dataset", ""))]
    for setting, source in sources:
        if source and isinstance(source, str) and is_local_source(source):
            _check_data_file(setting, source, fmt_name, fmt)


def _check_data_file(setting: str, source: str, fmt_name: str, fmt) -> None:
    from trlrecipes.data.common import LOCAL_SUFFIXES, validate_json_lines

    path = Path(source).expanduser()
    if not path.exists():
        raise UserError(f"{setting}={source}: file not found; fix the path (or give a Hub dataset id)")
    if path.is_dir():
        raise UserError(f"{setting}={source}: is a folder; pass one data file ({', '.join(LOCAL_SUFFIXES)})")
    name = path.name.lower()
    if not name.endswith(LOCAL_SUFFIXES):
        raise UserError(f"{setting}={source}: unknown file type; use one of {', '.join(LOCAL_SUFFIXES)}")
    if path.stat().st_size == 0:
        raise UserError(f"{setting}={source}: the file is empty; point {setting}= at a data file with rows")
    if not name.endswith((".jsonl", ".jsonl.gz")):
        return
    # Formats whose required fields depend on converter options (column mappings) are checked by the recipe.
    option_dependent = hasattr(fmt, "required_fields")
    required = () if option_dependent else tuple(fmt.REQUIRED_FIELDS)
    try:
        validate_json_lines(path, required)
    except UserError as err:
        hint = (f"; check that data_format={fmt_name} matches the file" if "missing field" in str(err) else
                f"; point {setting}= at a file with one JSON object per line" if "no rows" in str(err) else "")
        raise UserError(f"{setting}: {err}{hint}".replace("\n", "; "))
    # Whether a row converts may depend on options a recipe passes (e.g. pku-saferlhf's axis): only formats whose
    # converter takes none can be judged here.
    if list(signature(fmt.convert_row).parameters) == ["row"]:
        _check_usable_rows(setting, path, fmt_name, fmt)


def _check_usable_rows(setting: str, path: Path, fmt_name: str, fmt) -> None:
    """Convert rows until one is usable; if none is, say why every row was skipped."""
    import gzip
    import json
    from collections import Counter

    from trlrecipes.data import explanations
    from trlrecipes.data.common import Skip

    reasons: Counter = Counter()
    opened = gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")
    with opened as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                fmt.convert_row(json.loads(line))
                return
            except Skip as skip:
                reasons[skip.reason] += 1
    why = explanations(fmt)
    details = ", ".join(f"{count} {reason}" + (f" ({why[reason]})" if reason in why else "")
                        for reason, count in reasons.most_common())
    raise UserError(f"{setting}={path}: none of its {sum(reasons.values())} rows is a usable {fmt_name} pair "
                    f"(skipped: {details}); fix the rows or set data_format= to the file's format")


def output_dir_for(cfg, recipe_name: str, options: RunOptions) -> Path:
    if getattr(cfg, "output_dir", ""):
        return Path(cfg.output_dir).expanduser()
    if options.resume:
        newest = rundir.newest_run_dir(recipe_name)
        if newest is None:
            raise UserError(f"--resume: no earlier run of {recipe_name} under runs/; pass output_dir=... of the run")
        return newest
    return rundir.default_output_dir(recipe_name)


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
    from trlrecipes.runtime import Run

    folder = output_dir_for(cfg, recipe_path.stem, options)
    cfg.output_dir = str(folder)
    cfg_dict = to_dict(cfg)
    resume_from = None
    rundir.check_target(folder, overwrite=options.overwrite, resume=options.resume)
    if options.resume:
        rundir.check_resume_config(folder, cfg_dict)
        resume_from = rundir.newest_valid_checkpoint(folder)
    info = run_info(recipe_path, options)

    def setup(before_training: bool = True) -> None:
        if not is_main_process():
            return
        if before_training:
            rundir.prepare(folder, overwrite=options.overwrite, resume=options.resume)
        else:  # a recipe that trained without run.train(): only record the run, never empty what it wrote
            folder.mkdir(parents=True, exist_ok=True)
        if options.resume and before_training:
            step = int(resume_from.name.split("-")[1]) if resume_from else 0
            for path in rundir.remove_checkpoints_after(folder, step):
                print(f"--resume: removed {path}: incomplete or damaged, so it cannot be resumed from")
            rundir.trim_metrics(folder, step)
            if resume_from is None:
                print(f"--resume: no complete checkpoint in {folder}; training starts from step 0 in that folder")
            info.update(first_started=_first_started(folder), resumed_from=str(resume_from) if resume_from else None)
        rundir.save_config(folder, cfg_dict)
        shutil.copyfile(recipe_path, folder / rundir.RECIPE_COPY)
        (folder / rundir.RUN_INFO).write_text(json.dumps(info, indent=2) + "\n")

    command = resume_command(entry, options, folder)
    return Run(dir=folder, recipe_path=recipe_path, resume_command=command, resume_from=resume_from, setup=setup)


def _first_started(folder: Path) -> str | None:
    """When the run a resume continues was first started (kept across resumes in run.json)."""
    try:
        previous = json.loads((folder / rundir.RUN_INFO).read_text())
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
    from trlrecipes.config import coerce

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
    argv = sys.argv[1:]
    debug = "--debug" in argv
    options, _ = split_run_flags([item for item in argv if item != "--debug"])
    path = Path(recipe_file).resolve()
    module = sys.modules["__main__"]
    sys.exit(guarded(lambda: execute(module, path, options, entry=f"python {recipe_file}"), debug=debug))
