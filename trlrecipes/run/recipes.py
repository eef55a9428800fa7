"""Find recipes: the folder listing is the registry.

A recipe is either a *method program* (`dpo.py`: a typed `Config`, `main(cfg, run)` calling TRL and PEFT, a
`__main__` block; what a program may define is `run/contract.py`) or a *preset* (`hh-dpo.yaml`: which program, a
description, and only the settings that differ from the program's defaults, each with its reason). Presets are YAML
because they are data: the same file works as `--config` for its program, and a user edits values without touching
code.

Built-ins live in the repository's `recipes/` folder (not a package); wheels carry the same files as
`trlrecipes/_recipes`. A program is loaded as a module registered in `sys.modules` before it runs (so
dataclasses and pickling work) with its own folder importable (so a copied program can import its siblings).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from trlrecipes.errors import UserError
from trlrecipes.run import contract
from trlrecipes.values import suggest

PRESET_SUFFIXES = (".yaml", ".yml")


def builtin_dir() -> Path:
    packaged = Path(__file__).resolve().parents[1] / "_recipes"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "recipes"


def _builtin_files() -> list[Path]:
    return sorted(
        path
        for path in builtin_dir().iterdir()
        if path.suffix in (".py", *PRESET_SUFFIXES) and not path.name.startswith("_")
    )


def builtin_names() -> list[str]:
    return [path.stem for path in _builtin_files()]


@dataclass
class Recipe:
    """What `run NAME` runs: a program, and for a preset the preset's settings (below --demo/--config/key=value)."""

    name: str
    program_path: Path
    module: ModuleType
    preset_path: Path | None = None
    preset: dict = field(default_factory=dict)
    description: str = ""

    @property
    def kind(self) -> str:
        return "preset" if self.preset_path else "program"


def find(name_or_path: str) -> Path:
    """A built-in name (`hh-dpo`, `dpo`) or a path to a program (.py) or preset (.yaml)."""
    path = Path(name_or_path).expanduser()
    if path.suffix in (".py", *PRESET_SUFFIXES) or path.exists() or "/" in name_or_path:
        if path.is_dir():
            raise UserError(
                f"{path} is a folder; give a recipe file (a program .py or a preset .yaml) or a built-in "
                f"name (see `trlrecipes ls`)"
            )
        if not path.is_file():
            raise UserError(f"{path}: recipe file not found")
        if path.suffix not in (".py", *PRESET_SUFFIXES):
            raise UserError(f"{path}: not a recipe (a program is a .py file, a preset a .yaml file)")
        return path.resolve()
    for candidate in (builtin_dir() / f"{name_or_path}{suffix}" for suffix in (".py", *PRESET_SUFFIXES)):
        if candidate.is_file():
            return candidate
    names = builtin_names()
    hint = suggest(name_or_path, names).lstrip("; ")
    raise UserError(
        f"unknown recipe {name_or_path!r}; {hint + ' ' if hint else ''}see `trlrecipes ls` (known: {', '.join(names)})"
    )


def resolve_recipe(name_or_path: str) -> Recipe:
    path = find(name_or_path)
    if path.suffix == ".py":
        module = load_program(path)
        return Recipe(name=path.stem, program_path=path, module=module, description=contract.description(module))
    program_ref, description, settings = read_preset(path)
    program_path = program_of(path, program_ref)
    return Recipe(
        name=path.stem,
        program_path=program_path,
        module=load_program(program_path),
        preset_path=path,
        preset=settings,
        description=description,
    )


def read_preset(path: Path) -> tuple[str, str, dict]:
    """(program reference, description, settings) of a preset file."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise UserError(f"{path}: not a readable YAML preset ({str(err).splitlines()[0]})") from err
    if not isinstance(data, dict) or not isinstance(data.get("program"), str):
        raise UserError(
            f"{path}: a preset is a YAML mapping with `program: dpo` (or a path to a program .py) and the "
            f"settings that differ from it; start from `trlrecipes cp hh-dpo`"
        )
    settings = {key: value for key, value in data.items() if key not in contract.PRESET_META_KEYS}
    return data["program"], str(data.get("description") or ""), settings


def program_of(preset_path: Path, ref: str) -> Path:
    """A preset's program: a path ending in .py is relative to the preset's folder, a bare name is a built-in."""
    if ref.endswith(".py"):
        path = (preset_path.parent / ref).resolve()
        if not path.is_file():
            raise UserError(
                f"{preset_path}: its program {ref} is not there ({path}); copy the program beside the "
                f"preset or fix `program:`"
            )
        return path
    path = builtin_dir() / f"{ref}.py"
    if not path.is_file():
        programs = [p.stem for p in _builtin_files() if p.suffix == ".py"]
        raise UserError(
            f"{preset_path}: unknown program {ref!r}{suggest(ref, programs)} (built-in programs: "
            f"{', '.join(programs)})"
        )
    return path


def _module_name(path: Path) -> str:
    return "trlrecipes_recipe_" + re.sub(r"\W", "_", path.stem)


def load_program(path: Path) -> ModuleType:
    """Import a program file; any failure of the user's file is one line naming the file and the cause."""
    name = _module_name(path)
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "")) == path:
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        del sys.modules[name]
        raise UserError(f"{path}:{err.lineno}: syntax error in the program ({err.msg}); fix the file") from err
    except Exception as err:  # the user's module failed while importing (a missing package, a bad import...)
        del sys.modules[name]
        raise UserError(
            f"{path}: the program failed while loading ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); fix the file"
        ) from err
    try:
        contract.check_program(module, path)
    except UserError:
        del sys.modules[name]
        raise
    return module


@dataclass
class RecipeInfo:
    name: str
    kind: str
    method: str
    dataset: str
    description: str
    path: Path


def describe(recipe: Recipe) -> RecipeInfo:
    from trlrecipes.run.resolve import resolve_config

    cfg = resolve_config(recipe.module.Config, layers=[(recipe.preset, recipe.name)] if recipe.preset else [])
    dataset = getattr(cfg, "dataset", "") or "your file"
    package = Path(__file__).resolve().parents[1]
    if Path(dataset).is_absolute() and Path(dataset).resolve().is_relative_to(package):
        dataset = str(Path(dataset).resolve().relative_to(package.parent))  # shipped data: trlrecipes/tasks/...
    path = recipe.preset_path or recipe.program_path
    return RecipeInfo(
        name=recipe.name,
        kind=recipe.kind,
        method=contract.method_name(recipe.module, cfg),
        dataset=dataset,
        description=recipe.description,
        path=path,
    )


def list_recipes() -> list[RecipeInfo]:
    """Programs first, then presets, each group by name."""
    infos = [describe(resolve_recipe(str(path))) for path in _builtin_files()]
    return sorted(infos, key=lambda info: (info.kind != "program", info.name))
