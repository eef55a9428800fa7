"""Find recipes: the folder listing is the registry.

Built-in recipes live in the repository's `recipes/` folder (not a package); wheels carry the same files as
`trlrecipes/_recipes`. A recipe is loaded as a module registered in `sys.modules` before it runs (so
dataclasses and pickling work) with its own folder importable (so a copied recipe can import its siblings).
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from trlrecipes.errors import UserError


def builtin_dir() -> Path:
    packaged = Path(__file__).resolve().parents[1] / "_recipes"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "recipes"


def builtin_names() -> list[str]:
    return sorted(path.stem for path in builtin_dir().glob("*.py") if not path.name.startswith("_"))


def resolve_recipe(name_or_path: str) -> Path:
    """A built-in recipe name (`hh-dpo`) or a path to a recipe file."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".py" or path.exists() or "/" in name_or_path:
        if not path.is_file():
            raise UserError(f"{path}: recipe file not found")
        return path.resolve()
    candidate = builtin_dir() / f"{name_or_path}.py"
    if candidate.is_file():
        return candidate
    names = builtin_names()
    close = difflib.get_close_matches(name_or_path, names, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UserError(f"unknown recipe {name_or_path!r}; {hint}see `trlrecipes ls` (known: {', '.join(names)})")


def _module_name(path: Path) -> str:
    return "trlrecipes_recipe_" + re.sub(r"\W", "_", path.stem)


def load_recipe(path: Path) -> ModuleType:
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
    except Exception:
        del sys.modules[name]
        raise
    for required in ("Config", "main"):
        if not hasattr(module, required):
            raise UserError(f"{path}: not a recipe (it defines no {required!r}); start from `trlrecipes cp hh-dpo`")
    return module


@dataclass
class RecipeInfo:
    name: str
    method: str
    dataset: str
    description: str
    path: Path


def describe(path: Path, module: ModuleType) -> RecipeInfo:
    doc = (module.__doc__ or "").strip().splitlines()
    return RecipeInfo(name=path.stem, method=getattr(module, "METHOD", "?"), dataset=getattr(module, "DATASET", "?"),
                      description=doc[0] if doc else "", path=path)


def list_recipes() -> list[RecipeInfo]:
    return [describe(builtin_dir() / f"{name}.py", load_recipe(builtin_dir() / f"{name}.py"))
            for name in builtin_names()]
