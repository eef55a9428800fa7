"""`trlrecipes cp`: files the user owns that run unchanged, with no reference to the installed recipes folder.

A program is copied as it is. A preset is copied with its program beside it and its `program:` line pointing at
that copy (`program: dpo.py`), so `trlrecipes run my.yaml`, `python dpo.py --config my.yaml` and
`accelerate launch dpo.py --config my.yaml` all run the copy; editing either file changes the run.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from trlrecipes.errors import UserError
from trlrecipes.run.recipes import PRESET_SUFFIXES, builtin_dir, find, read_preset

_PROGRAM_LINE = re.compile(r"^program:.*$", re.MULTILINE)


def _target(dest: Path | None, default_name: str) -> Path:
    if dest is None:
        return Path(default_name)
    # an existing folder, or a new name without a file suffix, is a folder to copy into
    return dest / default_name if dest.is_dir() or str(dest).endswith("/") or not dest.suffix else dest


def _refuse_overwrite(target: Path, force: bool, content: bytes) -> None:
    if target.exists() and not force and target.read_bytes() != content:
        raise UserError(f"{target} already exists; pass --force to overwrite it or choose another destination")


def _write(target: Path, content: bytes) -> None:
    from trlrecipes.paths import check_writable

    check_writable(target, f"destination {target}", folder=False)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    except OSError as err:
        raise UserError(
            f"cannot write {target} ({err.strerror or err}); choose a destination you can write to"
        ) from err


def copy_recipe(name: str, dest: Path | None, *, force: bool = False) -> list[str]:
    """Copy built-in `name` to `dest`; returns the lines to print (what was written, how to run it)."""
    source = find(name)
    if source.parent != builtin_dir():
        raise UserError(f"{name!r} is not a built-in recipe; see `trlrecipes ls`")
    if source.suffix == ".py":
        target = _target(dest, source.name)
        if target.suffix != ".py":
            raise UserError(f"{name} is a program: give a .py destination or a folder (got {target})")
        content = source.read_bytes()
        _refuse_overwrite(target, force, content)
        _write(target, content)
        return [f"wrote {target}", f"run it with: trlrecipes run {target}   (or: python {target} key=value ...)"]
    program_ref, _, _ = read_preset(source)
    program = builtin_dir() / f"{program_ref}.py"
    target = _target(dest, source.name)
    if target.suffix not in PRESET_SUFFIXES:
        raise UserError(
            f"{name} is a preset: give a .yaml destination or a folder (got {target}); its program "
            f"{program.name} is written beside it. For the program alone: trlrecipes cp {program.stem}"
        )
    program_target = target.parent / program.name
    preset_text = _PROGRAM_LINE.sub(
        f"program: {program.name}  # the copy beside this file", source.read_text(), count=1
    )
    program_bytes = program.read_bytes()
    _refuse_overwrite(target, force, preset_text.encode())
    _refuse_overwrite(program_target, force, program_bytes)
    _write(program_target, program_bytes)
    _write(target, preset_text.encode())
    shutil.copymode(source, target)
    return [
        f"wrote {target} (the preset) and {program_target} (its program)",
        f"run it with: trlrecipes run {target}   (or: python {program_target} --config {target} key=value ...)",
    ]
