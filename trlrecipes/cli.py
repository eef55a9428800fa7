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


@app.callback()
def _console(verbose: bool = typer.Option(False, "--verbose", help="Show the libraries' warnings, logs and "
                                                                    "progress bars too.")) -> None:
    from trlrecipes.console import configure

    configure(verbose)


def _exit(action, debug: bool = False, *, libraries: bool = True) -> None:
    from trlrecipes.run.launch import guarded

    def quiet_action():
        if libraries:  # the command is about to import transformers/datasets anyway
            from trlrecipes.console import quiet_libraries

            quiet_libraries()
        action()

    code = guarded(quiet_action, debug=debug)
    if code:
        raise typer.Exit(code)


@app.command("ls")
def list_recipes() -> None:
    """List the built-in recipes."""
    from trlrecipes.run.programs import list_recipes as recipes

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

        from trlrecipes.run.programs import builtin_dir, resolve_recipe

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

    _exit(action, libraries=False)


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
        from trlrecipes.run.programs import load_recipe, resolve_recipe
        from trlrecipes.run.launch import RunOptions, execute

        path = resolve_recipe(recipe)
        module = load_recipe(path)
        options = RunOptions(resume=resume, overwrite=overwrite, demo=demo, dry_run=dry_run,
                             config_file=str(config) if config else None, overrides=list(overrides or []))
        run = execute(module, path, options, entry=f"trlrecipes run {recipe}")
        if run is not None and demo:
            from trlrecipes.demo.report import report_demo

            shortened = any(item.split("=", 1)[0] in ("max_steps", "learning_rate") for item in overrides or [])
            report_demo(run, strict=not shortened)

    _exit(action, debug, libraries=False)  # execute() quiets the libraries after --dry-run's early exit


@app.command("plot")
def plot(run_dir: Path = typer.Argument(..., help="A run folder with metrics.jsonl.")) -> None:
    """Redraw metrics.png of a run from its metrics.jsonl."""

    def action():
        from trlrecipes.monitor.plot import plot_metrics

        print(f"wrote {plot_metrics(run_dir / 'metrics.jsonl', run_dir / 'metrics.png')}")

    _exit(action, libraries=False)


@app.command("eval")
def eval_run(run_dir: Path = typer.Argument(..., help="A finished run folder."),
             data: Optional[str] = typer.Option(None, "--data", help="Held-out pairs (default: the run's eval data)."),
             max_rows: int = typer.Option(0, "--max-rows", help="Evaluate at most this many pairs (0 = the run's "
                                                                 "max_eval_rows)."),
             batch_size: int = typer.Option(8, "--batch-size"),
             as_json: bool = typer.Option(False, "--json", help="Print JSON."),
             debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP)) -> None:
    """Held-out reward accuracy and margin of the trained adapter vs. the reference (adapter disabled)."""

    def action():
        import json

        from trlrecipes.tools.evaluate import evaluate_run, format_metrics, save_metrics

        result = evaluate_run(run_dir, data, max_rows=max_rows, batch_size=batch_size)
        save_metrics(run_dir, result)
        print(json.dumps(result, indent=2) if as_json else format_metrics(result))

    _exit(action, debug)


@app.command("generate")
def generate(run_dir: Path = typer.Argument(..., help="A finished run folder."),
             prompt: list[str] = typer.Option(..., "--prompt", help="A user message (repeatable)."),
             compare: bool = typer.Option(False, "--compare", help="Also answer with the reference model."),
             max_new_tokens: int = typer.Option(128, "--max-new-tokens"),
             debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP)) -> None:
    """Answer prompts with the trained adapter (greedy), optionally next to the reference."""

    def action():
        from trlrecipes.tools.generate import format_answers, generate_answers

        print(format_answers(generate_answers(run_dir, prompt, compare=compare, max_new_tokens=max_new_tokens)))

    _exit(action, debug)


