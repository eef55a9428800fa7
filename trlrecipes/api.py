"""The Python API: the same recipes, settings and run folders as the CLI, for notebooks and scripts.

from trlrecipes import api
run = api.run("hh-dpo", "max_steps=20", demo=True)
api.evaluate(run.dir)
"""

from __future__ import annotations

from pathlib import Path


def _recipe(name_or_path: str):
    from trlrecipes.run.recipes import resolve_recipe

    return resolve_recipe(name_or_path)


def config(recipe: str, *overrides: str, demo: bool = False, config_file: str | None = None):
    """The resolved Config a run would use (defaults < demo < YAML < overrides)."""
    from trlrecipes.run.execute import RunFlags, resolve

    return resolve(_recipe(recipe), RunFlags(demo=demo, config_file=config_file, overrides=list(overrides)))


def run(
    recipe: str,
    *overrides: str,
    demo: bool = False,
    resume: bool = False,
    overwrite: bool = False,
    config_file: str | None = None,
):
    """Train a recipe; returns the Run (its folder is `run.dir`). Errors raise UserError / RunStopped."""
    from trlrecipes.run.execute import RunFlags, execute

    flags = RunFlags(resume=resume, overwrite=overwrite, demo=demo, config_file=config_file, overrides=list(overrides))
    return execute(_recipe(recipe), flags, entry=f"trlrecipes run {recipe}")


def evaluate(run_dir: str | Path, data: str | None = None, max_rows: int = 0) -> dict:
    from trlrecipes.tools.eval.pairs import evaluate_run

    return evaluate_run(Path(run_dir), data, max_rows=max_rows)


def generate(run_dir: str | Path, prompts: list[str], compare: bool = True, max_new_tokens: int = 64) -> list[dict]:
    from trlrecipes.tools.generate import generate_answers

    return generate_answers(Path(run_dir), prompts, compare=compare, max_new_tokens=max_new_tokens)
