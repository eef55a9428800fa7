"""The `trlrecipes` command. Commands only: heavy imports live inside them so --help and ls start instantly."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from trlrecipes.errors import UserError

app = typer.Typer(help="Preference fine-tuning recipes (DPO, IPO, ORPO, KTO) with LoRA on top of Hugging Face TRL.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Convert and inspect preference datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

DEBUG_HELP = "Show the full traceback of internal errors."


def _exit(action, debug: bool = False) -> None:
    from trlrecipes.runner import guarded

    code = guarded(action, debug=debug)
    if code:
        raise typer.Exit(code)


@app.command("ls")
def list_recipes() -> None:
    """List the built-in recipes."""
    from trlrecipes.registry import list_recipes as recipes

    rows = [(info.name, info.method, info.dataset, info.description) for info in recipes()]
    widths = [max(len(str(row[i])) for row in rows + [("recipe", "method", "dataset", "")]) for i in range(3)]
    print(f"{'recipe':<{widths[0]}}  {'method':<{widths[1]}}  {'dataset':<{widths[2]}}  description")
    for name, method, dataset, description in rows:
        print(f"{name:<{widths[0]}}  {method:<{widths[1]}}  {dataset:<{widths[2]}}  {description}")


@app.command("cp")
def copy_recipe(name: str = typer.Argument(..., help="Built-in recipe name, e.g. hh-dpo."),
                dest: Optional[Path] = typer.Argument(None, help="Where to write it (default: ./NAME.py)."),
                force: bool = typer.Option(False, "--force", help="Overwrite an existing file.")) -> None:
    """Copy a built-in recipe to edit it; prints the command that runs the copy."""

    def action():
        import shutil

        from trlrecipes.registry import builtin_dir, resolve_recipe

        source = resolve_recipe(name)
        if source.parent != builtin_dir():
            raise UserError(f"{name!r} is not a built-in recipe; see `trlrecipes ls`")
        target = dest or Path(f"{source.stem}.py")
        if target.is_dir():
            target = target / source.name
        if target.exists() and not force:
            raise UserError(f"{target} already exists; pass --force to overwrite it or choose another destination")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        print(f"wrote {target}\nrun it with: trlrecipes run {target}   (or: python {target} key=value ...)")

    _exit(action)


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_recipe(recipe: str = typer.Argument(..., help="Built-in recipe name or path to a recipe .py file."),
               overrides: Optional[list[str]] = typer.Argument(None, help="key=value settings, e.g. beta=0.2 "
                                                               "trl.weight_decay=0.01"),
               config: Optional[Path] = typer.Option(None, "--config", help="YAML file of settings (below key=value)."),
               dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and exit."),
               demo: bool = typer.Option(False, "--demo", help="Offline CPU demo: embedded model and data."),
               resume: bool = typer.Option(False, "--resume", help="Continue the run in output_dir from its newest "
                                                                   "complete checkpoint."),
               overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run in output_dir."),
               debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP)) -> None:
    """Run a recipe. Settings: recipe defaults < --demo < --config FILE.yaml < key=value."""

    def action():
        from trlrecipes.registry import load_recipe, resolve_recipe
        from trlrecipes.runner import RunOptions, execute

        path = resolve_recipe(recipe)
        module = load_recipe(path)
        options = RunOptions(resume=resume, overwrite=overwrite, demo=demo, dry_run=dry_run,
                             config_file=str(config) if config else None, overrides=list(overrides or []))
        run = execute(module, path, options, entry=f"trlrecipes run {recipe}")
        if run is not None and demo:
            from trlrecipes.demo import report_demo

            report_demo(run)

    _exit(action, debug)


@app.command("plot")
def plot(run_dir: Path = typer.Argument(..., help="A run folder with metrics.jsonl.")) -> None:
    """Redraw metrics.png of a run from its metrics.jsonl."""

    def action():
        from trlrecipes.plot import plot_metrics

        print(f"wrote {plot_metrics(run_dir / 'metrics.jsonl', run_dir / 'metrics.png')}")

    _exit(action)


@data_app.command("convert")
def data_convert(data_format: str = typer.Argument(..., metavar="FORMAT", help="hh-rlhf, ultrafeedback, ..."),
                 input: str = typer.Option(..., "--input", help="Local file or Hub dataset id."),
                 output: Optional[Path] = typer.Option(None, "--output", help="Write converted rows as JSON lines."),
                 report: Optional[Path] = typer.Option(None, "--report", help="Write the summary as JSON."),
                 split: str = typer.Option("train", "--split", help="Hub split."),
                 subset: Optional[str] = typer.Option(None, "--subset", help="Hub data_dir, e.g. helpful-base."),
                 options: Optional[list[str]] = typer.Argument(None, help="Converter options as key=value.")) -> None:
    """Convert a dataset to TRL's conversational prompt/chosen/rejected format, with a skip summary."""

    def action():
        import json

        from trlrecipes.data import get_format, load_pairs

        fmt = get_format(data_format)
        dataset, summary = load_pairs(data_format, input, split=split, subset=subset,
                                      options=_converter_options(options))
        if output:
            output.parent.mkdir(parents=True, exist_ok=True)
            dataset.to_json(str(output), lines=True, force_ascii=False)
        print(summary.format(fmt.SKIP_REASONS))
        if output:
            print(f"wrote {len(dataset)} rows to {output}")
        if report:
            report.write_text(json.dumps(summary.to_dict(), indent=2) + "\n")

    _exit(action)


def _converter_options(items: Optional[list[str]]) -> dict:
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"bad converter option {item!r}: use key=value")
        result[key] = value
    return result


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