@app.command("synth")
def synth(prompts: Path = typer.Argument(..., help="Prompts: a text file (one per line) or .jsonl with a 'prompt' "
                                                   "field (a string or a message list)."),
          output: Path = typer.Option(..., "--output", help="JSON-lines file to append pairs to (resumable)."),
          model: str = typer.Option(..., "--model", help="Policy: local folder, Hub id or smollm2-135m-offline."),
          reward_model: Optional[str] = typer.Option(None, "--reward-model", help="Sequence-classification reward "
                                                                                  "model (folder or Hub id)."),
          reward: Optional[str] = typer.Option(None, "--reward", help="Python reward module:function, called as "
                                                                      "fn(prompt, response) -> float."),
          num_samples: int = typer.Option(4, "--num-samples", help="Replies sampled per prompt (N)."),
          max_new_tokens: int = typer.Option(256, "--max-new-tokens"),
          temperature: float = typer.Option(1.0, "--temperature"),
          min_gap: float = typer.Option(0.0, "--min-gap", help="Drop pairs whose best-worst score gap is below this."),
          seed: int = typer.Option(42, "--seed"),
          batch_size: int = typer.Option(8, "--batch-size", help="Prompts per generate call."),
          retry_dropped: bool = typer.Option(False, "--retry-dropped", help="Sample again the prompts an earlier run "
                                                                            "dropped (OUTPUT.dropped.jsonl)."),
          trust_remote_code: bool = typer.Option(False, "--trust-remote-code"),
          debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP)) -> None:
    """Synthetic preference pairs by best-of-N sampling: best reply = chosen, worst = rejected (data_format=custom)."""

    def action():
        from trlrecipes.tools.synth import synthesize

        summary = synthesize(prompts, output, model=model, reward_model=reward_model, reward_spec=reward,
                             num_samples=num_samples, max_new_tokens=max_new_tokens, temperature=temperature,
                             min_gap=min_gap, seed=seed, batch_size=batch_size, trust_remote_code=trust_remote_code,
                             retry_dropped=retry_dropped)
        print(summary.format())
        if summary.written or summary.already_done:
            print(f"train on it with: trlrecipes run custom-dpo dataset={output}  (holds out eval_share for evaluation)")

    _exit(action, debug)


@app.command("merge")
def merge(run_dir: Path = typer.Argument(..., help="A finished run folder (adapter + config.yaml)."),
          output: Path = typer.Option(..., "--output", help="Folder for the merged transformers model."),
          force: bool = typer.Option(False, "--force", help="Replace a non-empty --output folder."),
          debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP)) -> None:
    """Merge the LoRA adapter into the base model (its original dtype, unquantized) with tokenizer and model card."""

    def action():
        from trlrecipes.tools.merge import merge_run

        print(merge_run(run_dir, output, force=force).format())

    _exit(action, debug)


@app.command("report")
def report(run_dirs: list[Path] = typer.Argument(..., help="One or more run folders (several: a comparison)."),
           output: Optional[Path] = typer.Option(None, "--output", help="Where to write the page (default: "
                                                                        "RUN_DIR/report.html, or ./report.html "
                                                                        "for several runs)."),
           debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP)) -> None:
    """One self-contained report.html: settings, data, curves, verdicts, evaluation, answers before and after."""

    def action():
        from trlrecipes.tools.report import write_report

        print(f"wrote {write_report(run_dirs, output)}")

    _exit(action, debug, libraries=False)


@app.command("plan", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def plan(recipe: str = typer.Argument(..., help="Built-in recipe name or path to a recipe .py file."),
         overrides: Optional[list[str]] = typer.Argument(None, help="key=value settings, as for `trlrecipes run`."),
         gpu_memory: Optional[str] = typer.Option(None, "--gpu-memory", help="Budget, e.g. 8GB (read as GiB); "
                                                                             "proposes settings that fit."),
         model_config: Optional[Path] = typer.Option(None, "--model-config", help="A config.json (or its folder) "
                                                                                 "to use instead of the model's."),
         device: str = typer.Option("gpu", "--device", help="gpu, or cpu: fp32 and the process runtime instead of "
                                                             "the CUDA context."),
         config: Optional[Path] = typer.Option(None, "--config", help="YAML file of settings (below key=value)."),
         demo: bool = typer.Option(False, "--demo", help="Plan the --demo settings."),
         processes: int = typer.Option(1, "--processes", help="GPUs the run is launched on (accelerate launch)."),
         shard: str = typer.Option("none", "--shard", help="none (DDP), zero2, zero3 or fsdp: what the engine splits "
                                                           "across the GPUs (configs/accelerate/)."),
         debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP)) -> None:
    """Estimate peak GPU memory of a recipe from the model config alone; propose settings that fit a budget."""

    def action():
        from trlrecipes.tools.plan import plan_recipe

        print(plan_recipe(recipe, list(overrides or []), budget=gpu_memory,
                          model_config=str(model_config) if model_config else None, device=device,
                          config_file=str(config) if config else None, demo=demo, processes=processes,
                          shard=shard).format())

    _exit(action, debug)


@data_app.command("inspect", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def data_inspect(target: str = typer.Argument(..., help="Recipe name/file, or a data file (read with --recipe's "
                                                        "settings)."),
                 overrides: Optional[list[str]] = typer.Argument(None, help="Recipe settings as key=value."),
                 recipe: str = typer.Option("hh-dpo", "--recipe", help="Recipe whose model/format/max_length apply "
                                                                      "when TARGET is a data file."),
                 demo: bool = typer.Option(False, "--demo", help="Use the --demo settings."),
                 max_rows: int = typer.Option(5000, "--max-rows", help="Inspect the first N converted pairs (0=all)."),
                 preview: int = typer.Option(3, "--preview", help="Rendered examples to show."),
                 as_json: bool = typer.Option(False, "--json", help="Print JSON."),
                 debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP)) -> None:
    """Lint and preview the pairs a recipe would train on: skips, token lengths, truncation, length bias."""

    def action():
        import json

        from trlrecipes.data import explanations, get_format, load_pairs
        from trlrecipes.data.common import LOCAL_SUFFIXES
        from trlrecipes.data.inspect import format_report, inspect_pairs
        from trlrecipes.run.programs import load_recipe, resolve_recipe
        from trlrecipes.run.launch import RunOptions, resolve

        settings = list(overrides or [])
        recipe_name = recipe
        if target.endswith(LOCAL_SUFFIXES):
            settings.insert(0, f"dataset={target}")
        else:
            recipe_name = target
        module = load_recipe(resolve_recipe(recipe_name))
        cfg = resolve(module, RunOptions(demo=demo, overrides=settings))
        pairs, summary = load_pairs(cfg.data_format, cfg.dataset, split=getattr(cfg, "split", None),
                                    subset=getattr(cfg, "subset", "") or None)
        if max_rows and len(pairs) > max_rows:
            pairs = pairs.select(range(max_rows))
        report = inspect_pairs(pairs, _tokenizer_for(cfg), cfg.max_length, preview=preview)
        summary_text = summary.format(explanations(get_format(cfg.data_format)))
        if as_json:
            print(json.dumps({"conversion": summary.to_dict(), **report}, indent=2, ensure_ascii=False))
        else:
            print(format_report(report, summary_text))

    _exit(action, debug)


def _tokenizer_for(cfg):
    from transformers import AutoTokenizer

    from trlrecipes.models import resolve_model

    try:
        return AutoTokenizer.from_pretrained(resolve_model(cfg.model), trust_remote_code=cfg.trust_remote_code)
    except OSError as err:
        raise UserError(f"could not load the tokenizer of model {cfg.model!r} ({str(err).splitlines()[0]}); "
                        f"pass model=<local folder> or check your network")


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
